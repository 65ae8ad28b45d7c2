"""Per-view pose tracking: crop tracking and smoothing around one shared `MoveNet`.

    tracker = PoseTracker(movenet)          # one per view: it holds that view's crop and filter
    pose = tracker.process(rgb, t)          # Pose in pixels of `rgb`, smoothed
    pose = estimate_image(movenet, rgb)     # a still: no history, no smoothing

Frames are RGB uint8 `(H, W, 3)` (picamera2's `RGB888` is BGR in memory: the camera layer
converts). Crop tracking: the first frame, and any frame after the person was lost, runs on the
whole frame (letterbox), then again on a square around what it found; later frames run on a square
around the previous frame's keypoints, and fall back to the whole frame when the crop finds no
person.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from device.pose import crop
from device.pose.movenet import MoveNet
from device.pose.smoothing import OneEuro
from device.keypoints import Pose

log = logging.getLogger(__name__)


def _check_frame(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        raise ValueError(f"a frame is an RGB uint8 array (H, W, 3), got {getattr(rgb, 'dtype', type(rgb))} {shape}")


def _mean_score(keypoints: np.ndarray) -> float:
    return float(keypoints[:, 2].mean())


class PoseTracker:
    """Crop and filter state of one view. Not thread-safe itself; the MoveNet may be shared."""

    def __init__(self, movenet: MoveNet, smoothing: bool = True, crop_tracking: bool = True):
        self.movenet = movenet
        self.smoothing = smoothing
        self.crop_tracking = crop_tracking
        self._filter = OneEuro()
        self.timing: dict[str, float] = {}  # the last frame's pre/invoke/post/smooth, ms
        self.invokes = 0  # model runs so far (a frame may take two)
        self.reset()

    def reset(self) -> None:
        """Forget the person: the next frame runs on the whole frame, the filter restarts."""
        self._square: crop.Square | None = None
        self._frame_size: tuple[int, int] | None = None
        self._filter.reset()

    @property
    def square(self) -> crop.Square | None:
        """The square the next frame will run on (None: the whole frame)."""
        return self._square

    def _run(self, rgb: np.ndarray, square: crop.Square, timing: dict) -> np.ndarray:
        t0 = time.perf_counter()
        inp = crop.warp(rgb, square)
        t1 = time.perf_counter()
        kps = self.movenet.infer(inp)  # a fresh array: mapped in place
        t2 = time.perf_counter()
        kps[:, 0] = square.x0 + kps[:, 0] * square.side
        kps[:, 1] = square.y0 + kps[:, 1] * square.side
        t3 = time.perf_counter()
        timing["pre_ms"] += (t1 - t0) * 1e3
        timing["invoke_ms"] += (t2 - t1) * 1e3
        timing["post_ms"] += (t3 - t2) * 1e3
        self.invokes += 1
        return kps

    def detect(self, rgb: np.ndarray, timing: dict | None = None) -> np.ndarray:
        """Raw `(17, 3)` keypoints (pixels, score) for this frame, updating the crop state."""
        _check_frame(rgb)
        timing = timing if timing is not None else {"pre_ms": 0.0, "invoke_ms": 0.0, "post_ms": 0.0}
        h, w = rgb.shape[:2]
        if self._frame_size != (w, h):
            self._square, self._frame_size = None, (w, h)
        whole = crop.whole_frame(w, h)
        if self._square is None or not self.crop_tracking:
            kps = self._run(rgb, whole, timing)
            if self.crop_tracking:
                # the person is small in a letterbox: look again, closer
                square = crop.around_keypoints(kps, w, h)
                if square is not None:
                    closer = self._run(rgb, square, timing)
                    if _mean_score(closer) >= _mean_score(kps):
                        kps = closer
        else:
            kps = self._run(rgb, self._square, timing)
            if not crop.person_seen(kps):
                log.debug("person lost in the crop %s: whole frame", self._square)
                again = self._run(rgb, whole, timing)
                if _mean_score(again) > _mean_score(kps):
                    kps = again
        t0 = time.perf_counter()
        self._square = crop.around_keypoints(kps, w, h) if self.crop_tracking else None
        timing["post_ms"] += (time.perf_counter() - t0) * 1e3
        return kps

    def process(self, rgb: np.ndarray, t: float) -> Pose:
        """The pose in this frame (pixels of `rgb`), crop-tracked and smoothed."""
        timing = {"pre_ms": 0.0, "invoke_ms": 0.0, "post_ms": 0.0, "smooth_ms": 0.0}
        kps = self.detect(rgb, timing)
        if self.smoothing:
            t0 = time.perf_counter()
            # lost (crop tracking found no square to follow): do not drag old positions into the next person
            seen = self._square is not None if self.crop_tracking else crop.person_seen(kps)
            if not seen:
                self._filter.reset()
            else:
                scale = float(max(rgb.shape[:2]))
                kps[:, :2] = self._filter(kps[:, :2] / scale, t) * scale
            timing["smooth_ms"] = (time.perf_counter() - t0) * 1e3
        self.timing = timing
        return Pose.from_array(kps, t)


def estimate_image(movenet: MoveNet, rgb: np.ndarray, square: crop.Square | None = None) -> Pose:
    """The pose in one still (pixels of `rgb`): the whole frame, then a closer look around the
    person. With `square`, exactly one run on that square of the frame (no second look)."""
    if square is not None:
        _check_frame(rgb)
        tracker = PoseTracker(movenet, smoothing=False, crop_tracking=False)
        timing = {"pre_ms": 0.0, "invoke_ms": 0.0, "post_ms": 0.0}
        return Pose.from_array(tracker._run(rgb, square, timing), 0.0)
    return Pose.from_array(PoseTracker(movenet, smoothing=False).detect(rgb), 0.0)
