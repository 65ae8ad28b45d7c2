"""USB webcams (V4L2) through OpenCV: size, frame rate, rotation and mirroring from the config
(`CameraSettings`, device/config.py: the one home of their defaults and ranges).

OpenCV hands frames over as BGR; this backend converts to RGB before anything else sees them.
A read that fails (the cable was pulled) is a `SourceError`; OpenCV's own read timeout is set so
that a stalled webcam returns instead of blocking the capture thread for ever.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from device.camera.frame import CameraMissing, Frame, FrameSource, SourceError, orient
from device.config import CameraSettings

log = logging.getLogger(__name__)


class UsbSource(FrameSource):
    """A webcam with the size, frame rate, rotation and mirroring of its `CameraSettings`."""

    def __init__(self, view: str = "front", settings: CameraSettings | None = None, *,
                 device: str | os.PathLike | None = None):
        settings = settings or CameraSettings()
        self.view = view
        self.number = settings.number
        self.device = str(device) if device is not None else f"/dev/video{settings.number}"
        self.name = f"{view} USB camera {self.device}"
        self.width, self.height, self.fps = settings.width, settings.height, settings.fps
        self.rotation = settings.rotation
        self.mirror = settings.mirror
        # OpenCV's own open/read timeout: a stalled webcam returns before it counts as offline
        self.read_timeout_s = max(1.0, settings.offline_after_s)
        self._cap = None
        self._seq = 0

    def open(self) -> None:
        if self._cap is not None:
            return
        if not Path(self.device).exists():
            raise CameraMissing(f"{self.name}: not attached (no {self.device})")
        import cv2  # OpenCV only when a webcam is used

        ms = int(self.read_timeout_s * 1000)
        is_v4l2 = self.device.startswith("/dev/video")
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        api = cv2.CAP_V4L2 if is_v4l2 else cv2.CAP_ANY
        cap = cv2.VideoCapture(self.device, api, params)
        if not cap.isOpened():
            cap.release()
            raise CameraMissing(f"{self.name}: cannot be opened (busy, or not a camera)")
        if is_v4l2:
            # MJPEG lets a USB 2 webcam deliver 720p at 30 fps; one buffer keeps frames fresh
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            got = (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT), cap.get(cv2.CAP_PROP_FPS))
            if got[:2] != (self.width, self.height):
                log.warning("%s: asked for %dx%d, camera gives %dx%d", self.name, self.width, self.height, *got[:2])
        self._cap = cap
        self._seq = 0

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._cap is None:
            self.open()
        import cv2

        ok, bgr = self._cap.read()
        t = time.monotonic()
        if not ok or bgr is None:
            raise SourceError(f"{self.name}: no frame (unplugged or stalled)")
        self._seq += 1
        if bgr.ndim != 3 or bgr.shape[2] != 3:
            return Frame(self.view, t, bgr, self._seq)  # handed on as is; the capture counts it corrupt
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return Frame(self.view, t, orient(rgb, self.rotation, self.mirror), self._seq)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
