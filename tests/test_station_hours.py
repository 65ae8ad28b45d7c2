"""Opening hours at the station itself: outside them it sleeps (state `closed`: no frames taken,
no inference, cameras closed, a dark screen, the panel light off) while the systemd watchdog is
still fed; the panel's button wakes it for `kiosk.wake_idle_s` of idle; at opening time it wakes
by itself. The state machine on a hand-driven clock and a MockFactory panel, then the real
runtime with real MoveNet on real frames."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from gpiozero.pins.mock import MockFactory

from device import config as cfg
from device import sdnotify
from device.camera import DualCapture
from device.display import Display
from device.panel import open_panel
from device.station import Station
from device.station import runtime as runtime_mod
from device.station.runtime import StationRuntime
from tests.hand_clock import HandClock
from tests.test_display import fake_backlight
from tests.loop_source import LoopSource
from tests.test_pose_workers import Spy, frames  # noqa: F401  (fixture: real frames of the pair)
from tests.waiting import wait_until

HOURS = "mon-fri 06:00-22:00"
MON = dt.datetime(2026, 11, 30)  # a Monday
WAKE_S = 60.0


def _config(hours: str = HOURS) -> dict:
    return cfg.validate({"kiosk": {"opening_hours": hours, "wake_idle_s": WAKE_S},
                         "panel": {"hold_cancel_s": 0.15, "hold_shutdown_s": 0.6}})


class Rig:
    """The state machine, its panel on MockFactory, one hand clock for both and for the wall."""

    def __init__(self, start: dt.datetime, hours: str = HOURS):
        self.clock = HandClock()
        t0, self.start = self.clock.t, start
        self.config = _config(hours)
        self.panel = open_panel(self.config.panel, pin_factory=MockFactory(), clock=self.clock,
                                shutdown_action=lambda: None)
        self.station = Station(self.config, clock=self.clock, panel=self.panel,
                               wall=lambda: start + dt.timedelta(seconds=self.clock.t - t0))
        self.panel.when_pressed = self.station.press
        self.panel.when_held = self.station.long_press
        for v in ("front", "side"):
            self.station.set_camera(v, True)

    def wait(self, seconds: float, step: float = 1.0) -> None:
        """Time passes; the supervisor ticks the machine."""
        for _ in range(int(round(seconds / step))):
            self.clock.advance(step)
            self.station.tick()

    def press(self, held: float = 0.05) -> None:
        pin = self.panel.pin_factory.pin(self.config.panel.button)
        pin.drive_low()
        self.clock.advance(held)
        pin.drive_high()

    @property
    def state(self) -> str:
        return self.station.state()["state"]

    def light(self) -> tuple[bool, bool]:
        pin = self.panel.pin_factory.pin
        return bool(pin(self.config.panel.status_green).state), bool(pin(self.config.panel.status_red).state)


@pytest.fixture
def rig():
    made = []

    def make(start, hours=HOURS):
        made.append(Rig(start, hours))
        return made[-1]

    yield make
    for r in made:
        r.panel.close()


def test_closing_time_sleeps_the_button_wakes_it_and_idle_sends_it_back(rig):
    r = rig(MON.replace(hour=21, minute=59))
    r.station.tick()
    assert r.state == "idle" and r.station.state()["opens"] is None and r.light() == (True, False)
    r.wait(61)  # 22:00:01
    s = r.station.state()
    assert s["state"] == "closed" and s["opens"] == "2026-12-01T06:00"  # Tuesday morning
    assert r.light() == (False, False)  # the panel light is off while asleep
    assert not r.station.start()  # the page's Start does nothing while asleep
    r.press()
    assert r.state == "idle" and r.light() == (True, False)  # awake: not a set yet
    r.wait(WAKE_S - 5)
    assert r.state == "idle"
    r.wait(10)
    assert r.state == "closed"  # idle for wake_idle_s: asleep again
    # woken, a set started outside the hours runs; afterwards the idle grace starts again
    r.press()
    r.press()
    assert r.state == "positioning"
    assert r.station.cancel() and r.state == "cancelled"
    r.wait(10)  # the "cancelled" message ends
    assert r.state == "idle"
    r.wait(WAKE_S - 15)
    assert r.state == "idle"
    r.wait(20)
    assert r.state == "closed"
    # a long press while asleep (cancel) changes nothing
    r.press(held=0.3)
    assert r.state == "closed"


def test_opening_time_wakes_it_by_itself(rig):
    r = rig(MON.replace(hour=23))
    r.station.tick()
    assert r.state == "closed"
    r.wait(7 * 3600 - 10, step=10.0)  # Tuesday 05:59:50
    assert r.state == "closed"
    r.wait(20)
    assert r.state == "idle" and r.station.state()["opens"] is None and r.light() == (True, False)
    r.wait(3600, step=30.0)  # open: it stays awake
    assert r.state == "idle"


def test_a_set_under_way_at_closing_time_finishes_first(rig):
    r = rig(MON.replace(hour=21, minute=59, second=55))
    r.press()
    assert r.state == "positioning"
    r.wait(20)  # past 22:00: nobody in position yet, but the set is not cut short by the hours
    assert r.state == "positioning"


def test_without_hours_it_never_sleeps(rig):
    r = rig(MON.replace(hour=23), hours="")
    r.wait(36 * 3600, step=600.0)
    assert r.state == "idle" and r.station.state()["opens"] is None


def test_a_bad_wake_time_is_refused():
    with pytest.raises(Exception, match="wake_idle_s"):
        cfg.validate({"kiosk": {"wake_idle_s": 1}})


# -- the runtime: cameras, pose workers, watchdog -------------------------------------------------


def _press(panel, config, hold=0.05):
    """The panel's button on its MockFactory pin (the runtime's panel runs on the real clock)."""
    pin = panel.pin_factory.pin(config.panel.button)
    pin.drive_low()
    time.sleep(hold)  # a press must be held MIN_PRESS_S; nothing is asserted on timing
    pin.drive_high()


def test_asleep_the_station_takes_no_frames_runs_no_inference_and_feeds_the_watchdog(
        tmp_path, movenet, frames, monkeypatch):  # noqa: F811
    pings = []
    monkeypatch.setattr(sdnotify, "watchdog_interval", lambda: 0.2)  # a ping every 0.1 s
    monkeypatch.setattr(sdnotify, "watchdog", lambda: pings.append(time.monotonic()) or True)
    monkeypatch.setattr(runtime_mod, "WORKER_STUCK_S", 1.0)  # a worker that stopped coming round
    wall = {"now": MON.replace(hour=23)}
    config = cfg.validate({"kiosk": {"opening_hours": HOURS, "wake_idle_s": 600.0},
                           "station": {"positioning_timeout_s": 600.0},
                           "panel": {"hold_cancel_s": 0.3, "hold_shutdown_s": 5.0}})
    capture = DualCapture({v: LoopSource(v, frames[v]) for v in ("front", "side")}, offline_after_s=5.0)
    backlight, dev = fake_backlight(tmp_path / "sys")  # the touch display's (device/display.py)
    rt = StationRuntime(config, tmp_path / "data", capture=capture, movenet=movenet,
                        shutdown_action=lambda: None, wall=lambda: wall["now"],
                        display=Display("auto", root=backlight)).open()
    power = lambda: (dev / "bl_power").read_text().strip()  # noqa: E731
    spies = {v: Spy(rt.movenets[v]) for v in ("front", "side")}
    try:
        assert wait_until(lambda: rt.station.current == "closed", 10)
        assert wait_until(lambda: all(c["status"] == "paused" for c in capture.status().values()), 10)
        assert rt.state()["opens"] == "2026-12-01T06:00"
        assert wait_until(lambda: power() == "4", 10)  # the screen's backlight off
        # each worker has come round asleep once (a frame it was handling may have finished)
        assert wait_until(lambda: all(w.asleep_turns >= 1 for w in rt.workers.values()), 10)
        calls = {v: s.calls for v, s in spies.items()}
        taken = {v: w.frames for v, w in rt.workers.items()}
        captured = {v: c["frames"] for v, c in capture.status().items()}
        turns = {v: w.asleep_turns for v, w in rt.workers.items()}
        pinged = len(pings)
        # long enough for many frames, inferences and watchdog turns had it been awake
        assert wait_until(lambda: all(w.asleep_turns >= turns[v] + 6 for v, w in rt.workers.items()), 20)
        assert wait_until(lambda: len(pings) >= pinged + 10, 20)  # fed all along: no restart for idling
        assert {v: s.calls for v, s in spies.items()} == calls  # no inference at all
        assert {v: w.frames for v, w in rt.workers.items()} == taken  # no frame taken
        assert {v: c["frames"] for v, c in capture.status().items()} == captured  # cameras closed
        assert rt.stats()["cameras"]["front"]["status"] == "paused"

        _press(rt.panel, config)  # the panel's button wakes it
        assert wait_until(lambda: rt.station.current == "idle", 10)
        assert wait_until(lambda: power() == "0", 10)  # and on again
        assert wait_until(lambda: all(c["status"] == "online" for c in capture.status().values()), 10)
        assert wait_until(lambda: all(w.frames > taken[v] for v, w in rt.workers.items()), 10)
        assert rt.start()  # a set: pose on every frame again
        assert wait_until(lambda: all(s.calls >= calls[v] + 5 for v, s in spies.items()), 20)
        assert rt.cancel()

        wall["now"] = MON.replace(hour=23) + dt.timedelta(hours=7)  # Tuesday 06:00: open
        assert wait_until(lambda: rt.station.current == "idle", 20)  # the cancelled message ends ...
        assert rt.state()["opens"] is None  # ... and it stays awake: open now
        assert power() == "0" and rt.stats()["display"]["how"] == "backlight off"
    finally:
        for s in spies.values():
            s.restore()
        rt.close()
