""""Apply and restart" on the settings page: the new settings on trial (device.settings_trial).

The restart is a hook in the app's context: `restart` (a callable, no arguments: the in-process
restart `ohsa run` provides, or a test's), else systemd's when the station runs under its unit
(a request file, never a command made from a setting). `healthy` says whether the station came
up (default: it answers and is not in safe mode); `clock` and `sleep` time the wait, so tests
drive it without waiting; `restart_timeout_s` bounds it.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, flash, redirect, render_template, request, url_for

from device import config as device_config
from device import settings_trial
from device.errors import ConfigError
from web import settings_form
from web.access import ctx, owner_only

log = logging.getLogger(__name__)

bp = Blueprint("settings_apply", __name__, url_prefix="/trainer")


def station_up() -> bool:
    """The default health check: a station that answers, runs, and is not in safe mode."""
    station = ctx()["station"]
    if station is None:
        return False
    state = station.state() or {}
    if state.get("safe_mode"):
        return False
    stats = station.stats() or {}
    return bool(stats.get("running", True)) and state.get("state") not in (None, "not_running", "error")


@bp.post("/settings/apply")
@owner_only
def apply():
    c = ctx()
    path = c["config_path"]
    try:
        full = device_config.validate(settings_form.parse(request.form))
        text = device_config.dumps(full)
    except ConfigError as e:
        values = settings_form.flatten_form(request.form)
        return render_template(
            "trainer/settings.html", sections=settings_form.sections(values), error=str(e), path=path,
            thresholds=settings_form.threshold_table(),
        ), 400
    restart = c.get("restart")
    if restart is None:
        settings_trial.begin(text, path, c["data_dir"])
        if settings_trial.restart_via_systemd():
            return render_template("trainer/restarting.html", path=path)
        settings_trial.roll_back(path, c["data_dir"])
        flash("This station cannot restart itself here (it is not run by `ohsa run` or systemd); "
              "nothing was changed.", "error")
        return redirect(url_for("trainer.settings"))
    try:
        outcome = settings_trial.apply(
            text, path, c["data_dir"], restart=restart, healthy=c.get("healthy") or station_up,
            clock=c.get("restart_clock") or time.monotonic, sleep=c.get("sleep") or time.sleep,
            timeout_s=c.get("restart_timeout_s") or settings_trial.TIMEOUT_S,
        )
    except OSError as e:
        flash(f"{path}: cannot write the settings ({e.strerror or e}); nothing was changed.", "error")
        return redirect(url_for("trainer.settings"))
    log.info("settings apply: %s", outcome.status)
    flash(outcome.message, "ok" if outcome.status == "applied" else "error")
    return redirect(url_for("trainer.settings", outcome=outcome.status))
