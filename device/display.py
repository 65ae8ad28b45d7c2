"""The station's own screen asleep outside the opening hours: its backlight off where the kernel
has a backlight device for it (the official Raspberry Pi touch display, other DSI/SPI panels).

    display = Display("auto")           # [kiosk] display_sleep: auto | backlight | page
    display.sleep()                     # the station fell asleep (state `closed`)
    display.wake()                      # woken by the button or at opening time; also at start
    display.status()                    # plain dict for the health page

Fixed paths only, from the kernel's ABI (Documentation/ABI/stable/sysfs-class-backlight):
`/sys/class/backlight/<device>/bl_power` takes 0 (FB_BLANK_UNBLANK, on) or 4
(FB_BLANK_POWERDOWN, off); a device without a usable `bl_power` gets `brightness` 0, and the
brightness it had comes back on waking (`max_brightness` if it was 0 already, say after a crash
while asleep). The setting only chooses among these methods; nothing from it reaches a path.

HDMI screens have no backlight device: the kiosk page going black is all there is (no output
power-off under Bookworm's cage 0.1.4; HDMI-CEC standby is left out, docs/setup-pi.md says why).
A missing device or a refused write (no udev rule: udev/70-ohsa-backlight.rules) is one log
line and a black page; the station runs on. `root` is injectable (tests: a fake sysfs tree).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

SYSFS_BACKLIGHT = Path("/sys/class/backlight")
METHODS = ("auto", "backlight", "page")  # [kiosk] display_sleep (device/config.py)
BL_POWER_ON = "0"  # FB_BLANK_UNBLANK
BL_POWER_OFF = "4"  # FB_BLANK_POWERDOWN
HOW = {"backlight": "backlight off", "page": "black page"}  # what the health page says


class Display:
    """The screen's sleep: the backlight devices under `root`, or the black page alone."""

    def __init__(self, method: str = "auto", root: str | Path = SYSFS_BACKLIGHT):
        if method not in METHODS:
            raise ValueError(f"display_sleep must be one of {', '.join(METHODS)}, got {method!r}")
        self.method = method
        self.root = Path(root)
        self._lock = threading.Lock()
        self._asleep = False
        self._brightness: dict[str, str] = {}  # device -> brightness before sleep (no bl_power)
        self._problem: str | None = None  # the last failure, said once in the log

    # -- what the station calls -------------------------------------------------------------------

    def sleep(self) -> bool:
        """Backlight off (True), or False: the black page alone (no device, page, a refused write)."""
        with self._lock:
            self._asleep = True
            return self._switch(on=False)

    def wake(self) -> bool:
        """Backlight on again (True), or False as for sleep. Also called at start: a station that
        stopped while asleep must not leave the screen dark through the opening hours."""
        with self._lock:
            self._asleep = False
            return self._switch(on=True)

    def status(self) -> dict:
        """{"method": "backlight" | "page", "how": "backlight off" | "black page", "devices": [...],
        "asleep": bool, "problem": str | None} (the setting in "setting")."""
        with self._lock:
            devices = self.devices() if self.method != "page" else []
            uses = "backlight" if devices and self._problem is None else "page"
            problem = self._problem
            if self.method == "backlight" and not devices and problem is None:
                problem = f"no backlight device in {self.root}"
            return {"setting": self.method, "method": uses, "how": HOW[uses], "devices": devices,
                    "asleep": self._asleep, "problem": problem}

    def devices(self) -> list[str]:
        """The backlight devices there are now (a panel's driver may come up after the station)."""
        try:
            return sorted(p.name for p in self.root.iterdir() if (p / "brightness").exists())
        except OSError:
            return []

    # -- the writes -----------------------------------------------------------------------------

    def _switch(self, on: bool) -> bool:
        if self.method == "page":
            return False
        devices = self.devices()
        if not devices:
            if self.method == "backlight":
                self._fail(f"no backlight device in {self.root}: the page goes black instead")
            return False
        try:
            for name in devices:
                self._set(self.root / name, name, on)
        except OSError as e:
            self._fail(f"cannot switch the backlight ({getattr(e, 'filename', None) or self.root}: "
                       f"{e.strerror or e}): "
                       "the page goes black instead; is udev/70-ohsa-backlight.rules installed "
                       "(docs/setup-pi.md)?")
            return False
        if self._problem is not None:
            log.info("display: the backlight answers again")
            self._problem = None
        log.info("display: backlight %s (%s)", "on" if on else "off", ", ".join(devices))
        return True

    def _set(self, dev: Path, name: str, on: bool) -> None:
        power = dev / "bl_power"
        if power.exists():
            _write(power, BL_POWER_ON if on else BL_POWER_OFF)
            return
        brightness = dev / "brightness"
        if not on:
            now = brightness.read_text().strip()
            if now != "0":
                self._brightness[name] = now
            _write(brightness, "0")
            return
        if brightness.read_text().strip() != "0":
            return  # on already (a wake at start)
        value = self._brightness.pop(name, None) or (dev / "max_brightness").read_text().strip()
        _write(brightness, value)

    def _fail(self, problem: str) -> None:
        if problem != self._problem:
            log.warning("display: %s", problem)
        self._problem = problem


def _write(path: Path, value: str) -> None:
    """One sysfs write; an OSError names the file (sysfs refuses at write(), not at open())."""
    try:
        path.write_text(value)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from e
