"""The panel's settings (`[panel]` in the config): BCM pins and hold times, checked here.

The wiring table in README.md follows these defaults. There is deliberately no setting for what a
long hold runs: the power-off is fixed in code (device.panel.device.poweroff), so no edit on the
settings page can become a shell command.
"""

from __future__ import annotations

import logging

from pydantic import Field, model_validator

from device.section import Section, invalid
from device.vocabulary import REGION_IDS

log = logging.getLogger(__name__)

# The Raspberry Pi's header exposes BCM GPIO 0..27.
_PIN = dict(ge=0, le=27)


def _pin(default: int, what: str):
    return Field(default, **_PIN, description=f"BCM pin number of {what}")


class PanelSettings(Section):
    enabled: bool = Field(
        True, description="Use the GPIO panel; off: no GPIO at all (the kiosk page mirrors a mock panel)"
    )
    button: int = _pin(17, "the button (to GND, internal pull-up)")
    status_green: int = _pin(27, "the green status light")
    status_red: int = _pin(22, "the red status light")
    led_feet_ankles: int = _pin(5, "the feet and ankles LED")
    led_knees: int = _pin(6, "the knees LED")
    led_hips_low_back: int = _pin(13, "the hips and low back LED")
    led_shoulders_arms: int = _pin(19, "the shoulders and arms LED")
    led_head: int = _pin(26, "the head LED")
    buzzer: int = _pin(18, "the buzzer")
    hold_cancel_s: float = Field(
        1.5, ge=0.05, le=30.0, description="Hold the button this long (seconds) to cancel a set or report pain"
    )
    hold_shutdown_s: float = Field(
        8.0, ge=0.1, le=120.0,
        description="Hold the button this long (seconds) to shut the Pi down safely; longer than the cancel hold",
    )

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data):
        # shutdown_command was a setting until the power-off became fixed in code: an old file
        # that still has it starts normally, and the next save drops it
        if isinstance(data, dict) and "shutdown_command" in data:
            log.warning("panel.shutdown_command is no longer a setting (the power-off is fixed); ignored")
            data = {k: v for k, v in data.items() if k != "shutdown_command"}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if not self.hold_cancel_s < self.hold_shutdown_s:
            raise invalid("hold_shutdown_s", f"must be longer than panel.hold_cancel_s "
                          f"({self.hold_shutdown_s:g} s is not longer than {self.hold_cancel_s:g} s)")
        seen: dict[int, str] = {}
        for role, pin in self.pins().items():
            if pin in seen:
                raise invalid(role, f"pin {pin} is already used by panel.{seen[pin]}")
            seen[pin] = role
        return self

    def pins(self) -> dict[str, int]:
        """The pins by role (button, status_green, status_red, led_<region>..., buzzer)."""
        return {
            "button": self.button,
            "status_green": self.status_green,
            "status_red": self.status_red,
            **{f"led_{r}": getattr(self, f"led_{r}") for r in REGION_IDS},
            "buzzer": self.buzzer,
        }
