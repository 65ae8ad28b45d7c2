"""The station's LED/button panel: one gpiozero composite device.

    panel = open_panel(config["panel"])            # MockFactory when there is no GPIO
    panel.when_pressed = station.press             # a short press (fired on release)
    panel.when_held = station.long_press           # held for hold_cancel_s (fired while held)
    panel.set_status("ready")                      # off | ready | busy | attention
    panel.show_regions({"knees"})                  # one LED per checkpoint region
    panel.beep("tick")                             # tick | go | finish | alert
    panel.state()                                  # plain dict, mirrored on the kiosk page
    panel.close()

A much longer hold (hold_shutdown_s) shuts the Pi down safely: `when_shutdown` is told first,
then the shutdown action runs (default `systemctl poweroff`; tests pass their own callable).

All the panel's timing (bounce, holds, blink, beeps) runs on one clock (`device.panel.clock`):
`open_panel(..., pin_factory=MockFactory(), clock=hand_clock)` lets a test drive the pins and
the time itself.
"""

from device.panel.device import STATUSES, Panel, open_panel

__all__ = ["Panel", "STATUSES", "open_panel"]
