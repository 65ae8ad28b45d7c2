"""Kiosk pages (no login): the live page, the result page, the share link a phone opens.

Who sees what without a login:
- anyone on the network: the live state without the person's data (`public_state`: no findings,
  regions, region lights, pain flag, assessment id) and a result through its share link;
- the station's own screen (loopback or web.kiosk_addresses): camera previews, the buttons,
  and results by id (the screen shows the result that was just recorded);
- a trainer (logged in): all of it.
"""

from __future__ import annotations

import datetime
import logging
import re

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for

from device.i18n import N_
from device.vocabulary import REGIONS, VIEWS
from web import auth, i18n, links, member, present
from web.access import ctx, public

log = logging.getLogger(__name__)

bp = Blueprint("kiosk", __name__)
bp.record_once(lambda state: i18n.install(state.app))  # the member pages' language (web/i18n.py)

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RETEST_KINDS = ("heels_raised", "hands_on_hips")
NOT_RUNNING = {
    "state": "not_running",
    "message": N_("The station is not running. Ask a member of staff."),
    "reps": 0,
    "countdown": None,
    "assessment_id": None,
    "panel": {},
    "cameras": {},
    "safe_mode": None,
}


def station_state() -> dict:
    station = ctx()["station"]
    if station is None:
        return dict(NOT_RUNNING, message=i18n.gettext(NOT_RUNNING["message"]))
    try:
        return station.state()
    except Exception:  # the web page must stay up when the station loop has a problem
        log.exception("station.state() failed")
        return dict(NOT_RUNNING, state="error", message=i18n.gettext(N_("The station has a problem. Ask a member of staff.")))


# What anyone on the network may see of the live state: where the station is in its flow, never
# what it found. The findings, the lit region lights, the pain report and the result's id are
# the person's; they go only to the station's own screen and trainers (`detailed_state`).
PUBLIC_KEYS = ("state", "message", "version", "reps", "target_reps", "countdown", "positioning",
               "cameras", "safe_mode", "camera_alert", "panel", "opens")
PUBLIC_PANEL_KEYS = ("mock", "status", "button_pressed", "buzzer")
PRIVATE_STATES = {"result": N_("Someone has just finished an assessment."),
                  "pain": N_("The station is waiting for the next person.")}


# the live state's messages the web layer writes itself (the page translates them like the station's)
PAGE_MESSAGES = (*PRIVATE_STATES.values(), NOT_RUNNING["message"])


def public_state(state: dict) -> dict:
    """The live state without the person's data (for /api/status, /api/events, the live page)."""
    out = {k: state[k] for k in PUBLIC_KEYS if k in state}
    if isinstance(out.get("panel"), dict):
        out["panel"] = {k: v for k, v in out["panel"].items() if k in PUBLIC_PANEL_KEYS}
    if out.get("state") in PRIVATE_STATES:
        out["message"] = PRIVATE_STATES[out["state"]]
        out["state"] = "finished"
        out["countdown"] = None
    return out


def detailed() -> bool:
    """Whether this request may see the person's data in the live state."""
    return from_kiosk() or auth.is_trainer()


def state_for_request() -> dict:
    state = station_state()
    return state if detailed() else public_state(state)


def from_kiosk() -> bool:
    return auth.is_kiosk(request.remote_addr, ctx()["config"].web.kiosk_addresses)


def kiosk_or_trainer() -> None:
    if not (from_kiosk() or auth.is_trainer()):
        abort(403, N_("Only the station's own screen or a trainer can open this; use the result's QR link."))


def load(assessment_id: str) -> dict:
    if not ID_RE.match(assessment_id or ""):
        abort(404)
    record = ctx()["store"].get(assessment_id)
    if record is None:
        abort(404)
    return record


def image_response(assessment_id: str, view: str) -> Response:
    if view not in VIEWS or not ID_RE.match(assessment_id or ""):
        abort(404)
    jpeg = ctx()["store"].get_image(assessment_id, view)
    if jpeg is None:
        abort(404)
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/")
@public
def live():
    config = ctx()["config"]
    lang = i18n.lang()
    state = state_for_request()
    state["message"] = member.station_message(state.get("message") or "", lang, PAGE_MESSAGES)
    words = member.translated(member.LIVE_WORDS, lang)
    words.update(station=member.station_words(lang, PAGE_MESSAGES),
                 station_args=member.station_args(lang) if lang != "en" else {})
    return render_template(
        "live.html",
        state=state,
        closed=closed(state),
        kiosk=from_kiosk(),
        previews=from_kiosk() or auth.is_trainer(),
        views=VIEWS,
        regions=REGIONS,
        target_reps=config.station.target_reps,
        words=words,
        sound=config.kiosk.sound,
        privacy={"days": config.storage.retention_days, "contact": config.kiosk.privacy_contact},
    )


def closed(state: dict) -> dict | None:
    """The station asleep outside its opening hours (device/station/machine.py decides):
    {"reopens": datetime | None}; None while it is awake. The page follows the live state."""
    if state.get("state") != "closed":
        return None
    opens = state.get("opens")
    try:
        reopens = datetime.datetime.fromisoformat(opens) if opens else None
    except (TypeError, ValueError):
        reopens = None
    return {"reopens": reopens}


@bp.get("/live/preview/<view>.jpg")
@public
def preview(view: str):
    kiosk_or_trainer()
    if view not in VIEWS:
        abort(404)
    station = ctx()["station"]
    try:
        jpeg = station.preview_jpeg(view) if station is not None else None
    except Exception:
        log.exception("station.preview_jpeg(%s) failed", view)
        jpeg = None
    if not jpeg:
        return Response(status=204)
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


def _control(action):
    if not from_kiosk():
        abort(403, N_("The buttons work only on the station's own screen."))
    station = ctx()["station"]
    if station is None:
        return jsonify(ok=False, error=i18n.gettext(N_("The station is not running.")), state=station_state()), 503
    action(station)
    return jsonify(ok=True, state=station_state())


@bp.post("/live/start")
@public
def start():
    return _control(lambda s: s.start())


@bp.post("/live/cancel")
@public
def cancel():
    return _control(lambda s: s.cancel())


@bp.post("/live/pain")
@public
def pain():
    return _control(lambda s: s.report_pain())


@bp.post("/live/retest/<kind>")
@public
def retest(kind: str):
    if kind not in RETEST_KINDS:
        abort(404)
    return _control(lambda s: s.retest(kind))


def _result_page(record: dict, *, image_url, share_url: str | None, kiosk: bool):
    view = present.view_of(record, lang=i18n.lang())
    text = view["member"]["take_home"]
    return render_template(
        "result.html",
        **view,
        image_url=image_url,
        share_url=share_url,
        qr=links.qr_svg(share_url, title=i18n.gettext(N_("QR code: this result on the gym's Wi-Fi"))) if share_url else None,
        take_home=links.take_home_qr(text, title=i18n.gettext(N_("QR code with your plan as text"))) if text else None,
        kiosk=kiosk,
        link_days=ctx()["config"].web.result_link_days,
    )


@bp.get("/result/<assessment_id>")
@public
def result(assessment_id: str):
    kiosk_or_trainer()
    record = load(assessment_id)
    share = links.base_url() + url_for("kiosk.shared", token=links.share_token(record["id"]))
    return _result_page(
        record,
        image_url=lambda v: url_for("kiosk.result_image", assessment_id=record["id"], view=v),
        share_url=share,
        kiosk=from_kiosk() and request.args.get("kiosk") == "1",
    )


@bp.get("/result/<assessment_id>/<view>.jpg")
@public
def result_image(assessment_id: str, view: str):
    kiosk_or_trainer()
    return image_response(assessment_id, view)


def _shared_id(token: str) -> str:
    aid = ctx()["store"].resolve_share_token(token)
    if aid is None:
        abort(404, N_("This link has expired or does not exist. Ask a trainer for a new one."))
    return aid


@bp.get("/s/<token>")
@public
def shared(token: str):
    record = load(_shared_id(token))
    return _result_page(
        record,
        image_url=lambda v: url_for("kiosk.shared_image", token=token, view=v),
        share_url=None,
        kiosk=False,
    )


@bp.get("/s/<token>/<view>.jpg")
@public
def shared_image(token: str, view: str):
    return image_response(_shared_id(token), view)
