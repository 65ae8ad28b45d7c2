"""The hub's pages: every station's assessments, members across stations, alerts, stations.

    app = create_app(HubStore(dsn), data_dir=hub_data_dir)
    web.server.serve(app, host, port)                       # Waitress, as on a station

Login works as on a station, through the same code (web/auth.py): the owner password's scrypt
hash in the hub's data directory (`ohsa hub password set`), a server-side session (in
PostgreSQL) behind an HttpOnly SameSite cookie, the per-address login rate limit, a CSRF token
on every POST, and the Host header checked (DNS rebinding). Default deny: only the login page
and the static files are reachable without a session. The look is the station's stylesheet.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
from pathlib import Path
from types import SimpleNamespace

from flask import Flask, Response, abort, current_app, jsonify, make_response, redirect, render_template, request, url_for
from jinja2 import ChoiceLoader, FileSystemLoader

import web
from device.errors import InputError
from device.vocabulary import COMPENSATION_IDS, LABELS
from web import auth
from web import access
from web.access import public
from hub.store import Unavailable
from web.i18n import trainer_when

log = logging.getLogger(__name__)

PER_PAGE = 50
COUNT_CAP = 10_000  # the lists count this far exactly, then say "more than" (milliseconds at any size)
STALE_S = 15 * 60  # a station silent for this long is shown as "silent"


def create_app(store, *, data_dir, public_url: str = "", testing: bool = False, clock=time.time) -> Flask:
    app = Flask(__name__, static_folder=str(Path(web.__file__).parent / "static"), static_url_path="/static")
    # the station's templates after the hub's own: the shared pieces (the login form)
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(Path(web.__file__).parent / "templates")])
    app.config.update(TESTING=testing, **auth.app_settings(store, "ohsa_hub_session", 64 * 1024))
    app.extensions["ohsa"] = {
        "store": store, "data_dir": Path(data_dir), "limiter": auth.LoginLimiter(), "clock": clock,
        "stopping": False,
        # what web.auth.host_allowed reads of a station's config
        "config": SimpleNamespace(web=SimpleNamespace(public_url=public_url, host="0.0.0.0")),
    }
    app.before_request(_guard)
    app.after_request(access.security_headers)
    app.jinja_env.globals.update(csrf_token=auth.csrf_token, is_trainer=auth.is_trainer)
    app.jinja_env.filters["when"] = trainer_when
    app.jinja_env.filters["ago"] = _ago
    access.plain_errors(app, "hub/message.html")
    app.register_error_handler(Unavailable, _unavailable)
    _routes(app)
    return app


def _store():
    return current_app.extensions["ohsa"]["store"]


def _guard():
    return access.gate(False, "login", "hub")


def _unavailable(error):
    """PostgreSQL is down or restarting: 503, and the next request tries again."""
    log.warning("hub pages: the database is unavailable (%s)", error)
    text = "The hub's database cannot be reached just now. Try again in a minute."
    if request.path.startswith("/api/"):
        response = jsonify(error=text)
    else:
        response = make_response(render_template("hub/message.html", title="Database unavailable", message=text))
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    return response


def _ago(value) -> str:
    moment = datetime.datetime.fromisoformat(value) if value else None
    if moment is None:
        return "never"
    seconds = max(0, int(current_app.extensions["ohsa"]["clock"]() - moment.timestamp()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _filters() -> dict:
    return {"station": request.args.get("station", "")[:40], "q": request.args.get("q", "")[:100],
            "from": request.args.get("from", "")[:10], "to": request.args.get("to", "")[:10]}


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        abort(400, f"{name}: expected a whole number")
    if not lo <= value <= hi:
        abort(400, f"{name}: expected {lo}-{hi}")
    return value


def _query(f: dict, limit: int, offset: int) -> tuple[list[dict], int]:
    store = _store()
    try:
        args = dict(station=f["station"] or None, search=f["q"], date_from=f["from"] or None, date_to=f["to"] or None)
        return store.list(**args, limit=limit, offset=offset), store.count(**args, cap=COUNT_CAP)
    except InputError as e:
        abort(400, str(e))


def _routes(app: Flask) -> None:

    @app.route("/")
    def index():
        return redirect(url_for("assessments"))

    @app.route("/login", methods=["GET", "POST"])
    @public
    def login():
        if not auth.stored_hash():
            abort(403, "No password is set for the hub yet: run `ohsa hub password set` on the hub.")
        return auth.login_form("hub/login.html", url_for("assessments"))

    @app.route("/logout", methods=["POST"])
    def logout():
        auth.log_out()
        return redirect(url_for("login"))

    @app.route("/assessments")
    def assessments():
        f = _filters()
        per = PER_PAGE
        page = _int_arg("page", 1, 1, COUNT_CAP // PER_PAGE + 1)
        items, total = _query(f, per, (page - 1) * per)
        return render_template("hub/list.html", items=items, total=total, capped=total > COUNT_CAP,
                               cap=COUNT_CAP, filters=f, page=page,
                               pages=max(1, math.ceil(min(total, COUNT_CAP) / per)), labels=LABELS,
                               stations=_store().station_ids())

    @app.route("/assessments/<station>/<assessment_id>")
    def detail(station, assessment_id):
        record = _store().get(station, assessment_id)
        if record is None:
            abort(404, "No such assessment on the hub.")
        comps = (record["result"] or {}).get("compensations") or {}
        rows = [(cid, LABELS[cid], comps.get(cid) or {}) for cid in COMPENSATION_IDS]
        return render_template("hub/detail.html", a=record, rows=rows)

    @app.route("/assessments/<station>/<assessment_id>/<view>.jpg")
    def image(station, assessment_id, view):
        jpeg = _store().get_image(station, assessment_id, view)
        if jpeg is None:
            abort(404, "No such still.")
        return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})

    @app.route("/members/<member>")
    def member(member):
        history = _store().client_history(member)
        if not history:
            abort(404, "No assessments of this member on the hub.")
        return render_template("hub/member.html", member=member, name=_store().member_name(member),
                               history=history, labels=LABELS,
                               stations=sorted({h["station"] for h in history}))

    @app.route("/alerts")
    def alerts():
        station = request.args.get("station", "")[:40]
        return render_template("hub/alerts.html", alerts=_store().alerts(station or None), station=station,
                               stations=_store().station_ids())

    @app.route("/stations")
    def stations():
        now = current_app.extensions["ohsa"]["clock"]()
        rows = _store().stations()
        for s in rows:
            last = datetime.datetime.fromisoformat(s["last_message_at"]).timestamp()
            s["silent"] = now - last > STALE_S
        return render_template("hub/stations.html", stations=rows)

    @app.route("/api/assessments")
    def api_list():
        f = _filters()
        limit = _int_arg("limit", PER_PAGE, 1, 1000)
        offset = _int_arg("offset", 0, 0, 10**9)
        items, total = _query(f, limit, offset)
        # "total" is exact up to COUNT_CAP; beyond it "more": true and total = COUNT_CAP + 1
        return jsonify(total=total, more=total > COUNT_CAP, limit=limit, offset=offset, items=items)

    @app.route("/api/assessments/<station>/<assessment_id>")
    def api_get(station, assessment_id):
        record = _store().get(station, assessment_id)
        if record is None:
            abort(404, "no such assessment")
        return jsonify(record)

    @app.route("/api/members/<member>")
    def api_member(member):
        return jsonify(member=member, history=_store().client_history(member))

    @app.route("/api/stations")
    def api_stations():
        return jsonify(stations=_store().stations())
