"""A frame source for one view from its `cameras.<view>` config section (`CameraSettings`).

    backend = "auto"       picamera2 when it is installed and the camera is attached, else a
                           USB webcam at /dev/video<number>, else missing (decided at each open)
    backend = "picamera2"  | "usb" | "replay" (config `source`, paced, `loop`) | "none"

The section is checked when the config is (backend, rotation, ranges, replay's source).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from device.camera.frame import CameraMissing, Frame, FrameSource
from device.camera.picam import PiCameraSource, list_cameras
from device.camera.replay import ReplaySource
from device.camera.usb import UsbSource
from device.config import CameraSettings

log = logging.getLogger(__name__)

__all__ = ["AutoSource", "make_source"]


class AutoSource(FrameSource):
    """picamera2 if it sees the camera, else a USB webcam; chosen again at every open."""

    def __init__(self, picamera: PiCameraSource, usb: UsbSource):
        self.picamera, self.usb = picamera, usb
        self.view = picamera.view
        self.name = f"{self.view} camera (auto)"
        self._active: FrameSource | None = None

    def open(self) -> None:
        if self._active is not None:
            return
        cams = list_cameras()
        if cams and (self.picamera.camera_id or self.picamera.number < len(cams)):
            chosen = self.picamera
        elif Path(self.usb.device).exists():
            chosen = self.usb
        else:
            raise CameraMissing(
                f"{self.view} camera: none attached (no Pi camera number {self.picamera.number}, "
                f"no {self.usb.device})"
            )
        chosen.open()
        self._active = chosen
        self.name = chosen.name

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._active is None:
            self.open()
        return self._active.read(timeout)

    def close(self) -> None:
        active, self._active = self._active, None
        if active is not None:
            active.close()


def make_source(view: str, cfg: CameraSettings | dict, *, recording: str | os.PathLike | None = None,
                paced: bool = True) -> FrameSource | None:
    """The source for `view` (None for backend "none"); `recording` overrides the config."""
    cfg = CameraSettings.of(cfg, f"cameras.{view}")
    if recording is not None:
        return ReplaySource(recording, view, paced=paced, loop=cfg.loop, rotation=cfg.rotation, mirror=cfg.mirror)
    if cfg.backend == "none":
        return None
    if cfg.backend == "replay":
        return ReplaySource(cfg.source, view, paced=paced, loop=cfg.loop, rotation=cfg.rotation, mirror=cfg.mirror)
    picamera = PiCameraSource(view, cfg)
    if cfg.backend == "picamera2":
        return picamera
    usb = UsbSource(view, cfg)
    if cfg.backend == "usb":
        return usb
    return AutoSource(picamera, usb)
