"""The station's calibration: both cameras in the mat's metric frame, the floor as a plane.

Made by `ohsa calibrate` from a still of each camera with the mat in view (`calibrate`), stored
as JSON (`ohsa-calibration/1`, written atomically), loaded with `load` (one clear error for a
missing, unreadable or foreign file), and checked now and then while the station is idle
(`recheck`). The frame is the mat's (`device.geometry.mat`): metres, X to the right of a person
on the footprints, Y towards the front camera, Z up, floor Z = 0.

What the mat adds for measurements in 3-D (docs/calibration.md):

    floor_plane(cal)                       (normal, d): n . X = d in the mat frame; the floor
    floor_point(camera, uv)                the floor point (X, Y, 0) seen at a pixel
    height_above_floor(camera, floor_uv, top_uv)  metres between a floor point and a point
                                           straight above it (a person's height from one view)
    baseline_m(cal) / metric_scale(cal, b) the cameras' distance in metres; metres per unit of a
                                           person-based calibration whose baseline is b units
    mat.feet_direction(), mat.feet_distance_m(), mat.foot_turn_deg(...)   the printed feet
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device import atomic
from device.errors import InputError
from device.geometry import mat as matlib
from device.geometry.camera import Camera, Intrinsics

FORMAT = "ohsa-calibration/1"
RECHECK = {
    # a camera whose markers sit further than this from where the calibration puts them has
    # moved (median over the markers seen; pixels of the still, scaled to its width / 1000)
    "moved_px_per_1000": 2.0,
    "min_markers_to_judge": 2,  # fewer markers seen (someone on the mat): no verdict
}


class CalibrationError(InputError):
    """A calibration file that cannot be used, or stills that cannot give one."""


@dataclass(frozen=True)
class ViewCalibration:
    camera: Camera
    markers: tuple[int, ...]  # marker ids the pose was solved from
    rms_px: float
    focal_model: float  # the camera model's focal length before the mat refined it (pixels)

    def to_json(self) -> dict:
        k = self.camera.intrinsics
        return {
            "width": k.width, "height": k.height, "f": k.f, "cx": k.cx, "cy": k.cy,
            "hfov_deg": k.hfov_deg, "focal_model": self.focal_model,
            "R": self.camera.R.tolist(), "t": self.camera.t.tolist(),
            "center": self.camera.center.tolist(),
            "markers": list(self.markers), "rms_px": self.rms_px,
        }

    @classmethod
    def from_json(cls, d: dict) -> ViewCalibration:
        k = Intrinsics(int(d["width"]), int(d["height"]), float(d["f"]), float(d["cx"]), float(d["cy"]))
        R = np.array(d["R"], dtype=np.float64)
        t = np.array(d["t"], dtype=np.float64)
        if R.shape != (3, 3) or t.shape != (3,) or not np.all(np.isfinite(R)) or not np.all(np.isfinite(t)):
            raise ValueError("R must be 3x3 and t 3 numbers")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
            raise ValueError("R is not a rotation")
        return cls(Camera(k, R, t), tuple(int(i) for i in d["markers"]), float(d["rms_px"]), float(d["focal_model"]))


@dataclass(frozen=True)
class Calibration:
    views: dict[str, ViewCalibration]
    mat: str = matlib.MAT.name
    created: float = field(default_factory=time.time)  # unix seconds

    def camera(self, view: str) -> Camera:
        return self.views[view].camera

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "mat": self.mat,
            "frame": "mat: metres, X right of a person on the footprints, Y towards the front camera, Z up",
            "floor": {"normal": [0.0, 0.0, 1.0], "d": 0.0},
            "created": self.created,
            "views": {v: c.to_json() for v, c in self.views.items()},
        }

    @classmethod
    def from_json(cls, data, where: str = "calibration") -> Calibration:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            tag = data.get("format") if isinstance(data, dict) else None
            raise CalibrationError(f"{where}: not an {FORMAT} file (format {tag!r})")
        if data.get("mat") != matlib.MAT.name:
            raise CalibrationError(f"{where}: made with mat {data.get('mat')!r}, this station uses {matlib.MAT.name!r}: "
                                   "run `ohsa calibrate` again")
        views = {}
        for view, d in (data.get("views") or {}).items():
            try:
                views[view] = ViewCalibration.from_json(d)
            except (KeyError, TypeError, ValueError) as e:
                raise CalibrationError(f"{where}: views.{view}: {e.__class__.__name__} {e}") from None
        if not views:
            raise CalibrationError(f"{where}: no camera in it")
        return cls(views, data["mat"], float(data.get("created", 0.0)))


def save(cal: Calibration, path: str | Path) -> None:
    atomic.write_text(path, json.dumps(cal.to_json(), indent=1) + "\n")


def load(path: str | Path) -> Calibration:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no calibration file (run `ohsa calibrate`)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{path}: cannot read ({e.__class__.__name__})") from None
    except json.JSONDecodeError as e:
        raise CalibrationError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    return Calibration.from_json(data, str(path))


# --- making and checking it ---------------------------------------------------------------------


def calibrate(stills: dict[str, np.ndarray], intrinsics: dict[str, Intrinsics]) -> Calibration:
    """A calibration from one still per view (RGB uint8, full resolution) and each view's camera
    model at that resolution. Raises MatError naming the view and what to do."""
    views = {}
    for view, image in stills.items():
        det = matlib.detect(image)
        fit = matlib.solve_pose(det, intrinsics[view], view=f"{view} camera")
        views[view] = ViewCalibration(fit.camera, fit.markers, fit.rms_px, fit.focal_model)
    return Calibration(views)


def _camera_for(cal_view: ViewCalibration, width: int, height: int, view: str) -> Camera:
    """The calibrated camera for a still of another size (same sensor, scaled)."""
    cam = cal_view.camera
    k = cam.intrinsics
    if (width, height) == (k.width, k.height):
        return cam
    s = width / k.width
    if abs(height - k.height * s) > 1.0:
        raise CalibrationError(f"{view} still {width}x{height}: not the calibration's shape "
                               f"{k.width}x{k.height} (a different aspect ratio)")
    return Camera(k.scaled(s), cam.R, cam.t)


@dataclass(frozen=True)
class ViewCheck:
    view: str
    status: str  # "ok" | "moved" | "recalibrated" | "unknown"
    markers: int  # seen in the still
    shift_px: float | None  # median marker shift from the calibration, pixels of the still
    message: str


@dataclass(frozen=True)
class Verdict:
    views: dict[str, ViewCheck]
    calibration: Calibration | None  # a new one when a moved camera could be recalibrated

    @property
    def moved(self) -> bool:
        return any(v.status in ("moved", "recalibrated") for v in self.views.values())

    @property
    def usable(self) -> bool:
        """False when a camera moved and could not be recalibrated: do not use the stored one."""
        return not any(v.status == "moved" for v in self.views.values())

    @property
    def message(self) -> str:
        return "; ".join(v.message for v in self.views.values())


def recheck(calibration: Calibration, stills: dict[str, np.ndarray]) -> Verdict:
    """Re-detect the mat in fresh stills: has a camera moved since `calibration`?

    Per view: "ok" (markers where they should be), "moved" (markers shifted beyond
    RECHECK["moved_px_per_1000"], too few seen to solve again: the stored calibration no longer
    holds for this camera), "recalibrated" (moved, and solved again from this still: the verdict's
    `calibration` holds the new one) or "unknown" (too few markers to judge, e.g. someone on the
    mat: try again later). Views without a still are left out."""
    checks: dict[str, ViewCheck] = {}
    new_views = dict(calibration.views)
    changed = False
    for view, image in stills.items():
        if view not in calibration.views:
            continue
        h, w = image.shape[:2]
        cam = _camera_for(calibration.views[view], w, h, view)
        det = matlib.detect(image)
        shifts = matlib.reprojection(cam, det)
        if len(shifts) < RECHECK["min_markers_to_judge"]:
            checks[view] = ViewCheck(view, "unknown", len(det), None,
                                     f"{view} camera: only {len(det)} markers in view, cannot tell (mat covered?)")
            continue
        shift = float(np.median(list(shifts.values())))
        tol = RECHECK["moved_px_per_1000"] * w / 1000.0
        if shift <= tol:
            checks[view] = ViewCheck(view, "ok", len(det), shift, f"{view} camera: in place ({shift:.1f} px)")
            continue
        try:
            fit = matlib.solve_pose(det, cam.intrinsics, view=f"{view} camera")
        except matlib.MatError as e:
            checks[view] = ViewCheck(view, "moved", len(det), shift,
                                     f"{view} camera has moved ({shift:.0f} px) and cannot be recalibrated: {e}")
            continue
        new_views[view] = ViewCalibration(fit.camera, fit.markers, fit.rms_px, fit.focal_model)
        changed = True
        checks[view] = ViewCheck(view, "recalibrated", len(det), shift,
                                 f"{view} camera had moved ({shift:.0f} px): recalibrated on the mat")
    new = Calibration(new_views, calibration.mat) if changed else None
    return Verdict(checks, new)


# --- what the mat adds ----------------------------------------------------------------------------


def floor_plane(cal: Calibration | None = None) -> tuple[np.ndarray, float]:
    """The floor as (unit normal, d) with n . X = d, in the mat frame: the mat is the floor."""
    return np.array([0.0, 0.0, 1.0]), 0.0


def floor_point(camera: Camera, uv) -> np.ndarray:
    """The floor point (X, Y, 0) seen at pixel(s) `uv` (..., 2); NaN where the ray misses the floor."""
    uv = np.asarray(uv, dtype=np.float64)
    k = camera.intrinsics
    rays = np.stack([(uv[..., 0] - k.cx) / k.f, (uv[..., 1] - k.cy) / k.f, np.ones(uv.shape[:-1])], -1)
    d = rays @ camera.R  # camera -> world directions (R.T @ ray)
    c = camera.center
    with np.errstate(divide="ignore", invalid="ignore"):
        s = -c[2] / d[..., 2]
    s = np.where(s > 0, s, np.nan)
    return c + s[..., None] * d


def height_above_floor(camera: Camera, floor_uv, top_uv) -> float:
    """Metres from a floor point (e.g. between the heels) to a point straight above it (the top
    of the head) from one calibrated view: the vertical line through the floor point that best
    meets the ray to `top_uv`."""
    base = floor_point(camera, floor_uv)
    if not np.all(np.isfinite(base)):
        return float("nan")
    k = camera.intrinsics
    ray = camera.R.T @ np.array([(top_uv[0] - k.cx) / k.f, (top_uv[1] - k.cy) / k.f, 1.0])
    c = camera.center
    # closest approach of the ray c + s * ray to the vertical line base + z * (0, 0, 1)
    horiz = ray[:2]
    s = float(horiz @ (base[:2] - c[:2]) / (horiz @ horiz)) if horiz @ horiz > 1e-12 else float("nan")
    return float(c[2] + s * ray[2])


def baseline_m(cal: Calibration, a: str = "front", b: str = "side") -> float:
    """Distance between two calibrated cameras, metres."""
    return float(np.linalg.norm(cal.camera(a).center - cal.camera(b).center))


def metric_scale(cal: Calibration, baseline_units: float, a: str = "front", b: str = "side") -> float:
    """Metres per unit of a calibration known only up to scale (e.g. from the person) whose
    cameras are `baseline_units` apart: multiply its lengths by this."""
    if not baseline_units > 0 or not math.isfinite(baseline_units):
        raise ValueError(f"baseline must be a positive length, got {baseline_units!r}")
    return baseline_m(cal, a, b) / baseline_units


def relative_pose(cal: Calibration, a: str = "front", b: str = "side") -> tuple[np.ndarray, np.ndarray]:
    """(R, t) taking camera `a`'s frame to camera `b`'s: x_b = R @ x_a + t (metres)."""
    ca, cb = cal.camera(a), cal.camera(b)
    R = cb.R @ ca.R.T
    return R, cb.t - R @ ca.t


def describe(cal: Calibration) -> list[str]:
    """Each camera's place in plain words: "side camera: 3.1 m from the mat, lens 0.92 m high,
    42 degrees round from the person's right toward the front"."""
    out = []
    for view, vc in cal.views.items():
        c = vc.camera.center
        az = math.degrees(math.atan2(c[1], c[0]))
        fwd = vc.camera.R[2]
        pitch = math.degrees(math.asin(float(np.clip(-fwd[2], -1, 1))))
        side = "right" if abs(az) < 90 else "left"
        round_deg = abs(az) if side == "right" else 180 - abs(az)
        if abs(az - 90) < 2:
            where = "straight in front of the person"
        else:
            where = f"{round_deg:.0f} degrees round from the person's {side} toward the {'front' if az >= 0 else 'back'}"
        out.append(f"{view} camera: {math.hypot(c[0], c[1]):.2f} m from the mat centre, lens {c[2]:.2f} m high, "
                   f"{where}, looking {abs(pitch):.1f} degrees {'down' if pitch >= 0 else 'up'}; "
                   f"{len(vc.markers)} markers, {vc.rms_px:.2f} px, field of view {vc.camera.intrinsics.hfov_deg:.1f} deg")
    return out
