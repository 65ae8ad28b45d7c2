"""The panel on real GPIO (a Raspberry Pi with the panel wired as in config `panel`).

Skipped everywhere else (marker `hardware`). Run on the Pi with the station stopped:
    GPIOZERO_PIN_FACTORY=lgpio .venv/bin/python -m pytest -q -m hardware tests/test_panel_hardware.py
"""

from __future__ import annotations

import os
import time

import pytest

from device import config as cfg
from device.panel import open_panel
from device.vocabulary import REGION_IDS

pytestmark = pytest.mark.hardware


@pytest.fixture
def panel(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", os.environ.get("OHSA_HW_PIN_FACTORY", "lgpio"))
    from gpiozero import Device

    Device.pin_factory = None  # choose again from the environment
    p = open_panel(cfg.validate({})["panel"], shutdown_action=lambda: pytest.fail("must not shut down"))
    yield p
    p.close()


def test_real_gpio_lights_each_led_and_reads_the_button(panel):
    assert not panel.mock, "expected real GPIO on a Pi"
    assert panel.button.is_pressed is False  # nobody is holding it during the test
    for status in ("ready", "busy", "attention", "off"):
        panel.set_status(status)
        time.sleep(0.3)
    for region in REGION_IDS:
        panel.show_regions({region})
        assert getattr(panel.regions, region).is_lit
        time.sleep(0.3)
    panel.clear_regions()
    panel.beep("finish")
    time.sleep(0.5)
