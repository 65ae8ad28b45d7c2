"""The 3-D stage of the analysis: both views' keypoints -> 3-D measures per frame, or why not.

    from device.analysis.stereo import measure
    s = measure(track, th, calibration=cal)   # cal: device.geometry.calibration.Calibration or None
    s.trusted, s.geometry                      # the result's "geometry" entry (docs/formats.md)
    s.measures["trunk_minus_shin_deg"]         # (N,) on the front view's times, NaN where unseen

Steps (device/geometry, docs/geometry.md):

1. the cameras: the station's mat calibration when it has both views and fits these image
   sizes, and its reprojection error on this set's keypoints is small (a camera that moved since
   the mat was seen reprojects badly); else the pair calibrated on the person (`calibrate_pair`).
   When both exist the person-based angle is compared with the mat's (`person_vs_mat_deg`, a
   logged quality figure). The person-based calibration is most of the stage's cost (~70 ms of
   it): with the mat in use it runs only when the mat's reprojection error on this set is above
   `person_check_px` (0, the default: every set; `ohsa assess` and the tests); the station's
   `CalibrationKeeper.person_check_px()` asks for it every few sets and whenever the mat's fit jumps;
2. triangulation at the front view's times, 0.3 s smoothing, the body frame (floor from the
   calibration), the per-frame measures of `device.geometry.measures3d`;
3. trust: the 3-D path is used only when the calibration trusts itself, enough moments are seen
   by both views, the median reprojection error is small and the cameras are far enough apart
   round the person for depth (`stereo_*` entries of `device.thresholds`). Otherwise the result
   keeps the 2-D path and says why in plain words.

The fields of view: each view's `hfov_deg` from the track (the camera module from the config, or
the recording's camera) across the image's width; without one, `DEFAULT_LONG_SIDE_HFOV_DEG`
across the image's long side (a Raspberry Pi Camera Module 2; a portrait image is then narrower
across its width). `ohsa assess` gives phone recordings `PHONE_LONG_SIDE_HFOV_DEG`.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from device.geometry import bones, measures3d
from device.geometry.body import body_frame, stature
from device.geometry.camera import DEFAULT_HFOV_DEG, Camera, Intrinsics
from device.geometry.triangulate import person_size_px, smooth, standing_ankles_px, triangulate_tracks, within_error
from device.track import Track, ViewTrack

log = logging.getLogger(__name__)

DEFAULT_LONG_SIDE_HFOV_DEG = DEFAULT_HFOV_DEG  # Raspberry Pi Camera Module 2 across its long side
# A phone's main camera is a 26 mm-equivalent lens: 2 atan(18 / 26) = 69.4 degrees across the
# long side of its 16:9 video (42.5 degrees across a portrait clip's width; the real pair's
# iPhone, docs/geometry.md: about 42).
PHONE_LONG_SIDE_HFOV_DEG = 69.4
SMOOTH_S = 0.3  # docs/geometry.md: chosen on the geometry's tuning sets
# A person whose body (hips) is turned further than this from the printed footprints is not
# standing on them: the footprints do not give the feet's direction then.
MAX_TURN_FROM_FOOTPRINTS_DEG = 45.0


def intrinsics(view: ViewTrack, long_side_hfov_deg: float = DEFAULT_LONG_SIDE_HFOV_DEG) -> Intrinsics:
    """The view's pinhole: its own `hfov_deg` across the width, else the long side's default."""
    if view.hfov_deg is not None:
        return Intrinsics.from_hfov(view.width, view.height, float(view.hfov_deg))
    return Intrinsics.from_hfov(view.width, view.height, width_hfov(view.width, view.height, long_side_hfov_deg))


def width_hfov(width: int, height: int, long_side_hfov_deg: float) -> float:
    """The field of view across the width of an image whose long side spans `long_side_hfov_deg`."""
    if width >= height:
        return long_side_hfov_deg
    return math.degrees(2 * math.atan(math.tan(math.radians(long_side_hfov_deg) / 2) * width / height))


@dataclass
class Stereo:
    """What the 3-D stage hands the rules and the result."""

    trusted: bool
    geometry: dict  # result["geometry"] (docs/formats.md)
    times: np.ndarray | None = None  # the front view's times the measures are at
    measures: dict[str, np.ndarray] = field(default_factory=dict)
    points: np.ndarray | None = None  # (N, 17, 3) body-frame keypoints (smoothed), NaN where unseen
    # the direction from the person to the front camera in the body frame (degrees from forward,
    # + toward the person's left): what turns a foot direction seen by the front camera (the
    # silhouette's) into the body frame (`from_front_camera`)
    front_yaw_deg: float = 0.0

    def at(self, name: str, t: np.ndarray) -> np.ndarray:
        """Measure `name` at view times `t` (the nearest 3-D frame within half a frame, else NaN)."""
        a = self.measures[name]
        if self.times is None or not len(self.times):
            return np.full(len(t), np.nan)
        j = np.clip(np.searchsorted(self.times, t), 1, max(1, len(self.times) - 1))
        j = np.where(np.abs(self.times[j - 1] - t) <= np.abs(self.times[np.minimum(j, len(self.times) - 1)] - t),
                     j - 1, np.minimum(j, len(self.times) - 1))
        dt = float(np.median(np.diff(self.times))) if len(self.times) > 1 else 1.0
        return np.where(np.abs(self.times[j] - t) <= 0.6 * dt, a[j], np.nan)


def two_d(reason: str, **extra) -> Stereo:
    geo = {"path": "2d", "calibration": None, "angle_deg": None, "round_toward_front_deg": None,
           "side": None, "side_distance_m": None, "front_distance_m": None, "reprojection_px": None,
           "trusted": False, "reason": reason, "person_vs_mat_deg": None}
    geo.update(extra)
    return Stereo(False, geo)


def _placement(front: Camera, side: Camera, bf) -> dict:
    """Where the cameras stand round the person (body frame: x forward, y left, z up)."""
    f, s = bf.to_body(front.center), bf.to_body(side.center)
    af, as_ = math.atan2(f[1], f[0]), math.atan2(s[1], s[0])
    between = abs(math.degrees((as_ - af + math.pi) % (2 * math.pi) - math.pi))
    return {"angle_deg": round(between, 1), "round_toward_front_deg": round(90.0 - between, 1),
            "side": "left" if s[1] > 0 else "right",
            "side_distance_m": round(float(math.hypot(s[0], s[1])), 2),
            "front_distance_m": round(float(math.hypot(f[0], f[1])), 2)}


def _mat_cameras(calibration, front: ViewTrack, side: ViewTrack) -> tuple[tuple[Camera, Camera] | None, str]:
    from device.geometry.calibration import CalibrationError, _camera_for

    missing = [v for v in ("front", "side") if v not in calibration.views]
    if missing:
        return None, f"the mat calibration has no {' or '.join(missing)} camera"
    try:
        return (_camera_for(calibration.views["front"], front.width, front.height, "front"),
                _camera_for(calibration.views["side"], side.width, side.height, "side")), ""
    except CalibrationError as e:
        return None, f"the mat calibration does not fit these images ({e})"


def _reprojection(tri, front: ViewTrack, side: ViewTrack) -> tuple[float, float, float, int]:
    """(median error front px, side px, of the person's height, moments seen by both)."""
    sizes = np.array([person_size_px(front.keypoints), person_size_px(side.keypoints)])
    both = tri.valid.sum(axis=1) >= 8
    err = tri.error_px[tri.valid]
    if not len(err):
        return float("nan"), float("nan"), float("nan"), int(both.sum())
    med = np.median(err, axis=0)
    rel = float(np.median(err / np.where(np.isfinite(sizes) & (sizes > 0), sizes, np.nan)))
    return float(med[0]), float(med[1]), rel, int(both.sum())


def measure(track: Track, th, *, calibration=None, foot_deg: dict | None = None,
            height_m: float | None = None, person_check_px: float = 0.0) -> Stereo:
    """The 3-D stage for one set (clocks already aligned: side times on the front's clock).

    `person_check_px`: with the mat calibration in use, the person-based calibration (the check
    against the mat) runs only when the mat's median reprojection error on this set is above this
    many pixels: 0 every set, `math.inf` never. Without the mat it always runs (it is the
    calibration then)."""
    front, side = track.views.get("front"), track.views.get("side")
    for name, v in (("front", front), ("side", side)):
        if v is None or len(v) < 2:
            return two_d(f"one camera only: the {name} view is missing, so there is no depth")
    from device.geometry.selfcal import PairCalibration, calibrate_pair

    fi, si = intrinsics(front), intrinsics(side)
    person = None

    def on_person():
        nonlocal person
        if person is None:
            person = calibrate_pair(front, side, fi, si, height_m=height_m)
        return isinstance(person, PairCalibration)

    used, kind, why_not_mat, all_points = None, None, "", None
    if calibration is not None:
        cams, why_not_mat = _mat_cameras(calibration, front, side)
        if cams is not None:
            all_points = triangulate_tracks(cams, front, side, max_error=np.inf)
            ef, es, rel, n = _reprojection(all_points, front, side)
            if np.isfinite(rel) and rel <= th["stereo_max_reprojection"] and n >= th["stereo_min_moments"]:
                used, kind = cams, "mat"
            else:
                why_not_mat = (f"the keypoints do not fit the mat calibration (median reprojection "
                               f"{100 * rel:.1f} % of the person's height over {n} moments): a camera may have moved")
    if used is None:
        if not on_person():
            return two_d(f"the cameras could not be calibrated on the person: {person.reason}"
                         + (f"; {why_not_mat}" if why_not_mat else ""))
        used, kind = (person.front, person.side), "person"
    # the mat's cameras: the points already solved, those reprojecting too far dropped
    raw = within_error(all_points, front, side) if kind == "mat" else triangulate_tracks(used, front, side)
    tri = smooth(raw, SMOOTH_S)
    # the rigid bones hold what the side camera sees badly: depth (docs/geometry.md); the knees'
    # left-right offset, which the front camera sees directly, is judged on the points as
    # triangulated (the bones do not make it more accurate, and its thresholds were chosen there)
    held = smooth(bones.refine_tracks(raw, used, front, side), SMOOTH_S)
    bf = body_frame(tri.points, front=(used[0], standing_ankles_px(front.keypoints)))
    if bf is None:
        return two_d("the hips or ankles were never seen by both cameras at once", calibration=kind)
    place = _placement(used[0], used[1], bf)
    ef, es, rel, n = _reprojection(tri, front, side)
    geo = {"path": "3d", "calibration": kind, **place,
           "fields_of_view_deg": {"front": round(fi.hfov_deg, 1), "side": round(si.hfov_deg, 1)}, "reprojection_px": round(float(np.median([ef, es])), 2)
           if np.isfinite(ef) else None, "trusted": True, "reason": "", "person_vs_mat_deg": None}
    if kind == "mat":
        fit = geo["reprojection_px"]
        if fit is None or fit > person_check_px:
            if on_person():
                geo["person_vs_mat_deg"] = round(abs(person.angle_between_deg - place["angle_deg"]), 1)
                log.info("person-based camera angle %.1f degrees against the mat's %.1f (%.1f apart)",
                         person.angle_between_deg, place["angle_deg"], geo["person_vs_mat_deg"])
        else:
            log.debug("person-based check against the mat skipped (mat fits %.1f px, check above %.1f px)",
                      fit, person_check_px)
    problems = []
    if kind == "person" and not person.trusted:
        problems.append(person.reason)
    if n < th["stereo_min_moments"]:
        problems.append(f"only {n} moments seen clearly by both cameras (at least {th['stereo_min_moments']:g})")
    if not (np.isfinite(rel) and rel <= th["stereo_max_reprojection"]):
        problems.append(f"the two views disagree by {100 * rel:.1f} % of the person's height "
                        f"(at most {100 * th['stereo_max_reprojection']:.1f} %)")
    if place["angle_deg"] < th["stereo_min_angle_deg"]:
        problems.append(f"the cameras are only {place['angle_deg']:.0f} degrees apart round the person "
                        f"(at least {th['stereo_min_angle_deg']:g} for depth)")
    if problems:
        geo.update(path="2d", trusted=False, reason="3-D not used: " + "; ".join(problems))
        return Stereo(False, geo)
    if kind == "mat":
        geo["reason"] = "the footprint mat's calibration fits this set's keypoints"
    else:
        geo["reason"] = "calibrated on the person: " + person.reason + (f" ({why_not_mat})" if why_not_mat else "")
    feet_words = "not known"
    if foot_deg is None and kind == "mat":
        foot_deg = footprints_in(bf.axes)  # the person stands on the printed footprints
        if max(abs(v) for v in foot_deg.values()) > MAX_TURN_FROM_FOOTPRINTS_DEG:
            feet_words = (f"not known (the person stands turned {max(abs(v) for v in foot_deg.values()):.0f} "
                          "degrees from the footprints)")
            foot_deg = None
    P = bf.to_body(tri.points)
    H = bf.to_body(held.points)
    m = measures3d.measures(H, foot_deg)
    m.update(knees(P, foot_deg, th))
    m.update(head(H, m["trunk_deg"]))
    geo["feet"] = "the mat's footprints" if foot_deg else feet_words
    if kind == "mat":  # the mat's frame is in metres with the floor at z = 0
        height, apart = stature(P)
        geo["standing_height_m"] = None if height is None else round(height, 2)
        geo["feet_apart_m"] = None if apart is None else round(apart, 2)
    c = bf.to_body(used[0].center)
    return Stereo(True, geo, np.asarray(front.times, dtype=np.float64), m, P, math.degrees(math.atan2(c[1], c[0])))


def knees(P: np.ndarray, foot_deg: dict | None, th, margin_in: float = 0.0,
          margin_out: float = 0.0) -> dict[str, np.ndarray]:
    """The knees judged against the feet (docs/rules.md): square to each known foot (cave-in
    against the foot turned `margin_in` less, push-out `margin_out` more: a foot measured, not
    printed); for a foot not known, cave-in against a straight foot and push-out against one
    turned out by `stereo_toe_out_unknown_deg`."""
    m = {}
    for name in ("left", "right"):
        if foot_deg and foot_deg.get(name) is not None:
            a = float(foot_deg[name])
            m[f"knee_{name}_in"] = knee_ratio(P, name, a - margin_in)
            m[f"knee_{name}_out"] = knee_ratio(P, name, a + margin_out) if margin_out or margin_in else m[f"knee_{name}_in"]
        else:
            m[f"knee_{name}_in"] = knee_ratio(P, name, 0.0)
            m[f"knee_{name}_out"] = knee_ratio(P, name, th["stereo_toe_out_unknown_deg"])
    return m


def with_feet(st: Stereo, foot_deg: dict, th, source: str, margins: tuple[float, float] | None = None) -> Stereo:
    """`st` with its knees judged against feet seen by the front camera (`source`: in words, for
    `geometry.feet`): the silhouette's standing toe-out when the mat is not in use, each foot's
    angle from the front camera's line of sight (`from_front_camera` turns it into the body
    frame); cave-in against the foot turned `stereo_toe_out_seen_margin_deg` less, push-out
    `stereo_toe_out_seen_margin_out_deg` more (or `margins`: (in, out))."""
    m_in, m_out = margins if margins is not None else (th["stereo_toe_out_seen_margin_deg"],
                                                       th["stereo_toe_out_seen_margin_out_deg"])
    body = from_front_camera(foot_deg, st.front_yaw_deg)
    m = {**st.measures, **knees(st.points, body, th, m_in, m_out)}
    geo = {**st.geometry, "feet": source,
           "foot_toe_out_deg": {k: round(float(v), 1) for k, v in foot_deg.items() if v is not None},
           "front_camera_yaw_deg": round(float(st.front_yaw_deg), 1)}
    return Stereo(st.trusted, geo, st.times, m, st.points, st.front_yaw_deg)


def from_front_camera(foot_deg: dict, yaw_deg: float) -> dict:
    """Toe-out angles seen by the front camera (from its line of sight to the person, + out) in
    the body frame, the camera standing `yaw_deg` from the person's forward toward their left: a
    foot pointing at the camera is turned toward the person's left by `yaw_deg`. A front camera a
    few degrees off the person's axis otherwise turns one foot out and the other in (on the tuning
    seeds of scripts/eval_3d.py, cave-in sensitivity 0.97 with this turn, 0.87 without)."""
    out = {}
    for side, v in foot_deg.items():
        if v is not None:
            out[side] = float(v) + (yaw_deg if side == "left" else -yaw_deg)
    return out


def footprints_in(axes: np.ndarray) -> dict[str, float]:
    """The printed footprints' toe-out (degrees, + out) in a body frame whose axes (rows: forward,
    left, up) are given in the mat's frame: the mat calibration's world is the mat's, so the
    footprints and the knees share it, whatever error the body frame's yaw has."""
    from device.geometry import mat as matlib

    out = {}
    for side, d in matlib.feet_direction().items():
        b = np.asarray(axes) @ d
        ang = math.degrees(math.atan2(b[1], b[0]))  # + toward the person's left
        out[side] = ang if side == "left" else -ang
    return out


def knee_ratio(P: np.ndarray, side: str, toe_out_deg: float) -> np.ndarray:
    """The knee-to-ankle width ratio in 3-D, square to the foot: 1 + the knee's horizontal offset
    from the vertical plane along the foot through its ankle (outward +) over half the ankles'
    separation. 1 = the knee over the foot's line, as the 2-D ratio's 1 is the knee over the
    ankle; free of perspective, and knees over turned-out toes read 1 when the feet are known.
    Body-frame keypoints P (N, 17, 3): x forward, y left, z up."""
    hip, knee, ankle, sign = measures3d.LEGS[side]
    a = math.radians(toe_out_deg)
    n = np.array([-math.sin(a), sign * math.cos(a)])  # outward, square to the foot
    # the feet stay on the mat: each ankle's place is its median over the set (the far ankle's
    # point scatters most, and each frame's own would add its noise to every knee reading)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an ankle never seen: NaN
        feet = np.nanmedian(P[:, [ankle, measures3d.L_AN, measures3d.R_AN], :2], axis=0)
    lateral = (P[:, knee, :2] - feet[0]) @ n
    half = abs(feet[1, 1] - feet[2, 1]) / 2
    if not half > 0.03:
        return np.full(len(P), np.nan)
    return 1.0 + lateral / half


def _either(P: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mean of two keypoints per frame, either alone when the other is not valid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(P[:, [a, b]], axis=1)


def head(P: np.ndarray, trunk_deg: np.ndarray) -> dict[str, np.ndarray]:
    """The head's sagittal measures from either ear (the side camera rarely sees the far ear well
    enough to triangulate it; the ears differ in left-right only, which these do not use):
    `head_forward_of_trunk` the ear ahead of the trunk line in trunk lengths (the 2-D unit),
    `head_flexion_deg` the face (ear -> nose) pitched down against the trunk."""
    sh, hip = _either(P, 5, 6), _either(P, 11, 12)
    ear = _either(P, 3, 4)
    trunk_len = np.linalg.norm(sh - hip, axis=1)
    t = np.radians(trunk_deg)
    neck = ear - sh
    fwd = neck[:, 0] * np.cos(t) - neck[:, 2] * np.sin(t)
    face = P[:, 0] - ear
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"head_forward_of_trunk": fwd / trunk_len,
                "head_flexion_deg": np.degrees(np.arctan2(-face[:, 2], face[:, 0])) - trunk_deg}


def footprints_seen_from_front(calibration) -> dict[str, float]:
    """The printed footprints' toe-out as the front camera's silhouette reads a foot: from the
    camera's line of sight to the person standing on them (degrees, + out), so a foot on its
    print reads 0 against it however the front camera stands round the mat. Without a front camera
    in the calibration, the footprints' own toe-out (`mat_foot_deg`: a square front camera)."""
    from device.geometry import mat as matlib

    if calibration is None or "front" not in getattr(calibration, "views", {}):
        return mat_foot_deg()
    c = np.asarray(calibration.views["front"].camera.center, dtype=np.float64)
    return {side: -matlib.foot_turn_deg(side, (0.0, 0.0), c[:2] - _on_the_footprints())  # against the sight line
            for side in matlib.MAT.footprints}


def _on_the_footprints() -> np.ndarray:
    """Where a person on the footprints stands (mat frame, metres): the prints' middle."""
    from device.geometry import mat as matlib

    return np.mean([(np.asarray(fp.heel) + np.asarray(fp.toe)) / 2 for fp in matlib.MAT.footprints.values()], axis=0)


def side_round_from_mat(calibration) -> float | None:
    """How far the mat calibration's side camera stands round toward the front (degrees; 0 a square
    side view, negative round toward the back) of a person on the footprints, who faces the mat's
    +Y. None without a side camera."""
    if calibration is None or "side" not in getattr(calibration, "views", {}):
        return None
    c = np.asarray(calibration.views["side"].camera.center, dtype=np.float64)
    v = c[:2] - _on_the_footprints()
    return math.degrees(math.atan2(v[1], abs(v[0])))


def mat_foot_deg() -> dict[str, float]:
    """Toe-out of the printed footprints (degrees, + out), in the mat's frame: a person standing on
    them faces +Y; their right is +X (device/geometry/mat.py)."""
    from device.geometry import mat as matlib

    out = {}
    for side, d in matlib.feet_direction().items():
        ang = math.degrees(math.atan2(d[0], d[1]))  # from +Y towards +X (the person's right)
        out[side] = ang if side == "right" else -ang
    return out
