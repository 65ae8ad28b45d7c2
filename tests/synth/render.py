"""A synthetic squatter with known faults, rendered by the station's two fixed cameras.

Ground truth for `device.silhouette`: a 3-D body of capsules and boxes (feet with heel and toes,
a spine of eight segments with a lumbar and a thoracic curve, arms overhead) squats in front of a
static textured scene; a front and a side pinhole camera render it with lighting drift and
sensor noise. Faults of known size can be injected:

    foot_turn_deg   (left, right) degrees the feet turn during the squat; + = out, - = in
    heel_lift_cm    how far the heels leave the floor at the bottom
    lumbar_deg      change of the lumbar curve at the bottom; + = flexion (low back rounds),
                    - = extension (low back arches)

Every fault grows with squat depth: none when standing, full size at the bottom of each rep (the
NASM checkpoint is the feet and back changing *during* the squat).

World frame: metres, X to the person's right, Y forward (the way the person faces, towards the
front camera), Z up; the floor is Z = 0. The side camera stands on the person's right.

    spec = SquatSpec(reps=3, heel_lift_cm=4)
    synth = render_sequence(spec)          # frames around standing and each bottom, both views
    synth.frames["side"], synth.track, synth.rep_windows, synth.backgrounds

Body kinematics are written here (small and self-contained) so the silhouette tests do not
depend on the rules' stick figure. Rendering is numpy + OpenCV polygon fills: ~10 ms a frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from device.keypoints import KEYPOINT_NAMES
from device.track import Track, ViewTrack

# --- body dimensions (metres), an adult of about 1.75 m ---------------------------------------
SHANK = 0.43
THIGH = 0.45
TRUNK = 0.50  # hip-joint line to shoulder line along the spine
ANKLE_Z = 0.08  # ankle joint above the floor
ANKLE_X = 0.14  # half the stance width at the ankles
HIP_X = 0.10
SHOULDER_X = 0.18
REARFOOT = 0.18  # heel to the ball of the foot (MTP line)
TOES = 0.07
ANKLE_BEHIND_MTP = 0.13
SPINE_SEGMENTS = 8
LUMBAR_SEGMENTS = 4  # the lower half of the trunk bends for lumbar flexion/extension
# natural curves, degrees from the trunk line (+ = leaning forward): lordosis then kyphosis
SPINE_SHAPE_DEG = (8.0, 3.0, -3.0, -8.0, -8.0, -3.0, 3.0, 8.0)
TRUNK_RADII = (0.12, 0.11, 0.105, 0.105, 0.11, 0.12, 0.12, 0.11)

# --- cameras --------------------------------------------------------------------------------
CAMERAS = {
    # position, look-at point
    "front": ((0.0, 2.6, 0.95), (0.0, 0.0, 1.0)),
    "side": ((2.6, 0.0, 0.90), (0.0, 0.0, 1.0)),
}


@dataclass
class SquatSpec:
    reps: int = 3
    fps: float = 15.0
    stand_s: float = 1.2  # standing still before the first rep
    rep_s: float = 2.0  # down and up
    pause_s: float = 0.4  # standing between reps
    depth: float = 1.0  # 1 = thighs a little below parallel
    foot_turn_deg: tuple[float, float] = (0.0, 0.0)  # (left, right) during the squat; + = out
    foot_start_deg: tuple[float, float] = (4.0, 4.0)  # natural stance, slightly out
    foot_pivot: str = "ankle"  # the foot turns about the "ankle" or its "heel"
    heel_lift_cm: float = 0.0
    lumbar_deg: float = 0.0  # + flexion (rounds), - extension (arches)
    trunk_lean_deg: float = 38.0  # forward lean of the hip-shoulder line at the bottom
    arms: str = "overhead"  # or "hips": hands on the hips (the re-test), elbows out and back
    baggy: bool = False  # a loose top: hangs straight down from the shoulder blades when upright
    side_round_deg: float = 0.0  # the side camera this far round toward the front (0 = square side view)
    keypoint_noise_px: float = 1.0
    noise_sigma: float = 2.5  # sensor noise, grey levels
    lighting_drift: float = 0.04  # session lighting differs from the idle scene by up to this
    width: int = 640
    height: int = 480
    focal: float = 440.0
    seed: int = 0

    @property
    def duration(self) -> float:
        return self.stand_s + self.reps * (self.rep_s + self.pause_s) + 0.5

    def rep_windows(self) -> list[dict]:
        out = []
        for i in range(self.reps):
            start = self.stand_s + i * (self.rep_s + self.pause_s)
            out.append({"start": start, "bottom": start + self.rep_s / 2, "end": start + self.rep_s})
        return out

    def phase(self, t: float) -> float:
        """Squat depth in [0, 1] at time t: 0 standing, 1 at a rep's bottom."""
        for w in self.rep_windows():
            if w["start"] <= t <= w["end"]:
                x = (t - w["start"]) / self.rep_s
                return 0.5 - 0.5 * math.cos(2 * math.pi * x)
        return 0.0


# --- kinematics -----------------------------------------------------------------------------


def _rot_yz(angle: float) -> np.ndarray:
    """Unit vector in the sagittal plane, `angle` radians from vertical towards +Y."""
    return np.array([0.0, math.sin(angle), math.cos(angle)])


@dataclass
class Body:
    joints: dict[str, np.ndarray]
    capsules: list[tuple[np.ndarray, np.ndarray, float, str]]  # p1, p2, radius, material
    polygons: list[tuple[np.ndarray, str]]  # (N, 3) flat cloth, material
    boxes: list[tuple[np.ndarray, str]]  # (8, 3) corners, material
    spheres: list[tuple[np.ndarray, float, str]]
    floor_marks: list[np.ndarray] = field(default_factory=list)  # floor points for shadows


def _fwd(side: int, yaw: float) -> np.ndarray:
    return np.array([side * math.sin(yaw), math.cos(yaw), 0.0])


def _foot(side: int, yaw: float, lift_m: float, heel_pivot: float | None = None):
    """Foot boxes and ankle position; side +1 right, -1 left; yaw + = toes out. With
    `heel_pivot` (the stance's yaw) the foot turns about its heel, else about the ankle."""
    ankle0 = np.array([side * ANKLE_X, 0.0, ANKLE_Z])
    fwd = _fwd(side, yaw)
    if heel_pivot is not None:
        heel = ankle0 - _fwd(side, heel_pivot) * (REARFOOT - ANKLE_BEHIND_MTP)
        ankle0 = heel + fwd * (REARFOOT - ANKLE_BEHIND_MTP)
    lat = np.array([fwd[1], -fwd[0], 0.0]) * side  # towards the little toe (outwards)
    up = np.array([0.0, 0.0, 1.0])
    mtp = ankle0 - up * ANKLE_Z + fwd * ANKLE_BEHIND_MTP  # ball of the foot, on the floor
    phi = math.asin(min(lift_m / REARFOOT, 0.9))

    def rear(a, w, z):  # a along the foot (negative = behind MTP), w across, z up; pitched
        f = a * math.cos(phi) + z * math.sin(phi)
        h = -a * math.sin(phi) + z * math.cos(phi)
        return mtp + fwd * f + lat * w + up * h

    def flat(a, w, z):
        return mtp + fwd * a + lat * w + up * z

    rear_box = np.array(
        [rear(a, w, z) for a in (-REARFOOT, 0.0) for w in (-0.045, 0.045) for z in (0.0, 0.065)]
    )
    toe_box = np.array([flat(a, w, z) for a in (0.0, TOES) for w in (-0.045, 0.04) for z in (0.0, 0.03)])
    ankle = rear(-ANKLE_BEHIND_MTP, 0.0, ANKLE_Z)
    heel = rear(-REARFOOT, 0.0, 0.0)
    return ankle, [rear_box, toe_box], [heel, mtp, flat(TOES, 0, 0)]


def body_at(spec: SquatSpec, t: float) -> Body:
    s = spec.phase(t) * spec.depth
    j: dict[str, np.ndarray] = {}
    caps, boxes, spheres, marks = [], [], [], []
    shank_a = math.radians(38.0) * s
    thigh_a = math.radians(100.0) * s
    hips_yz = []
    for side, name in ((1, "right"), (-1, "left")):
        turn = spec.foot_turn_deg[0 if side < 0 else 1] * s + spec.foot_start_deg[0 if side < 0 else 1]
        start = math.radians(spec.foot_start_deg[0 if side < 0 else 1])
        ankle, fboxes, fmarks = _foot(side, math.radians(turn), spec.heel_lift_cm / 100.0 * s,
                                      start if spec.foot_pivot == "heel" else None)
        knee = ankle + SHANK * _rot_yz(shank_a)
        hip = knee + THIGH * np.array([0.0, -math.sin(thigh_a), math.cos(thigh_a)])
        knee[0] = (ankle[0] + side * HIP_X) / 2
        j[f"{name}_ankle"], j[f"{name}_knee"] = ankle, knee
        hips_yz.append(hip[1:])
        boxes += [(b, "shoe") for b in fboxes]
        marks += fmarks
    hyz = np.mean(hips_yz, axis=0)
    for side, name in ((1, "right"), (-1, "left")):
        j[f"{name}_hip"] = np.array([side * HIP_X, hyz[0], hyz[1]])
        caps.append((j[f"{name}_hip"], j[f"{name}_knee"], 0.075, "shorts"))
        caps.append((j[f"{name}_knee"], j[f"{name}_ankle"], 0.05, "skin"))
    caps.append((j["left_hip"], j["right_hip"], 0.12, "shorts"))

    # spine: 8 segments with the natural S, lumbar bend growing with depth, then turned so the
    # hip-to-shoulder line leans by the trunk angle (the lean the keypoints see stays the same)
    lean = math.radians(3.0 + (spec.trunk_lean_deg - 3.0) * s)
    bend = spec.lumbar_deg * s
    angles = []
    for i, base in enumerate(SPINE_SHAPE_DEG):
        extra = bend * min((i + 0.5) / LUMBAR_SEGMENTS, 1.0)
        angles.append(math.radians(base + extra))
    seg = TRUNK / SPINE_SEGMENTS
    pts = [np.zeros(2)]
    for a in angles:
        pts.append(pts[-1] + seg * np.array([math.sin(a), math.cos(a)]))
    pts = np.array(pts)
    chord = pts[-1]
    turn = lean - math.atan2(chord[0], chord[1])
    c, sn = math.cos(turn), math.sin(turn)
    pts = pts @ np.array([[c, -sn], [sn, c]])  # rotate (y, z) forward by `turn`
    base = np.array([0.0, hyz[0], hyz[1]])
    spine = [base + np.array([0.0, p[0], p[1]]) for p in pts]
    for i in range(SPINE_SEGMENTS):
        for dx in (-0.07, 0.07):
            off = np.array([dx, 0.0, 0.0])
            caps.append((spine[i] + off, spine[i + 1] + off, TRUNK_RADII[i], "shirt"))
    polys = []
    if spec.baggy:
        # the top's back panel: from the shoulder blades to the hem, hanging straight down where
        # the back curves away from it (upright), lying on the back where it leans forward
        back = np.array([0.0, -math.cos(lean), math.sin(lean)])
        surf = [spine[i] + back * (TRUNK_RADII[min(i, SPINE_SEGMENTS - 1)] + 0.012) for i in range(SPINE_SEGMENTS)]
        u_pt, hem = surf[6], surf[1]
        drop = np.array([0.0, u_pt[1], hem[2]])
        if drop[1] < hem[1]:
            hem = drop
        for dx in (0.09,):
            off = np.array([dx, 0.0, 0.0])
            polys.append((np.array([u_pt, hem] + [spine[i] for i in (1, 3, 5, 6)]) + off, "shirt"))
    top = spine[-1]
    tdir = (spine[-1] - spine[-3]) / np.linalg.norm(spine[-1] - spine[-3])
    for side, name in ((1, "right"), (-1, "left")):
        j[f"{name}_shoulder"] = top + np.array([side * SHOULDER_X, 0.0, -0.02])
    caps.append((j["left_shoulder"], j["right_shoulder"], 0.065, "shirt"))
    head = top + 0.24 * (tdir + np.array([0.0, 0.08, 0.0]))
    caps.append((top, head, 0.055, "skin"))
    spheres.append((head, 0.10, "skin"))
    fwd = np.array([0.0, math.cos(lean), -math.sin(lean) * 0.3])
    j["nose"] = head + 0.10 * fwd / np.linalg.norm(fwd)
    for side, name in ((1, "right"), (-1, "left")):
        j[f"{name}_eye"] = head + np.array([side * 0.033, 0.085, 0.035])
        j[f"{name}_ear"] = head + np.array([side * 0.075, 0.0, 0.0])
        if spec.arms == "hips":  # hands on the hips: elbows out to the side and back
            j[f"{name}_wrist"] = j[f"{name}_hip"] + np.array([side * 0.13, -0.02, 0.06])
            d = np.array([side * 0.55, -0.55, -0.62])
            j[f"{name}_elbow"] = j[f"{name}_shoulder"] + 0.30 * d / np.linalg.norm(d)
            d = j[f"{name}_wrist"] - j[f"{name}_elbow"]
            d /= np.linalg.norm(d)
        else:  # arms overhead: up, a little forward with the trunk, a little outward
            arm = math.radians(10.0) + lean * 0.6
            d = np.array([side * math.sin(math.radians(12)), math.sin(arm), math.cos(arm)])
            d /= np.linalg.norm(d)
            j[f"{name}_elbow"] = j[f"{name}_shoulder"] + 0.30 * d
            j[f"{name}_wrist"] = j[f"{name}_elbow"] + 0.27 * d
        caps.append((j[f"{name}_shoulder"], j[f"{name}_elbow"], 0.045, "skin"))
        caps.append((j[f"{name}_elbow"], j[f"{name}_wrist"], 0.037, "skin"))
        spheres.append((j[f"{name}_wrist"] + 0.06 * d, 0.045, "skin"))
    return Body(j, caps, polys, boxes, spheres, marks)


KEYPOINT_ORDER = KEYPOINT_NAMES


# --- cameras and rendering ------------------------------------------------------------------


class Camera:
    def __init__(self, view: str, spec: SquatSpec):
        pos, look = CAMERAS[view]
        self.c = np.array(pos, dtype=float)
        if view == "side" and spec.side_round_deg:  # turned about the vertical toward the front (+Y)
            a = math.radians(spec.side_round_deg)
            self.c[:2] = (math.cos(a) * self.c[0], math.sin(a) * self.c[0])
        fwd = np.array(look) - self.c
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        self.r = np.stack([right, down, fwd])
        self.f = spec.focal
        self.cx, self.cy = spec.width / 2, spec.height / 2

    def project(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions (..., 2) and depths (...) of world points (..., 3)."""
        q = (np.asarray(p, dtype=float) - self.c) @ self.r.T
        z = q[..., 2]
        uv = np.stack([self.f * q[..., 0] / z + self.cx, self.f * q[..., 1] / z + self.cy], axis=-1)
        return uv, z


SHIFT = 4  # sub-pixel precision of the polygon fills
_S = 1 << SHIFT


def _fix(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts) * _S).astype(np.int32)


def _scene(spec: SquatSpec, view: str) -> np.ndarray:
    """The empty scene of one camera (float32 RGB 0..255), fixed per seed and view."""
    rng = np.random.default_rng([spec.seed, 0 if view == "front" else 1])
    h, w = spec.height, spec.width
    cam = Camera(view, spec)
    # the wall meets the floor 1.6 m behind the person
    back = np.array([0.0, -1.6, 0.0]) if view == "front" else np.array([-1.6, 0.0, 0.0])
    horizon = int(np.clip(cam.project(back)[0][1], h * 0.3, h * 0.9))
    wall = rng.uniform(120, 200, 3)
    floor = rng.uniform(70, 140, 3)
    small = rng.normal(0, 10, (h // 40 + 1, w // 40 + 1, 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img[:horizon] += wall
    img[horizon:] += floor
    for _ in range(6):  # posters, racks and mats
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 30))
        cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(15, 90))),
                      tuple(float(v) for v in rng.uniform(40, 230, 3)), -1)
    for x in range(int(rng.integers(0, 60)), w, 60):  # floor boards
        cv2.line(img, (x, horizon), (int(w / 2 + (x - w / 2) * 3), h), tuple(float(v) for v in floor * 0.85), 1)
    fine = rng.normal(0, 6, (h, w, 3)).astype(np.float32)  # texture
    return np.clip(img + fine, 0, 255).astype(np.float32)


_SCENES: dict[tuple, np.ndarray] = {}
_MATERIALS: dict[tuple, dict] = {}


def scene(spec: SquatSpec, view: str) -> np.ndarray:
    key = (spec.seed, view, spec.width, spec.height, spec.focal)
    if key not in _SCENES:
        if len(_SCENES) >= 8:  # a few scenes at a time: an evaluation renders hundreds
            _SCENES.clear()
            _MATERIALS.clear()
        _SCENES[key] = _scene(spec, view)
    return _SCENES[key]


def _materials(spec: SquatSpec, bg_mean: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([spec.seed, 7])
    out = {"skin": np.array(rng.choice([(224, 172, 140), (190, 130, 95), (140, 95, 70)]), float)}
    for name in ("shirt", "shorts", "shoe"):
        for _ in range(50):  # clothes that a camera can tell from this gym's walls and floor
            c = rng.uniform(10, 245, 3)
            if np.linalg.norm(c - bg_mean) > 70:
                break
        out[name] = c
    return out


def _noise(rng: np.random.Generator, spec: SquatSpec) -> np.ndarray:
    out = np.empty((spec.height, spec.width, 3), np.float32)
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    cv2.randn(out, (0.0, 0.0, 0.0), (spec.noise_sigma,) * 3)  # 5x faster than numpy's normal
    return out


def render(spec: SquatSpec, view: str, t: float | None, rng: np.random.Generator,
           gain: float = 1.0) -> np.ndarray:
    """One RGB uint8 frame of `view` at time t; t=None renders the empty scene."""
    cam = Camera(view, spec)
    bg = scene(spec, view)
    if t is None:
        img = bg * gain + _noise(rng, spec)
        return np.clip(img, 0, 255).astype(np.uint8)
    body = body_at(spec, t)
    # contact shadows on the floor around each foot and under the body
    shade = np.ones(bg.shape[:2], np.float32)
    for p in body.floor_marks:
        ring = np.array([p + 0.09 * np.array([math.cos(a), math.sin(a), 0.0]) for a in np.linspace(0, 6.28, 12)])
        uv, _ = cam.project(ring)
        cv2.fillConvexPoly(shade, _fix(uv), 0.72, cv2.LINE_AA, SHIFT)
    shade = cv2.GaussianBlur(shade, (0, 0), 2.0)
    img = bg * shade[..., None]
    key = (spec.seed, view)
    if key not in _MATERIALS:
        _MATERIALS[key] = _materials(spec, bg.reshape(-1, 3).mean(0))
    mats = _MATERIALS[key]
    prims = []  # (depth, kind, data, colour)
    for p1, p2, r, m in body.capsules:
        (uv, z) = cam.project(np.stack([p1, p2]))
        prims.append((float(z.mean()), "capsule", (uv, spec.focal * r / z), m))
    for corners, m in body.boxes:
        uv, z = cam.project(corners)
        prims.append((float(z.mean()), "poly", uv, m))
    for p, r, m in body.spheres:
        uv, z = cam.project(p)
        prims.append((float(z), "circle", (uv, spec.focal * r / z), m))
    for pts, m in body.polygons:
        uv, z = cam.project(pts)
        prims.append((float(z.min()) - 0.2, "cloth", uv, m))  # drawn over the trunk it hangs on
    prims.sort(key=lambda q: -q[0])  # painter: far first
    for i, (_, kind, data, m) in enumerate(prims):
        colour = tuple(float(v) for v in mats[m] * (0.92 + 0.08 * ((i * 37) % 5) / 4))
        if kind == "capsule":
            uv, rad = data
            d = uv[1] - uv[0]
            n = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
            quad = np.array([uv[0] + n * rad[0], uv[1] + n * rad[1], uv[1] - n * rad[1], uv[0] - n * rad[0]])
            cv2.fillConvexPoly(img, _fix(quad), colour, cv2.LINE_AA, SHIFT)
            for k in range(2):
                cv2.circle(img, tuple(int(v) for v in _fix(uv[k])), int(rad[k] * _S), colour, -1, cv2.LINE_AA, SHIFT)
        elif kind == "cloth":
            cv2.fillPoly(img, [_fix(data).reshape(-1, 1, 2)], colour, cv2.LINE_AA, SHIFT)
        elif kind == "poly":
            hull = cv2.convexHull(_fix(data).reshape(-1, 1, 2))
            cv2.fillConvexPoly(img, hull, colour, cv2.LINE_AA, SHIFT)
        else:
            uv, rad = data
            cv2.circle(img, tuple(int(v) for v in _fix(uv)), int(rad * _S), colour, -1, cv2.LINE_AA, SHIFT)
    img = img * gain + _noise(rng, spec)
    return np.clip(img, 0, 255).astype(np.uint8)


def keypoints(spec: SquatSpec, view: str, t: float, rng: np.random.Generator) -> np.ndarray:
    """(17, 3) COCO-17 keypoints (pixels, score) of the known joints, with a little noise."""
    cam = Camera(view, spec)
    body = body_at(spec, t)
    pts = np.stack([body.joints[n] for n in KEYPOINT_ORDER])
    uv, _ = cam.project(pts)
    uv = uv + rng.normal(0.0, spec.keypoint_noise_px, uv.shape)
    score = rng.uniform(0.8, 0.95, (len(KEYPOINT_ORDER), 1))
    return np.concatenate([uv, score], axis=1)


@dataclass
class Synth:
    spec: SquatSpec
    frames: dict[str, list[tuple[float, np.ndarray]]]
    track: Track
    rep_windows: list[dict]
    backgrounds: dict[str, list[np.ndarray]]  # empty-scene frames (idle), a few per view


def frame_times(spec: SquatSpec, around_s: float = 0.15) -> list[float]:
    """Times of the frames the silhouette layer looks at: standing ones and around each bottom."""
    step = 1.0 / spec.fps
    all_t = np.arange(0.0, spec.duration, step)
    keep = all_t < spec.stand_s  # standing before the first rep
    for w in spec.rep_windows():
        keep |= np.abs(all_t - w["bottom"]) <= around_s + 1e-9
        keep |= (all_t > w["end"]) & (all_t < w["end"] + spec.pause_s)
    return [float(t) for t in all_t[keep]]


def render_sequence(spec: SquatSpec, views=("front", "side"), times: list[float] | None = None,
                    idle_frames: int = 5) -> Synth:
    """Frames (at `times`, default `frame_times`), a full keypoint track and idle scene frames."""
    rng = np.random.default_rng([spec.seed, 99])
    session_gain = 1.0 + rng.uniform(-spec.lighting_drift, spec.lighting_drift)
    all_t = np.arange(0.0, spec.duration, 1.0 / spec.fps)
    times = frame_times(spec) if times is None else times
    frames, views_kp, backgrounds = {}, {}, {}
    for view in views:
        frames[view] = [
            (t, render(spec, view, t, rng, session_gain * (1 + 0.008 * math.sin(3 * t)))) for t in times
        ]
        kps = np.stack([keypoints(spec, view, float(t), rng) for t in all_t])
        views_kp[view] = ViewTrack(spec.width, spec.height, spec.fps, all_t.copy(), kps)
        backgrounds[view] = [render(spec, view, None, rng) for _ in range(idle_frames)]
    return Synth(spec, frames, Track(views_kp), spec.rep_windows(), backgrounds)


def learned_backgrounds(seq) -> dict:
    """Each view's BackgroundModel image after the sequence's empty-scene frames, as the station
    learns it while idle."""
    from device.silhouette import BackgroundModel

    out = {}
    for view, images in seq.backgrounds.items():
        model = BackgroundModel()
        for im in images:
            model.update(im)
        out[view] = model.image
    return out
