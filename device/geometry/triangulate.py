"""Two-view triangulation of keypoint tracks into 3-D keypoints, each with its reprojection error.

The two views are not frame-locked: `resample` interpolates one view's keypoints to the other's
times (linear between the two neighbouring frames, on the shared clock), and `triangulate_frames`
solves each keypoint by confidence-weighted least squares (the linear DLT equations, each view's
rows scaled by its score and divided by the point's depth so the error is close to pixels).

A 3-D point comes with how far its reprojections land from the observed keypoints in each view;
a point whose error is too large, or which one view does not see confidently, is not valid (with
two views there is no second opinion to fall back on, so the point is dropped, not guessed).

Plain data: `Triangulation` holds numpy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.geometry.camera import Camera

N_KEYPOINTS = 17
MIN_SCORE = 0.2  # a view's keypoint below this score does not take part
MAX_GAP_FRAMES = 2.5  # interpolate across at most this many frame intervals of the resampled view
# A point is valid when both views reproject within this fraction of the person's height in
# that view's pixels (MoveNet's own scatter is ~0.5-1 %; 4 % is a wrong match or a bad frame).
MAX_ERROR_OF_PERSON = 0.04


@dataclass(frozen=True)
class Triangulation:
    """3-D keypoints on the front view's clock.

    times (N,), points (N, 17, 3) world metres (NaN where not valid), error_px (N, 17, 2) the
    reprojection error in each view [front, side] in that view's pixels, valid (N, 17) bool.
    """

    times: np.ndarray
    points: np.ndarray
    error_px: np.ndarray
    valid: np.ndarray


def resample(times: np.ndarray, keypoints: np.ndarray, at: np.ndarray, fps: float) -> np.ndarray:
    """Keypoints (M, 17, 3) sampled at `times` -> (N, 17, 3) at times `at`.

    x, y interpolate linearly between the neighbouring frames; the score is the lower of the two
    neighbours' (zero outside the track or across a gap longer than MAX_GAP_FRAMES frames).
    """
    times = np.asarray(times, dtype=np.float64)
    at = np.asarray(at, dtype=np.float64)
    out = np.zeros((len(at), keypoints.shape[1], 3))
    if len(times) < 2 or len(at) == 0:
        return out
    j = np.clip(np.searchsorted(times, at, side="right"), 1, len(times) - 1)
    t0, t1 = times[j - 1], times[j]
    span = np.maximum(t1 - t0, 1e-9)
    a = np.clip((at - t0) / span, 0.0, 1.0)[:, None, None]
    k0, k1 = keypoints[j - 1], keypoints[j]
    xy0 = np.nan_to_num(k0[..., :2])
    xy1 = np.nan_to_num(k1[..., :2])
    out[..., :2] = (1 - a) * xy0 + a * xy1
    score = np.minimum(k0[..., 2], k1[..., 2])
    inside = (at >= times[0]) & (at <= times[-1]) & (t1 - t0 <= MAX_GAP_FRAMES / max(fps, 1e-6))
    out[..., 2] = np.where(inside[:, None], score, 0.0)
    return out


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (M, 3) arrays (np.cross is several times slower on small rows)."""
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)


def _solve(P: np.ndarray, uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted linear triangulation. P (V, 3, 4), uv (V, M, 2), w (V, M) -> X (M, 3).

    Each view gives two rows (u P3 - P1, v P3 - P2) scaled by its weight; the 3x3 normal
    equations are solved in closed form (Cramer's rule), vectorised over the points.
    """
    A = (uv[..., None] * P[:, None, 2:3, :] - P[:, None, :2, :]) * w[..., None, None]  # (V, M, 2, 4)
    A = A.transpose(1, 0, 2, 3).reshape(uv.shape[1], -1, 4)  # (M, 2V, 4)
    N = A.transpose(0, 2, 1) @ A  # (M, 4, 4): [AtA | -Atb] (batched matmul: 3x einsum's speed)
    M3, c = N[:, :3, :3], -N[:, :3, 3]
    tr = M3[:, 0, 0] + M3[:, 1, 1] + M3[:, 2, 2]
    M3 = M3 + np.eye(3) * np.where(tr > 0, 1e-9 * tr, 1.0)[:, None, None]  # unseen points stay finite
    a, b, d = M3[:, 0], M3[:, 1], M3[:, 2]
    cof = np.stack([_cross(b, d), _cross(d, a), _cross(a, b)], axis=1)  # rows of the adjugate^T
    det = (a * cof[:, 0]).sum(axis=1)
    return (cof * c[:, :, None]).sum(axis=1) / det[:, None]


def triangulate_points(cameras: tuple[Camera, Camera], uv: np.ndarray, score: np.ndarray,
                       depth: tuple[float, float] | None = None) -> np.ndarray:
    """Points seen in two views: uv (2, M, 2) pixels, score (2, M) -> world points (M, 3).

    The DLT rows of a view scale with the point's depth in it, so each view's rows are divided
    by that depth to make the weighted error close to pixels: a first solve gives the depths
    (or `depth`, one typical depth per view, skips it: the calibration's fast path).
    """
    P = np.stack([c.P for c in cameras])
    w = np.sqrt(np.clip(score, 0.0, 1.0))
    if depth is None:
        X = _solve(P, uv, w)
        z = np.stack([X @ c.R[2] + c.t[2] for c in cameras])  # (2, M)
        return _solve(P, uv, w / np.maximum(np.abs(z), 0.05))
    return _solve(P, uv, w / np.array(depth, dtype=np.float64)[:, None])


def person_size_px(keypoints: np.ndarray, min_score: float = 0.3) -> float:
    """A view's person height in pixels: median over frames of the confident keypoints' vertical extent."""
    k = keypoints
    ok = k[..., 2] >= min_score
    ys = np.where(ok, k[..., 1], np.nan)[ok.sum(axis=1) >= 8]
    if not len(ys):
        return float("nan")
    ext = np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1)
    return float(np.median(ext)) if len(ext) else float("nan")


def standing_ankles_px(keypoints: np.ndarray, min_score: float = 0.3) -> np.ndarray | None:
    """A view's (u, v) of the ankles' midpoint while standing: the median over the frames where
    both ankles score `min_score` and the hips stand highest above them (top 30 %). None when
    never seen. The front camera sees both ankles; the side camera often hides the far one."""
    k = np.asarray(keypoints, dtype=np.float64)
    ok = (k[:, [11, 12, 15, 16], 2] >= min_score).all(axis=1)
    if not ok.any():
        return None
    k = k[ok]
    hip_ankle = k[:, [15, 16], 1].mean(axis=1) - k[:, [11, 12], 1].mean(axis=1)
    standing = hip_ankle >= np.quantile(hip_ankle, 0.7)
    return np.median(k[standing][:, [15, 16], :2].mean(axis=1), axis=0)


def triangulate_frames(cameras: tuple[Camera, Camera], front_kps: np.ndarray, side_kps: np.ndarray,
                       times: np.ndarray | None = None, *, person_px: tuple[float, float] | None = None,
                       min_score: float = MIN_SCORE, max_error: float = MAX_ERROR_OF_PERSON) -> Triangulation:
    """Time-aligned keypoint pairs (N, 17, 3) in the two views -> `Triangulation`.

    `person_px` (front, side) sets the error threshold (`max_error` of the person's pixel height);
    by default it is measured from the keypoints themselves.
    """
    n = front_kps.shape[0]
    if person_px is None:
        person_px = (person_size_px(front_kps), person_size_px(side_kps))
    uv = np.stack([front_kps[..., :2], side_kps[..., :2]]).reshape(2, -1, 2)
    uv = np.nan_to_num(uv)
    sc = np.stack([front_kps[..., 2], side_kps[..., 2]]).reshape(2, -1)
    seen = (sc >= min_score).all(axis=0)
    X = triangulate_points(cameras, uv, np.where(sc >= min_score, sc, 0.0))
    err = np.stack([np.linalg.norm(c.project(X) - uv[v], axis=-1) for v, c in enumerate(cameras)], axis=-1)
    limit = np.array([max_error * p if np.isfinite(p) else np.inf for p in person_px])
    valid = seen & np.isfinite(err).all(axis=-1) & (err <= limit[None, :]).all(axis=-1)
    X = np.where(valid[:, None], X, np.nan)
    t = np.arange(n, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
    return Triangulation(t, X.reshape(n, N_KEYPOINTS, 3), err.reshape(n, N_KEYPOINTS, 2),
                         valid.reshape(n, N_KEYPOINTS))


def triangulate_tracks(cameras: tuple[Camera, Camera], front, side, **kw) -> Triangulation:
    """Two `ViewTrack`s on the shared clock -> `Triangulation` at the front view's times
    (the side view interpolated to them)."""
    side_at = resample(side.times, side.keypoints, front.times, side.fps)
    return triangulate_frames(cameras, front.keypoints, side_at, front.times, **kw)


def within_error(tri: Triangulation, front, side, max_error: float = MAX_ERROR_OF_PERSON) -> Triangulation:
    """`tri` (triangulated from the `ViewTrack`s `front` and `side` with any `max_error`) with only
    the points whose reprojection error is within `max_error` of the person's height in both
    views valid: what `triangulate_tracks(..., max_error=max_error)` gives, without solving again."""
    side_at = resample(side.times, side.keypoints, front.times, side.fps)
    person_px = (person_size_px(front.keypoints), person_size_px(side_at))
    limit = np.array([max_error * p if np.isfinite(p) else np.inf for p in person_px])
    valid = tri.valid & (tri.error_px <= limit).all(axis=-1)
    return Triangulation(tri.times, np.where(valid[..., None], tri.points, np.nan), tri.error_px, valid)


def smooth(tri: Triangulation, window_s: float = 0.2) -> Triangulation:
    """The same triangulation with each valid point averaged over the valid points of a centred
    window of `window_s` seconds (MoveNet's frame-to-frame jitter; the squat's bottom is slow).
    Points stay invalid where they were; errors are kept as measured."""
    n = len(tri.times)
    if n < 3 or window_s <= 0:
        return tri
    dt = float(np.median(np.diff(tri.times)))
    half = max(1, int(round(window_s / max(dt, 1e-6) / 2)))
    v = tri.valid[..., None]
    x = np.where(v, tri.points, 0.0)
    cx = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    cv = np.concatenate([np.zeros((1,) + v.shape[1:]), np.cumsum(v, axis=0)])
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    s, c = cx[hi] - cx[lo], cv[hi] - cv[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        pts = np.where(tri.valid[..., None], s / c, np.nan)
    return Triangulation(tri.times, pts, tri.error_px, tri.valid)
