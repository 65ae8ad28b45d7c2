"""The LED/button panel on gpiozero's MockFactory: button timing, lights, buzzer, config.

Each test gets its own MockFactory and a hand-driven clock (tests/hand_clock.py): the test
drives the pins and moves time itself, so no result depends on how busy the machine is. The
real clock (`MonotonicClock`) has its own tests at the end, which wait only for events, never
for a moment in time.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from gpiozero.pins.mock import MockFactory

from device import config as cfg
from device.errors import ConfigError
from device.panel import Panel, open_panel
from device.panel.clock import MonotonicClock
from device.panel.device import BEEPS, BLINK_S, MIN_PRESS_S, pin_map
from device.vocabulary import REGION_IDS
from tests.hand_clock import HandClock

HOLD_S, SHUTDOWN_S = 0.15, 0.5
EVENT_WAIT_S = 30.0  # how long a real-clock test waits for an event before it calls it lost


def _panel_config(**over):
    over = {"hold_cancel_s": HOLD_S, "hold_shutdown_s": SHUTDOWN_S, **over}
    return cfg.validate({"panel": over})["panel"]


@pytest.fixture
def rig():
    """A panel on its own MockFactory and a hand clock; events and shutdowns recorded."""
    factory, clock = MockFactory(), HandClock()
    shutdowns, events = [], []
    panel = open_panel(
        _panel_config(), shutdown_action=lambda: shutdowns.append(clock()),
        pin_factory=factory, clock=clock,
    )
    panel.when_pressed = lambda: events.append("press")
    panel.when_held = lambda: events.append("hold")
    panel.when_shutdown = lambda: events.append("shutdown")
    r = SimpleNamespace(panel=panel, clock=clock, events=events, shutdowns=shutdowns, factory=factory)
    r.pin = lambda role: factory.pin(pin_map(_panel_config())[role])
    r.button = r.pin("button")
    yield r
    panel.close()
    factory.reset()


def test_runs_on_mock_factory_and_pins_come_from_config(rig):
    panel = rig.panel
    assert panel.mock and panel.pin_factory is rig.factory
    c = _panel_config()
    assert panel.button.pin.info.name == f"GPIO{c['button']}"
    assert panel.regions.knees.pin.info.name == f"GPIO{c['led_knees']}"
    assert panel.buzzer.pin.info.name == f"GPIO{c['buzzer']}"


def test_short_press_fires_once_on_release(rig):
    rig.button.drive_low()
    rig.clock.advance(0.04)
    assert rig.events == []  # a press is a press only once released (a hold means something else)
    assert rig.panel.state()["button_pressed"] is True
    rig.button.drive_high()
    assert rig.events == ["press"]
    assert rig.clock.pending() == []  # no hold or shutdown timer outlives the release
    rig.clock.advance(2 * SHUTDOWN_S)
    assert rig.events == ["press"] and rig.shutdowns == []


@pytest.mark.parametrize("held_s", [0.0, 0.001, MIN_PRESS_S / 2, MIN_PRESS_S - 0.001])
def test_bounce_is_not_a_press(rig, held_s):
    rig.button.drive_low()
    rig.clock.advance(held_s)  # contact bounce: closed for less than MIN_PRESS_S
    rig.button.drive_high()
    rig.clock.advance(2 * SHUTDOWN_S)
    assert rig.events == [] and rig.shutdowns == []


@pytest.mark.parametrize("held_s", [MIN_PRESS_S, 0.05, HOLD_S - 0.001])
def test_a_press_from_min_press_up_to_the_hold_is_a_press(rig, held_s):
    rig.button.drive_low()
    rig.clock.advance(held_s)
    rig.button.drive_high()
    assert rig.events == ["press"]


def test_a_bouncing_press_and_release_count_once(rig):
    b, clock = rig.button, rig.clock
    for _ in range(3):  # the contacts chatter as they close
        b.drive_low()
        clock.advance(0.001)
        b.drive_high()
        clock.advance(0.001)
    b.drive_low()
    clock.advance(0.1)  # a person's press
    b.drive_high()
    for _ in range(3):  # and chatter as they open
        clock.advance(0.001)
        b.drive_low()
        clock.advance(0.001)
        b.drive_high()
    clock.advance(2 * SHUTDOWN_S)
    assert rig.events == ["press"]


def test_hold_fires_hold_not_press(rig):
    rig.button.drive_low()
    rig.clock.advance(HOLD_S - 0.001)
    assert rig.events == []
    rig.clock.advance(0.001)
    assert rig.events == ["hold"]  # fired while still held, at hold_cancel_s
    rig.clock.advance(0.2)
    assert rig.events == ["hold"]  # once per hold
    rig.button.drive_high()
    rig.clock.advance(2 * SHUTDOWN_S)
    assert rig.events == ["hold"] and rig.shutdowns == []


def test_much_longer_hold_runs_shutdown_action(rig):
    panel, clock = rig.panel, rig.clock
    panel.set_status("ready")
    panel.show_regions({"knees", "head"})
    t0 = clock()
    rig.button.drive_low()
    clock.advance(SHUTDOWN_S - 0.001)
    assert rig.events == ["hold"] and rig.shutdowns == []
    clock.advance(0.001)
    assert rig.shutdowns == [pytest.approx(t0 + SHUTDOWN_S)]
    assert rig.events == ["hold", "shutdown"]  # the station is told before the action runs
    s = panel.state()
    assert s["status"] == "off" and not any(s["regions"].values())
    assert not any(rig.pin(p).state for p in ("status_green", "status_red", "led_knees", "led_head"))
    rig.button.drive_high()
    assert rig.events == ["hold", "shutdown"]  # the release after it is no press
    rig.button.drive_low()  # held again while the machine goes down: the action runs once
    clock.advance(2 * SHUTDOWN_S)
    assert len(rig.shutdowns) == 1


def test_release_before_shutdown_hold_cancels_it(rig):
    rig.button.drive_low()
    rig.clock.advance(0.3)
    rig.button.drive_high()
    rig.clock.advance(10 * SHUTDOWN_S)
    assert rig.shutdowns == []
    assert rig.events == ["hold"]
    rig.button.drive_low()  # the next hold is timed from its own start
    rig.clock.advance(HOLD_S)
    assert rig.events == ["hold", "hold"]
    rig.clock.advance(SHUTDOWN_S - HOLD_S)
    assert rig.events == ["hold", "hold", "shutdown"] and len(rig.shutdowns) == 1


def test_a_failing_shutdown_action_leaves_a_working_panel(rig):
    calls = []

    def broken():
        calls.append(rig.clock())
        raise OSError("systemctl: not allowed")

    rig.panel.shutdown_action = broken
    rig.button.drive_low()
    rig.clock.advance(SHUTDOWN_S)
    rig.button.drive_high()
    assert len(calls) == 1
    rig.button.drive_low()  # a second long hold tries again
    rig.clock.advance(SHUTDOWN_S)
    rig.button.drive_high()
    assert len(calls) == 2
    rig.button.drive_low()
    rig.clock.advance(0.05)
    rig.button.drive_high()
    assert rig.events[-1] == "press"


def test_status_light(rig):
    panel, clock = rig.panel, rig.clock
    green, red = rig.pin("status_green"), rig.pin("status_red")
    panel.set_status("ready")
    assert (green.state, red.state) == (True, False)
    panel.set_status("attention")
    assert (green.state, red.state) == (False, True)
    panel.set_status("busy")
    assert (green.state, red.state) == (True, False)
    seen = []
    for _ in range(6):  # blinking: BLINK_S on, BLINK_S off
        clock.advance(BLINK_S - 0.001)
        before = green.state
        clock.advance(0.001)
        seen.append((before, green.state))
    assert seen == [(True, False), (False, True)] * 3
    panel.set_status("busy")  # the same status again changes nothing, not even the blink phase
    clock.advance(BLINK_S)
    assert green.state is False
    panel.set_status("ready")
    changes = len(green.states)
    clock.advance(10 * BLINK_S)
    assert (green.state, red.state) == (True, False) and len(green.states) == changes  # steady
    panel.set_status("busy")
    panel.set_status("off")
    clock.advance(10 * BLINK_S)
    assert (green.state, red.state) == (False, False) and clock.pending() == []
    assert panel.state()["status"] == "off"
    with pytest.raises(ValueError):
        panel.set_status("party")


def test_region_leds_and_state_mirror(rig):
    panel = rig.panel
    panel.show_regions({"knees", "head"})
    for r in REGION_IDS:
        assert rig.pin(f"led_{r}").state is (r in {"knees", "head"})
    s = panel.state()
    assert s["regions"] == {r: r in {"knees", "head"} for r in REGION_IDS}
    assert s["mock"] is True and s["button_pressed"] is False
    rig.pin("led_knees").assert_states([False, True])
    panel.clear_regions()
    assert not any(rig.pin(f"led_{r}").state for r in REGION_IDS)
    with pytest.raises(ValueError):
        panel.show_regions({"elbows"})


@pytest.mark.parametrize("kind", sorted(BEEPS))
def test_buzzer_plays_each_pattern(rig, kind):
    on, off, n = BEEPS[kind]
    buzzer, clock = rig.pin("buzzer"), rig.clock
    rig.panel.beep(kind)
    assert buzzer.state is True and rig.panel.state()["buzzer"] is True
    states = [True]
    for step in [on, off] * n:  # each state lasts its step, to the millisecond
        held = buzzer.state
        clock.advance(step - 0.001)
        assert buzzer.state is held
        clock.advance(0.001)
        states.append(buzzer.state)
    assert states[:-1] == [True, False] * n and states[-1] is False
    clock.advance(1.0)
    assert buzzer.state is False and clock.pending() == []
    assert [s.state for s in buzzer.states] == [False] + [True, False] * n
    s = rig.panel.state()
    assert (s["beeps"], s["last_beep"], s["buzzer"]) == (1, kind, False)


def test_a_new_beep_cuts_the_last_one_short(rig):
    buzzer, clock = rig.pin("buzzer"), rig.clock
    rig.panel.beep("alert")  # 3 x (0.1 on, 0.1 off)
    clock.advance(0.05)
    rig.panel.beep("tick")  # one 0.08 s tick from now on
    clock.advance(0.08)
    assert buzzer.state is False
    clock.advance(1.0)
    assert [s.state for s in buzzer.states] == [False, True, False]  # no alert beeps after it
    assert rig.panel.state()["beeps"] == 2 and rig.panel.state()["last_beep"] == "tick"


def test_close_stops_the_timers(rig):
    rig.panel.set_status("busy")
    rig.panel.beep("alert")
    rig.button.drive_low()
    assert len(rig.clock.pending()) == 4  # blink, beep, hold, shutdown
    rig.panel.close()
    rig.clock.advance(10 * SHUTDOWN_S)
    assert rig.events == [] and rig.shutdowns == []


def test_mock_history_is_trimmed(rig):
    led = rig.pin("led_head")
    for _ in range(700):
        rig.panel.show_regions({"head"})
        rig.panel.show_regions(())
    assert len(led.states) > 1000
    rig.panel.trim_mock_history()
    assert len(led.states) <= 500 and led.state is False


def test_duplicate_pins_are_a_config_error():
    with pytest.raises(ConfigError, match=r"panel.led_knees: pin 17 is already used by panel.button"):
        open_panel(_panel_config(led_knees=17))


def test_cancel_hold_must_be_shorter_than_shutdown_hold():
    with pytest.raises(ConfigError, match="hold_shutdown_s"):
        open_panel(_panel_config(hold_cancel_s=2.0, hold_shutdown_s=1.0))


def test_disabled_panel_uses_its_own_mock_and_close_frees_pins():
    c = _panel_config(enabled=False)
    a = open_panel(c)
    assert isinstance(a.pin_factory, MockFactory) and a.mock
    a.close()
    b = open_panel(c)  # pins were released by close()
    b.close()


def test_failing_handler_does_not_break_the_button(rig):
    calls = []

    def boom(what):
        def handler():
            calls.append(what)
            raise RuntimeError("handler bug")
        return handler

    rig.panel.when_pressed = boom("press")
    rig.panel.when_held = boom("hold")
    for _ in range(2):
        rig.button.drive_low()
        rig.clock.advance(0.03)
        rig.button.drive_high()
    rig.button.drive_low()
    rig.clock.advance(HOLD_S)
    rig.button.drive_high()
    rig.button.drive_low()
    rig.clock.advance(0.03)
    rig.button.drive_high()
    assert calls == ["press", "press", "hold", "press"]


def test_panel_direct_construction_with_factory():
    factory, clock = MockFactory(), HandClock()
    p = Panel(_panel_config(hold_cancel_s=0.1, hold_shutdown_s=0.2), pin_factory=factory, clock=clock)
    assert p.pin_factory is factory
    held = []
    p.when_held = lambda: held.append(clock())
    factory.pin(_panel_config()["button"]).drive_low()
    clock.advance(0.1)
    assert held == [pytest.approx(1000.1)]
    p.close()
    factory.reset()


# -- the real clock: tests wait for events (bounded), never assert on elapsed real time --------


def test_monotonic_clock_runs_calls_in_due_order_never_early():
    clock = MonotonicClock()
    ran, done = [], threading.Event()

    def mark(name, due):
        def fn():
            ran.append((name, time.monotonic() >= due))
            if name == "c":
                done.set()
        return fn

    def schedule_all():
        # scheduled from a running call: the worker is busy, so none can run before all are queued
        now = time.monotonic()
        clock.call_later(0.03, mark("c", now + 0.03))
        clock.call_later(0.0, mark("a", now))
        clock.call_later(0.01, mark("b", now + 0.01))
        clock.call_later(0.0, mark("cancelled", now)).cancel()
        clock.call_later(0.005, lambda: 1 / 0)  # a failing call is logged; the clock goes on

    try:
        clock.call_later(0.0, schedule_all)
        assert done.wait(EVENT_WAIT_S)
        assert ran == [("a", True), ("b", True), ("c", True)]
    finally:
        clock.close()


def test_monotonic_clock_close_drops_pending_calls():
    clock = MonotonicClock()
    ran = []
    clock.call_later(3600, lambda: ran.append("late"))
    thread = clock._thread
    clock.close()
    assert not thread.is_alive()
    after = clock.call_later(0.0, lambda: ran.append("after close"))
    assert after.cancelled and ran == []


def test_panel_on_the_real_clock():
    """The default panel times holds on real time: a long hold gives hold, then shutdown."""
    factory = MockFactory()
    shut = threading.Event()
    events = []
    panel = open_panel(_panel_config(hold_cancel_s=0.05, hold_shutdown_s=0.1),
                       shutdown_action=shut.set, pin_factory=factory)
    try:
        panel.when_held = lambda: events.append("hold")
        panel.when_shutdown = lambda: events.append("shutdown")
        button = factory.pin(_panel_config()["button"])
        button.drive_low()
        assert shut.wait(EVENT_WAIT_S)
        button.drive_high()
        assert events == ["hold", "shutdown"]
    finally:
        panel.close()
        factory.reset()


def test_press_on_the_real_clock():
    factory = MockFactory()
    events = []
    # holds far beyond any stall of this machine (the longest the config allows), so the release
    # below is always a press
    panel = open_panel(_panel_config(hold_cancel_s=30.0, hold_shutdown_s=120.0), pin_factory=factory)
    try:
        panel.when_pressed = lambda: events.append("press")
        button = factory.pin(_panel_config()["button"])
        button.drive_low()
        time.sleep(2 * MIN_PRESS_S)  # at least this long: sleep never returns early
        button.drive_high()
        assert events == ["press"]  # fired on the release, in this thread
    finally:
        panel.close()
        factory.reset()
