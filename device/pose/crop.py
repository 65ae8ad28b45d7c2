"""From a frame to MoveNet's 192x192 input and back: square regions, warp, exact inverse.

A `Square` is a square region of the frame in pixel coordinates where the frame spans
`0..width` and `0..height` (pixel `i` covers `i..i+1`, its centre is `i + 0.5`). It may reach
beyond the frame; what lies outside is black, as in a letterbox. One OpenCV remap (the affine
crop+resize, about 0.1-0.2 ms, no Pillow) crops, pads and resizes in one step and keeps the
aspect ratio; the model's normalised output `u` in `0..1` maps back exactly as
`x = x0 + u * side`.

The whole frame is the square of side `max(width, height)` centred on the frame (a letterbox).
Crop tracking (`around_keypoints`) centres a square on the person's keypoints with a margin.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import cv2
import numpy as np

from device.keypoints import BodyPart

INPUT_SIZE = 192

MIN_KEYPOINT_SCORE = 0.2  # a keypoint counts as seen above this score (MoveNet's own choice)
MARGIN = 1.4  # square side = this x the larger side of the seen keypoints' box
TORSO_FLOOR = 2.5  # ... but at least this x the torso length: legs not yet seen stay in view
MIN_SIDE_FRACTION = 0.1  # never a square smaller than this x the frame's larger side
MIN_SEEN = 6  # fewer keypoints seen than this: the person is lost

_SHOULDERS = np.array([BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER])
_HIPS = np.array([BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP])


class Square(NamedTuple):
    x0: float  # left edge, frame pixels
    y0: float  # top edge
    side: float

    def matrix(self, size: int = INPUT_SIZE) -> np.ndarray:
        """The 2x3 affine matrix taking frame pixel indices to input pixel indices (OpenCV's
        convention: pixel centres at integers): `dst + 0.5 = s * (src + 0.5 - x0)`."""
        s = size / self.side
        return np.array(
            [[s, 0.0, s * (0.5 - self.x0) - 0.5], [0.0, s, s * (0.5 - self.y0) - 0.5]], dtype=np.float64
        )

    def to_frame(self, xy_normalised: np.ndarray) -> np.ndarray:
        """Input-square coordinates (0..1) to frame pixel coordinates; the exact inverse of `warp`."""
        out = np.array(xy_normalised, dtype=np.float64, copy=True)
        out[..., 0] = self.x0 + out[..., 0] * self.side
        out[..., 1] = self.y0 + out[..., 1] * self.side
        return out

    def shifted(self, dx: float, dy: float) -> Square:
        return Square(self.x0 + dx, self.y0 + dy, self.side)


def whole_frame(width: int, height: int) -> Square:
    """The letterbox: a square of side max(width, height) centred on the frame."""
    side = float(max(width, height))
    return Square((width - side) / 2.0, (height - side) / 2.0, side)


_SUB = 32  # OpenCV's interpolation table: sub-pixel positions in 1/32 pixel (INTER_TAB_SIZE)


@functools.lru_cache(maxsize=4)
def _centres(size: int) -> np.ndarray:
    centres = np.arange(size) + 0.5
    centres.flags.writeable = False
    return centres


def _axis(start: float, side: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel index (floor) and 1/32 sub-pixel step of each output pixel on one axis.

    Output pixel `d` (centre `d + 0.5`) samples the frame at `start + (d + 0.5) * side / size`,
    i.e. pixel-index coordinate `... - 0.5`. Computed in float64 from the square itself, so a
    frame shifted by whole pixels, with its square shifted alike, gets exactly the same samples.
    """
    src = start + _centres(size) * (side / size) - 0.5
    base = np.floor(src)
    frac = np.rint((src - base) * _SUB).astype(np.int32)
    carry = frac == _SUB
    return base.astype(np.int32) + carry, np.where(carry, 0, frac)


def warp(rgb: np.ndarray, square: Square, size: int = INPUT_SIZE) -> np.ndarray:
    """The model's input: `square` of the frame, resized to size x size (bilinear), black
    outside the frame. One `cv2.remap` over fixed-point maps built here: the same sampling
    `warpAffine` does (about 0.1 ms), but exactly reproducible under whole-pixel shifts, which
    the int8 model notices (one grey level in 0.1 % of pixels moved keypoints by 2-9 px)."""
    bx, fx = _axis(square.x0, square.side, size)
    by, fy = _axis(square.y0, square.side, size)
    if max(abs(int(bx[0])), abs(int(bx[-1])), abs(int(by[0])), abs(int(by[-1]))) > 32000:
        raise ValueError(f"square {square} is too far outside the frame")
    xy = np.empty((size, size, 2), np.int16)  # (x, y) pairs, packed as one int32 per pixel
    np.bitwise_or.outer(by << 16, bx & 0xFFFF, out=xy.view(np.int32)[..., 0])
    if xy[0, 0, 0] != bx[0]:  # big-endian machine: the pair packs the other way round
        xy[..., 0], xy[..., 1] = bx[None, :], by[:, None]
    table = np.add.outer((fy * _SUB).astype(np.uint16), fx.astype(np.uint16))  # < 1024: fits
    return cv2.remap(rgb, xy, table, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def person_seen(keypoints: np.ndarray, min_score: float = MIN_KEYPOINT_SCORE) -> bool:
    """Enough of a person to follow: a shoulder, a hip and MIN_SEEN keypoints above min_score."""
    seen = keypoints[:, 2] > min_score
    return bool(seen[_SHOULDERS].any() and seen[_HIPS].any() and np.count_nonzero(seen) >= MIN_SEEN)


def around_keypoints(
    keypoints: np.ndarray, width: int, height: int, min_score: float = MIN_KEYPOINT_SCORE
) -> Square | None:
    """The square to run the next frame on, from this frame's `(17, 3)` pixel keypoints; None when
    the person is lost (run the whole frame)."""
    if not person_seen(keypoints, min_score):
        return None
    seen = keypoints[:, 2] > min_score
    xy = keypoints[seen, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre = (lo + hi) / 2.0
    side = float((hi - lo).max()) * MARGIN

    def mid(parts):
        return keypoints[parts[seen[parts]], :2].mean(axis=0)

    torso = float(np.hypot(*(mid(_SHOULDERS) - mid(_HIPS))))
    frame_side = float(max(width, height))
    side = min(max(side, torso * TORSO_FLOOR, frame_side * MIN_SIDE_FRACTION), frame_side)
    return Square(float(centre[0]) - side / 2.0, float(centre[1]) - side / 2.0, side)
