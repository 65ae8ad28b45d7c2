"""The body's own frame: forward, left and up, from 3-D keypoints and the floor.

- up: the floor's normal (world +Z when the cameras are calibrated against the floor), else the
  standing posture's line from the ankles to the shoulders (gravity, as the body shows it);
- left: from the right hip to the left hip, averaged over the set, made square to up;
- forward = left x up (the way the person faces);
- origin: under the midpoint of the standing ankles (placed by the front camera, which sees both,
  when it is given), on the floor when the floor is known.

Axes as rows in `BodyFrame.axes`: x forward, y left, z up (a right-handed frame). `to_body`
expresses world points in it, so a sagittal angle is atan2(x, z) and a frontal offset is y.
One frame per set: the feet stay on the mat, so the stance defines it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

L_EYE, R_EYE, L_SH, R_SH, L_HIP, R_HIP, L_AN, R_AN = 1, 2, 5, 6, 11, 12, 15, 16
STANDING_QUANTILE = 0.7  # frames whose hip-ankle height is in the top 30 % are "standing"
# eye height as a fraction of stature: Drillis, Contini & Bluestein (1964), body segment lengths
# as fractions of height, as given in Winter, Biomechanics and Motor Control of Human Movement
# (fig. 4.1): 0.936 H
EYE_HEIGHT_FRACTION = 0.936


@dataclass(frozen=True)
class BodyFrame:
    origin: np.ndarray  # (3,) world metres
    axes: np.ndarray  # (3, 3) rows: forward, left, up (world unit vectors)
    up_from: str  # "floor" | "standing posture"

    def to_body(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> body coordinates (..., 3): forward, left, up."""
        return (np.asarray(points) - self.origin) @ self.axes.T


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-12 else v * np.nan


def _pair_mean(points: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mean of two keypoints per frame, either one alone when the other is not valid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # neither valid: NaN
        return np.nanmean(points[:, [a, b]], axis=1)


def standing_frames(points: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """(N,) bool: frames where the hips are highest above the ankles (standing)."""
    up = np.asarray(up, dtype=np.float64)
    hip = _pair_mean(points, L_HIP, R_HIP) @ up
    ank = _pair_mean(points, L_AN, R_AN) @ up
    h = hip - ank
    ok = np.isfinite(h)
    if not ok.any():
        return ok
    return ok & (h >= np.quantile(h[ok], STANDING_QUANTILE))


def estimate_up(points: np.ndarray) -> np.ndarray:
    """Gravity from the standing posture: the median ankle-midpoint -> shoulder-midpoint line."""
    v = _pair_mean(points, L_SH, R_SH) - _pair_mean(points, L_AN, R_AN)
    st = standing_frames(points, _unit(np.nanmedian(v, axis=0)))
    return _unit(np.nanmedian(v[st], axis=0))


def feet_midpoint(points: np.ndarray, frames: np.ndarray, front=None) -> np.ndarray | None:
    """The midpoint of the ankles over `frames` (bool, N), NaN where a point is not seen.

    `front`: (front camera, its picture's standing ankle midpoint, `triangulate.standing_ankles_px`):
    the point on that camera's ray through the pixel, at the median depth of the ankles seen. The
    front camera sees both ankles; the side camera often never sees the far one, and the near
    one alone is half a stance off (on the tuning sets of scripts/eval_3d.py, one set in ten:
    the camera angle round the person +4 degrees at a square side view). Without it: each
    ankle's own median, then their mean; one ankle alone when the other is never seen; None
    when neither is."""
    ankles = np.asarray(points)[frames][:, [L_AN, R_AN]]  # (n, 2, 3)
    seen = ankles.reshape(-1, 3)
    seen = seen[np.isfinite(seen).all(axis=1)]
    if not len(seen):
        return None
    if front is not None and front[1] is not None:
        cam, (u, v) = front
        k = cam.intrinsics
        depth = float(np.median(seen @ cam.R[2] + cam.t[2]))
        if depth > 0:
            return cam.R.T @ (np.array([(u - k.cx) / k.f, (v - k.cy) / k.f, 1.0]) * depth - cam.t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an ankle never seen: NaN
        each = np.nanmedian(ankles, axis=0)
    return each[np.isfinite(each).all(axis=1)].mean(axis=0)


def body_frame(points: np.ndarray, floor_up=(0.0, 0.0, 1.0), front=None) -> BodyFrame | None:
    """The set's body frame from world 3-D keypoints (N, 17, 3), NaN where not valid.

    `floor_up`: the floor's normal in the world (a calibrated pair: +Z, and the floor is Z = 0);
    None estimates up from the standing posture (origin then at the ankles, not the floor).
    `front`: (front camera, standing ankle midpoint pixel) places the origin (`feet_midpoint`).
    Returns None when the hips or ankles are never seen.
    """
    pts = np.asarray(points, dtype=np.float64)
    up = _unit(np.asarray(floor_up, dtype=np.float64)) if floor_up is not None else estimate_up(pts)
    hips = pts[:, L_HIP] - pts[:, R_HIP]
    hips = hips[np.isfinite(hips).all(axis=1)]
    if not len(hips) or not np.isfinite(up).all():
        return None
    left = np.median(hips, axis=0)
    left = _unit(left - (left @ up) * up)
    forward = np.cross(left, up)
    origin = feet_midpoint(pts, standing_frames(pts, up), front)
    if origin is None:
        return None
    if floor_up is not None:
        origin = origin - (origin @ up) * up  # onto the floor through the world origin
    return BodyFrame(origin, np.stack([forward, left, up]), "floor" if floor_up is not None else "standing posture")


def stature(points: np.ndarray) -> tuple[float | None, float | None]:
    """(standing height, feet apart) in the points' units, from 3-D keypoints in a body frame
    whose origin is on the floor (z up: a mat-calibrated set): the standing eyes' height above
    the floor / EYE_HEIGHT_FRACTION, and the ankles' distance along the floor. None where the
    standing frames never show them."""
    pts = np.asarray(points, dtype=np.float64)
    st = standing_frames(pts)
    if not st.any():
        return None, None
    eyes = _pair_mean(pts[st], L_EYE, R_EYE)[:, 2]
    apart = np.linalg.norm(pts[st, L_AN, :2] - pts[st, R_AN, :2], axis=1)
    eyes, apart = eyes[np.isfinite(eyes)], apart[np.isfinite(apart)]
    height = float(np.median(eyes)) / EYE_HEIGHT_FRACTION if len(eyes) else None
    return height, (float(np.median(apart)) if len(apart) else None)
