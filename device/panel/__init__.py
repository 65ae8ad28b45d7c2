"""The station's LED/button panel: one gpiozero composite device.

    panel = open_panel(config.panel)               # MockFactory when there is no GPIO
    panel.when_pressed = station.press             # a short press (fired on release)
    panel.when_held = station.long_press           # held for hold_cancel_s (fired while held)
    panel.set_status("ready")                      # off | ready | busy | attention
    panel.show_regions({"knees"})                  # one LED per checkpoint region
    panel.beep("tick")                             # tick | go | finish | alert
    panel.state()                                  # plain dict, mirrored on the kiosk page
    panel.close()

A much longer hold (hold_shutdown_s) shuts the Pi down safely: `when_shutdown` is told first,
then the shutdown action runs (default `device.panel.device.poweroff`, fixed in code; tests pass
their own callable). Pins and hold times: `PanelSettings` (device/panel/settings.py).

All the panel's timing (bounce, holds, blink, beeps) runs on one clock (`device.panel.clock`):
`open_panel(..., pin_factory=MockFactory(), clock=hand_clock)` lets a test drive the pins and
the time itself. gpiozero is imported on first use of these names, so reading the config (which
holds `PanelSettings`) does not load it.
"""

__all__ = ["Panel", "STATUSES", "open_panel"]


def __getattr__(name):
    if name in __all__:
        from device.panel import device

        return getattr(device, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
