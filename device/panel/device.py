"""`Panel`: button, status light, region LEDs and buzzer as one gpiozero `CompositeDevice`.

Every duration the panel measures or plays (a press against contact bounce, the two holds, the
busy light's blink, the buzzer's patterns) runs on one clock (`device.panel.clock`), so tests
drive it by hand on gpiozero's MockFactory instead of waiting on the machine.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

from gpiozero import Button, Buzzer, CompositeDevice, LEDBoard
from gpiozero.exc import PinFactoryFallback
from gpiozero.pins.mock import MockFactory

from device import atomic
from device.panel.clock import Call, MonotonicClock
from device.panel.settings import PanelSettings
from device.vocabulary import REGION_IDS

log = logging.getLogger(__name__)

STATUSES = ("off", "ready", "busy", "attention")
BLINK_S = 0.25  # the busy light: this long on, this long off
# Buzzer patterns: (on seconds, off seconds, count).
BEEPS = {
    "tick": (0.08, 0.05, 1),  # one countdown second
    "go": (0.4, 0.05, 1),  # the set starts
    "finish": (0.15, 0.1, 2),  # the set is done
    "alert": (0.1, 0.1, 3),  # something needs attention
}
MIN_PRESS_S = 0.02  # shorter presses are contact bounce, not a person
MOCK_HISTORY = 500  # a mock pin keeps every state change; trimmed beyond this many


def pin_map(settings: PanelSettings | dict) -> dict[str, int]:
    """The panel's pins by role; a pin used twice is a ConfigError naming both keys."""
    return PanelSettings.of(settings, "panel").pins()


class Panel(CompositeDevice):
    """The station's panel. Members: `button`, `status` (green, red), `regions`, `buzzer`.

    `clock` (see `device.panel.clock`) gives the time and runs the holds, the blink and the beeps;
    by default the panel makes its own `MonotonicClock` and closes it with the panel.

    Pins and hold times come from its `PanelSettings` (checked there: no pin twice, the cancel
    hold shorter than the shutdown hold).
    """

    def __init__(
        self,
        settings: PanelSettings | None = None,
        *,
        shutdown_action: Callable[[], None] | None = None,
        pin_factory=None,
        clock=None,
    ):
        settings = PanelSettings.of(settings, "panel")
        pins = settings.pins()
        self.hold_cancel_s = settings.hold_cancel_s
        self.hold_shutdown_s = settings.hold_shutdown_s
        self.shutdown_action = shutdown_action or poweroff
        self.when_pressed: Callable[[], None] | None = None
        self.when_held: Callable[[], None] | None = None
        self.when_shutdown: Callable[[], None] | None = None
        self._own_clock = clock is None
        self._clock = MonotonicClock() if clock is None else clock
        self._lock = threading.Lock()
        self._status = "off"
        self._lit: frozenset[str] = frozenset()
        self._beeps = 0  # how many beeps so far, so the kiosk page can sound them too
        self._last_beep: str | None = None
        self._down_at: float | None = None
        self._held_fired = False
        self._shutting_down = False
        # The running timers by name (hold, shutdown, blink, beep), each with its own number: a
        # timer that was stopped or replaced does nothing even if the clock already took it.
        self._timers: dict[str, tuple[int, Call]] = {}
        self._serial = 0
        super().__init__(
            # hold_time only keeps gpiozero's `button.is_held` in step; the panel times holds itself
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

    # -- timers -------------------------------------------------------------------------------

    def _start(self, name: str, delay: float, step: Callable[[], Callable[[], None] | None]) -> None:
        """Run `step` in `delay` seconds with the lock held, unless stopped or replaced first.

        `step` may return a function to call after the lock is released (a user's callback).
        Callers hold the lock."""
        self._stop(name)
        self._serial += 1
        serial = self._serial
        call = self._clock.call_later(delay, lambda: self._fire(name, serial, step))
        self._timers[name] = (serial, call)

    def _stop(self, name: str) -> None:
        """Callers hold the lock."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer[1].cancel()

    def _fire(self, name: str, serial: int, step) -> None:
        with self._lock:
            timer = self._timers.get(name)
            if timer is None or timer[0] != serial:
                return
            del self._timers[name]
            after = step()
        if after is not None:
            after()

    # -- the button ---------------------------------------------------------------------------

    def _pressed(self):
        with self._lock:
            self._down_at = self._clock()
            self._held_fired = False
            self._start("hold", self.hold_cancel_s, self._held)
            self._start("shutdown", self.hold_shutdown_s, self._shutdown_hold)

    def _released(self):
        with self._lock:
            self._stop("hold")
            self._stop("shutdown")
            down, self._down_at = self._down_at, None
            fire = (
                down is not None
                and not self._held_fired
                and self._clock() >= down + MIN_PRESS_S
            )
        if fire:
            _call(self.when_pressed, "press")

    def _held(self):
        self._held_fired = True
        return lambda: _call(self.when_held, "hold")

    def _shutdown_hold(self):
        if self._shutting_down:
            return None
        self._shutting_down = True
        return self._shut_down

    def _shut_down(self):
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

    # -- lights and sound ---------------------------------------------------------------------

    def set_status(self, status: str) -> None:
        """ready: green steady; busy: green blinking; attention: red steady; off."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        with self._lock:
            if status == self._status:
                return
            self._status = status
            self._stop("blink")
            self.status.red.value = status == "attention"
            self.status.green.value = status in ("ready", "busy")
            if status == "busy":
                self._start("blink", BLINK_S, lambda: self._blink(False))

    def _blink(self, lit: bool) -> None:
        self.status.green.value = lit
        self._start("blink", BLINK_S, lambda: self._blink(not lit))

    def show_regions(self, region_ids) -> None:
        """Light exactly the LEDs of these checkpoint regions."""
        lit = frozenset(region_ids)
        unknown = lit - set(REGION_IDS)
        if unknown:
            raise ValueError(f"unknown region {sorted(unknown)[0]!r}; regions are {', '.join(REGION_IDS)}")
        with self._lock:
            self._lit = lit
            for r in REGION_IDS:
                getattr(self.regions, r).value = r in lit

    def clear_regions(self) -> None:
        self.show_regions(())

    def beep(self, kind: str) -> None:
        """Play a buzzer pattern (BEEPS); a new beep cuts the one still playing short."""
        on, off, n = BEEPS[kind]
        with self._lock:
            self._beeps += 1
            self._last_beep = kind
            self._beep_step([on, off] * n, 0)

    def _beep_step(self, steps: list[float], i: int) -> None:
        """Step i of a pattern: buzzer on for even steps, off for odd ones, each lasting
        steps[i]; the last step (off) ends it."""
        self.buzzer.value = i % 2 == 0
        if i + 1 < len(steps):
            self._start("beep", steps[i], lambda: self._beep_step(steps, i + 1))
        else:
            self._stop("beep")

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
                for name in list(self._timers):
                    self._stop(name)
                self._status = "off"
            if self._own_clock:
                self._clock.close()
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
# The one power-off command, fixed in code: no setting may become a shell command.
POWEROFF_COMMAND = ("systemctl", "poweroff")


def poweroff() -> None:
    """The default shutdown action: a clean poweroff through systemd.

    Under the station's sandboxed unit (RuntimeDirectory=ohsa) the station has no right to power
    off; it creates /run/ohsa/poweroff-request and ohsa-poweroff.path does the rest. Elsewhere
    (a development machine, a unit without the path watcher) POWEROFF_COMMAND runs.
    """
    run_dir = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if run_dir and Path(run_dir).is_dir():
        log.warning("asking for a power-off: %s", Path(run_dir) / POWEROFF_REQUEST)
        atomic.write_text(Path(run_dir) / POWEROFF_REQUEST, "poweroff\n")
        return
    log.warning("running %s", " ".join(POWEROFF_COMMAND))
    subprocess.run(POWEROFF_COMMAND, check=False, timeout=30)


def open_panel(
    settings: PanelSettings | dict,
    *,
    shutdown_action: Callable[[], None] | None = None,
    pin_factory=None,
    clock=None,
) -> Panel:
    """The panel from the config's `panel` section: real GPIO if there is any, else a mock.

    `enabled = false` always uses a mock (the kiosk page mirrors it). A machine without GPIO
    (a laptop, CI) falls back to gpiozero's MockFactory with one warning, never an error.
    `pin_factory` and `clock` are for tests: their own MockFactory, a clock they drive.
    """
    settings = PanelSettings.of(settings, "panel")
    kwargs = dict(shutdown_action=shutdown_action, clock=clock)
    if not settings.enabled:
        return Panel(settings, pin_factory=pin_factory or MockFactory(), **kwargs)
    try:
        with warnings.catch_warnings():  # gpiozero warns once per pin library it tries
            warnings.simplefilter("ignore", PinFactoryFallback)
            return Panel(settings, pin_factory=pin_factory, **kwargs)
    except Exception as e:  # no GPIO chip, no pin library, not a Pi
        log.warning("no GPIO here (%s); the panel runs on a mock, mirrored on the kiosk page", e)
        return Panel(settings, pin_factory=MockFactory(), **kwargs)
