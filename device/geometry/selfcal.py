"""Self-calibration of the front/side camera pair from the person's own keypoints.

The front camera fixes the world: it stands at (0, 0, h_front) in the solver, looking along +Y
(yaw 0) with a small pitch and roll; the floor is Z = 0. The side camera is placed *around the
person*: the person stands at the pivot (where the front camera's ray through the standing
mid-hip meets the apparent distance); the side camera sits at yaw `psi` round the pivot from the
front camera's direction (positive towards the person's left, 90 = square side view), at a
horizontal distance and a height, aimed at the pivot give or take a small yaw, pitch and roll.

Ten numbers describe the pair: front pitch, roll, height; side yaw round the person, distance,
height, aim yaw, aim pitch, roll; and the front camera's distance to the person. For a trial
pair the 3-D keypoints of 32 chosen frames are triangulated (confidence-weighted,
device.geometry.triangulate), and the solver (scipy.optimize.least_squares, soft-L1 robust loss)
minimises:

- the reprojection error in both views, weighted by keypoint confidence, in units of 1 % of the
  person's height in that view's pixels;
- bone-length constancy over the set (a wrong pair bends the skeleton differently at each
  pose) and left-right symmetry of the bone lengths;
- the feet on the floor (ankle points about 4.5 % of the height above Z = 0);
- priors: the standing body is vertical, both cameras are level in roll, the side camera is
  aimed at the person, the body has the given (or a typical) height.

The solver's keypoints are averaged over 0.15 s in both views alike and each bone's term is
weighted by the side view's score of its weaker end: MoveNet's jitter otherwise biases the bone
term toward a squarer side camera (docs/geometry.md). The trust figures use the keypoints as
tracked.

Two views of a body a few metres away are nearly affine, and a rig on the person's left and its
mirror image on the right explain the keypoints almost equally well: the side whose keypoints
score clearly higher in the side view (the far side is hidden) is the side the camera is on; when
the scores do not tell, both sides are solved and compared. Every number but the yaw has a good
first guess from each view alone (`_pitch_height`), so the yaw is scanned (0-110 degrees, 5-degree
steps) and the best start refined. When the other side's solution explains the data about as well,
the calibration is not trusted. Scale comes from the person: the standing height if given, else
typical segment lengths of a 1.70 m adult (Winter's proportions); angles do not depend on it.

The field of view must be known (the track's `camera.hfov_deg`, the config's camera module): the
keypoints barely constrain it, and 15 % too narrow widens the angle between the cameras by about
5-10 degrees near a square side view (docs/geometry.md).

Plain data out: `PairCalibration` (two `Camera`s and figures) or `CalibrationFailure` (a reason).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from device.geometry.body import feet_midpoint
from device.geometry.bones import BONES, SYMMETRIC  # the skeleton's bones: one home
from device.geometry.camera import Camera, Intrinsics
from device.geometry.triangulate import person_size_px, resample, standing_ankles_px, triangulate_points

log = logging.getLogger(__name__)

# COCO-17 indices
NOSE, L_SH, R_SH, L_EL, R_EL, L_WR, R_WR, L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN = (
    0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)  # fmt: skip
SYM_I, SYM_J = np.array([p[0] for p in SYMMETRIC]), np.array([p[1] for p in SYMMETRIC])
BONE_A, BONE_B = np.array([b[0] for b in BONES]), np.array([b[1] for b in BONES])

# Body proportions (fractions of standing height, Winter): ankle point above the floor, and the
# shank + thigh + trunk (hip to shoulder) chain used for scale.
ANKLE_HEIGHT = 0.045
LEG_TRUNK = 0.246 + 0.245 + 0.288
SHOULDER_HEIGHT = 0.818  # shoulder points above the floor, standing
HIP_HEIGHT = 0.53
BONE_SCORE_REF = 0.7  # a side-view score this high counts fully in the bone term (SETTINGS)
TYPICAL_HEIGHT_M = 1.70

# The calibration's knobs and its trust thresholds: one table.
SETTINGS = {
    "frames": 32,  # frames used by the solver (half spread over squat depth, half over time)
    "min_frames": 12,  # fewer frames seen confidently by both views: no calibration
    "min_score": 0.3,  # a keypoint takes part in the calibration above this score
    "min_points": 10,  # ... and a frame when both views have this many such keypoints
    "scan_max_deg": 110.0,  # yaws scanned round the person, both sides ...
    "scan_step_deg": 5.0,  # ... at this step, before the solver refines the best of each side
    "max_iterations": 8,  # solver evaluations per refinement (12 before: the same angle error on the tuning sets, docs/performance.md)
    "near_side_score_gap": 0.08,  # mean score gap that tells which side faces the side camera
    "sigma_px_of_person": 0.01,  # reprojection residual unit: 1 % of the person's pixel height
    "sigma_bone": 0.12,  # relative bone-length scatter over the set (keypoints are not joint centres)
    # MoveNet's jitter biases the bone term (a noisy bone is steadiest when the rig sees depth
    # best, so the side camera came out a few degrees too square, most at 45-60 degrees): the
    # solver's keypoints are averaged over this many seconds in both views alike, and each
    # bone's term is weighted by (side score of its weaker end / BONE_SCORE_REF) ** this power
    # (the far side's scatter counts less). Chosen on the tuning seeds (docs/geometry.md).
    "smooth_s": 0.15,
    "bone_score_power": 2.0,
    "sigma_symmetry": 0.04,  # relative left/right bone-length difference
    "sigma_floor": 0.02,  # ankle height scatter, fraction of the body height
    "sigma_vertical_deg": 4.0,  # standing trunk off vertical
    "sigma_roll_deg": 2.0,  # camera roll (level cameras)
    "sigma_aim_deg": 6.0,  # the side camera aimed at the person, give or take
    # trust
    "max_reprojection_of_person": 0.02,  # median reprojection error, fraction of person height
    "max_bone_scatter": 0.08,  # median relative bone-length scatter over the set
    "ambiguity_cost_ratio": 1.15,  # a start this close in cost ...
    "ambiguity_yaw_deg": 12.0,  # ... at a yaw this far away makes the result ambiguous
}


@dataclass(frozen=True)
class PairCalibration:
    """Both cameras in one metric world (Z up, floor Z = 0, origin on the floor under the
    standing person's ankles) and what the calibration says about itself."""

    front: Camera
    side: Camera
    angle_between_deg: float  # round the person between the two cameras: 90 = square side view
    round_toward_front_deg: float  # 90 - angle_between: 0 = square side view, 45 = oblique
    side_on: str  # "left" | "right": which side of the person the side camera is on
    front_distance_m: float
    side_distance_m: float
    front_height_m: float
    side_height_m: float
    reprojection_px: tuple[float, float]  # median error (front, side), pixels
    reprojection_of_person: float  # median error of both views, fraction of the person's height
    bone_scatter: float  # median relative scatter of the bone lengths over the set
    frames_used: int
    scale_from: str  # plain words: where the metres come from
    trusted: bool
    reason: str  # plain words: why it is (not) trusted

    def describe(self) -> str:
        """One plain sentence for a trainer."""
        return (f"side camera about {self.round_toward_front_deg:.0f} degrees round toward the front "
                f"on the person's {self.side_on} ({self.angle_between_deg:.0f} degrees between the cameras), "
                f"{self.side_distance_m:.1f} m away; front camera {self.front_distance_m:.1f} m away")


@dataclass(frozen=True)
class CalibrationFailure:
    reason: str


# --------------------------------------------------------------------------- pose parametrisation


def _rotation(heading: float, pitch: float, roll: float) -> np.ndarray:
    """World -> camera rotation for a camera looking along heading (0 = +Y, towards +X positive)
    and pitched down by `pitch`, rolled by `roll` about its optical axis (radians)."""
    ch, sh, cp, sp = math.cos(heading), math.sin(heading), math.cos(pitch), math.sin(pitch)
    z = np.array([sh * cp, ch * cp, -sp])
    x = np.array([ch, -sh, 0.0])  # z x up, normalised (horizontal)
    y = np.array([z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]])
    cr, sr = math.cos(roll), math.sin(roll)
    return np.stack([cr * x + sr * y, -sr * x + cr * y, z])


def _pose(R: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return R, -R @ centre


@dataclass(frozen=True)
class _Problem:
    fi: Intrinsics
    si: Intrinsics
    f_uv: np.ndarray  # (K, 17, 2)
    f_w: np.ndarray  # (K, 17), zero unless both views see the point
    s_uv: np.ndarray
    s_w: np.ndarray
    standing: np.ndarray  # (K,) bool
    hip_px: np.ndarray  # front standing mid-hip pixel (2,)
    d_front: float  # first guess of the front camera's distance to the person
    height: float  # the body height the solver's units are held to
    sigma_px: tuple[float, float]
    bone_score_power: float = 0.0
    ankle_px: np.ndarray | None = None  # front standing ankle midpoint pixel (the origin: body.feet_midpoint)

    def __post_init__(self):  # fixed arrays the residuals use at every evaluation
        K = self.f_uv.shape[0]
        ok = (self.f_w > 0) & (self.s_w > 0)
        bok = np.stack([ok[:, a] & ok[:, c] for a, c, _ in BONES], axis=1)
        st = self.standing & ok[:, [L_SH, R_SH, L_AN, R_AN]].all(axis=1)
        extra = dict(
            uv=np.stack([self.f_uv.reshape(-1, 2), self.s_uv.reshape(-1, 2)]),
            w=np.stack([self.f_w.reshape(-1), self.s_w.reshape(-1)]),
            K=K, ok=ok, bok=bok, bone_seen=bok.sum(axis=0) >= 3,
            ankles_ok=ok[:, [L_AN, R_AN]], upright=st,
        )
        extra["wrep"] = np.stack([np.sqrt(extra["w"][v])[:, None] / self.sigma_px[v] for v in (0, 1)])
        sw = np.minimum(self.s_w[:, BONE_A], self.s_w[:, BONE_B])  # side-view score of the bone's weaker end
        extra["wbone"] = np.clip(sw / BONE_SCORE_REF, 0.0, 1.0) ** self.bone_score_power
        for k, v in extra.items():
            object.__setattr__(self, k, v)


def _cameras(th: np.ndarray, pb: _Problem) -> tuple[Camera, Camera, np.ndarray]:
    pf, rf, hf, psi, ds, hs, dyaw, dpitch, rs, dist = th
    Rf = _rotation(0.0, pf, rf)
    cf = np.array([0.0, 0.0, hf])
    ray = np.array([(pb.hip_px[0] - pb.fi.cx) / pb.fi.f, (pb.hip_px[1] - pb.fi.cy) / pb.fi.f, 1.0])
    ray = Rf.T @ (ray / np.linalg.norm(ray))
    pivot = cf + dist * ray
    b = -pivot[:2] / max(np.linalg.norm(pivot[:2]), 1e-9)  # person -> front camera, horizontal
    left = np.array([-b[1], b[0]])  # up x b: the person's left when facing the front camera
    d = math.cos(psi) * b + math.sin(psi) * left
    cs = np.array([pivot[0] + ds * d[0], pivot[1] + ds * d[1], hs])
    heading = math.atan2(-d[0], -d[1]) + dyaw
    pitch = math.atan2(hs - pivot[2], ds) + dpitch
    Rs = _rotation(heading, pitch, rs)
    front = Camera(pb.fi, *_pose(Rf, cf))
    side = Camera(pb.si, *_pose(Rs, cs))
    return front, side, pivot


def _bone_lengths(X: np.ndarray) -> np.ndarray:
    return np.linalg.norm(X[:, BONE_A] - X[:, BONE_B], axis=-1)  # (K, nbones)


def _masked_median(L: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Column medians of L over the entries where mask is true (NaN for an empty column)."""
    n = mask.sum(axis=0)
    srt = np.sort(np.where(mask, L, np.inf), axis=0)
    lo = np.take_along_axis(srt, np.maximum((n - 1) // 2, 0)[None, :], axis=0)[0]
    hi = np.take_along_axis(srt, np.maximum(n // 2, 0)[None, :], axis=0)[0]
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, (lo + hi) / 2, np.nan)


def _bone_medians(L: np.ndarray, bok: np.ndarray) -> np.ndarray:
    """Median length of each bone over the frames where both its ends are seen (NaN: seen < 3 times)."""
    out = np.full(L.shape[1], np.nan)
    for j in range(L.shape[1]):
        v = L[bok[:, j], j]
        if len(v) >= 3:
            out[j] = np.median(v)
    return out


def _body_height(medians: np.ndarray) -> float:
    """Standing height from thigh + shank + trunk (either side, whichever is seen)."""
    parts = []
    for i in (4, 6, 8):
        pair = medians[i : i + 2]
        pair = pair[np.isfinite(pair)]
        if not len(pair):
            return float("nan")
        parts.append(float(np.mean(pair)))
    return sum(parts) / LEG_TRUNK


def _residuals(th: np.ndarray, pb: _Problem, cfg: dict) -> np.ndarray:
    front, side, pivot = _cameras(th, pb)
    depth = (float(np.linalg.norm(front.center - pivot)), float(np.linalg.norm(side.center - pivot)))
    terms = _terms(front, side, pb, cfg, depth)
    sa = math.radians(cfg["sigma_aim_deg"])  # the side camera is aimed at the person
    terms.append(np.array([th[6] / sa, th[7] / sa]))
    return np.concatenate(terms)


def _roll(cam: Camera) -> float:
    """How far the camera's image x axis tilts out of the horizontal, radians."""
    return math.asin(max(-1.0, min(1.0, float(cam.R[0, 2]))))


def _terms(front: Camera, side: Camera, pb: _Problem, cfg: dict, depth=None) -> list[np.ndarray]:
    """The residual groups: reprojection front, side, bones, symmetry, floor, vertical, roll."""
    uv, w = pb.uv, pb.w
    X = triangulate_points((front, side), uv, w, depth)
    out = []
    for v, cam in enumerate((front, side)):
        xc = X @ cam.R.T + cam.t
        z = xc[:, 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            e = (cam.intrinsics.f * xc[:, :2] / z + (cam.intrinsics.cx, cam.intrinsics.cy) - uv[v]) * pb.wrep[v]
        # behind the camera: a large but finite penalty, for the points that take part (an
        # unseen point's solve is arbitrary: a penalty there only makes the cost jump)
        e = np.where(z > 1e-6, e, 30.0 * (pb.wrep[v] > 0))
        out.append(e.ravel())
    X = X.reshape(pb.K, 17, 3)
    L = _bone_lengths(X)
    med = _masked_median(L, pb.bok)
    seen = pb.bone_seen
    ref = np.where(seen, med, 1.0)
    out.append((np.where(pb.bok & seen, (L / ref - 1.0) * pb.wbone, 0.0) / cfg["sigma_bone"]).ravel())
    i, j = SYM_I, SYM_J
    out.append(np.where(seen[i] & seen[j], ref[i] / ref[j] - 1.0, 0.0) / cfg["sigma_symmetry"])
    S = _body_height(np.where(seen, med, np.nan))  # metres
    S = S if np.isfinite(S) and S > 0 else pb.height
    out.append(np.array([(S / pb.height - 1.0) / 0.01]))  # holds the scale (angles do not need it)
    za = X[:, [L_AN, R_AN], 2]
    out.append((np.where(pb.ankles_ok, (za - ANKLE_HEIGHT * S) / (cfg["sigma_floor"] * S), 0.0)).ravel())
    st = pb.upright
    if st.any():
        v = X[st][:, [L_SH, R_SH]].mean(axis=1) - X[st][:, [L_AN, R_AN]].mean(axis=1)
        tilt = v[:, :2] / np.maximum(np.linalg.norm(v, axis=1), 1e-6)[:, None]
        out.append((tilt / math.sin(math.radians(cfg["sigma_vertical_deg"]))).ravel())
    sr = math.radians(cfg["sigma_roll_deg"])
    out.append(np.array([_roll(front) / sr, _roll(side) / sr]))
    return out


# --------------------------------------------------------------------------- initial guesses


def _pitch_height(rows: tuple[float, float, float], intr: Intrinsics, heights: tuple[float, float, float]
                  ) -> tuple[float, float, float]:
    """A camera's pitch (down, radians), height and horizontal distance from the rows at which
    three points of known height on the standing person appear (ankle, hip, shoulder).

    For a trial pitch p, tan(p + angle below the axis) = (h - z) / d is linear in (h/d, 1/d);
    the pitch whose fit is best (with a mild pull towards a level camera) wins.
    """
    a = np.arctan((np.asarray(rows) - intr.cy) / intr.f)
    z = np.asarray(heights, dtype=np.float64)
    A = np.stack([np.ones(3), -z], axis=1)
    p = np.linspace(-0.5, 0.5, 101)
    t = np.tan(p[:, None] + a[None, :])  # (101, 3): every trial pitch at once
    sol = t @ np.linalg.pinv(A).T  # (101, 2) least-squares fits
    res = np.sum((sol @ A.T - t) ** 2, axis=1) / 0.003**2 + (p / 0.2) ** 2
    res = np.where(sol[:, 1] > 1e-3, res, np.inf)
    if not np.isfinite(res).any():  # no fit: a level camera at hip height, distance from the apparent size
        d = intr.f * (z[2] - z[0]) / max(rows[0] - rows[2], 1.0)
        return 0.0, float(z[1]), float(d)
    i = int(np.argmin(res))
    return float(p[i]), float(sol[i, 0] / sol[i, 1]), float(1.0 / sol[i, 1])


def _standing_rows(uv: np.ndarray, w: np.ndarray, standing: np.ndarray) -> tuple[float, float, float, float]:
    """Median ankle row, shoulder row, hip row and hip column over the standing frames."""
    def med(idx, c):
        vals = uv[standing][:, idx, c]
        ok = w[standing][:, idx] > 0
        return float(np.median(vals[ok])) if ok.any() else float("nan")
    return med([L_AN, R_AN], 1), med([L_SH, R_SH], 1), med([L_HIP, R_HIP], 1), med([L_HIP, R_HIP], 0)


LEFT_POINTS = [1, 3, 5, 7, 9, 11, 13, 15]
RIGHT_POINTS = [2, 4, 6, 8, 10, 12, 14, 16]


def _near_side(side_kps: np.ndarray, cfg: dict) -> str | None:
    """The person's side nearer the side camera: its keypoints score clearly higher (the far
    side is hidden behind the body). None when the scores do not say (a camera near the front)."""
    sc = side_kps[..., 2]
    seen = sc.max(axis=1) > 0
    if not seen.any():
        return None
    diff = float(np.mean(sc[seen][:, LEFT_POINTS]) - np.mean(sc[seen][:, RIGHT_POINTS]))
    if abs(diff) < cfg["near_side_score_gap"]:
        return None
    return "left" if diff > 0 else "right"


def _smooth_kps(kps: np.ndarray, frames: int) -> np.ndarray:
    """Keypoints (N, 17, 3) with x, y averaged over a centred window of `frames` frames, weighted
    by score (each frame keeps its own score; a point unseen in the whole window keeps its own)."""
    h = frames // 2
    if h < 1 or len(kps) < 3:
        return kps
    w = np.clip(np.nan_to_num(kps[..., 2]), 0.0, 1.0)
    xy = np.nan_to_num(kps[..., :2]) * w[..., None]
    pad = lambda a: np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])  # noqa: E731
    cw, cxy = pad(w), pad(xy)
    i = np.arange(len(kps))
    lo, hi = np.maximum(i - h, 0), np.minimum(i + h + 1, len(kps))
    sw = cw[hi] - cw[lo]
    sxy = cxy[hi] - cxy[lo]
    out = kps.copy()
    ok = sw > 1e-6
    out[..., :2] = np.where(ok[..., None], sxy / np.where(ok, sw, 1.0)[..., None], kps[..., :2])
    return out


def _select_frames(f_kps: np.ndarray, s_kps: np.ndarray, cfg: dict) -> np.ndarray:
    ok = (f_kps[..., 2] >= cfg["min_score"]) & (s_kps[..., 2] >= cfg["min_score"])
    good = np.flatnonzero(ok.sum(axis=1) >= cfg["min_points"])
    k = cfg["frames"]
    if len(good) <= k:
        return good
    # squat depth in the front view: hip-to-ankle height in pixels (small at the bottom)
    hip = f_kps[good][:, [L_HIP, R_HIP], 1].mean(axis=1)
    ank = f_kps[good][:, [L_AN, R_AN], 1].mean(axis=1)
    depth_order = good[np.argsort(ank - hip)]
    by_depth = depth_order[np.linspace(0, len(good) - 1, k // 2).round().astype(int)]
    by_time = good[np.linspace(0, len(good) - 1, k - k // 2).round().astype(int)]
    return np.unique(np.concatenate([by_depth, by_time]))


# --------------------------------------------------------------------------- the calibration


def calibrate_pair(front, side, front_intr: Intrinsics, side_intr: Intrinsics,
                   height_m: float | None = None, settings: dict | None = None) -> PairCalibration | CalibrationFailure:
    """Calibrate the side camera against the front one from two `ViewTrack`s on the shared clock.

    `front_intr` / `side_intr`: each view's pinhole (its image size must match the track's).
    `height_m`: the person's standing height if known (sets the metres; angles do not need it).
    Returns `PairCalibration` (check `.trusted`) or `CalibrationFailure` with a plain reason.
    """
    from scipy.optimize import least_squares  # heavy import, only when calibrating

    cfg = dict(SETTINGS, **(settings or {}))
    for name, view in (("front", front), ("side", side)):
        if view is None or len(view) < 2:
            return CalibrationFailure(f"the {name} view is missing or has no frames")
    s_at = resample(side.times, side.keypoints, front.times, side.fps)
    f_kps = raw = front.keypoints
    raw_side = s_at
    if cfg["smooth_s"] > 0:  # the jitter biases the bone term (SETTINGS): both views averaged alike
        n = int(round(cfg["smooth_s"] * front.fps)) | 1
        f_kps, s_at = _smooth_kps(f_kps, n), _smooth_kps(s_at, n)
    pick = _select_frames(f_kps, s_at, cfg)
    if len(pick) < cfg["min_frames"]:
        return CalibrationFailure(
            f"only {len(pick)} moments where both cameras see the person clearly "
            f"(at least {cfg['min_frames']} needed)")
    fk, sk = f_kps[pick], s_at[pick]
    both = (fk[..., 2] >= cfg["min_score"]) & (sk[..., 2] >= cfg["min_score"])  # one view: no depth
    f_w = np.where(both, fk[..., 2], 0.0)
    s_w = np.where(both, sk[..., 2], 0.0)
    fk_uv, sk_uv = np.nan_to_num(fk[..., :2]), np.nan_to_num(sk[..., :2])
    size_f, size_s = person_size_px(f_kps, cfg["min_score"]), person_size_px(s_at, cfg["min_score"])
    if not (np.isfinite(size_f) and np.isfinite(size_s) and size_f > 10 and size_s > 10):
        return CalibrationFailure("the person is too small or not seen in one of the views")
    hip_ank = fk_uv[:, [L_AN, R_AN], 1].mean(axis=1) - fk_uv[:, [L_HIP, R_HIP], 1].mean(axis=1)
    standing = hip_ank >= np.quantile(hip_ank, 0.7)

    H = float(height_m) if height_m else TYPICAL_HEIGHT_M
    heights = (ANKLE_HEIGHT * H, HIP_HEIGHT * H, SHOULDER_HEIGHT * H)
    fa, fs, fh_row, fh_col = _standing_rows(fk_uv, f_w, standing)
    sa, ss, sh_row, sh_col = _standing_rows(sk_uv, s_w, standing)
    if not all(np.isfinite([fa, fs, fh_row, fh_col, sa, ss, sh_row, sh_col])):
        return CalibrationFailure("the standing posture is not seen clearly in both views")
    pf, hf, d_front = _pitch_height((fa, fh_row, fs), front_intr, heights)
    ps, hs, d_side = _pitch_height((sa, sh_row, ss), side_intr, heights)
    pf, ps = float(np.clip(pf, -0.55, 0.55)), float(np.clip(ps, -0.45, 0.45))
    hf, hs = float(np.clip(hf, 0.1, 3.5)), float(np.clip(hs, 0.1, 3.5))
    pb = _Problem(front_intr, side_intr, fk_uv, f_w, sk_uv, s_w, standing, np.array([fh_col, fh_row]),
                  d_front, H, (cfg["sigma_px_of_person"] * size_f, cfg["sigma_px_of_person"] * size_s),
                  cfg["bone_score_power"], standing_ankles_px(raw[pick], cfg["min_score"]))
    hip_z = HIP_HEIGHT * H
    dyaw0 = -math.atan((sh_col - side_intr.cx) / side_intr.f)
    dpitch0 = ps - math.atan2(hs - hip_z, d_side)
    lo = np.array([-0.6, -0.3, 0.05, -2.2, 0.5, 0.05, -0.5, -0.5, -0.3, 0.5])
    hi = np.array([0.6, 0.3, 4.0, 2.2, 15.0, 4.0, 0.5, 0.5, 0.3, 15.0])

    def cost(x):
        r = _residuals(x, pb, cfg)
        return float(np.sum(np.sqrt(1.0 + r * r) - 1.0))  # soft-L1, as the solver's loss

    # Everything but the yaw round the person has a good first guess from each view alone: scan
    # the yaw on the side the camera is on (both sides when the scores do not tell), refine the
    # best start of each side scanned; the other side's result is the ambiguity check.
    x0 = np.clip(np.array([pf, 0.0, hf, 0.0, d_side, hs, dyaw0, dpitch0, 0.0, d_front]), lo + 1e-6, hi - 1e-6)
    near = _near_side(s_at, cfg)
    signs = (1.0, -1.0) if near is None else ((1.0,) if near == "left" else (-1.0,))
    steps = np.radians(np.arange(cfg["scan_step_deg"], cfg["scan_max_deg"] + 1e-9, cfg["scan_step_deg"]))
    final = []
    for sign in signs:
        scan = []
        for y in sign * steps:
            x = x0.copy()
            x[3] = y
            scan.append((cost(x), y))
        x = x0.copy()
        x[3] = min(scan)[1]
        final.append(least_squares(_residuals, x, args=(pb, cfg), bounds=(lo, hi), loss="soft_l1",
                                   x_scale="jac", max_nfev=cfg["max_iterations"], diff_step=1e-4,
                                   tr_solver="lsmr"))
    final.sort(key=lambda r: r.cost)
    best = final[0]
    # the trust figures from the keypoints as tracked (averaging would hide views that disagree)
    raw_uv = np.stack([np.nan_to_num(raw[pick][..., :2]).reshape(-1, 2),
                       np.nan_to_num(raw_side[pick][..., :2]).reshape(-1, 2)])
    return _finish(best, final[1:], pb, cfg, H, height_m, len(pick), raw_uv)


def _finish(best, others, pb: _Problem, cfg: dict, H: float, height_m, frames: int,
            uv: np.ndarray) -> PairCalibration:
    front, side, _ = _cameras(best.x, pb)
    K = pb.f_uv.shape[0]
    w = np.stack([pb.f_w.reshape(-1), pb.s_w.reshape(-1)])
    X = triangulate_points((front, side), uv, w)
    ok = (w > 0).all(axis=0)
    err = [np.linalg.norm(c.project(X) - uv[v], axis=-1)[ok] for v, c in enumerate((front, side))]
    rep = tuple(float(np.median(e)) if len(e) else float("nan") for e in err)
    rel = float(np.median(np.concatenate([err[0] / (pb.sigma_px[0] / cfg["sigma_px_of_person"]),
                                          err[1] / (pb.sigma_px[1] / cfg["sigma_px_of_person"])])))
    Xk = X.reshape(K, 17, 3)
    okk = ok.reshape(K, 17)
    L = _bone_lengths(Xk)
    bok = np.stack([okk[:, a] & okk[:, c] for a, c, _ in BONES], axis=1)
    scatter = []
    for j in range(len(BONES)):
        v = L[bok[:, j], j]
        if len(v) >= 3:  # robust relative scatter: 1.4826 MAD over the median
            med = float(np.median(v))
            scatter.append(1.4826 * float(np.median(np.abs(v - med))) / max(med, 1e-9))
    bone_scatter = float(np.median(scatter)) if scatter else float("nan")
    S = _body_height(_bone_medians(L, bok))
    k = H / S if np.isfinite(S) and S > 0 else 1.0
    # metres, and the origin on the floor under the standing ankles (only where they are seen:
    # an unseen point's solve is arbitrary, and the angle round the person is taken about here)
    seen = np.where(okk[..., None], Xk, np.nan)
    feet = feet_midpoint(seen, pb.standing, (front, pb.ankle_px))
    if feet is None:
        feet = feet_midpoint(seen, np.ones(K, bool), (front, pb.ankle_px))
    o = (feet if feet is not None else np.nanmedian(seen[:, [L_HIP, R_HIP]].reshape(-1, 3), axis=0)) * k
    o[2] = 0.0
    cams = []
    for c in (front, side):
        centre = c.center * k - o
        cams.append(Camera(c.intrinsics, c.R, -c.R @ centre))
    front_m, side_m = cams
    af = math.atan2(front_m.center[0], -front_m.center[1])
    as_ = math.atan2(side_m.center[0], -side_m.center[1])
    between = abs(math.degrees((as_ - af + math.pi) % (2 * math.pi) - math.pi))
    side_on = "left" if ((as_ - af + math.pi) % (2 * math.pi) - math.pi) > 0 else "right"
    # trust
    problems = []
    if rel > cfg["max_reprojection_of_person"]:
        problems.append(f"the keypoints reproject {100 * rel:.1f} % of the person's height apart "
                        f"(at most {100 * cfg['max_reprojection_of_person']:.1f} %)")
    if not bone_scatter <= cfg["max_bone_scatter"]:
        problems.append(f"the bones change length by {100 * bone_scatter:.0f} % over the set "
                        f"(at most {100 * cfg['max_bone_scatter']:.0f} %)")
    for r in others:
        if r.cost <= best.cost * cfg["ambiguity_cost_ratio"] and \
                abs(math.degrees(r.x[3] - best.x[3])) >= cfg["ambiguity_yaw_deg"]:
            problems.append(f"a side camera at {abs(math.degrees(r.x[3])):.0f} degrees explains the "
                            f"keypoints about as well as one at {abs(math.degrees(best.x[3])):.0f}")
            break
    if frames < cfg["min_frames"]:
        problems.append(f"only {frames} usable moments")
    trusted = not problems
    reason = ("both views agree: median reprojection error "
              f"{100 * rel:.1f} % of the person's height, bones steady within {100 * bone_scatter:.0f} %"
              if trusted else "; ".join(problems))
    scale = (f"the person's standing height, {H:.2f} m" if height_m
             else f"typical segment lengths of a {TYPICAL_HEIGHT_M:.2f} m adult (distances +-10 %)")
    horiz = lambda c: float(np.linalg.norm(c.center[:2]))  # noqa: E731
    cal = PairCalibration(
        front=front_m, side=side_m, angle_between_deg=between, round_toward_front_deg=90.0 - between,
        side_on=side_on, front_distance_m=horiz(front_m), side_distance_m=horiz(side_m),
        front_height_m=float(front_m.center[2]), side_height_m=float(side_m.center[2]),
        reprojection_px=rep, reprojection_of_person=rel, bone_scatter=bone_scatter,
        frames_used=frames, scale_from=scale, trusted=trusted, reason=reason,
    )  # fmt: skip
    log.debug("pair calibration: %s; %s", cal.describe(), reason)
    return cal
