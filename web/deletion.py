"""Deleting an assessment safely: a confirmation page, then a soft delete that the owner can undo
for `UNDO_DAYS` (device.store); after that the retention job purges it with secure_delete."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from device.store.store import UNDO_DAYS
from device.vocabulary import COMPENSATIONS
from web import auth, links
from web.access import ctx, owner_only
from web.kiosk import ID_RE, load

bp = Blueprint("deletion", __name__, url_prefix="/trainer")


def _now() -> dt.datetime:
    return dt.datetime.fromtimestamp(ctx()["clock"](), dt.timezone.utc)


def _who() -> str:
    return (auth.current_account() or {}).get("name", "?")


def purge_date(deleted_at: str) -> dt.datetime:
    return dt.datetime.fromisoformat(deleted_at.replace("Z", "+00:00")) + dt.timedelta(days=UNDO_DAYS)


@bp.get("/a/<assessment_id>/delete")
@owner_only
def confirm(assessment_id: str):
    record = load(assessment_id)
    return render_template("trainer/delete_confirm.html", record=record, undo_days=UNDO_DAYS,
                           labels=COMPENSATIONS)


@bp.post("/a/<assessment_id>/delete")
@owner_only
def delete(assessment_id: str):
    record = load(assessment_id)
    if request.form.get("confirm") != "yes":
        flash("Deleting needs the confirmation; nothing was deleted.", "error")
        return redirect(url_for("deletion.confirm", assessment_id=record["id"]))
    store = ctx()["store"]
    store.soft_delete(record["id"], _now())
    store.add_audit(_who(), "deleted", record["id"], detail=f"undo possible for {UNDO_DAYS} days")
    links.forget([record["id"], *record["retests"]])  # its share link dies now; an undo makes a new one
    flash(f"Assessment of {record['created_at'][:10]} deleted. You can undo this for {UNDO_DAYS} days.", "ok")
    return redirect(url_for("deletion.deleted", just=record["id"]))


@bp.get("/deleted")
@owner_only
def deleted():
    items = ctx()["store"].list_deleted()
    for item in items:
        item["purge_at"] = purge_date(item["deleted_at"]).isoformat()
    return render_template("trainer/deleted.html", items=items, just=request.args.get("just", ""),
                           undo_days=UNDO_DAYS, labels=COMPENSATIONS)


@bp.post("/deleted/<assessment_id>/restore")
@owner_only
def restore(assessment_id: str):
    if not ID_RE.match(assessment_id or ""):
        abort(404)
    store = ctx()["store"]
    if not store.restore(assessment_id):
        flash("That assessment is not waiting in the deleted list (restored already, or purged).", "error")
        return redirect(url_for("deletion.deleted"))
    store.add_audit(_who(), "restored", assessment_id)
    flash("Assessment restored.", "ok")
    return redirect(url_for("trainer.detail", assessment_id=assessment_id))
