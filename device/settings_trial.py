"""New settings on trial: applied with a restart, kept only if the station comes up with them.

    outcome = apply(new_text, config_path, data_dir, restart=hook, healthy=check, clock=clock, sleep=sleep)

`apply` keeps the file as it was (`<data dir>/settings-trial.json`: the previous text, or none),
writes the new file atomically, calls `restart()` and then polls `healthy()` until `timeout_s`
(of `clock`, injectable) has passed. Up in time: the trial ends and the file becomes the last good
one (`<config>.last-good`). Not up: the previous text goes back, `restart()` runs again, and the
outcome says so (and whether the old settings came up again).

Under systemd the web server goes down with the station, so nobody is left to wait: the restart
is asked of systemd by a marker file (`restart_via_systemd`: /run/ohsa/restart-request, watched
by systemd/ohsa-restart.path, whose service runs the one fixed command `systemctl --no-block
restart ohsa.service`; no setting ever becomes a command), and the next start settles the trial:
`settle_at_start(ok)` keeps the file when the station came up, else puts the previous one back
(then the process exits non-zero and systemd's Restart=on-failure starts the old settings).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Callable, NamedTuple

from device import atomic

log = logging.getLogger(__name__)

TRIAL_FILE = "settings-trial.json"
RESTART_REQUEST = "restart-request"  # watched by systemd/ohsa-restart.path
TIMEOUT_S = 60.0
POLL_S = 0.5


class Outcome(NamedTuple):
    status: str  # "applied" | "rolled_back" | "restarting" (systemd settles it at the next start)
    message: str
    restored_ok: bool | None = None  # after a rollback: whether the old settings came up


def _trial_path(data_dir: Path) -> Path:
    return Path(data_dir) / TRIAL_FILE


def last_good_path(config_path: Path) -> Path:
    return Path(str(config_path) + ".last-good")


def begin(new_text: str, config_path: Path, data_dir: Path) -> None:
    """Keep what the file says now (the trial's way back) and write the new settings."""
    config_path = Path(config_path)
    previous = config_path.read_text(encoding="utf-8") if config_path.exists() else None
    pending = pending_trial(data_dir)
    if pending is not None:  # a trial that never settled: its way back is the older one
        previous = pending["previous"]
    atomic.write_text(_trial_path(data_dir), json.dumps({"previous": previous}), mode=0o600)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(config_path, new_text, mode=0o644)


def pending_trial(data_dir: Path) -> dict | None:
    try:
        data = json.loads(_trial_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "previous" in data else None


def keep(config_path: Path, data_dir: Path) -> None:
    """The trial passed: the file is the last good one."""
    config_path = Path(config_path)
    if config_path.exists():
        atomic.write_text(last_good_path(config_path), config_path.read_text(encoding="utf-8"), mode=0o644)
    _trial_path(data_dir).unlink(missing_ok=True)


def roll_back(config_path: Path, data_dir: Path) -> bool:
    """The trial failed: the previous settings go back (the file goes if there was none)."""
    pending = pending_trial(data_dir)
    if pending is None:
        return False
    previous = pending["previous"]
    if previous is None:
        Path(config_path).unlink(missing_ok=True)
    else:
        atomic.write_text(config_path, previous, mode=0o644)
    _trial_path(data_dir).unlink(missing_ok=True)
    log.error("new settings did not come up: the previous settings are back in %s", config_path)
    return True


def before_start(config_path: Path, data_dir: Path) -> None:
    """Before the config is read at start-up: a trial whose first start never settled (the
    process hung or crashed on the new settings, systemd killed it) goes back now."""
    pending = pending_trial(data_dir)
    if pending is None:
        return
    if pending.get("started"):
        roll_back(config_path, data_dir)
        return
    atomic.write_text(_trial_path(data_dir), json.dumps(dict(pending, started=True)), mode=0o600)


def settle_at_start(ok: bool, config_path: Path, data_dir: Path) -> bool:
    """At start-up with a trial pending: keep the settings if the station came up (`ok`), else
    put the previous ones back. Returns True when it rolled back (the caller then exits non-zero
    so systemd starts again with the previous settings)."""
    if pending_trial(data_dir) is None:
        return False
    if ok:
        keep(config_path, data_dir)
        log.info("new settings came up: kept")
        return False
    return roll_back(config_path, data_dir)


def wait_healthy(healthy: Callable[[], bool], clock: Callable[[], float], sleep: Callable[[float], None],
                 timeout_s: float, poll_s: float = POLL_S) -> bool:
    end = clock() + timeout_s
    while True:
        try:
            if healthy():
                return True
        except Exception:
            log.exception("health check failed")
        if clock() >= end:
            return False
        sleep(poll_s)


def apply(new_text: str, config_path: Path, data_dir: Path, *, restart: Callable[[], object],
          healthy: Callable[[], bool], clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep, timeout_s: float = TIMEOUT_S) -> Outcome:
    """Write, restart, check; roll back and restart again if the station does not come up."""
    begin(new_text, config_path, data_dir)
    try:
        restart()
    except Exception as e:
        log.exception("restart with the new settings failed")
        up = False
        why = f"the restart failed ({e})"
    else:
        up = wait_healthy(healthy, clock, sleep, timeout_s)
        why = f"the station was not up within {timeout_s:g} s"
    if up:
        keep(config_path, data_dir)
        log.info("new settings applied and the station is up")
        return Outcome("applied", "Settings applied: the station restarted and is up.")
    roll_back(config_path, data_dir)
    try:
        restart()
        restored = wait_healthy(healthy, clock, sleep, timeout_s)
    except Exception:
        log.exception("restart with the previous settings failed")
        restored = False
    message = (f"The new settings did not work ({why}), so the previous settings are back"
               + (" and the station is up again." if restored else "; the station is still not up: see Health."))
    return Outcome("rolled_back", message, restored)


def restart_via_systemd() -> bool:
    """Ask systemd for a restart through the path unit (False: not running under that unit)."""
    run_dir = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if not (run_dir and Path(run_dir).is_dir() and os.environ.get("INVOCATION_ID")):
        return False
    log.warning("asking systemd for a restart: %s", Path(run_dir) / RESTART_REQUEST)
    atomic.write_text(Path(run_dir) / RESTART_REQUEST, "restart\n")
    return True
