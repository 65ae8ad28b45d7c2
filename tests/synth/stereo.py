"""Two-view sets with known cameras and known 3-D joints, for the geometry's validation.

Built on `tests/synth/skeleton.py` (its kinematics, cameras and MoveNet-like noise) with what the
geometry needs on top:

- the placement under control: side camera `skew_deg` round toward the front (0 = square side
  view), both cameras' distance and height;
- feet turned out by `toe_out_deg`: each knee's offset from its ankle is turned about the
  vertical through the ankle by that angle, outward, so the knees track over the toes (the
  skeleton generator has straight feet; its file is not changed: its `joint_positions` is
  wrapped while this module films);
- the clocks already aligned (the analysis does that): the side view's clock offset is removed;
- the truth in the geometry's frames: `world_joints` (N, 17, 3) at the front view's times in the
  station world (metres, Z up, floor Z = 0, the person facing -Y, their left +X), the body axes,
  both cameras as `device.geometry.camera.Camera`, and the true angle between the cameras.

Skeleton frame (x left, y up, z forward) -> world: X = x, Y = -z, Z = y.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace

import numpy as np

from device.geometry.camera import Camera, Intrinsics
from device.track import ViewTrack
from tests.synth import skeleton as sk

TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # skeleton -> world
L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 13, 14, 15, 16


def turn_out(joints: np.ndarray, toe_out_deg: float) -> np.ndarray:
    """Skeleton-frame joints (..., 17, 3) with each knee's horizontal offset from its ankle turned
    outward by `toe_out_deg` (the knee tracks over a turned-out foot)."""
    if not toe_out_deg:
        return joints
    out = joints.copy()
    a = math.radians(toe_out_deg)
    for knee, ankle, sign in ((L_KNEE, L_ANKLE, 1.0), (R_KNEE, R_ANKLE, -1.0)):
        dx = joints[..., knee, 0] - joints[..., ankle, 0]
        dz = joints[..., knee, 2] - joints[..., ankle, 2]
        c, s = math.cos(a), sign * math.sin(a)  # outward: forward (z) turns towards +x on the left
        out[..., knee, 0] = joints[..., ankle, 0] + c * dx + s * dz
        out[..., knee, 2] = joints[..., ankle, 2] - s * dx + c * dz
    return out


@contextlib.contextmanager
def _feet_turned_out(toe_out_deg: float):
    original = sk.joint_positions

    def turned(*args, **kw):
        return turn_out(original(*args, **kw), toe_out_deg)

    sk.joint_positions = turned
    try:
        yield
    finally:
        sk.joint_positions = original


def to_geometry_camera(cam: sk.Camera) -> Camera:
    f = cam.target - cam.position
    f = f / np.linalg.norm(f)
    r = np.cross(f, [0.0, 1.0, 0.0])
    r = r / np.linalg.norm(r)
    u = np.cross(r, f)
    R = np.stack([r, -u, f]) @ TO_WORLD.T
    c = TO_WORLD @ cam.position
    return Camera(Intrinsics(cam.width, cam.height, cam.focal_px, cam.width / 2, cam.height / 2), R, -R @ c)


@dataclass
class StereoCase:
    front: ViewTrack
    side: ViewTrack  # clock aligned with the front view
    front_camera: Camera
    side_camera: Camera
    angle_between_deg: float  # true azimuth between the cameras round the person
    world_joints: np.ndarray  # (N, 17, 3) at front.times, world frame
    phase: np.ndarray  # (N,) squat phase at front.times
    body: sk.Body
    movement: sk.Movement
    toe_out_deg: float
    near_side: str
    # body axes in the world: forward, left, up (rows)
    axes: np.ndarray = None  # type: ignore[assignment]


def make_stereo_case(seed: int, *, skew_deg: float, cam_height: float = 1.0, distance: float = 3.0,
                     toe_out_deg: float = 0.0, compensations: dict[str, tuple[float, str]] | None = None,
                     near_side: str = "left", noise: float = 1.0, sizes=None, fps=None, reps: int = 5) -> StereoCase:
    """One reproducible set. `compensations`: id -> (amount in skeleton.AMPLITUDES units, side)."""
    rng = np.random.default_rng(seed)
    body = sk.Body.random(rng)
    mv = replace(sk.Movement.random(rng, reps=reps), compensations=dict(compensations or {}))
    size_f = (sizes or sk.SIZES)[int(rng.integers(len(sizes or sk.SIZES)))]
    size_s = (sizes or sk.SIZES)[int(rng.integers(len(sizes or sk.SIZES)))]
    rate_f = fps or sk.FPS[int(rng.integers(len(sk.FPS)))]
    rate_s = fps or sk.FPS[int(rng.integers(len(sk.FPS)))]

    def jitter(v, rel):
        return float(v * rng.uniform(1 - rel, 1 + rel))

    with _feet_turned_out(toe_out_deg):
        fcam = sk._fit(sk.front_camera(body, distance=jitter(distance, 0.08), cam_height=jitter(cam_height, 0.08),
                                       size=size_f, fps=rate_f, off_axis_deg=float(rng.uniform(-5, 5)),
                                       aim=float(rng.uniform(0.5, 0.6)), yaw_jitter=float(rng.uniform(-3, 3))),
                       body, mv)
        scam = sk._fit(sk.side_camera(body, side=near_side, distance=jitter(distance, 0.08),
                                      cam_height=jitter(cam_height, 0.08), size=size_s, fps=rate_s,
                                      skew_deg=skew_deg, aim=float(rng.uniform(0.5, 0.6)),
                                      yaw_jitter=float(rng.uniform(-3, 3))), body, mv)
        front = sk.film(fcam, body, mv, rng, noise=noise)
        offset = float(rng.uniform(-0.4, 0.4))
        far = "right" if near_side == "left" else "left"
        side = sk.film(scam, body, mv, rng, clock_offset=offset, noise=noise, far_side=far)
    side = replace(side, times=side.times - offset)
    phase = sk.phase_at(mv, front.times)
    joints = turn_out(sk.joint_positions(body, mv, phase), toe_out_deg)
    world = joints @ TO_WORLD.T
    az = lambda c: math.atan2(c.position[0], c.position[2])  # noqa: E731
    between = abs(math.degrees((az(scam) - az(fcam) + math.pi) % (2 * math.pi) - math.pi))
    axes = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # forward, left, up
    return StereoCase(front, side, to_geometry_camera(fcam), to_geometry_camera(scam), between, world,
                      phase, body, mv, toe_out_deg, near_side, axes)
