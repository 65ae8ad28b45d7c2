"""JSON API: live status and stats (public), assessments (login or share token), SSE events.

Documented in README.md, "JSON API".
"""

from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, Response, abort, jsonify, request

from device.errors import InputError
from web import auth
from web.access import ctx, public
from web.kiosk import ID_RE, NOT_RUNNING, kiosk_or_trainer, public_state, station_state

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_STREAMS = 4  # each open stream holds one Waitress thread; the rest poll /api/status
STREAM_SECONDS = 120.0  # a stream ends after this; EventSource reconnects by itself
KEEPALIVE_S = 5.0  # a comment this often finds closed connections and keeps proxies open
WAIT_S = 1.0  # longest wait for a change, so a stopping server ends its streams quickly


@bp.get("/status")
@public
def status():
    """The live state for anyone: where the station is, not the person's data."""
    return jsonify(public_state(station_state()))


@bp.get("/kiosk/status")
@public
def kiosk_status():
    """The whole live state (findings, regions, pain, result id): the station's screen, trainers."""
    kiosk_or_trainer()
    return jsonify(station_state())


@bp.get("/stats")
@public
def stats():
    station = ctx()["station"]
    if station is None:
        return jsonify(running=False)
    try:
        data = dict(station.stats(), running=True)
        data.pop("fleet", None)  # the broker's address and problems: the trainer's health page only
        data.pop("display", None)  # the screen's sysfs paths and their problems: the same
        return jsonify(data)
    except Exception:
        log.exception("station.stats() failed")
        return jsonify(running=False, error="the station did not answer"), 503


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"{name}: expected a whole number, got {raw!r}")
    return max(low, min(high, value))


@bp.get("/assessments")
def assessments():
    store = ctx()["store"]
    search = request.args.get("q", "")
    date_from, date_to = request.args.get("from") or None, request.args.get("to") or None
    limit = _int_arg("limit", 50, 1, 1000)
    offset = _int_arg("offset", 0, 0, 10**9)
    try:
        items = store.list(search, date_from, date_to, limit=limit, offset=offset)
        total = store.count(search, date_from, date_to)
    except InputError as e:
        return jsonify(error=str(e)), 400
    return jsonify(total=total, limit=limit, offset=offset, items=items)


@bp.get("/assessments/<assessment_id>")
@public
def assessment(assessment_id: str):
    """A trainer gets the full record; a share token (?token=) gives the result and plan."""
    store = ctx()["store"]
    if not ID_RE.match(assessment_id):
        abort(404)
    trainer = auth.is_trainer()
    if not trainer:
        token = request.args.get("token", "")
        if not token or store.resolve_share_token(token) != assessment_id:
            return jsonify(error="login required, or a valid share link"), 401
    record = store.get(assessment_id)
    if record is None:
        return jsonify(error=f"no assessment {assessment_id}"), 404
    from web.present import plan_for

    body = {
        "id": record["id"],
        "created_at": record["created_at"],
        "kind": record["kind"],
        "result": record["result"],
        "plan": plan_for(record),
    }
    if trainer:
        body = dict(record, plan=body["plan"], plan_edited=record["plan"] is not None)
    return jsonify(body)


@bp.get("/events")
@public
def events():
    """Server-sent events: one `data:` line of public station state per change, comments between."""
    return _events(public_state)


@bp.get("/kiosk/events")
@public
def kiosk_events():
    """The same stream with the whole state: the station's screen and trainers only."""
    kiosk_or_trainer()
    return _events(lambda state: state)


def _events(shape):
    app_ctx = ctx()
    station = app_ctx["station"]
    streams = app_ctx["streams"]
    if not streams.acquire(blocking=False):
        return Response("too many live streams; poll /api/status\n", status=503,
                        mimetype="text/plain", headers={"Retry-After": "5"})

    def stream():
        yield "retry: 2000\n\n"
        if station is None:
            yield _event(None, shape(dict(NOT_RUNNING)))
        version = None
        deadline = time.monotonic() + STREAM_SECONDS
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and not app_ctx["stopping"]:
            if station is None:
                time.sleep(WAIT_S)
                state, new_version = None, None
            else:
                try:
                    new_version, state = station.wait_for_change(version, WAIT_S)
                except Exception:
                    log.exception("station.wait_for_change failed")
                    return
            if station is not None and new_version != version:
                version = new_version
                quiet_since = time.monotonic()
                yield _event(version, shape(state))
            elif time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"

    response = Response(
        stream(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(streams.release)
    return response


def _event(version, state: dict) -> str:
    head = f"id: {version}\n" if version is not None else ""
    return head + "data: " + json.dumps(state, separators=(",", ":")) + "\n\n"
