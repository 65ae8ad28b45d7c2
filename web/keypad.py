"""The kiosk's member keypad (no login; the station's own screen only): a member types their
member number before the set, or stays anonymous. The number goes to the station like a card
read by the front camera (`StationControl.identify`); the screen shows only its last three
characters. Member-facing words go through the catalogue (`_()` in the template)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, render_template, request, url_for

from device.errors import InputError
from device.i18n import N_
from device.store.people import clean_number
from web.access import ctx, public
from web.kiosk import from_kiosk, station_state

log = logging.getLogger(__name__)

bp = Blueprint("keypad", __name__)

REFUSED = N_("The member number can be entered only before the set starts.")
BAD_NUMBER = N_("That is not a member number. Use the digits and letters on your card.")
NOT_RUNNING = N_("The station is not running. Ask a member of staff.")


def _kiosk_only() -> None:
    if not from_kiosk():
        abort(403, "The keypad works only on the station's own screen.")


@bp.get("/live/member")
@public
def keypad():
    _kiosk_only()
    return render_template("identify.html", state=station_state(), error=None)


@bp.post("/live/member")
@public
def identify():
    _kiosk_only()
    station = ctx()["station"]
    error = None
    try:
        number = clean_number(request.form.get("number", ""))
    except InputError:
        error = BAD_NUMBER
    else:
        if station is None or not hasattr(station, "identify"):
            error = NOT_RUNNING
        elif not station.identify(number, "keypad"):
            error = REFUSED
    if error:
        return render_template("identify.html", state=station_state(), error=error), 400
    return redirect(url_for("kiosk.live"))


@bp.post("/live/member/forget")
@public
def forget():
    """'Not me': stay anonymous."""
    _kiosk_only()
    station = ctx()["station"]
    if station is not None and hasattr(station, "forget_member"):
        station.forget_member()
    return redirect(url_for("kiosk.live"))
