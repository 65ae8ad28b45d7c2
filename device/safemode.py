"""Safe mode: start the station in a state that says what is wrong instead of crash-looping.

API (the station calls these in this order):

    reason = safemode.check(config_path, data_dir)   # None, or plain words for panel and page
    safemode.begin(data_dir)                          # right after check(): start-up under way
    ...                                               # cameras, model, web up (or safe mode up)
    safemode.done(data_dir)                           # start-up finished: clear the marker

`check` finds two things: a start-up that did not finish last time (the marker written by
`begin` is still there: a crash, a hang killed by the watchdog, a power cut during start-up)
and a config that `device.config.load` rejects. In safe mode the station still calls begin() and
done(), so the next start (after the trainer fixed the config, or after a restart) tries the
normal way again rather than staying in safe mode for ever.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from device import atomic, config
from device.errors import ConfigError

MARKER = "startup-unfinished.json"


def check(config_path: str | os.PathLike | None, data_dir: str | os.PathLike) -> str | None:
    """Why the station should start in safe mode, or None when it can start normally."""
    reasons = []
    marker = Path(data_dir) / MARKER
    if marker.exists():
        try:
            started = json.loads(marker.read_text(encoding="utf-8"))["started"]
            reasons.append(f"the last start-up (at {started}) did not finish")
        except (OSError, ValueError, KeyError, TypeError):
            reasons.append("the last start-up did not finish")
    try:
        config.load(config_path)
    except ConfigError as e:
        reasons.append(f"bad config: {e}")
    return "; ".join(reasons) or None


def begin(data_dir: str | os.PathLike) -> None:
    """Mark a start-up as under way (atomically, so a power cut leaves a whole marker or none)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    atomic.write_text(Path(data_dir) / MARKER, json.dumps({"started": stamp, "pid": os.getpid()}), 0o600)


def done(data_dir: str | os.PathLike) -> None:
    """The start-up finished: the next start is a normal one."""
    marker = Path(data_dir) / MARKER
    try:
        marker.unlink()
    except FileNotFoundError:
        return
    fd = os.open(marker.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the removal itself survives a power cut
    finally:
        os.close(fd)
