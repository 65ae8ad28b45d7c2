"""The pinhole camera model: intrinsics from a field of view, a pose in the world, projection.

World frame (the station's, and the test renderers'): metres, Z up, the floor is Z = 0. A pose
maps world points into the camera frame, `x_cam = R @ X + t`; the camera looks along its +z, with
image x to the right and y down (OpenCV's convention), so pixels are `K @ x_cam / z`.

Horizontal fields of view of the Raspberry Pi camera modules (Raspberry Pi documentation,
"Camera" hardware page): Camera Module 2 62.2 degrees, Camera Module 3 66, Camera Module 3 Wide
102. `hfov_deg` always refers to the image's own width as stored in a keypoint track (after any
rotation), so a portrait phone clip gives the field of view across its short side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CAMERA_MODULES = {  # name in config -> horizontal field of view, degrees
    "pi_camera_2": 62.2,
    "pi_camera_3": 66.0,
    "pi_camera_3_wide": 102.0,
}
# A recording or webcam that says nothing: a typical phone main camera or webcam across its long
# side is 60-70 degrees; the calibration may refine it within HFOV_PRIOR_RANGE_DEG.
DEFAULT_HFOV_DEG = 62.2
HFOV_PRIOR_RANGE_DEG = (40.0, 110.0)


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole without distortion: focal length in pixels, principal point, image size."""

    width: int
    height: int
    f: float  # pixels, square pixels
    cx: float
    cy: float

    @classmethod
    def from_hfov(cls, width: int, height: int, hfov_deg: float) -> Intrinsics:
        if not 1.0 < hfov_deg < 179.0:
            raise ValueError(f"horizontal field of view must be between 1 and 179 degrees, got {hfov_deg!r}")
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(int(width), int(height), f, width / 2.0, height / 2.0)

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan(self.width / (2.0 * self.f)))

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.f, 0.0, self.cx], [0.0, self.f, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, s: float) -> Intrinsics:
        """The same camera for an image resized by `s` (keypoints rescaled with it)."""
        return Intrinsics(max(1, round(self.width * s)), max(1, round(self.height * s)),
                          self.f * s, self.cx * s, self.cy * s)


@dataclass(frozen=True)
class Camera:
    """Intrinsics plus a pose: `x_cam = R @ X_world + t`."""

    intrinsics: Intrinsics
    R: np.ndarray  # (3, 3) rotation world -> camera
    t: np.ndarray  # (3,) translation, metres

    @property
    def center(self) -> np.ndarray:
        """The camera's position in the world."""
        return -self.R.T @ self.t

    @property
    def P(self) -> np.ndarray:
        """(3, 4) projection matrix K [R | t]."""
        return self.intrinsics.K @ np.hstack([self.R, self.t.reshape(3, 1)])

    def project(self, X: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> pixels (..., 2); points behind the camera give NaN."""
        X = np.asarray(X, dtype=np.float64)
        xc = X @ self.R.T + self.t
        z = xc[..., 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = xc[..., :2] / np.where(z > 1e-9, z, np.nan)
        k = self.intrinsics
        return np.stack([k.f * uv[..., 0] + k.cx, k.f * uv[..., 1] + k.cy], axis=-1)


def look_at(intrinsics: Intrinsics, position, target, up=(0.0, 0.0, 1.0)) -> Camera:
    """A level-as-possible camera at `position` aimed at `target` (world Z up)."""
    c = np.asarray(position, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - c
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("camera looks straight along the up direction")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image y points down (world -Z for a level camera)
    R = np.stack([x, y, z])
    return Camera(intrinsics, R, -R @ c)
