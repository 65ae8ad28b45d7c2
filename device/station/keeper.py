"""Frames kept during a set, with bounded memory: each rep's bottom, not the whole video.

Per view and per rep (the stretch between two increments of the live rep counter) the keeper
holds the deepest frame (hips lowest in the image) at still size, for the annotated still of the
worst rep, and a few downscaled frames around it, for silhouette refinement. Memory is bounded
by `max_reps x (1 still + 2 x around + 1 small frames)` per view whatever the set's length.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from device.pose.types import BodyPart as P

STILL_LONG_SIDE = 640  # annotated stills on the result page
SMALL_LONG_SIDE = 320  # frames for silhouette refinement
HIP_MIN_SCORE = 0.2


def downscale(image: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """The image with its longer side at most `long_side`, and the scale applied."""
    h, w = image.shape[:2]
    scale = min(1.0, long_side / max(h, w))
    if scale >= 1.0:
        return np.ascontiguousarray(image), 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


@dataclass
class Bottom:
    """The deepest moment of one rep in one view."""

    t: float
    depth: float  # hip y in pixels of the original frame (bigger = lower)
    keypoints: np.ndarray  # (17, 3) at that moment, original pixels
    still: np.ndarray  # RGB, long side STILL_LONG_SIDE
    still_scale: float
    around: list = field(default_factory=list)  # [(t, small RGB)] around the bottom, in order
    small_scale: float = 1.0
    _after: int = 0  # small frames still to take after the bottom


class ViewKeeper:
    def __init__(self, max_reps: int, around: int = 2):
        self.max_reps = max(1, int(max_reps))
        self.around = int(around)
        self._recent: deque = deque(maxlen=self.around)  # (t, small) before the current frame
        self.bottoms: deque[Bottom] = deque(maxlen=self.max_reps)
        self._current: Bottom | None = None

    def add(self, t: float, image: np.ndarray, keypoints: np.ndarray) -> None:
        small, small_scale = downscale(image, SMALL_LONG_SIDE)
        cur = self._current
        if cur is not None and cur._after > 0:
            cur.around.append((t, small))
            cur._after -= 1
        depth = _hip_y(keypoints)
        if depth is not None and (cur is None or depth > cur.depth):
            still, still_scale = downscale(image, STILL_LONG_SIDE)
            self._current = Bottom(
                t=t, depth=depth, keypoints=np.array(keypoints, dtype=np.float64).reshape(17, 3),
                still=still, still_scale=still_scale,
                around=[*self._recent, (t, small)], small_scale=small_scale, _after=self.around,
            )
        self._recent.append((t, small))

    def end_rep(self) -> None:
        """The live counter counted a rep: the next frames belong to the next rep."""
        if self._current is not None:
            self.bottoms.append(self._current)
        self._current = None

    def all_bottoms(self) -> list[Bottom]:
        return [*self.bottoms, *([self._current] if self._current is not None else [])]

    def nearest(self, t: float) -> Bottom | None:
        kept = self.all_bottoms()
        return min(kept, key=lambda b: abs(b.t - t)) if kept else None


def _hip_y(keypoints) -> float | None:
    k = np.asarray(keypoints).reshape(17, 3)
    hips = k[[P.LEFT_HIP, P.RIGHT_HIP]]
    ok = hips[:, 2] >= HIP_MIN_SCORE
    if not ok.any() or not np.isfinite(hips[ok, 1]).all():
        return None
    return float(hips[ok, 1].mean())
