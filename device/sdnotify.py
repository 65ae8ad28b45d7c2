"""Tell systemd how the station is doing (sd_notify), with a plain socket and no dependency.

API (the station calls these; each is a no-op returning False when not run by systemd):

    from device import sdnotify
    sdnotify.ready()              # READY=1 once cameras and model are up (Type=notify)
    sdnotify.watchdog()           # WATCHDOG=1, only from the frame loop (a hang -> restart)
    sdnotify.status("text")       # STATUS=..., shown by `systemctl status ohsa`
    sdnotify.stopping()           # STOPPING=1 at the start of a clean shutdown
    sdnotify.watchdog_interval()  # seconds between pings (half of WatchdogSec) or None

`$NOTIFY_SOCKET` is a path or, starting with "@", an abstract socket name. A send that fails is
logged at debug level and otherwise ignored: telling systemd is never worth a crash.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def _address() -> str | None:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr or addr[0] not in "/@":
        return None
    return "\0" + addr[1:] if addr[0] == "@" else addr


def notify(message: str) -> bool:
    """Send one datagram of `KEY=value` lines; True when it was sent."""
    addr = _address()
    if addr is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode("utf-8"), addr)
        return True
    except OSError as e:
        log.debug("sd_notify %r failed: %s", message.split("=")[0], e)
        return False


def ready() -> bool:
    return notify("READY=1")


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    # one line: systemd reads the datagram as newline-separated assignments
    return notify("STATUS=" + " ".join(str(text).split()))


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec in seconds when the watchdog is on for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None
