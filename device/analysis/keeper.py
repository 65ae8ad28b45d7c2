"""The one frame keeper: frames kept during a set, with bounded memory, each rep's bottom, not
the whole video. The station and `ohsa assess` keep frames with it alike.

Per view and per rep (the stretch between two increments of the live rep counter) the keeper
holds the deepest frame (hips lowest in the image), for the annotated still of the worst rep, and
the frames around it plus a few standing frames from the start of the set, for silhouette
refinement. All are downscaled to KEEP_LONG_SIDE (with their scale, so keypoints can follow).
Memory is bounded by `max_reps x (2 x around + 1) + STANDING` frames per view (about 17 MB per
view at the defaults) whatever the set's length.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from device.keypoints import BodyPart as P

KEEP_LONG_SIDE = 640  # kept frames: stills and silhouettes (at 480 the low back is too small to judge)
AROUND = 3  # frames kept on each side of a rep's bottom (0.1 s at 30 fps)
STANDING = 4  # standing frames kept from the start of the set (for the silhouette)
STANDING_EVERY_S = 0.25
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
    still: np.ndarray  # RGB, long side KEEP_LONG_SIDE
    around: list = field(default_factory=list)  # [(t, RGB)] around the bottom, in order
    _after: int = 0  # frames still to take after the bottom


class ViewKeeper:
    def __init__(self, max_reps: int, around: int = AROUND):
        self.max_reps = max(1, int(max_reps))
        self.around = int(around)
        self.scale: float | None = None  # kept pixels per original pixel
        self.standing: list = []  # [(t, RGB)] from the start of the set
        self._recent: deque = deque(maxlen=self.around)  # (t, RGB) before the current frame
        self.bottoms: deque[Bottom] = deque(maxlen=self.max_reps)
        self._current: Bottom | None = None

    def add(self, t: float, image: np.ndarray, keypoints: np.ndarray) -> None:
        small, self.scale = downscale(image, KEEP_LONG_SIDE)
        if len(self.standing) < STANDING and not self.bottoms and (
            not self.standing or t - self.standing[-1][0] >= STANDING_EVERY_S
        ):
            self.standing.append((t, small))
        cur = self._current
        if cur is not None and cur._after > 0:
            cur.around.append((t, small))
            cur._after -= 1
        depth = _hip_y(keypoints)
        if depth is not None and (cur is None or depth > cur.depth):
            self._current = Bottom(
                t=t, depth=depth, keypoints=np.array(keypoints, dtype=np.float64).reshape(17, 3),
                still=small, around=[*self._recent, (t, small)], _after=self.around,
            )
        self._recent.append((t, small))

    def end_rep(self) -> None:
        """The live counter counted a rep: the next frames belong to the next rep."""
        if self._current is not None:
            self.bottoms.append(self._current)
        self._current = None

    def all_bottoms(self) -> list[Bottom]:
        return [*self.bottoms, *([self._current] if self._current is not None else [])]

    def frames(self) -> list:
        """Every kept frame once, in time order: [(t, RGB)] at `scale`."""
        seen = {}
        for t, rgb in self.standing:
            seen[t] = rgb
        for b in self.all_bottoms():
            for t, rgb in b.around:
                seen[t] = rgb
        return sorted(seen.items(), key=lambda item: item[0])

    def shift(self, dt: float, rate: float = 1.0) -> None:
        """Put every kept frame's time t onto the other view's clock: t / rate + dt (a recording
        whose clock runs `rate` times the other's; `device.rules.align.Alignment`)."""
        def f(t):
            return t / rate + dt

        self.standing = [(f(t), rgb) for t, rgb in self.standing]
        self._recent = deque(((f(t), rgb) for t, rgb in self._recent), maxlen=self.around)
        for b in self.all_bottoms():
            b.t = f(b.t)
            b.around = [(f(t), rgb) for t, rgb in b.around]

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
