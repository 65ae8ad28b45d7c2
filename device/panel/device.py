"""`Panel`: button, status light, region LEDs and buzzer as one gpiozero `CompositeDevice`."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from gpiozero import Button, Buzzer, CompositeDevice, LEDBoard
from gpiozero.exc import PinFactoryFallback
from gpiozero.pins.mock import MockFactory

from device import atomic
from device.errors import ConfigError
from device.vocabulary import REGION_IDS

log = logging.getLogger(__name__)

STATUSES = ("off", "ready", "busy", "attention")
# Buzzer patterns: (on seconds, off seconds, count).
BEEPS = {
    "tick": (0.08, 0.05, 1),  # one countdown second
    "go": (0.4, 0.05, 1),  # the set starts
    "finish": (0.15, 0.1, 2),  # the set is done
    "alert": (0.1, 0.1, 3),  # something needs attention
}
MIN_PRESS_S = 0.02  # shorter presses are contact bounce, not a person
MOCK_HISTORY = 500  # a mock pin keeps every state change; trimmed beyond this many


def pin_map(panel_config: dict) -> dict[str, int]:
    """The panel's pins by role, checked for duplicates (key paths in the message)."""
    pins = {
        "button": panel_config["button"],
        "status_green": panel_config["status_green"],
        "status_red": panel_config["status_red"],
        **{f"led_{r}": panel_config[f"led_{r}"] for r in REGION_IDS},
        "buzzer": panel_config["buzzer"],
    }
    seen: dict[int, str] = {}
    for role, pin in pins.items():
        if pin in seen:
            raise ConfigError(f"panel.{role}: pin {pin} is already used by panel.{seen[pin]}")
        seen[pin] = role
    return pins


class Panel(CompositeDevice):
    """The station's panel. Members: `button`, `status` (green, red), `regions`, `buzzer`."""

    def __init__(
        self,
        pins: dict[str, int],
        *,
        hold_cancel_s: float = 1.5,
        hold_shutdown_s: float = 8.0,
        shutdown_action: Callable[[], None] | None = None,
        pin_factory=None,
    ):
        if not 0 < hold_cancel_s < hold_shutdown_s:
            raise ConfigError(
                "panel.hold_shutdown_s: must be longer than panel.hold_cancel_s (and both above 0)"
            )
        self.hold_cancel_s = float(hold_cancel_s)
        self.hold_shutdown_s = float(hold_shutdown_s)
        self.shutdown_action = shutdown_action or poweroff
        self.when_pressed: Callable[[], None] | None = None
        self.when_held: Callable[[], None] | None = None
        self.when_shutdown: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._status = "off"
        self._lit: frozenset[str] = frozenset()
        self._beeps = 0  # how many beeps so far, so the kiosk page can sound them too
        self._last_beep: str | None = None
        self._down_at: float | None = None
        self._held_fired = False
        self._shutdown_timer: threading.Timer | None = None
        self._shutting_down = False
        super().__init__(
            button=Button(
                pins["button"], pull_up=True, hold_time=self.hold_cancel_s, pin_factory=pin_factory
            ),
            status=LEDBoard(
                green=pins["status_green"], red=pins["status_red"], pin_factory=pin_factory
            ),
            regions=LEDBoard(
                _order=list(REGION_IDS),
                pin_factory=pin_factory,
                **{r: pins[f"led_{r}"] for r in REGION_IDS},
            ),
            buzzer=Buzzer(pins["buzzer"], pin_factory=pin_factory),
            _order=["button", "status", "regions", "buzzer"],
            pin_factory=pin_factory,
        )
        self.button.when_pressed = self._pressed
        self.button.when_released = self._released
        self.button.when_held = self._held

    # -- the button ---------------------------------------------------------------------------

    def _pressed(self):
        with self._lock:
            self._down_at = time.monotonic()
            self._held_fired = False
            self._cancel_shutdown_timer()
            self._shutdown_timer = threading.Timer(self.hold_shutdown_s, self._shutdown_hold)
            self._shutdown_timer.daemon = True
            self._shutdown_timer.start()

    def _released(self):
        with self._lock:
            self._cancel_shutdown_timer()
            down, self._down_at = self._down_at, None
            fire = (
                down is not None
                and not self._held_fired
                and time.monotonic() - down >= MIN_PRESS_S
            )
        if fire:
            _call(self.when_pressed, "press")

    def _held(self):
        with self._lock:
            if self._held_fired or self._down_at is None:
                return
            self._held_fired = True
        _call(self.when_held, "hold")

    def _shutdown_hold(self):
        with self._lock:
            if self._down_at is None or self._shutting_down:
                return
            self._shutting_down = True
        log.warning("button held %.0f s: shutting down", self.hold_shutdown_s)
        _call(self.when_shutdown, "shutdown notice")
        self.set_status("off")
        self.clear_regions()
        try:
            self.shutdown_action()
        except Exception:  # the panel must survive a failing shutdown command
            log.exception("shutdown action failed")
            with self._lock:
                self._shutting_down = False

    def _cancel_shutdown_timer(self):
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None

    # -- lights and sound ---------------------------------------------------------------------

    def set_status(self, status: str) -> None:
        """ready: green steady; busy: green blinking; attention: red steady; off."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        with self._lock:
            if status == self._status:
                return
            self._status = status
        green, red = self.status.green, self.status.red
        if status == "ready":
            red.off()
            green.on()
        elif status == "busy":
            red.off()
            green.blink(on_time=0.25, off_time=0.25)
        elif status == "attention":
            green.off()
            red.on()
        else:
            green.off()
            red.off()

    def show_regions(self, region_ids) -> None:
        """Light exactly the LEDs of these checkpoint regions."""
        lit = frozenset(region_ids)
        unknown = lit - set(REGION_IDS)
        if unknown:
            raise ValueError(f"unknown region {sorted(unknown)[0]!r}; regions are {', '.join(REGION_IDS)}")
        with self._lock:
            self._lit = lit
        for r in REGION_IDS:
            led = getattr(self.regions, r)
            led.on() if r in lit else led.off()

    def clear_regions(self) -> None:
        self.show_regions(())

    def beep(self, kind: str) -> None:
        on, off, n = BEEPS[kind]
        with self._lock:
            self._beeps += 1
            self._last_beep = kind
        self.buzzer.beep(on_time=on, off_time=off, n=n, background=True)

    # -- state --------------------------------------------------------------------------------

    @property
    def mock(self) -> bool:
        return isinstance(self.pin_factory, MockFactory)

    def state(self) -> dict:
        """Plain data for the kiosk page's mirror of the panel."""
        with self._lock:
            status, lit, beeps, last_beep = self._status, self._lit, self._beeps, self._last_beep
        return {
            "mock": self.mock,
            "status": status,
            "regions": {r: r in lit for r in REGION_IDS},
            "button_pressed": bool(self.button.is_pressed),
            "buzzer": bool(self.buzzer.is_active),
            "beeps": beeps,
            "last_beep": last_beep,
        }

    def trim_mock_history(self) -> None:
        """A mock pin records every change forever; keep a long-running mock panel bounded."""
        if not self.mock:
            return
        for pin in self.pin_factory.pins.values():
            states = getattr(pin, "states", None)
            if states is not None and len(states) > MOCK_HISTORY:
                del states[: len(states) - MOCK_HISTORY]

    def close(self) -> None:
        if "_lock" in self.__dict__:  # also called by __del__ of a half-built panel
            with self._lock:
                self._cancel_shutdown_timer()
            self.when_pressed = self.when_held = self.when_shutdown = None
        super().close()


def _call(callback, what: str) -> None:
    if callback is None:
        return
    try:
        callback()
    except Exception:  # a failing handler must not kill gpiozero's event thread
        log.exception("panel %s handler failed", what)


POWEROFF_REQUEST = "poweroff-request"  # watched by systemd/ohsa-poweroff.path


def poweroff(command: str = "systemctl poweroff") -> None:
    """The default shutdown action: a clean poweroff through systemd.

    Under the station's sandboxed unit (RuntimeDirectory=ohsa) the station has no right to power
    off; it creates /run/ohsa/poweroff-request and ohsa-poweroff.path does the rest. Elsewhere
    (a development machine, a unit without the path watcher) `command` runs.
    """
    run_dir = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if run_dir and Path(run_dir).is_dir():
        log.warning("asking for a power-off: %s", Path(run_dir) / POWEROFF_REQUEST)
        atomic.write_text(Path(run_dir) / POWEROFF_REQUEST, "poweroff\n")
        return
    log.warning("running %r", command)
    subprocess.run(shlex.split(command), check=False, timeout=30)


def open_panel(panel_config: dict, *, shutdown_action: Callable[[], None] | None = None) -> Panel:
    """The panel from the config's `panel` section: real GPIO if there is any, else a mock.

    `enabled = false` always uses a mock (the kiosk page mirrors it). A machine without GPIO
    (a laptop, CI) falls back to gpiozero's MockFactory with one warning, never an error.
    """
    pins = pin_map(panel_config)
    command = panel_config.get("shutdown_command", "systemctl poweroff")
    action = shutdown_action or (lambda: poweroff(command))
    kwargs = dict(
        hold_cancel_s=panel_config["hold_cancel_s"],
        hold_shutdown_s=panel_config["hold_shutdown_s"],
        shutdown_action=action,
    )
    if not panel_config["enabled"]:
        return Panel(pins, pin_factory=MockFactory(), **kwargs)
    try:
        with warnings.catch_warnings():  # gpiozero warns once per pin library it tries
            warnings.simplefilter("ignore", PinFactoryFallback)
            return Panel(pins, **kwargs)
    except ConfigError:
        raise
    except Exception as e:  # no GPIO chip, no pin library, not a Pi
        log.warning("no GPIO here (%s); the panel runs on a mock, mirrored on the kiosk page", e)
        return Panel(pins, pin_factory=MockFactory(), **kwargs)
