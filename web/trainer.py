"""The trainer area (login required): assessments, clients, exports, settings, health."""

from __future__ import annotations

import csv
import io
import json
import logging
import math

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for

from device import config as device_config
from device import owner
from device import diagnostics
from device import health as device_health
from device.errors import ConfigError, InputError
from device.geometry import words as geometry_words
from device.plan.check import parse_plan_json, plan_problem
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS, LABELS, STATUSES
from web import auth, links, plot, present, settings_form
from web.access import ctx, public
from web.kiosk import load, station_state

log = logging.getLogger(__name__)

bp = Blueprint("trainer", __name__, url_prefix="/trainer")

PER_PAGE = 50
PAGE_SIZES = (25, 50, 100, 1000)


# -- password and login ---------------------------------------------------------------------


def _on_station() -> bool:
    return auth.is_local(request.remote_addr)


def _not_set_here():
    """No password yet and the request is not from the station itself: nothing to see."""
    auth.security.warning("trainer area asked for from %s before a password was set", request.remote_addr)
    abort(403, "No trainer password is set yet. Set it on the station itself: "
               "`sudo -u ohsa ohsa password set` in its shell (the installer printed one, too).")


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    """First run, on the station itself only: choose the trainer password while none is set."""
    if auth.stored_hash():
        return redirect(url_for("trainer.login"))
    if not _on_station():
        _not_set_here()
    error = None
    if request.method == "POST":
        password, repeat = request.form.get("password", ""), request.form.get("repeat", "")
        error = auth.password_problem(password, repeat)
        if error is None:
            if not owner.create_hash(ctx()["data_dir"], auth.hash_password(password)):
                return redirect(url_for("trainer.login"))  # set meanwhile (shell or another tab)
            auth.log_in()
            return redirect(url_for("trainer.index"))
    return render_template("trainer/setup.html", error=error), (400 if error else 200)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if not auth.stored_hash():
        if not _on_station():
            _not_set_here()
        return redirect(url_for("trainer.setup"))
    return auth.login_form("trainer/login.html", url_for("trainer.index"))


@bp.post("/logout")
def logout():
    auth.log_out()
    return redirect(url_for("trainer.login"))


@bp.post("/password")
@auth.require_role("owner")
def change_password():
    if not auth.check_password(request.form.get("current", ""), "password change"):
        flash("The current password is wrong; nothing changed.", "error")
        return redirect(url_for("trainer.settings"))
    problem = auth.password_problem(request.form.get("password", ""), request.form.get("repeat", ""))
    if problem:
        flash(problem, "error")
    else:
        owner.write_hash(ctx()["data_dir"], auth.hash_password(request.form["password"]))
        ended = auth.end_all_sessions()
        auth.security.warning("trainer password changed from %s; %d session(s) ended", request.remote_addr, ended)
        auth.log_in()  # a new session and CSRF token for this browser only
        flash("Password changed. Every other trainer session has ended.", "ok")
    return redirect(url_for("trainer.settings"))


# -- assessments ----------------------------------------------------------------------------


def _who() -> str:
    """The logged-in account's name, for the audit trail."""
    return (auth.current_account() or {}).get("name", "?")


def _filters() -> dict:
    return {
        "q": request.args.get("q", "").strip()[:100],
        "from": request.args.get("from", "").strip()[:32],
        "to": request.args.get("to", "").strip()[:32],
    }


def _page_args() -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    try:
        per = int(request.args.get("per", PER_PAGE))
    except ValueError:
        per = PER_PAGE
    return page, per if per in PAGE_SIZES else PER_PAGE


@bp.get("/")
def index():
    store = ctx()["store"]
    f = _filters()
    page, per = _page_args()
    error = None
    try:
        total = store.count(f["q"], f["from"] or None, f["to"] or None)
        items = store.list(f["q"], f["from"] or None, f["to"] or None, limit=per, offset=(page - 1) * per)
    except InputError as e:
        error, total, items = str(e), 0, []
    pages = max(1, math.ceil(total / per))
    return render_template(
        "trainer/list.html", items=items, total=total, page=page, pages=pages, per=per,
        filters=f, error=error, labels=LABELS,
    ), (400 if error else 200)


@bp.get("/a/<assessment_id>")
def detail(assessment_id: str):
    record = load(assessment_id)
    view = present.view_of(record)
    return render_template(
        "trainer/detail.html", **view, statuses=STATUSES, labels=COMPENSATIONS,
        image_url=lambda v: url_for("kiosk.result_image", assessment_id=record["id"], view=v),
        plan_json=json.dumps(view["plan"], indent=2) if view["plan"] is not None else "",
        measured=geometry_words.sentence(record["result"].get("geometry")) if record["result"].get("geometry") else "",
    )


@bp.post("/a/<assessment_id>/notes")
def notes(assessment_id: str):
    record = load(assessment_id)
    store = ctx()["store"]
    store.set_label(record["id"], request.form.get("label", ""), by=_who())
    store.set_notes(record["id"], request.form.get("notes", "")[:10_000], by=_who())
    flash("Label and notes saved.", "ok")
    return redirect(url_for("trainer.detail", assessment_id=record["id"]))


@bp.post("/a/<assessment_id>/override")
def override(assessment_id: str):
    record = load(assessment_id)
    cid = request.form.get("compensation_id", "")
    status = request.form.get("status", "")
    if cid not in COMPENSATION_IDS:
        abort(400, f"compensation_id: unknown {cid!r}")
    if status not in STATUSES and status != "":
        abort(400, f"status: must be one of {', '.join(STATUSES)} or empty, got {status!r}")
    ctx()["store"].override_finding(record["id"], cid, status or None, request.form.get("note", "")[:2000], by=_who())
    flash(f"{COMPENSATIONS[cid].label}: " + (f"set to {status.replace('_', ' ')}." if status else "back to the measured verdict."), "ok")
    return redirect(url_for("trainer.detail", assessment_id=record["id"]) + f"#c-{cid}")


@bp.post("/a/<assessment_id>/plan")
def edit_plan(assessment_id: str):
    record = load(assessment_id)
    store = ctx()["store"]
    if request.form.get("action") == "reset":
        store.set_plan(record["id"], None, by=_who())
        flash("The plan is back to the generated one.", "ok")
        return redirect(url_for("trainer.detail", assessment_id=record["id"]) + "#plan")
    try:
        plan = plan_from_form(present.plan_for(record), request.form)
    except InputError as e:
        flash(str(e), "error")
        return redirect(url_for("trainer.detail", assessment_id=record["id"]) + "#plan")
    store.set_plan(record["id"], plan, by=_who())
    flash("Plan saved.", "ok")
    return redirect(url_for("trainer.detail", assessment_id=record["id"]) + "#plan")


def plan_from_form(plan: dict | None, form) -> dict:
    """The plan as the trainer edited it.

    Either the structured form (untick `keep:<phase>:<exercise>` to drop an exercise, a note per
    exercise in `note:<phase>:<exercise>`, a note for the whole plan in `trainer_note`), or, with
    action=json, the whole plan as JSON text in `plan_json`.
    """
    if form.get("action") == "json":
        return parse_plan_json(form.get("plan_json", ""))
    if not plan:
        raise InputError("plan: there is no plan to edit for this result")
    edited = json.loads(json.dumps(plan))  # a deep copy of plain data
    phases = []
    for phase in edited.get("phases") or []:
        kept = []
        for ex in phase.get("exercises") or []:
            key = f"{phase.get('id')}:{ex.get('id')}"
            if form.get(f"keep:{key}") != "on":
                continue
            note = form.get(f"note:{key}", "").strip()[:500]
            if note:
                ex["trainer_note"] = note
            else:
                ex.pop("trainer_note", None)
            kept.append(ex)
        if kept:
            phases.append(dict(phase, exercises=kept))
    edited["phases"] = phases
    edited["total_minutes"] = round(sum(ex.get("minutes") or 0 for p in phases for ex in p["exercises"]), 1)
    note = form.get("trainer_note", "").strip()[:2000]
    if note:
        edited["trainer_note"] = note
    else:
        edited.pop("trainer_note", None)
    edited["edited_by_trainer"] = True
    problem = plan_problem(edited)
    if problem:
        raise InputError(problem)
    return edited


@bp.get("/a/<assessment_id>/report")
def report(assessment_id: str):
    record = load(assessment_id)
    return render_template(
        "trainer/report.html", **present.view_of(record),
        image_url=lambda v: url_for("kiosk.result_image", assessment_id=record["id"], view=v),
    )


@bp.get("/a/<assessment_id>/export.json")
def export_one(assessment_id: str):
    record = load(assessment_id)
    body = dict(record, plan=present.plan_for(record), track=ctx()["store"].get_track(record["id"]))
    return _download(json.dumps(body, indent=2), f"assessment-{record['id']}.json", "application/json")


@bp.get("/client")
def client():
    label = request.args.get("label", "").strip()
    history = ctx()["store"].client_history(label) if label else []
    if not history:
        abort(404, "No assessments with that client label.")
    return render_template("trainer/client.html", label=label, history=history,
                           charts=plot.progress_charts(history), labels=COMPENSATIONS)


@bp.post("/client/delete")
@auth.require_role("owner")
def delete_client():
    label = request.form.get("label", "").strip()
    if not label or request.form.get("confirm", "").strip() != label:
        flash("Type the client label again to confirm; nothing was deleted.", "error")
        return redirect(url_for("trainer.client", label=label) if label else url_for("trainer.index"))
    ids = [h["id"] for h in ctx()["store"].client_history(label)]
    n = ctx()["store"].delete_client(label)
    links.forget(ids)
    flash(f"Deleted {n} assessment(s) of that client.", "ok")
    return redirect(url_for("trainer.index"))


# -- exports --------------------------------------------------------------------------------

EXPORT_LIMIT = 10_000


def _export_records() -> list[dict]:
    store, f = ctx()["store"], _filters()
    try:
        items = store.list(f["q"], f["from"] or None, f["to"] or None, limit=EXPORT_LIMIT)
    except InputError as e:
        abort(400, str(e))
    return [r for r in (store.get(i["id"]) for i in items) if r is not None]


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/export.csv")
@auth.require_role("owner")
def export_csv():
    out = io.StringIO()
    writer = csv.writer(out)
    head = ["id", "created_at", "label", "kind", "pain", "reps", "findings", "notes"]
    for cid in COMPENSATION_IDS:
        head += [f"{cid}.status", f"{cid}.side", f"{cid}.value", f"{cid}.unit", f"{cid}.confidence"]
    writer.writerow(head)
    for r in _export_records():
        comps = r["result"].get("compensations") or {}
        present_ids = [cid for cid in COMPENSATION_IDS if (comps.get(cid) or {}).get("status") == "present"]
        row = [r["id"], r["created_at"], r["label"], r["kind"], int(r["pain"]), r["result"].get("reps"),
               " ".join(present_ids), r["notes"]]
        for cid in COMPENSATION_IDS:
            e = comps.get(cid) or {}
            row += [e.get("status"), e.get("side"), e.get("value"), e.get("unit"), e.get("confidence")]
        writer.writerow([_cell(v) for v in row])
    return _download(out.getvalue(), "assessments.csv", "text/csv; charset=utf-8")


@bp.get("/export.json")
@auth.require_role("owner")
def export_json():
    records = [dict(r, plan=present.plan_for(r)) for r in _export_records()]
    return _download(json.dumps({"format": "ohsa-export/1", "assessments": records}, indent=2),
                     "assessments.json", "application/json")


def _download(text: str, filename: str, mimetype: str) -> Response:
    return Response(text, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- settings and health --------------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@auth.require_role("owner")
def settings():
    path = ctx()["config_path"]
    error = None
    if request.method == "POST":
        try:
            new = settings_form.parse(request.form)
            full = device_config.validate(new)  # the schema `ohsa run` checks at start-up
            device_config.save(full, path)
        except ConfigError as e:
            error = str(e)
            values = settings_form.flatten_form(request.form)
        except OSError as e:
            error = f"{path}: cannot write the settings ({e.strerror or e})"
            values = settings_form.flatten_form(request.form)
        else:
            log.info("settings saved to %s", path)
            flash(f"Settings saved to {path}. Restart the station to use them.", "ok")
            return redirect(url_for("trainer.settings"))
    else:
        values = settings_form.flatten(current_settings())
    return render_template(
        "trainer/settings.html", sections=settings_form.sections(values), error=error, path=path,
        thresholds=settings_form.threshold_table(),
    ), (400 if error else 200)


def current_settings() -> device_config.Config:
    """What the settings file says now (the running config when there is no file yet)."""
    path = ctx()["config_path"]
    if path.exists():
        try:
            return device_config.load(path)
        except ConfigError as e:
            flash(f"The settings file has a problem, showing what runs now: {e}", "error")
    return ctx()["config"]


@bp.get("/health")
def health():
    return render_template("trainer/health.html", **health_readings())


def health_readings() -> dict:
    station = ctx()["station"]
    state = station_state()
    stats = {}
    if station is not None:
        try:
            stats = station.stats()
        except Exception:
            log.exception("station.stats() failed")
    pi = device_health.check(ctx()["data_dir"], ctx()["config"].storage)
    return {"state": state, "stats": stats, "pi": pi, "cameras": state.get("cameras") or {}}


@bp.get("/health.json")
def health_json():
    return jsonify(health_readings())


@bp.get("/diagnostics.zip")
def diagnostics_zip():
    """Versions, config without secrets, recent logs and stats, for whoever services the station."""
    readings = health_readings()
    data = diagnostics.build_zip(ctx()["data_dir"], ctx()["config_path"], readings["stats"],
                                 readings["state"].get("safe_mode"))
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{diagnostics.filename()}"'})
