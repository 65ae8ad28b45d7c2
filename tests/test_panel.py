"""The LED/button panel on gpiozero's MockFactory: button timing, lights, buzzer, config."""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from device import config as cfg
from device.errors import ConfigError
from device.panel import Panel, open_panel
from device.panel.device import pin_map
from device.vocabulary import REGION_IDS
from tests.waiting import wait_until as _wait


def _panel_config(**over):
    c = cfg.validate({"panel": {"hold_cancel_s": 0.15, "hold_shutdown_s": 0.5, **over}})["panel"]
    return c


@pytest.fixture
def rig():
    shutdowns = []
    panel = open_panel(_panel_config(), shutdown_action=lambda: shutdowns.append(time.monotonic()))
    events = []
    panel.when_pressed = lambda: events.append("press")
    panel.when_held = lambda: events.append("hold")
    panel.when_shutdown = lambda: events.append("shutdown")
    for pin in panel.pin_factory.pins.values():
        pin.clear_states()  # the global mock factory keeps pins (and their history) across tests
    yield panel, events, shutdowns
    panel.close()


def _pin(panel, role):
    return panel.pin_factory.pin(pin_map(_panel_config())[role])


def test_runs_on_mock_factory_and_pins_come_from_config(rig):
    panel, _, _ = rig
    assert panel.mock
    c = _panel_config()
    assert panel.button.pin.info.name == f"GPIO{c['button']}"
    assert panel.regions.knees.pin.info.name == f"GPIO{c['led_knees']}"
    assert panel.buzzer.pin.info.name == f"GPIO{c['buzzer']}"


def test_short_press_fires_once_on_release(rig):
    panel, events, _ = rig
    button = _pin(panel, "button")
    button.drive_low()
    time.sleep(0.04)
    assert events == []  # a press is a press only once released (a hold means something else)
    button.drive_high()
    assert _wait(lambda: events == ["press"])
    time.sleep(0.05)
    assert events == ["press"]


def test_bounce_is_not_a_press(rig):
    panel, events, _ = rig
    button = _pin(panel, "button")
    button.drive_low()
    button.drive_high()  # a few microseconds: contact bounce
    time.sleep(0.05)
    assert events == []


def test_hold_fires_hold_not_press(rig):
    panel, events, shutdowns = rig
    button = _pin(panel, "button")
    button.drive_low()
    assert _wait(lambda: events == ["hold"])  # fired while still held
    button.drive_high()
    time.sleep(0.05)
    assert events == ["hold"]
    assert shutdowns == []


def test_much_longer_hold_runs_shutdown_action(rig):
    panel, events, shutdowns = rig
    button = _pin(panel, "button")
    t0 = time.monotonic()
    button.drive_low()
    assert _wait(lambda: len(shutdowns) == 1)
    assert shutdowns[0] - t0 >= 0.45
    assert events == ["hold", "shutdown"]
    button.drive_high()
    assert panel.state()["status"] == "off"


def test_release_before_shutdown_hold_cancels_it(rig):
    panel, events, shutdowns = rig
    button = _pin(panel, "button")
    button.drive_low()
    time.sleep(0.3)
    button.drive_high()
    time.sleep(0.4)
    assert shutdowns == []
    assert events == ["hold"]


def test_status_light(rig):
    panel, _, _ = rig
    green, red = _pin(panel, "status_green"), _pin(panel, "status_red")
    panel.set_status("ready")
    assert (green.state, red.state) == (True, False)
    panel.set_status("attention")
    assert (green.state, red.state) == (False, True)
    panel.set_status("busy")
    assert red.state is False
    assert _wait(lambda: green.state is True) and _wait(lambda: green.state is False)  # blinking
    panel.set_status("off")
    time.sleep(0.02)
    assert (green.state, red.state) == (False, False)
    with pytest.raises(ValueError):
        panel.set_status("party")


def test_region_leds_and_state_mirror(rig):
    panel, _, _ = rig
    panel.show_regions({"knees", "head"})
    for r in REGION_IDS:
        assert _pin(panel, f"led_{r}").state is (r in {"knees", "head"})
    s = panel.state()
    assert s["regions"] == {r: r in {"knees", "head"} for r in REGION_IDS}
    assert s["mock"] is True and s["button_pressed"] is False
    _pin(panel, "led_knees").assert_states([False, True])
    panel.clear_regions()
    assert not any(_pin(panel, f"led_{r}").state for r in REGION_IDS)
    with pytest.raises(ValueError):
        panel.show_regions({"elbows"})


def test_buzzer_beeps(rig):
    panel, _, _ = rig
    buzzer = _pin(panel, "buzzer")
    buzzer.clear_states()  # the global mock factory keeps pins across tests
    panel.beep("finish")
    assert _wait(lambda: len([s for s in buzzer.states if s.state]) == 2, timeout=1.0)
    assert _wait(lambda: buzzer.state is False)


def test_mock_history_is_trimmed(rig):
    panel, _, _ = rig
    led = _pin(panel, "led_head")
    for _ in range(700):
        panel.show_regions({"head"})
        panel.show_regions(())
    panel.trim_mock_history()
    assert len(led.states) <= 500


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
    panel, events, _ = rig
    done = threading.Event()

    def boom():
        done.set()
        raise RuntimeError("handler bug")

    panel.when_pressed = boom
    button = _pin(panel, "button")
    for _ in range(2):
        done.clear()
        button.drive_low()
        time.sleep(0.03)
        button.drive_high()
        assert done.wait(1.0)


def test_panel_direct_construction_with_factory():
    factory = MockFactory()
    p = Panel(pin_map(_panel_config()), pin_factory=factory, hold_cancel_s=0.1, hold_shutdown_s=0.2)
    assert p.pin_factory is factory
    p.close()
