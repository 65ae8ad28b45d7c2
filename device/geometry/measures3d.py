"""Per-frame 3-D measures for the keypoint-visible compensations, in the body frame.

Input: body-frame keypoints (N, 17, 3) — x forward, y left, z up, metres (device.geometry.body)
— with NaN where a point is not valid. Output: plain (N,) arrays, NaN where a frame cannot be
measured; the rules take medians at the rep bottoms. Angles in degrees.

Sagittal angles are measured in the body's side view (the x-z plane): atan2(forward, up) of a
segment, so 0 is vertical and positive leans forward.

| measure | what | sign |
| --- | --- | --- |
| trunk_deg | hip midpoint -> shoulder midpoint from vertical | + forward |
| shin_deg | ankle -> knee from vertical, mean of the sides seen | + forward |
| trunk_minus_shin_deg | excessive forward lean: trunk against shin | + trunk ahead |
| arm_vs_trunk_deg | arms fall forward: shoulder -> wrist against the trunk line | + arms ahead |
| head_forward_deg | shoulder midpoint -> ear midpoint against the trunk line | + head ahead |
| head_forward_m | ear midpoint ahead of the trunk line, metres | + ahead |
| head_flexion_deg | face (ear midpoint -> nose) pitched down, against the trunk | + down |
| knee_{side}_frontal_m | knee off the hip-ankle line, along the body's left-right axis | + outward |
| knee_{side}_foot_m | knee off the plane of the hip-ankle line and the foot direction | + outward |
| knee_{side}_foot_deg | the same as an angle about the hip-ankle line | + outward |
| hip_shift_m | hip midpoint over the ankle midpoint, along left-right | + to the left |
| hip_shift_of_stance | hip_shift_m over the ankles' separation | + to the left |

Knees over turned-out toes are normal: the foot measures use the foot direction (toe-out angle
per side, `foot_deg`, e.g. from the silhouette or the mat); without it, the leg's own plane stands in for
it: the direction the knee travels from its standing place early in the descent, where the
knees of a real squat still follow the feet (it also absorbs a compensation that grows from the
first moment of the descent, as the synthetic generator's do).
"""

from __future__ import annotations

import math

import numpy as np

NOSE, L_EAR, R_EAR, L_SH, R_SH, L_WR, R_WR = 0, 3, 4, 5, 6, 9, 10
L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN = 11, 12, 13, 14, 15, 16
LEGS = {"left": (L_HIP, L_KN, L_AN, 1.0), "right": (R_HIP, R_KN, R_AN, -1.0)}
MIN_KNEE_OFFSET_OF_LEG = 0.05  # below this the knee is on the hip-ankle line: no angle


def _mid(P, a, b):
    return (P[:, a] + P[:, b]) / 2.0


def sagittal_deg(v: np.ndarray) -> np.ndarray:
    """Angle of segments (N, 3) from vertical in the x-z plane, degrees, + forward."""
    return np.degrees(np.arctan2(v[:, 0], v[:, 2]))


def trunk_deg(P):
    return sagittal_deg(_mid(P, L_SH, R_SH) - _mid(P, L_HIP, R_HIP))


def shin_deg(P):
    with np.errstate(invalid="ignore"), _quiet():
        return np.nanmean(np.stack([sagittal_deg(P[:, L_KN] - P[:, L_AN]),
                                    sagittal_deg(P[:, R_KN] - P[:, R_AN])]), axis=0)


class _quiet:
    """Silences numpy's 'mean of empty slice' warning (an unseen frame is simply NaN)."""

    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _arm_deg(P):
    with _quiet():
        wrist = np.nanmean(np.stack([P[:, L_WR], P[:, R_WR]]), axis=0)
    return sagittal_deg(wrist - _mid(P, L_SH, R_SH))


def head_measures(P, trunk):
    sh, ear = _mid(P, L_SH, R_SH), _mid(P, L_EAR, R_EAR)
    neck = ear - sh
    fwd_deg = sagittal_deg(neck) - trunk
    t = np.radians(trunk)
    # ear ahead of the trunk line: the sagittal component square to the trunk direction
    fwd_m = neck[:, 0] * np.cos(t) - neck[:, 2] * np.sin(t)
    face = P[:, NOSE] - ear
    flex = np.degrees(np.arctan2(-face[:, 2], face[:, 0])) - trunk
    return fwd_deg, fwd_m, flex


def foot_direction(toe_out_deg: float, side: str) -> np.ndarray:
    """Horizontal unit vector of a foot turned out by `toe_out_deg` (body frame)."""
    a = math.radians(toe_out_deg)
    return np.array([math.cos(a), LEGS[side][3] * math.sin(a), 0.0])


def leg_plane_toe_out(P, side: str) -> float:
    """The toe-out angle the leg itself shows: the direction the knee travels from its standing
    place early in the descent (shin lean 20-50 % of its deepest). NaN if never seen."""
    hip, knee, ankle, sign = LEGS[side]
    d = P[:, knee] - P[:, ankle]
    lean = np.degrees(np.arctan2(np.hypot(d[:, 0], d[:, 1]), d[:, 2]))
    ok = np.isfinite(lean)
    if ok.sum() < 5:
        return float("nan")
    top = np.nanmax(lean)
    rest = ok & (lean <= np.nanpercentile(lean, 20))
    early = ok & (lean >= 0.2 * top) & (lean <= 0.5 * top)
    if early.sum() < 3 or not rest.any():
        return float("nan")
    travel = P[early, knee] - np.median(P[rest, knee], axis=0)
    return float(np.degrees(np.median(np.arctan2(sign * travel[:, 1], travel[:, 0]))))


def knee_measures(P, side: str, toe_out_deg: float | None = None):
    """(frontal_m, foot_m, foot_deg) for one knee, outward positive."""
    hip, knee, ankle, sign = LEGS[side]
    u = P[:, hip] - P[:, ankle]
    leg = np.linalg.norm(u, axis=1)
    u = u / leg[:, None]
    d = P[:, knee] - P[:, ankle]
    d = d - np.sum(d * u, axis=1)[:, None] * u  # knee off the hip-ankle line
    frontal = sign * d[:, 1]
    toe = toe_out_deg if toe_out_deg is not None else leg_plane_toe_out(P, side)
    if not np.isfinite(toe):
        nan = np.full(len(P), np.nan)
        return frontal, nan, nan
    f = foot_direction(toe, side)
    n = np.cross(u, f)
    n = n / np.linalg.norm(n, axis=1)[:, None]
    n = n * np.sign(sign * n[:, 1:2] + 1e-12)  # outward
    out_m = np.sum(d * n, axis=1)
    in_plane = np.linalg.norm(d - out_m[:, None] * n, axis=1)
    deg = np.degrees(np.arctan2(out_m, in_plane))
    deg = np.where(np.linalg.norm(d, axis=1) >= MIN_KNEE_OFFSET_OF_LEG * leg, deg, np.nan)
    return frontal, out_m, deg


def hip_shift(P):
    hip_y = _mid(P, L_HIP, R_HIP)[:, 1]
    ank_y = _mid(P, L_AN, R_AN)[:, 1]
    stance = np.abs(P[:, L_AN, 1] - P[:, R_AN, 1])
    m = hip_y - ank_y
    with np.errstate(invalid="ignore", divide="ignore"):
        return m, np.where(stance > 0.05, m / stance, np.nan)


def measures(P: np.ndarray, foot_deg: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """All per-frame measures of body-frame keypoints P (N, 17, 3). `foot_deg`: toe-out per
    side ("left"/"right"), degrees, when known."""
    P = np.asarray(P, dtype=np.float64)
    trunk = trunk_deg(P)
    shin = shin_deg(P)
    out = {"trunk_deg": trunk, "shin_deg": shin, "trunk_minus_shin_deg": trunk - shin,
           "arm_vs_trunk_deg": _arm_deg(P) - trunk}
    out["head_forward_deg"], out["head_forward_m"], out["head_flexion_deg"] = head_measures(P, trunk)
    for side in ("left", "right"):
        toe = (foot_deg or {}).get(side)
        fr, fm, fd = knee_measures(P, side, toe)
        out[f"knee_{side}_frontal_m"], out[f"knee_{side}_foot_m"], out[f"knee_{side}_foot_deg"] = fr, fm, fd
    out["hip_shift_m"], out["hip_shift_of_stance"] = hip_shift(P)
    return out
