"""The footprint mat on a gym floor, photographed by a station camera: ground truth for calibration.

A still is rendered exactly as the mat's geometry says (`device.geometry.mat.raster`, the same
drawing that is printed), laid on a textured floor and seen by a pinhole camera whose true pose
and focal length are known. What makes it hard is what a real station has:

    grazing view     the camera stands at hip height 2.5-3.5 m away: the mat is a thin strip
                     near the bottom of the picture, markers a few pixels tall
    camera aim       aimed to fit a person with raised arms; tilted down only as far as needed
                     to keep the whole mat in the picture (an installer must see the feet)
    focal length     the true focal length differs from the camera model by `focal_error`
    light            overall gain, a light pool and a soft shadow across the mat
    optics, sensor   Gaussian blur, sensor noise, JPEG compression of the still

World frame = the mat's (device.geometry.mat): X to the person's right, Y forward (towards the
front camera), Z up, floor Z = 0. A camera at `azimuth_deg` 0 stands on the person's right
(+X), 90 in front (+Y); the side camera of the 3-D issue goes 0-75 degrees round toward the
front.

    spec = StillSpec(width=2304, height=1296, seed=3)
    image, camera = render_still(Placement(azimuth_deg=45, distance=3.0, height=0.9), spec)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from device.geometry.camera import Camera, Intrinsics, look_at
from device.geometry.mat import MAT, MatLayout, raster

PERSON_TOP_M = 2.25  # fingertips of an adult's raised arms: the camera is aimed to fit them
MAT_IN_VIEW_MARGIN = 0.9  # the mat's nearest corner at most this far down the half-frame


@dataclass(frozen=True)
class Placement:
    azimuth_deg: float  # round the mat from the person's right (0) to the front (90)
    distance: float  # metres, floor distance from the mat's centre
    height: float  # lens above the floor, metres
    yaw_deg: float = 0.0  # aim off the mat's centre, left/right
    roll_deg: float = 0.0  # camera not quite level


@dataclass(frozen=True)
class StillSpec:
    width: int = 2304  # Raspberry Pi Camera Module 3 still mode (2x2 binned)
    height: int = 1296
    hfov_deg: float = 66.0  # the camera model's (Camera Module 3)
    focal_error: float = 0.0  # true focal length = model's * (1 + focal_error)
    noise_sigma: float = 3.0  # sensor noise, grey levels
    blur_px: float = 0.8  # Gaussian blur sigma (focus, optics), pixels
    gain: float = 1.0  # overall light
    light_pool: float = 0.25  # brightness falls off by up to this much away from a light
    shadow: float = 0.3  # a soft shadow band across the mat darkens by this much (0 = none)
    jpeg_quality: int = 90  # 0 = no compression
    floor_grey: float = 90.0  # gym floor brightness (rubber ~50, wood ~150)
    seed: int = 0
    supersample: int = 3  # the mat is drawn this much finer, then averaged down

    @property
    def model(self) -> Intrinsics:
        """The camera model the station would use (from the config's hfov)."""
        return Intrinsics.from_hfov(self.width, self.height, self.hfov_deg)

    @property
    def true_intrinsics(self) -> Intrinsics:
        k = self.model
        return Intrinsics(k.width, k.height, k.f * (1.0 + self.focal_error), k.cx, k.cy)


def _mat_corners(layout: MatLayout) -> np.ndarray:
    w, d = layout.width_m / 2, layout.depth_m / 2
    return np.array([[-w, -d, 0.0], [w, -d, 0.0], [w, d, 0.0], [-w, d, 0.0]])


def true_camera(p: Placement, spec: StillSpec, layout: MatLayout = MAT) -> Camera:
    """The camera at a placement: aimed to fit a standing person with raised arms, tilted down
    just enough to keep the whole mat in the picture."""
    k = spec.true_intrinsics
    a = math.radians(p.azimuth_deg)
    pos = np.array([p.distance * math.cos(a), p.distance * math.sin(a), p.height])
    half_v = math.atan(k.cy / k.f)
    # depression angle of each mat corner, seen from the camera
    corners = _mat_corners(layout)
    horiz = np.linalg.norm(corners[:, :2] - pos[:2], axis=1)
    low = -float(np.max(np.arctan2(p.height, horiz)))
    top = math.atan2(PERSON_TOP_M - p.height, p.distance)
    centre = (low + top) / 2
    centre = min(centre, low + MAT_IN_VIEW_MARGIN * half_v)
    yaw = math.radians(p.yaw_deg)
    bearing = math.atan2(-pos[1], -pos[0]) + yaw
    target = pos + np.array([math.cos(bearing), math.sin(bearing), math.tan(centre)])
    cam = look_at(k, pos, target)
    if p.roll_deg:
        r = math.radians(p.roll_deg)
        Rz = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
        cam = Camera(k, Rz @ cam.R, Rz @ cam.t)
    return cam


_MAT_RASTER: dict[tuple, np.ndarray] = {}
_FLOOR_M = 6.0  # the floor texture covers +-6 m
_FLOOR_PX_PER_M = 100


def _mat_raster(layout: MatLayout, px_per_mm: float) -> np.ndarray:
    key = (layout.name, px_per_mm)
    if key not in _MAT_RASTER:
        _MAT_RASTER[key] = raster(layout, px_per_mm)
    return _MAT_RASTER[key]


def _floor_texture(rng: np.random.Generator, grey: float) -> np.ndarray:
    n = int(2 * _FLOOR_M * _FLOOR_PX_PER_M)
    small = rng.normal(0, 12, (n // 50 + 1, n // 50 + 1)).astype(np.float32)
    tex = cv2.resize(small, (n, n), interpolation=cv2.INTER_CUBIC) + grey
    for x in range(0, n, int(rng.integers(12, 30))):  # boards or tiles
        cv2.line(tex, (x, 0), (x, n - 1), float(grey * 0.8), 1)
    tex += rng.normal(0, 5, (n, n)).astype(np.float32)
    return tex


def _homography(cam: Camera, S: np.ndarray) -> np.ndarray:
    """Texture pixel -> image pixel for a texture lying on the floor, `S` texture px -> floor metres."""
    H = cam.intrinsics.K @ np.column_stack([cam.R[:, 0], cam.R[:, 1], cam.t])
    return H @ S


def render_still(p: Placement, spec: StillSpec, layout: MatLayout = MAT) -> tuple[np.ndarray, Camera]:
    """An RGB uint8 still of the empty mat on the floor and the true camera that took it."""
    rng = np.random.default_rng([spec.seed, int(abs(p.azimuth_deg) * 10), int(p.distance * 100), int(p.height * 100)])
    cam = true_camera(p, spec, layout)
    return render_view(cam, spec, rng, layout), cam


def render_view(cam: Camera, spec: StillSpec, rng: np.random.Generator, layout: MatLayout = MAT) -> np.ndarray:
    """An RGB uint8 still of the empty mat seen by any camera (its intrinsics at the still's
    size); light, blur, noise and JPEG from `spec`, randomness from `rng`."""
    ss = spec.supersample
    W, H = spec.width, spec.height
    wall = float(rng.uniform(110, 200))
    # the floor (pixels whose ray goes down in front of the camera), the wall elsewhere
    s = 1.0 / _FLOOR_PX_PER_M
    S = np.array([[s, 0, -_FLOOR_M], [0, s, -_FLOOR_M], [0, 0, 1]])
    floor = cv2.warpPerspective(_floor_texture(rng, spec.floor_grey), _homography(cam, S), (W, H),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=wall)
    zdir = (cam.R.T @ np.linalg.inv(cam.intrinsics.K))[2]  # world Z of each pixel's ray, linear in (u, v)
    u = np.arange(W, dtype=np.float32)
    v = np.arange(H, dtype=np.float32)
    down = (zdir[0] * u[None, :] + zdir[1] * v[:, None] + zdir[2]) < -1e-3
    img = np.where(down, floor, np.float32(wall) + rng.normal(0, 4, (H, W)).astype(np.float32))
    # the mat, rendered `ss` times finer over its bounding box then averaged down: paper reflects
    # more than the floor, ink a little
    px_per_mm = 2.0
    sheet = _mat_raster(layout, px_per_mm).astype(np.float32)
    paper = sheet * (225.0 / 255.0) + 18.0
    mm = 1e-3 / px_per_mm
    Sm = np.array([[mm, 0, -layout.width_m / 2], [0, -mm, layout.depth_m / 2], [0, 0, 1]])  # page y down = -Y
    uv = cam.project(_mat_corners(layout))
    if np.all(np.isfinite(uv)):
        x0, y0 = np.clip(np.floor(uv.min(0)).astype(int) - 2, 0, [W, H])
        x1, y1 = np.clip(np.ceil(uv.max(0)).astype(int) + 2, 0, [W, H])
        if x1 > x0 and y1 > y0:
            # fine pixel j covers final pixel (j + 0.5) / ss - 0.5 (pixel centres at integers)
            o = (ss - 1) / 2
            T = np.array([[ss, 0, o - ss * x0], [0, ss, o - ss * y0], [0, 0, 1]], float)
            Hm = T @ _homography(cam, Sm)
            size = (int((x1 - x0) * ss), int((y1 - y0) * ss))
            warped = cv2.warpPerspective(paper, Hm, size, flags=cv2.INTER_LINEAR)
            alpha = cv2.warpPerspective(np.ones_like(paper), Hm, size, flags=cv2.INTER_LINEAR)
            warped = cv2.resize(warped, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
            box = img[y0:y1, x0:x1]
            img[y0:y1, x0:x1] = box * (1 - alpha) + warped * alpha
    # light: a pool of light somewhere near the mat, a soft shadow band over the floor
    g = np.ones((H // 8 + 1, W // 8 + 1), np.float32)
    lx, ly = rng.uniform(-1.5, 1.5, 2)
    gx, gy = np.meshgrid(np.arange(g.shape[1]) * 8.0, np.arange(g.shape[0]) * 8.0)
    pts = np.stack([gx, gy, np.ones_like(gx)], -1) @ np.linalg.inv(_homography(cam, np.eye(3))).T
    wx, wy = pts[..., 0] / pts[..., 2], pts[..., 1] / pts[..., 2]
    dist = np.hypot(wx - lx, wy - ly)
    g *= (1.0 - spec.light_pool * np.clip(dist / 3.0, 0, 1)).astype(np.float32)
    if spec.shadow > 0:
        ang = rng.uniform(0, math.pi)
        off = rng.uniform(-0.3, 0.3)
        band = np.abs(np.cos(ang) * wx + np.sin(ang) * wy - off)
        g *= (1.0 - spec.shadow * np.clip(1.0 - band / 0.25, 0, 1)).astype(np.float32)
    g = np.where(np.isfinite(g), g, 1.0).astype(np.float32)
    light = cv2.resize(g, (W, H), interpolation=cv2.INTER_LINEAR)
    img = img * np.where(down, light, 1.0) * spec.gain
    if spec.blur_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), spec.blur_px)
    tint = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    rgb = img[..., None] * tint
    noise = np.empty_like(rgb)
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    cv2.randn(noise, (0.0, 0.0, 0.0), (spec.noise_sigma,) * 3)
    out = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    if spec.jpeg_quality:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(spec.jpeg_quality)])
        out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return out


def rotation_error_deg(R_est: np.ndarray, R_true: np.ndarray) -> float:
    c = (np.trace(R_est @ R_true.T) - 1.0) / 2.0
    return math.degrees(math.acos(float(np.clip(c, -1.0, 1.0))))


# --- evaluation sets: the 3-D issue's placements, with everything a real still varies in ------
SIDE_AZIMUTHS = (0, 15, 30, 45, 60, 75)  # the side camera, degrees round toward the front
FRONT_AZIMUTH = 90
HEIGHTS = (0.9, 1.4)
DISTANCES = (2.5, 3.5)
RESOLUTIONS = ((2304, 1296), (1280, 720))
HELD_OUT_AZIMUTHS = (15, 45, 75)  # never tuned on: reported separately


def split_of(side_azimuth: float) -> str:
    return "held-out" if side_azimuth in HELD_OUT_AZIMUTHS else "tuning"


def jittered(azimuth: float, distance: float, height: float, resolution: tuple[int, int],
             seed: int) -> tuple[Placement, StillSpec]:
    """One still's placement and conditions: the nominal placement moved a little, the camera
    not quite aimed or level, a focal length up to 3 % off the model, light, blur, noise, JPEG."""
    rng = np.random.default_rng([seed, int(azimuth), int(distance * 10), int(height * 10), resolution[0]])
    p = Placement(
        azimuth_deg=azimuth + rng.uniform(-3, 3),
        distance=distance + rng.uniform(-0.1, 0.1),
        height=height + rng.uniform(-0.05, 0.05),
        yaw_deg=rng.uniform(-4, 4),
        roll_deg=rng.uniform(-1.5, 1.5),
    )
    spec = StillSpec(
        width=resolution[0], height=resolution[1],
        focal_error=rng.uniform(-0.03, 0.03),
        noise_sigma=rng.uniform(2.0, 5.0),
        blur_px=rng.uniform(0.5, 1.3),
        gain=rng.uniform(0.6, 1.3),
        light_pool=rng.uniform(0.0, 0.4),
        shadow=rng.uniform(0.0, 0.4),
        jpeg_quality=int(rng.integers(80, 96)),
        floor_grey=rng.uniform(40, 160),
        seed=seed,
    )
    return p, spec
