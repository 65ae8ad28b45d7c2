"""A faithful test double of the part of picamera2's API the camera backend uses.

Install it as the `picamera2` module for one test:

    cams = fake_picamera2.install(monkeypatch, [FakeCamera("imx708", "/base/.../imx708@1a"), ...])

What it reproduces from picamera2 (0.3.x, read from its source):
- `Picamera2.global_camera_info()`: dicts with Model, Location, Rotation, Id, Num, sorted by Id
  in reverse with USB cameras last; `Picamera2(n)` indexes that list; opening a camera twice or
  one that is not attached raises RuntimeError("Camera __init__ sequence did not complete.").
- `create_video_configuration(main=..., lores=..., controls=..., buffer_count=...)`, `configure`,
  `camera_config` with each stream's `stride`; on a Pi 4 (`platform="vc4"`) lores must be YUV420
  and no larger than main (RuntimeError otherwise, as libcamera rejects it).
- `start`, `stop`, `close`; `capture_request(wait=...)`/`captured_request(wait=...)` returning
  a request with `make_array(name)`, `get_metadata()` (SensorTimestamp in ns on CLOCK_MONOTONIC,
  FrameDuration, ExposureTime) and `release()`; `capture_array(name, wait=...)`. `wait` a number:
  TimeoutError (concurrent.futures') when no frame comes in time, and the job stays queued until
  `cancel_all_and_flush()`.
- Arrays as picamera2 lays them out: `RGB888` is BGR in memory `(h, w, 3)`; `YUV420` is
  `(h * 3 // 2, stride)` I420 with padding up to a stride aligned to 64 bytes.

Fault injection for tests: `camera.stall()` / `resume()`, `camera.unplug()` / `plug()`.
The picture comes from `scene(t) -> RGB uint8 array` (any size; resized to each stream).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import types
from concurrent.futures import TimeoutError as FuturesTimeout

import cv2
import numpy as np

_STATE = types.SimpleNamespace(cameras=[], platform="vc4", open=set())


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def pattern(t: float) -> np.ndarray:
    """A 640x480 RGB picture: a red block top-left, a blue block bottom-right, grey elsewhere."""
    img = np.full((480, 640, 3), 128, np.uint8)
    img[20:120, 20:160] = (255, 0, 0)
    img[360:460, 480:620] = (0, 0, 255)
    return img


class FakeCamera:
    """One attached camera module and the faults a test can inject into it."""

    def __init__(self, model="imx708", camera_id="/base/soc/i2c0mux/i2c@1/imx708@1a", *,
                 location=2, rotation=180, scene=pattern):
        self.model, self.id, self.location, self.rotation = model, camera_id, location, rotation
        self.scene = scene
        self.attached = True
        self.stalled = False
        self.frames_delivered = 0

    def stall(self):
        self.stalled = True

    def resume(self):
        self.stalled = False

    def unplug(self):
        self.attached = False

    def plug(self):
        self.attached = True


def install(monkeypatch, cameras: list[FakeCamera], platform: str = "vc4") -> list[FakeCamera]:
    """Make `import picamera2` give this fake, with these cameras attached."""
    _STATE.cameras = list(cameras)
    _STATE.platform = platform
    _STATE.open = set()
    module = types.ModuleType("picamera2")
    module.Picamera2 = Picamera2
    module.__file__ = __file__
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return cameras


class _Request:
    def __init__(self, cam: Picamera2, t_ns: int, rgb: np.ndarray):
        self._cam = cam
        self._t_ns = t_ns
        self._rgb = rgb
        self.config = {k: dict(v) for k, v in cam.camera_config.items() if isinstance(v, dict)}
        self._released = False

    def make_array(self, name: str) -> np.ndarray:
        if self._released:
            raise RuntimeError("CompletedRequest: lock now has negative ref_count")
        stream = self.config.get(name)
        if stream is None:
            raise RuntimeError(f"Stream {name!r} is not defined")
        w, h = stream["size"]
        rgb = cv2.resize(self._rgb, (w, h), interpolation=cv2.INTER_AREA)
        if stream["format"] == "RGB888":  # BGR in memory
            return np.ascontiguousarray(rgb[:, :, ::-1])
        if stream["format"] == "BGR888":  # RGB in memory
            return np.ascontiguousarray(rgb)
        if stream["format"] == "YUV420":
            i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # (h*3/2, w), planes packed at width w
            stride = stream["stride"]
            y = i420[:h]
            uv = i420[h:].reshape(-1)  # U then V, each (h/2) rows of w/2
            out = np.zeros((h * 3 // 2, stride), np.uint8)
            out[:h, :w] = y
            # chroma rows have stride/2 bytes each; two chroma rows per array row
            chroma = out[h:].reshape(-1, stride // 2)
            chroma[:, : w // 2] = uv.reshape(-1, w // 2)
            return out
        raise RuntimeError("Format " + stream["format"] + " not supported")

    def get_metadata(self) -> dict:
        return {
            "SensorTimestamp": self._t_ns,
            "FrameDuration": int(1e6 / self._cam._fps),
            "ExposureTime": 10000,
            "AnalogueGain": 1.0,
            "DigitalGain": 1.0,
        }

    def release(self) -> None:
        if self._released:
            raise RuntimeError("CompletedRequest: lock now has negative ref_count")
        self._released = True


class Picamera2:
    @staticmethod
    def global_camera_info() -> list:
        infos = [
            {"Model": c.model, "Location": c.location, "Rotation": c.rotation, "Id": c.id, "Num": i}
            for i, c in enumerate(_STATE.cameras)
            if c.attached
        ]
        return sorted(infos, key=lambda cam: ("/usb" not in cam["Id"], cam["Id"]), reverse=True)

    def __init__(self, camera_num=0, verbose_console=None, tuning=None, allocator=None):
        infos = self.global_camera_info()
        self.is_open = False
        self.started = False
        if camera_num >= len(infos):
            raise IndexError("list index out of range")  # what picamera2 does for a bad number
        num = infos[camera_num]["Num"]
        fake = _STATE.cameras[num]
        if num in _STATE.open or not fake.attached:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        _STATE.open.add(num)
        self._num = num
        self._fake = fake
        self.camera_idx = num
        self.is_open = True
        self.camera_config = None
        self.camera_properties = {"Model": fake.model, "Location": fake.location, "Rotation": fake.rotation}
        self._fps = 30.0
        self._next_ns = 0
        self._queued_jobs = 0
        self._lock = threading.Lock()

    # -- configuration ---------------------------------------------------------------------
    def create_video_configuration(self, main={}, lores=None, raw=None, transform=None, colour_space=None,
                                   buffer_count=6, controls={}, display="main", encode="main",
                                   queue=True, sensor={}, use_case="video"):
        main = {"format": "XBGR8888", "size": (1280, 720), **main}
        config = {"use_case": use_case, "transform": transform, "colour_space": colour_space,
                  "buffer_count": buffer_count, "queue": queue, "main": main,
                  "lores": dict(lores) if lores else None, "raw": raw,
                  "controls": {"NoiseReductionMode": 1, "FrameDurationLimits": (33333, 33333), **controls},
                  "sensor": sensor, "display": display, "encode": encode}
        if config["lores"] is not None:
            config["lores"].setdefault("format", "YUV420")
        return config

    def configure(self, camera_config) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in camera_config.items()}
        main, lores = config["main"], config.get("lores")
        for name, stream in (("main", main), ("lores", lores)):
            if stream is None:
                continue
            w, h = (int(v) for v in stream["size"])
            if w % 2 or h % 2:
                raise RuntimeError(f"{name} stream dimensions must be even")
            fmt = stream["format"]
            if fmt in ("RGB888", "BGR888"):
                stream["stride"] = _align(w * 3, 64 if _STATE.platform == "vc4" else 16)
            elif fmt in ("XBGR8888", "XRGB8888"):
                stream["stride"] = _align(w * 4, 64)
            elif fmt == "YUV420":
                stream["stride"] = _align(w, 64)
            else:
                raise RuntimeError(f"Format {fmt} not supported")
            stream["size"] = (w, h)
            stream["framesize"] = stream["stride"] * (h * 3 // 2 if fmt == "YUV420" else h)
        if lores is not None:
            if _STATE.platform == "vc4" and lores["format"] not in ("YUV420", "YVU420"):
                raise RuntimeError("lores stream must be YUV")
            if lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
        fps = config["controls"].get("FrameRate")
        self._fps = float(fps) if fps else 30.0
        self.camera_config = config

    def start(self, config=None, show_preview=False) -> None:
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True
        self._next_ns = time.monotonic_ns()

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        if self.is_open:
            self.stop()
            _STATE.open.discard(self._num)
            self.is_open = False

    def cancel_all_and_flush(self) -> None:
        self._queued_jobs = 0

    # -- capture ---------------------------------------------------------------------------
    def _wait_for_frame(self, wait) -> int:
        if not self.started:
            raise RuntimeError("Camera is not started")  # real picamera2 would just hang
        timeout = None if wait in (None, True) else float(wait)
        deadline = None if timeout is None else time.monotonic() + timeout
        period_ns = int(1e9 / self._fps)
        self._queued_jobs += 1
        while True:
            now = time.monotonic_ns()
            if self._fake.attached and not self._fake.stalled and now >= self._next_ns:
                t_ns = max(self._next_ns, now - period_ns)
                self._next_ns = t_ns + period_ns
                self._queued_jobs -= 1
                return t_ns
            if deadline is not None and time.monotonic() >= deadline:
                raise FuturesTimeout()
            ready_in = max(0.0, (self._next_ns - now) / 1e9)
            time.sleep(min(ready_in, 0.01) if ready_in else 0.005)

    def capture_request(self, wait=None, signal_function=None, flush=None) -> _Request:
        t_ns = self._wait_for_frame(wait)
        self._fake.frames_delivered += 1
        rgb = np.asarray(self._fake.scene(t_ns / 1e9), dtype=np.uint8)
        return _Request(self, t_ns, rgb)

    @contextlib.contextmanager
    def captured_request(self, wait=None, flush=None):
        request = self.capture_request(wait=wait, flush=flush)
        try:
            yield request
        finally:
            request.release()

    def capture_array(self, name="main", wait=None, signal_function=None) -> np.ndarray:
        with self.captured_request(wait=wait) as request:
            return request.make_array(name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
