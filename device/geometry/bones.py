"""Rigid bones: the triangulated joints pulled toward bone lengths that hold over the set.

Two views give each keypoint's 3-D point from two rays; where one view sees a point badly (the
far side of the body, scored low and scattered ~2.5 times more by MoveNet), its depth along the
good view's ray is poorly fixed. The body's bones do not change length during a squat, and the
left and right bones match, so:

1. `bone_lengths`: each bone's length over the set (the median over the frames where both ends
   are valid); a left/right pair shares one length, the two sides' medians weighted by how
   steady each side is (the far side's scatter counts against it);
2. `refine`: per frame, each joint moves to minimise its confidence-weighted reprojection error
   in both views (in fractions of the person's height in that view) plus `BONE_WEIGHT` times
   each attached bone's relative deviation from its set length, plus `ANCHOR_WEIGHT` times how
   far the pelvis and the shoulder girdle are from their shape over the set and the ankles from
   their place (bone lengths alone cannot hold a far leg shifted forward or back as a whole);
   two sweeps of one Gauss-Newton step per joint with its neighbours held, vectorised over the
   frames.

Only valid points move and only valid neighbours pull: a point one view does not see stays
NaN (one ray and two bone lengths leave two answers; it is not guessed).

Plain data: `Triangulation` in, `Triangulation` out (the same validity and the reprojection
errors as triangulated, which say how well the two views agree; the refined points).
"""

from __future__ import annotations

import warnings

import numpy as np

from device.geometry.camera import Camera
from device.geometry.triangulate import Triangulation

# COCO-17 indices
L_SH, R_SH, L_EL, R_EL, L_WR, R_WR, L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN = range(5, 17)
BONES = [  # (a, b, name); pairs of left/right bones follow each other
    (L_SH, L_EL, "left upper arm"), (R_SH, R_EL, "right upper arm"),
    (L_EL, L_WR, "left forearm"), (R_EL, R_WR, "right forearm"),
    (L_HIP, L_KN, "left thigh"), (R_HIP, R_KN, "right thigh"),
    (L_KN, L_AN, "left shank"), (R_KN, R_AN, "right shank"),
    (L_SH, L_HIP, "left trunk"), (R_SH, R_HIP, "right trunk"),
    (L_SH, R_SH, "shoulders"), (L_HIP, R_HIP, "hips"),
]  # fmt: skip
SYMMETRIC = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]  # indices into BONES
JOINTS = tuple(range(L_SH, R_AN + 1))  # the joints the bones tie together (not the face)

# Weight of a bone's relative length deviation against the reprojection error in fractions of
# the person's height (x sqrt(score)): 0.3 treats 1 % of the person in the picture like 3 % of a
# bone's length. Chosen on the tuning seeds of scripts/eval_geometry.py (docs/geometry.md).
BONE_WEIGHT = 0.3
SCORE_POWER = 0.5  # the reprojection term weighted by score ** SCORE_POWER (0.5: the triangulation's)
SWEEPS = 2
# The pelvis and the shoulder girdle are rigid and turn little in a squat (they pitch about the
# left-right axis, which keeps the vector between their two points): each point of the pair is
# also pulled toward its partner plus the set's median vector between them; the feet stay on the
# mat: each ankle is pulled toward its place over the set. The weight is of the deviation in
# leg lengths (hip to knee to ankle), like BONE_WEIGHT's relative deviation. Without these a far
# leg seen badly by the side camera can move forward or back as a whole, and no bone length
# changes (docs/geometry.md).
ANCHOR_WEIGHT = 0.3
PAIRS = ((L_HIP, R_HIP), (L_SH, R_SH))
STILL = (L_AN, R_AN)
MIN_FRAMES = 5  # a bone seen whole in fewer frames has no set length (and does not pull)


def bone_lengths(points: np.ndarray) -> np.ndarray:
    """(len(BONES),) each bone's length over the set from 3-D points (N, 17, 3), NaN where not
    valid; a left/right pair gets one length, its sides weighted by 1 / their robust variance."""
    a = np.array([b[0] for b in BONES])
    b = np.array([b[1] for b in BONES])
    L = np.linalg.norm(points[:, a] - points[:, b], axis=-1)  # (N, nbones), NaN where unseen
    seen = np.isfinite(L).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bone never seen: NaN
        med = np.nanmedian(L, axis=0)
        mad = np.nanmedian(np.abs(L - med), axis=0)
    med = np.where(seen >= MIN_FRAMES, med, np.nan)
    out = med.copy()
    for i, j in SYMMETRIC:
        wi, wj = (1.0 / max(float(mad[k]), 1e-3 * float(med[k])) ** 2 if np.isfinite(med[k]) else 0.0
                  for k in (i, j))
        if wi + wj > 0:
            out[i] = out[j] = (wi * np.nan_to_num(med[i]) + wj * np.nan_to_num(med[j])) / (wi + wj)
    return out


def _solve3(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Batched symmetric 3x3 solves H (M, 3, 3) x = g (M, 3) by the adjugate, written out
    (several times np.linalg.solve's speed on small systems); singular systems give 0."""
    a, b, c, d, e, f = H[:, 0, 0], H[:, 0, 1], H[:, 0, 2], H[:, 1, 1], H[:, 1, 2], H[:, 2, 2]
    A, B, C = d * f - e * e, c * e - b * f, b * e - c * d
    D, E, F = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * A + b * B + c * C
    ok = np.abs(det) > 1e-30
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    g0, g1, g2 = g[:, 0], g[:, 1], g[:, 2]
    return np.stack([(A * g0 + B * g1 + C * g2) * inv, (B * g0 + D * g1 + E * g2) * inv,
                     (C * g0 + E * g1 + F * g2) * inv], axis=1)


def refine(tri: Triangulation, cameras: tuple[Camera, Camera], front_kps: np.ndarray, side_kps: np.ndarray,
           person_px: tuple[float, float], *, weight: float | None = None, sweeps: int = SWEEPS,
           lengths: np.ndarray | None = None, score_power: float = SCORE_POWER,
           anchor: float | None = None) -> Triangulation:
    """`tri` (triangulated from the time-aligned keypoints `front_kps`, `side_kps`, (N, 17, 3)
    each) with its valid joints pulled toward the set's bone lengths (module docstring).
    `person_px`: the person's height in each view's pixels (the unit of the reprojection term);
    `weight`: the bones' pull, `BONE_WEIGHT` by default (0: `tri` unchanged)."""
    weight = BONE_WEIGHT if weight is None else weight
    anchor = ANCHOR_WEIGHT if anchor is None else anchor
    if weight <= 0 or sweeps <= 0 or not tri.valid.any():
        return tri
    X = tri.points.copy()
    lengths = bone_lengths(X) if lengths is None else np.asarray(lengths, dtype=np.float64)
    P = [c.P for c in cameras]
    scale = [1.0 / p if np.isfinite(p) and p > 0 else 0.0 for p in person_px]
    leg = lengths[4] + lengths[6]  # thigh + shank
    aw2 = (anchor / leg) ** 2 if np.isfinite(leg) and leg > 0 else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # never seen: NaN, no pull
        place = {j: np.nanmedian(X[:, j], axis=0) for j in STILL}
        partner = {}
        for a, b in PAIRS:
            vec = np.nanmedian(X[:, a] - X[:, b], axis=0)
            partner[a], partner[b] = (b, vec), (a, -vec)
    plan = []  # per joint: its valid frames, the fixed parts of its rows, the bones it hangs on
    for j in JOINTS:
        v = np.flatnonzero(tri.valid[:, j])
        ties = [(b if a == j else a, lengths[k]) for k, (a, b, _) in enumerate(BONES)
                if j in (a, b) and np.isfinite(lengths[k]) and lengths[k] > 0]
        if not len(v) or not ties:
            continue
        rows = []
        for view, kps in enumerate((front_kps, side_kps)):
            k = kps[v, j]
            w = np.clip(k[:, 2], 0.0, 1.0) ** score_power * scale[view]
            p = P[view]
            for r in (0, 1):  # u, v rows: (u P3 - Pr) . X / z, in pixels
                rows.append((p, r, (k[:, r:r + 1] * p[2, :3] - p[r, :3]) * w[:, None],
                             (k[:, r] * p[2, 3] - p[r, 3]) * w))
        plan.append((j, v, rows, ties))
    for _ in range(sweeps):
        for j, v, rows, ties in plan:
            x = X[v, j]  # (M, 3)
            A, res = [], []
            for p, r, a, c in rows:
                z = np.maximum(x @ p[2, :3] + p[2, 3], 1e-6)
                A.append(a / z[:, None])
                res.append((np.sum(a * x, axis=1) + c) / z)
            for o, length in ties:
                d = x - X[v, o]
                n = np.linalg.norm(d, axis=1)
                ok = np.isfinite(n) & (n > 1e-6)  # the other end not valid: no pull
                d, n = np.where(ok[:, None], d, 0.0), np.where(ok, n, 1.0)
                A.append(d / n[:, None] * (weight / length))
                res.append(np.where(ok, (n - length) * (weight / length), 0.0))
            A = np.stack(A, axis=1)  # (M, rows, 3)
            H = A.transpose(0, 2, 1) @ A
            g = (A.transpose(0, 2, 1) @ np.stack(res, axis=1)[:, :, None])[:, :, 0]
            if aw2 > 0 and (j in place or j in partner):
                target = (np.broadcast_to(place[j], x.shape) if j in place
                          else X[v, partner[j][0]] + partner[j][1])
                ok = np.isfinite(target).all(axis=1)
                H += np.where(ok, aw2, 0.0)[:, None, None] * np.eye(3)
                g += np.where(ok[:, None], aw2 * (x - np.nan_to_num(target)), 0.0)
            X[v, j] = x - _solve3(H, g)
    return Triangulation(tri.times, np.where(tri.valid[..., None], X, np.nan), tri.error_px, tri.valid)


def refine_tracks(tri: Triangulation, cameras: tuple[Camera, Camera], front, side, **kw) -> Triangulation:
    """`refine` for a triangulation of two `ViewTrack`s on the shared clock (`triangulate_tracks`)."""
    from device.geometry.triangulate import person_size_px, resample

    side_at = resample(side.times, side.keypoints, front.times, side.fps)
    return refine(tri, cameras, front.keypoints, side_at,
                  (person_size_px(front.keypoints), person_size_px(side_at)), **kw)
