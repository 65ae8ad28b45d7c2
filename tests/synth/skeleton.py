"""A 3-D stick figure doing overhead squats, projected into front and side pinhole cameras.

This is the rule engine's ground truth: compensations are injected with known magnitudes, the
figure is filmed by cameras at varied distances, heights, resolutions and frame rates, and the
2-D keypoints get MoveNet-like noise, temporally correlated jitter, outliers, lower scores on
the far side of a side view and at the bottom of the squat, dropped frames and a clock offset
between the cameras. The result is a `device.track.Track`, exactly what the rules consume.

World coordinates (metres), fixed to the person:

    x  towards the person's LEFT      y  up (floor at y = 0)      z  the way the person faces

with the origin on the floor midway between the ankles. `joint_positions(body, movement,
phase)` gives the COCO-17 joints in these coordinates; it is public so other generators (the
silhouette renderer) can reuse the same kinematics.

Kinematics, per frame, from the squat phase p (0 standing, about 1 at the bottom):
shin angle from vertical = p * body.shin_max; thigh angle = p * body.thigh_max; the trunk is
parallel to the shin plus a small personal offset; arms overhead in line with the trunk; head
in line with the trunk. Segment lengths are kept in the sagittal plane; sideways knee motion
(valgus/varus) moves the knee only in x. Proportions after Winter (Biomechanics and Motor
Control of Human Movement), except the shoulder points: with the arms overhead MoveNet puts
them about 0.18 H apart (measured on ../shared/data/overhead-squat-pair/front.mov), not at the
acromion width 0.259 H. Ankle 0.039 H, shank 0.246 H, thigh 0.245 H, trunk (hip to
shoulder) 0.288 H, upper arm 0.186 H, forearm 0.146 H.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from device.keypoints import BodyPart as B
from device.track import Track, ViewTrack

# Compensation magnitudes the generator can inject, in the units of `Movement.compensations`:
# "borderline" sits about at the rule engine's default threshold (so either verdict is fair),
# "clear" is what a trainer would call without hesitation.
AMPLITUDES: dict[str, dict] = {
    "knees_cave_in": {"unit": "knee moves medially at the bottom, fraction of height", "borderline": 0.03, "clear": 0.055},
    "knees_push_out": {"unit": "knee moves laterally at the bottom, fraction of height", "borderline": 0.03, "clear": 0.06},
    "asymmetric_weight_shift": {"unit": "pelvis shifts sideways at the bottom, fraction of height", "borderline": 0.025, "clear": 0.06},
    "excessive_forward_lean": {"unit": "extra trunk lean at the bottom, degrees", "borderline": 22.0, "clear": 38.0},
    "arms_fall_forward": {"unit": "arms rotate forward of the trunk line at the bottom, degrees", "borderline": 22.0, "clear": 42.0},
    "head_forward": {"unit": "neck tips forward of the trunk line at the bottom, degrees", "borderline": 18.0, "clear": 38.0},
    "head_down": {"unit": "head flexes down at the bottom, degrees", "borderline": 22.0, "clear": 42.0},
    "heels_rise": {"unit": "ankle rises at the bottom, fraction of height", "borderline": 0.014, "clear": 0.028},
}
SIDED = {"knees_cave_in", "knees_push_out", "asymmetric_weight_shift"}


@dataclass
class Body:
    """Proportions (fractions of height) and personal movement style."""

    height: float = 1.75  # metres
    ankle: float = 0.039
    shank: float = 0.246
    thigh: float = 0.245
    trunk: float = 0.288
    shoulder_half: float = 0.09  # MoveNet's shoulder points with the arms overhead (real clip: 0.64 trunk)
    hip_half: float = 0.07  # where COCO annotators put the hip points, a little wide of the joint
    upper_arm: float = 0.186
    forearm: float = 0.146
    neck: float = 0.107  # shoulder midpoint to the head centre (ear level)
    stance_half: float = 0.13  # ankles about shoulder width apart
    shin_max: float = 35.0  # degrees of shin lean at the bottom
    thigh_max: float = 80.0  # degrees of thigh from vertical at the bottom (chair depth)
    trunk_offset: float = 0.0  # trunk minus shin angle at the bottom of a good rep, degrees
    arm_offset: float = 0.0  # arms forward of the trunk line in a good rep, degrees
    neck_offset: float = 3.0  # degrees, standing posture
    face_offset: float = 5.0  # degrees the face points down when standing
    knee_track: float = 1.0  # knee half-width over ankle half-width at the bottom of a good rep

    @classmethod
    def random(cls, rng: np.random.Generator) -> Body:
        s = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
        j = lambda v: v * s(0.95, 1.05)  # noqa: E731
        b = cls()
        return replace(
            b, height=s(1.55, 1.95), ankle=j(b.ankle), shank=j(b.shank), thigh=j(b.thigh),
            trunk=j(b.trunk), shoulder_half=j(b.shoulder_half), hip_half=j(b.hip_half),
            upper_arm=j(b.upper_arm), forearm=j(b.forearm), neck=j(b.neck),
            stance_half=b.stance_half * s(0.88, 1.15), shin_max=s(30, 40), thigh_max=s(72, 88),
            trunk_offset=s(-5, 7), arm_offset=s(-6, 8), neck_offset=s(-3, 8),
            face_offset=s(-5, 15), knee_track=s(0.95, 1.08),
        )  # fmt: skip


@dataclass
class Movement:
    """The set: timing, depth and injected compensations.

    `compensations` maps a compensation id to `(amount, side)` in the units of `AMPLITUDES`;
    side is "left", "right" or "both" for knees, "left"/"right" (the way the pelvis goes) for
    the weight shift, and ignored otherwise.
    """

    reps: int = 5
    lead_s: float = 2.0  # standing before the first rep
    descent_s: float = 1.3
    ascent_s: float = 1.1
    bottom_pause_s: float = 0.1
    top_pause_s: float = 0.6
    tail_s: float = 1.2  # standing after the last rep
    depth: list[float] = field(default_factory=list)  # per rep, 1.0 = the body's full depth
    compensations: dict[str, tuple[float, str]] = field(default_factory=dict)
    leave_at: float | None = None  # seconds: the person walks off sideways, gone 1 s later

    @classmethod
    def random(cls, rng: np.random.Generator, reps: int = 5, **kw) -> Movement:
        m = cls(
            reps=reps, lead_s=float(rng.uniform(1.2, 2.5)), descent_s=float(rng.uniform(1.0, 1.7)),
            ascent_s=float(rng.uniform(0.9, 1.5)), bottom_pause_s=float(rng.uniform(0.0, 0.4)),
            top_pause_s=float(rng.uniform(0.3, 1.0)), tail_s=float(rng.uniform(0.8, 1.6)),
            depth=[float(rng.uniform(0.88, 1.05)) for _ in range(reps)],
        )  # fmt: skip
        return replace(m, **kw)

    def duration(self) -> float:
        per = self.descent_s + self.bottom_pause_s + self.ascent_s + self.top_pause_s
        return self.lead_s + self.reps * per - self.top_pause_s + self.tail_s


def phase_at(movement: Movement, t: np.ndarray) -> np.ndarray:
    """Squat phase at true times `t` (seconds from the start): 0 standing, the rep's depth at the bottom."""
    t = np.asarray(t, dtype=np.float64)
    p = np.zeros_like(t)
    start = movement.lead_s
    for i in range(movement.reps):
        d = movement.depth[i] if i < len(movement.depth) else 1.0
        a = start
        b = a + movement.descent_s
        c = b + movement.bottom_pause_s
        e = c + movement.ascent_s
        down = (t >= a) & (t < b)
        p[down] = d * 0.5 * (1 - np.cos(np.pi * (t[down] - a) / movement.descent_s))
        p[(t >= b) & (t < c)] = d
        up = (t >= c) & (t < e)
        p[up] = d * 0.5 * (1 + np.cos(np.pi * (t[up] - c) / movement.ascent_s))
        start = e + movement.top_pause_s
    return p


def _deg(a):
    return np.radians(a)


def joint_positions(body: Body, movement: Movement, phase: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """COCO-17 joints in world metres, shape (N, 17, 3), for squat phases `phase` (N,).

    Axes: x to the person's left, y up, z forward; origin on the floor between the ankles.
    `t` (true seconds) is only needed when `movement.leave_at` is set (the walk-off).
    """
    p = np.asarray(phase, dtype=np.float64)
    n = len(p)
    H = body.height
    comp = movement.compensations

    def amount(cid):
        return comp.get(cid, (0.0, "both"))

    out = np.zeros((n, 17, 3))
    # feet: ankles fixed, raised (and a little forward) by a heel rise
    rise, _ = amount("heels_rise")
    ank_y = body.ankle * H + rise * H * p
    ank_z = 0.3 * rise * H * p
    # sagittal chain
    th_s = _deg(p * body.shin_max)
    knee_y = ank_y + body.shank * H * np.cos(th_s)
    knee_z = ank_z + body.shank * H * np.sin(th_s)
    th_h = _deg(p * body.thigh_max)
    hip_y = knee_y + body.thigh * H * np.cos(th_h)
    hip_z = knee_z - body.thigh * H * np.sin(th_h)
    lean, _ = amount("excessive_forward_lean")
    th_t = _deg(p * (body.shin_max + body.trunk_offset + lean))
    sh_y = hip_y + body.trunk * H * np.cos(th_t)
    sh_z = hip_z + body.trunk * H * np.sin(th_t)
    # sideways: stance, knees, pelvis shift
    a_half = body.stance_half * H
    k0 = (body.hip_half + (body.stance_half - body.hip_half) * 0.5) * H
    k1 = body.knee_track * a_half
    knee_half = np.stack([k0 + (k1 - k0) * p] * 2)  # [left, right]
    for cid, sign in (("knees_cave_in", -1.0), ("knees_push_out", 1.0)):
        amt, side = amount(cid)
        if amt:
            for i, name in enumerate(("left", "right")):
                if side in (name, "both"):
                    knee_half[i] = knee_half[i] + sign * amt * H * p
    shift_amt, shift_side = amount("asymmetric_weight_shift")
    shift = (1.0 if shift_side == "left" else -1.0) * shift_amt * H * p
    # arms
    fall, _ = amount("arms_fall_forward")
    th_a = th_t + _deg(body.arm_offset + fall * p)
    # head
    fwd, _ = amount("head_forward")
    down, _ = amount("head_down")
    th_n = th_t + _deg(body.neck_offset + fwd * p)
    head_y = sh_y + body.neck * H * np.cos(th_n)
    head_z = sh_z + body.neck * H * np.sin(th_n)
    face = th_t + _deg(body.face_offset + down * p)  # face pitch down from horizontal
    face_y, face_z = -np.sin(face), np.cos(face)
    up_y, up_z = np.cos(face), np.sin(face)  # the head's own up

    def put(part, x, y, z):
        out[:, part, 0], out[:, part, 1], out[:, part, 2] = x, y, z

    for side, sx in (("left", 1.0), ("right", -1.0)):
        i = 0 if side == "left" else 1
        L = side == "left"
        put(B.LEFT_ANKLE if L else B.RIGHT_ANKLE, sx * a_half, ank_y, ank_z)
        put(B.LEFT_KNEE if L else B.RIGHT_KNEE, sx * knee_half[i], knee_y, knee_z)
        put(B.LEFT_HIP if L else B.RIGHT_HIP, sx * body.hip_half * H + shift, hip_y, hip_z)
        shx = sx * body.shoulder_half * H + shift
        put(B.LEFT_SHOULDER if L else B.RIGHT_SHOULDER, shx, sh_y, sh_z)
        hand_x = shx + sx * 0.03 * H  # a grip a little wider than the shoulders
        ua, fa = body.upper_arm * H, (body.upper_arm + body.forearm) * H
        put(B.LEFT_ELBOW if L else B.RIGHT_ELBOW, (shx + hand_x) / 2, sh_y + ua * np.cos(th_a), sh_z + ua * np.sin(th_a))
        put(B.LEFT_WRIST if L else B.RIGHT_WRIST, hand_x, sh_y + fa * np.cos(th_a), sh_z + fa * np.sin(th_a))
        put(B.LEFT_EAR if L else B.RIGHT_EAR, sx * 0.075 + shift, head_y - 0.02 * face_y, head_z - 0.02 * face_z)
        put(B.LEFT_EYE if L else B.RIGHT_EYE, sx * 0.032 + shift,
            head_y + 0.08 * face_y + 0.03 * up_y, head_z + 0.08 * face_z + 0.03 * up_z)  # fmt: skip
    put(B.NOSE, shift, head_y + 0.10 * face_y, head_z + 0.10 * face_z)
    if movement.leave_at is not None and t is not None:
        out[:, :, 0] += (np.clip(np.asarray(t) - movement.leave_at, 0, None) * 1.2)[:, None]
    return out


@dataclass
class Camera:
    """A pinhole camera in the person's world frame; `project` gives pixels (origin top-left)."""

    position: np.ndarray
    target: np.ndarray
    width: int
    height: int
    focal_px: float
    fps: float

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = self.target - self.position
        f = f / np.linalg.norm(f)
        r = np.cross(f, [0.0, 1.0, 0.0])
        r = r / np.linalg.norm(r)
        u = np.cross(r, f)
        rel = pts - self.position
        depth = rel @ f
        x = self.width / 2 + self.focal_px * (rel @ r) / depth
        y = self.height / 2 - self.focal_px * (rel @ u) / depth
        return np.stack([x, y], axis=-1), depth


def _camera(azimuth_deg, distance, cam_height, size, fill, body, fps, aim=0.55, yaw_jitter=0.0) -> Camera:
    az = math.radians(azimuth_deg)
    pos = np.array([distance * math.sin(az), cam_height, distance * math.cos(az)])
    target = np.array([0.0, aim * body.height, 0.0])
    if yaw_jitter:  # the camera is not aimed exactly at the person
        d = target - pos
        c, s = math.cos(math.radians(yaw_jitter)), math.sin(math.radians(yaw_jitter))
        target = pos + np.array([c * d[0] + s * d[2], d[1], -s * d[0] + c * d[2]])
    w, h = size
    focal = fill * h * distance / (1.3 * body.height)  # arms overhead: about 1.3 H tall
    return Camera(pos, target, w, h, focal, fps)


def front_camera(body: Body, distance=3.0, cam_height=1.0, size=(640, 480), fill=0.8, fps=30.0,
                 off_axis_deg=0.0, aim=0.55, yaw_jitter=0.0) -> Camera:  # fmt: skip
    """A camera facing the person; `off_axis_deg` walks it round towards the person's left."""
    return _camera(off_axis_deg, distance, cam_height, size, fill, body, fps, aim, yaw_jitter)


def side_camera(body: Body, side="left", distance=3.0, cam_height=1.0, size=(640, 480), fill=0.8,
                fps=30.0, skew_deg=0.0, aim=0.55, yaw_jitter=0.0) -> Camera:  # fmt: skip
    """A camera at the person's `side`; `skew_deg` moves it round towards the front (45 = oblique)."""
    az = (90.0 - skew_deg) if side == "left" else -(90.0 - skew_deg)
    return _camera(az, distance, cam_height, size, fill, body, fps, aim, yaw_jitter)


# MoveNet-like noise: sigma as a fraction of the person's height in pixels, per keypoint.
_SIGMA = np.array([0.004, 0.004, 0.004, 0.005, 0.005, 0.006, 0.006, 0.007, 0.007, 0.007, 0.007,
                   0.008, 0.008, 0.008, 0.008, 0.007, 0.007])  # fmt: skip
_LEFT = [B.LEFT_EYE, B.LEFT_EAR, B.LEFT_SHOULDER, B.LEFT_ELBOW, B.LEFT_WRIST, B.LEFT_HIP, B.LEFT_KNEE, B.LEFT_ANKLE]
_RIGHT = [B.RIGHT_EYE, B.RIGHT_EAR, B.RIGHT_SHOULDER, B.RIGHT_ELBOW, B.RIGHT_WRIST, B.RIGHT_HIP, B.RIGHT_KNEE, B.RIGHT_ANKLE]
_SWAP = np.arange(17)
for _l, _r in zip(_LEFT, _RIGHT):
    _SWAP[_l], _SWAP[_r] = _r, _l


def film(camera: Camera, body: Body, movement: Movement, rng: np.random.Generator, *,
         clock_offset=0.0, noise=1.0, drop=0.02, far_side: str | None = None,
         mirror=False, swap_labels=None, ankle_drift=0.0) -> ViewTrack:  # fmt: skip
    """One view's `ViewTrack`: frames at the camera's rate (random start phase), noisy keypoints.

    `far_side` ("left"/"right") lowers the scores and raises the noise of that side (a side
    view). `clock_offset` is added to the reported timestamps. `mirror` flips the image
    left-right; MoveNet labels sides by appearance, so by default the labels swap too.
    `ankle_drift` adds MoveNet's ankle drift at depth seen on a real clip (1.0 = as measured).
    """
    dur = movement.duration()
    n = int(dur * camera.fps)
    true_t = rng.uniform(0, 1 / camera.fps) + np.arange(n) / camera.fps
    true_t = true_t + rng.normal(0, 0.002, n)  # capture jitter
    true_t.sort()
    p = phase_at(movement, true_t)
    joints = joint_positions(body, movement, p, true_t)
    uv, depth = camera.project(joints)
    person_px = camera.focal_px * body.height / float(np.linalg.norm(camera.position - camera.target))
    # correlated jitter (AR(1), like a smoothed tracker) plus white noise
    sig = _SIGMA * person_px * noise
    far = np.zeros(17, bool)
    if far_side:
        far[_LEFT if far_side == "left" else _RIGHT] = True
    sig = np.where(far, sig * 2.5, sig)
    white = rng.normal(0, 1, (n, 17, 2)) * sig[None, :, None] * 0.6
    ar = np.zeros((n, 17, 2))
    eps = rng.normal(0, 1, (n, 17, 2)) * sig[None, :, None] * 0.8 * math.sqrt(1 - 0.7**2)
    for i in range(1, n):
        ar[i] = 0.7 * ar[i - 1] + eps[i]
    uv = uv + white + ar
    # MoveNet's own drift at depth: on a real deep squat with flat heels its ankle points drop
    # by about 0.12 shin lengths at the bottom; `ankle_drift` 1.0 reproduces that
    uv[:, [B.LEFT_ANKLE, B.RIGHT_ANKLE], 1] += (ankle_drift * 0.12 * body.shank * person_px * p)[:, None]
    # scores: good when standing, knees and ankles drop at the bottom (0.35-0.7 on real clips)
    score = np.clip(rng.normal(0.78, 0.07, (n, 17)), 0.3, 0.98)
    lower = [B.LEFT_KNEE, B.RIGHT_KNEE, B.LEFT_ANKLE, B.RIGHT_ANKLE]
    score[:, lower] -= (0.3 * p)[:, None] * rng.uniform(0.6, 1.2, (n, 4))
    if far_side:
        score[:, far] = rng.uniform(0.12, 0.42, (n, int(far.sum())))
    # outliers: a point jumps, with a lower score
    out = rng.random((n, 17)) < 0.006
    uv[out] += rng.normal(0, 0.06 * person_px, (int(out.sum()), 2))
    score[out] *= 0.5
    # off the picture: MoveNet clamps to the frame and has low confidence
    off = (uv[..., 0] < 0) | (uv[..., 0] > camera.width) | (uv[..., 1] < 0) | (uv[..., 1] > camera.height)
    off |= depth <= 0.1
    uv[..., 0] = np.clip(uv[..., 0], 0, camera.width)
    uv[..., 1] = np.clip(uv[..., 1], 0, camera.height)
    score[off] = np.minimum(score[off], rng.uniform(0.02, 0.12, int(off.sum())))
    if movement.leave_at is not None:  # out of both pictures a second after leaving
        gone = true_t > movement.leave_at + 1.0
        score[gone] = rng.uniform(0.0, 0.08, (int(gone.sum()), 17))
    score = np.clip(score, 0.0, 1.0)
    if mirror:
        uv[..., 0] = camera.width - uv[..., 0]
        if swap_labels is None or swap_labels:
            uv, score = uv[:, _SWAP], score[:, _SWAP]
    keep = rng.random(n) >= drop
    kps = np.concatenate([uv, score[..., None]], axis=-1)[keep]
    return ViewTrack(camera.width, camera.height, camera.fps, true_t[keep] + clock_offset, kps)


def _fit(camera: Camera, body: Body, movement: Movement, margin: float = 0.93) -> Camera:
    """Zoom out until the whole person, standing and at the bottom, is inside the picture
    (what the station's placement check asks the gym to do)."""
    joints = joint_positions(body, replace(movement, leave_at=None), np.linspace(0, 1.1, 12))
    uv, _ = camera.project(joints.reshape(-1, 3))
    dx = np.abs(uv[:, 0] - camera.width / 2) / (camera.width / 2)
    dy = np.abs(uv[:, 1] - camera.height / 2) / (camera.height / 2)
    worst = float(max(dx.max(), dy.max()))
    if worst > margin:
        camera = replace(camera, focal_px=camera.focal_px * margin / worst)
    return camera


SIZES = [(640, 480), (1280, 720), (480, 640), (720, 1280), (1920, 1080), (1080, 1920)]
FPS = [15.0, 24.0, 25.0, 30.0]


@dataclass
class Case:
    """One synthetic recording and what is true about it."""

    track: Track
    body: Body
    movement: Movement
    truth: dict[str, str]  # compensation id -> "none" | "borderline" | "clear" | a magnitude label
    sides: dict[str, str]  # sided compensation -> injected side
    near_side: str
    clock_offset: float
    cameras: dict[str, Camera]


def make_case(seed: int, compensations: dict[str, str | float] | None = None, *, sides=None,
              reps=5, views=("front", "side"), side_skew=None, noise=1.0, movement=None,
              near_side=None, mirror_side=False, drop=None, body=None, fps=None,
              ankle_drift=0.0) -> Case:  # fmt: skip
    """A random but reproducible two-view recording of five overhead squats.

    `compensations`: id -> "none" | "borderline" | "clear" | a number (times the clear amount).
    Camera distance (2.2-4.5 m), height (0.5-1.5 m), resolution, frame rate (15-30 fps),
    aim, placement (front camera up to 5 degrees off square, side camera up to 8 unless
    `side_skew` is given), clock offset (up to +-0.4 s) and the person's proportions vary with
    the seed.
    """
    rng = np.random.default_rng(seed)
    body = body or Body.random(rng)
    comp = {}
    truth, side_of = {}, {}
    for cid, level in (compensations or {}).items():
        amp = AMPLITUDES[cid]
        mag = amp[level] if isinstance(level, str) and level != "none" else (
            0.0 if level == "none" else float(level) * amp["clear"])  # fmt: skip
        side = (sides or {}).get(cid) or (
            str(rng.choice(["left", "right"])) if cid == "asymmetric_weight_shift"
            else str(rng.choice(["left", "right", "both"])))  # fmt: skip
        comp[cid] = (mag, side)
        truth[cid] = level if isinstance(level, str) else f"{float(level):g}x"
        side_of[cid] = side
    mv = movement or Movement.random(rng, reps=reps)
    mv = replace(mv, compensations=comp)
    near = near_side or str(rng.choice(["left", "right"]))
    skew = float(side_skew) if side_skew is not None else float(rng.uniform(-8, 8))
    offset = float(rng.uniform(-0.4, 0.4))
    cams, tracks = {}, {}
    for view in views:
        size = SIZES[int(rng.integers(len(SIZES)))]
        rate = FPS[int(rng.integers(len(FPS)))]
        rate = rate if fps is None else float(fps)
        kw = dict(distance=float(rng.uniform(2.2, 4.5)), cam_height=float(rng.uniform(0.5, 1.5)),
                  size=size, fill=float(rng.uniform(0.6, 0.85)), fps=rate,
                  aim=float(rng.uniform(0.5, 0.6)), yaw_jitter=float(rng.uniform(-4, 4)))  # fmt: skip
        if view == "front":
            cam = _fit(front_camera(body, off_axis_deg=float(rng.uniform(-5, 5)), **kw), body, mv)
            vt = film(cam, body, mv, rng, noise=noise, drop=0.02 if drop is None else drop,
                      ankle_drift=ankle_drift)
        else:
            cam = _fit(side_camera(body, side=near, skew_deg=skew, **kw), body, mv)
            far = "right" if near == "left" else "left"
            vt = film(cam, body, mv, rng, clock_offset=offset, noise=noise, far_side=far,
                      mirror=mirror_side, drop=0.02 if drop is None else drop,
                      ankle_drift=ankle_drift)  # fmt: skip
        cams[view], tracks[view] = cam, vt
    return Case(Track(tracks), body, mv, truth, side_of, near, offset, cams)
