"""The trainer area's people (login required): accounts, members, alerts, a member's rights.

- accounts (owner): add a trainer (name, password), remove one; a trainer changes their own
  password at /trainer/account (the owner's stays `ohsa password set` or the settings page);
- members: the list grouped by member (last assessed, how many, open findings, trend), one
  member's page, linking or re-linking an assessment to a member (audited);
- alerts: pain reported, referrals, findings worse than last time, until marked handled by whom;
- a member's rights (owner): everything about one member as one zip, and erasure with a receipt.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from device.errors import InputError
from device.store import iso, utc_now
from device.vocabulary import COMPENSATIONS
from web import auth, links, present
from web.access import ctx
from web.kiosk import load

log = logging.getLogger(__name__)

bp = Blueprint("people", __name__, url_prefix="/trainer")

EXPORT_FORMAT = "ohsa-member-export/1"


def _who() -> str:
    return (auth.current_account() or {}).get("name", "?")


@bp.app_template_global()
def audit_for(assessment_id: str) -> list[dict]:
    """The audit lines of one assessment (the trainer's detail page shows them)."""
    return ctx()["store"].audit_lines(assessment_id)


@bp.app_template_global()
def current_account() -> dict | None:
    return auth.current_account()


@bp.app_template_global()
def open_alerts() -> int:
    return len(ctx()["store"].events(open_only=True, limit=100))


# -- accounts -------------------------------------------------------------------------------


@bp.get("/accounts")
@auth.require_role("owner")
def accounts():
    return render_template("trainer/accounts.html", accounts=ctx()["store"].accounts(), error=None)


@bp.post("/accounts")
@auth.require_role("owner")
def add_account():
    name = request.form.get("name", "").strip()
    problem = auth.password_problem(request.form.get("password", ""), request.form.get("repeat", ""))
    if problem is None:
        try:
            ctx()["store"].add_account(name, auth.hash_password(request.form["password"]), by=_who())
        except InputError as e:
            problem = str(e)
    if problem:
        return render_template("trainer/accounts.html", accounts=ctx()["store"].accounts(), error=problem,
                               name=name), 400
    auth.security.warning("trainer account %r added by %s", name, _who())
    flash(f"Trainer account {name} added. They log in with that name and password.", "ok")
    return redirect(url_for("people.accounts"))


@bp.post("/accounts/<int:account_id>/remove")
@auth.require_role("owner")
def remove_account(account_id: int):
    found = [a for a in ctx()["store"].accounts() if a["id"] == account_id and a["role"] != "owner"]
    if not found:
        abort(404)
    ctx()["store"].remove_account(found[0]["name"], by=_who())
    auth.security.warning("trainer account %r removed by %s; its sessions ended", found[0]["name"], _who())
    flash(f"Account {found[0]['name']} removed; its sessions have ended.", "ok")
    return redirect(url_for("people.accounts"))


@bp.route("/account", methods=["GET", "POST"])
def my_account():
    """A trainer changes their own password (the owner's is on the settings page)."""
    account = auth.current_account()
    if account["role"] == "owner":
        return redirect(url_for("trainer.settings"))
    error = None
    if request.method == "POST":
        stored = ctx()["store"].get_account(account["name"])
        if not auth.check_password(request.form.get("current", ""), "password change", stored["password_hash"] or "-"):
            error = "The current password is wrong; nothing changed."
        else:
            error = auth.password_problem(request.form.get("password", ""), request.form.get("repeat", ""))
        if error is None:
            ctx()["store"].set_account_password(account["name"], auth.hash_password(request.form["password"]),
                                                by=account["name"])
            auth.security.warning("%s changed their password; their sessions ended", account["name"])
            auth.log_in(account)
            flash("Password changed. Your other sessions have ended.", "ok")
            return redirect(url_for("people.my_account"))
    return render_template("trainer/account.html", account=account, error=error), (400 if error else 200)


# -- members --------------------------------------------------------------------------------


@bp.get("/members")
def members():
    store = ctx()["store"]
    return render_template("trainer/members.html", members=store.members_overview(),
                           anonymous=store.anonymous_count(), labels=COMPENSATIONS)


def _member(member_id: int) -> dict:
    member = ctx()["store"].get_member(member_id)
    if member is None:
        abort(404, "No such member (erased, or never identified).")
    return member


@bp.get("/members/<int:member_id>")
def member(member_id: int):
    store = ctx()["store"]
    m = _member(member_id)
    items = store.member_assessments(member_id)
    ids = [a["id"] for a in items]
    return render_template(
        "trainer/member.html", member=m, items=items, labels=COMPENSATIONS,
        alerts=store.events(open_only=False, member_id=member_id, assessment_ids=ids, limit=50),
        audit=store.audit_lines(member_id=member_id, assessment_ids=ids),
    )


@bp.post("/members/<int:member_id>/name")
def rename_member(member_id: int):
    _member(member_id)
    ctx()["store"].set_member_name(member_id, request.form.get("name", ""), by=_who())
    flash("Name saved.", "ok")
    return redirect(url_for("people.member", member_id=member_id))


@bp.post("/a/<assessment_id>/member")
def link_member(assessment_id: str):
    record = load(assessment_id)
    number = request.form.get("number", "").strip()
    try:
        mid = ctx()["store"].link_member(record["id"], number or None, request.form.get("name", ""), by=_who())
    except InputError as e:
        flash(str(e), "error")
    else:
        flash(f"Linked to member {number}." if mid else "Now anonymous (no member).", "ok")
    return redirect(url_for("trainer.detail", assessment_id=record["id"]) + "#member")


@bp.get("/members/<int:member_id>/export.zip")
@auth.require_role("owner")
def export_member(member_id: int):
    """Everything about one member: member.json (member, assessments with results, overrides,
    plans, notes, tracks; audit lines; alerts) and each still as stills/<assessment>-<view>.jpg."""
    data = ctx()["store"].member_export(member_id)
    if data is None:
        abort(404)
    stills = data.pop("stills")
    for record in data["assessments"]:
        record["plan"] = present.plan_for(record)
    body = {"format": EXPORT_FORMAT, "exported_at": iso(utc_now()), "exported_by": _who(), **data,
            "stills": sorted(stills)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("member.json", json.dumps(body, indent=2, default=str))
        for name, jpeg in sorted(stills.items()):
            z.writestr(f"stills/{name}", jpeg)
    ctx()["store"].add_audit(_who(), "member exported", member_id=member_id,
                             detail=f"{len(data['assessments'])} assessment(s)")
    return Response(buf.getvalue(), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="member-{member_id}.zip"'})


@bp.post("/members/<int:member_id>/erase")
@auth.require_role("owner")
def erase_member(member_id: int):
    m = _member(member_id)
    if request.form.get("confirm", "").strip() != m["number"]:
        flash("Type the member number again to confirm; nothing was erased.", "error")
        return redirect(url_for("people.member", member_id=member_id) + "#erase")
    receipt = ctx()["store"].erase_member(member_id, by=_who())
    links.forget(receipt["assessment_ids"])
    auth.security.warning("a member was erased by %s (%d assessment(s))", _who(), receipt["assessments"])
    return render_template("trainer/erased.html", receipt=receipt, number=m["number"])


# -- alerts ---------------------------------------------------------------------------------


@bp.get("/alerts")
def alerts():
    store = ctx()["store"]
    handled = [e for e in store.events(open_only=False, limit=100) if e["handled_at"]][:20]
    return render_template("trainer/alerts.html", alerts=store.events(open_only=True), handled=handled)


@bp.post("/alerts/<int:event_id>/handled")
def handle_alert(event_id: int):
    if ctx()["store"].handle_event(event_id, by=_who()):
        flash("Marked as handled.", "ok")
    return redirect(url_for("people.alerts"))
