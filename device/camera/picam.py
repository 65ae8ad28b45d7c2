"""Raspberry Pi camera modules through picamera2 (from the Pi's apt, imported only here).

Which physical camera is the front and which the side is pinned by its `Id` from
`Picamera2.global_camera_info()` (config `camera_id`); without one, the camera number is used.
Next to the main stream a small `lores` stream sized for inference is configured; on a Pi 4
it must be YUV420, so it is YUV420 everywhere and converted to RGB here (OpenCV, I420 layout with
the stride's padding cut off). Without a lores stream the main stream is `RGB888`, which is
**BGR in memory**, and is flipped to RGB. Every capture has a timeout; a timed-out capture is
cancelled so the next one starts clean. Timestamps are the sensor's (`SensorTimestamp`, ns on
CLOCK_MONOTONIC, the clock of `time.monotonic()`).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from device.camera.frame import CameraMissing, Frame, FrameSource, SourceError, orient
from device.config import CameraSettings

log = logging.getLogger(__name__)

INSTALL_HINT = "on a Raspberry Pi: sudo apt install python3-picamera2, venv with --system-site-packages"


def picamera2_class():
    """The Picamera2 class, or CameraMissing when the package is not installed."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        raise CameraMissing(f"picamera2 is not installed ({INSTALL_HINT})") from None
    return Picamera2


def list_cameras() -> list[dict]:
    """`Picamera2.global_camera_info()`: one dict per camera (Id, Model, Num, ...); [] without picamera2."""
    try:
        return list(picamera2_class().global_camera_info())
    except CameraMissing:
        return []


def yuv420_to_rgb(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """picamera2's YUV420 array `(h * 3 // 2, stride)` to RGB `(h, w, 3)`."""
    import cv2

    if array.shape[0] != height * 3 // 2 or array.shape[1] < width:
        raise SourceError(f"YUV420 buffer of shape {array.shape} does not fit {width}x{height}")
    rgb = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_YUV2RGB_I420)
    return rgb[:, :width]


class PiCameraSource(FrameSource):
    """A camera module with the id or number, sizes, frame rate and orientation of its
    `CameraSettings` (lores_width/height 0: no lores stream, frames come from the main one)."""

    def __init__(self, view: str = "front", settings: CameraSettings | None = None):
        settings = settings or CameraSettings()
        self.view = view
        self.number = settings.number
        self.camera_id = settings.camera_id
        self.name = f"{view} Pi camera " + (repr(self.camera_id) if self.camera_id else f"number {self.number}")
        width, height = settings.width, settings.height
        self.size = (width, height)
        self.fps = settings.fps
        lores = (settings.lores_width, settings.lores_height)
        if lores[0] > 0 and lores[1] > 0:
            # the ISP wants even sizes; lores may not be larger than main
            self.lores = (min(lores[0], width) & ~1, min(lores[1], height) & ~1)
        else:
            self.lores = None
        self.rotation = settings.rotation
        self.mirror = settings.mirror
        self._cam = None
        self._stream = "lores" if self.lores else "main"
        self._stream_size = self.lores or self.size
        self._seq = 0
        self._last_stamp = None
        self.info: dict = {}

    def _index(self, infos: list[dict]) -> int:
        if self.camera_id:
            for i, info in enumerate(infos):
                if info.get("Id") == self.camera_id:
                    return i
            ids = ", ".join(repr(i.get("Id")) for i in infos) or "none"
            raise CameraMissing(f"{self.name}: no camera with this Id attached (attached: {ids})")
        if self.number >= len(infos):
            raise CameraMissing(f"{self.name}: not attached ({len(infos)} camera(s) found)")
        return self.number

    def open(self) -> None:
        if self._cam is not None:
            return
        Picamera2 = picamera2_class()
        infos = Picamera2.global_camera_info()
        index = self._index(infos)
        self.info = dict(infos[index])
        try:
            cam = Picamera2(index)
        except Exception as e:  # picamera2 raises RuntimeError for a busy or vanished camera
            raise SourceError(f"{self.name}: cannot open ({e})") from None
        try:
            streams = {"main": {"size": self.size, "format": "RGB888"}}
            if self.lores:
                streams["lores"] = {"size": self.lores, "format": "YUV420"}
            config = cam.create_video_configuration(
                **streams, controls={"FrameRate": float(self.fps)}, buffer_count=4
            )
            cam.configure(config)
            self._stream_size = tuple(cam.camera_config[self._stream]["size"])
            cam.start()
        except Exception as e:
            _quiet_close(cam)
            raise SourceError(f"{self.name}: cannot start ({e})") from None
        log.info("%s: %s started, %s stream %dx%d", self.name, self.info.get("Model", "?"),
                 self._stream, *self._stream_size)
        self._cam = cam
        self._seq = 0
        self._last_stamp = None

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._cam is None:
            self.open()
        cam = self._cam
        try:
            with cam.captured_request(wait=timeout) as request:
                array = request.make_array(self._stream)
                metadata = request.get_metadata()
        except TimeoutError:
            # the job stays queued inside picamera2 after a timeout: cancel it
            cancel = getattr(cam, "cancel_all_and_flush", None)
            if cancel:
                cancel()
            return None
        except Exception as e:
            raise SourceError(f"{self.name}: capture failed ({e})") from None
        now = time.monotonic()
        stamp = metadata.get("SensorTimestamp")
        t = stamp / 1e9 if isinstance(stamp, int) and abs(stamp / 1e9 - now) < 1.0 else now
        self._seq += self._skipped(stamp, metadata.get("FrameDuration"))
        w, h = self._stream_size
        if self._stream == "lores":
            rgb = yuv420_to_rgb(array, w, h)
        else:
            rgb = array[:, :, 2::-1] if array.ndim == 3 and array.shape[2] >= 3 else array  # BGR -> RGB
        self._seq += 1
        return Frame(self.view, t, orient(rgb, self.rotation, self.mirror), self._seq)

    def _skipped(self, stamp, duration_us) -> int:
        """Frames the sensor delivered that never reached us, from the timestamp gap; they
        show as a gap in `seq` (DualCapture counts them as dropped)."""
        last, self._last_stamp = self._last_stamp, stamp
        if not isinstance(stamp, int) or not isinstance(last, int) or not duration_us:
            return 0
        periods = (stamp - last) / (duration_us * 1000.0)
        return max(0, int(round(periods)) - 1)

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            _quiet_close(cam)


def _quiet_close(cam) -> None:
    for step in ("stop", "close"):
        try:
            getattr(cam, step)()
        except Exception as e:  # closing a camera that already failed may fail again
            log.debug("picamera2 %s failed: %s", step, e)
