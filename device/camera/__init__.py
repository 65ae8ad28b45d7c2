"""Frame sources (picamera2, USB/V4L2, replay) and dual capture: the bottom of the house.

    from device.camera import DualCapture, ReplaySource
    with DualCapture.from_config(config) as capture:       # both views, newest frame wins
        frame = capture.wait_for_frame("front", timeout=1)  # Frame(view, t, image RGB, seq)
        capture.status()                                    # online/offline/missing, fps, dropped

picamera2 and OpenCV are imported only by the backends that need them.
"""

from device.camera.frame import CameraMissing, EndOfStream, Frame, FrameSource, SourceError

__all__ = [
    "CameraMissing", "DualCapture", "EndOfStream", "Frame", "FrameSource", "ReplaySource",
    "SourceError", "make_source",
]


def __getattr__(name):
    if name == "DualCapture":
        from device.camera.dual import DualCapture

        return DualCapture
    if name == "ReplaySource":
        from device.camera.replay import ReplaySource

        return ReplaySource
    if name == "make_source":
        from device.camera.sources import make_source

        return make_source
    raise AttributeError(f"module 'device.camera' has no attribute {name!r}")
