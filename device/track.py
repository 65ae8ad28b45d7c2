"""The `ohsa-keypoints/1` keypoint track: reading, validating and writing.

    {"format": "ohsa-keypoints/1",
     "views": {"front": {"width": 640, "height": 480, "fps": 30,
                         "frames": [{"t": 0.033, "keypoints": [[x, y, score], ... 17]}, ...]},
               "side": {...}}}

In memory a view is a `ViewTrack` of numpy arrays (times `(N,)`, keypoints `(N, 17, 3)`), which
is what the rules layer consumes. Either view may be absent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device import atomic
from device.errors import InputError
from device.keypoints import KEYPOINT_NAMES, Pose
from device.vocabulary import FORMAT_KEYPOINTS, VIEWS

N_KEYPOINTS = len(KEYPOINT_NAMES)


@dataclass
class ViewTrack:
    width: int
    height: int
    fps: float
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (N,) seconds, shared clock
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, N_KEYPOINTS, 3)))  # x, y, score
    # horizontal field of view across `width`, degrees, when the source knows it (the optional
    # per-view "camera": {"hfov_deg": ...} of the file); None: unknown, the geometry assumes one
    hfov_deg: float | None = None

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def from_poses(cls, poses: list[Pose], width: int, height: int, fps: float) -> ViewTrack:
        times = np.array([p.t for p in poses], dtype=np.float64)
        kps = np.array([p.to_array() for p in poses], dtype=np.float64).reshape(-1, N_KEYPOINTS, 3)
        return cls(int(width), int(height), float(fps), times, kps)

    def to_json(self) -> dict:
        frames = [
            {"t": round(float(t), 4), "keypoints": k.tolist()}
            for t, k in zip(self.times, self._rounded())
        ]
        out = {"width": self.width, "height": self.height, "fps": self.fps}
        if self.hfov_deg is not None:
            out["camera"] = {"hfov_deg": round(float(self.hfov_deg), 3)}
        out["frames"] = frames
        return out

    def _rounded(self) -> np.ndarray:
        k = self.keypoints.copy()
        k[..., :2] = np.round(k[..., :2], 2)
        k[..., 2] = np.round(k[..., 2], 4)
        return k


@dataclass
class Track:
    views: dict[str, ViewTrack]

    def to_json(self) -> dict:
        return {"format": FORMAT_KEYPOINTS, "views": {v: t.to_json() for v, t in self.views.items()}}


def _bad(source: str, problem: str) -> InputError:
    return InputError(f"{source}: {problem}")


def parse_view(data, source: str, view: str) -> ViewTrack:
    where = f"{source} (view {view!r})"
    if not isinstance(data, dict):
        raise _bad(where, "expected an object with width, height, fps and frames")
    for key in ("width", "height", "fps"):
        value = data.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise _bad(where, f"{key!r} must be a positive number, got {value!r}")
    frames = data.get("frames")
    if not isinstance(frames, list):
        raise _bad(where, "'frames' must be a list")
    times = np.empty(len(frames))
    kps = np.empty((len(frames), N_KEYPOINTS, 3))
    for i, frame in enumerate(frames):
        try:
            times[i] = float(frame["t"])
            rows = np.asarray(frame["keypoints"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise _bad(where, f"frame {i} needs 't' and 'keypoints' as numbers") from None
        if rows.shape != (N_KEYPOINTS, 3):
            raise _bad(where, f"frame {i} has keypoints of shape {rows.shape}, expected (17, 3)")
        if not math.isfinite(times[i]):
            raise _bad(where, f"frame {i} has a time that is not a finite number")
        kps[i] = rows
    if len(times) > 1 and np.any(np.diff(times) < 0):
        raise _bad(where, "frame times go backwards")
    # NaN positions are allowed (a lost keypoint) but then the score counts as zero.
    bad = ~np.isfinite(kps[..., :2]).all(axis=-1)
    kps[..., 2] = np.where(bad | ~np.isfinite(kps[..., 2]), 0.0, np.clip(kps[..., 2], 0.0, 1.0))
    return ViewTrack(int(data["width"]), int(data["height"]), float(data["fps"]), times, kps,
                     _parse_hfov(data.get("camera"), where))


def _parse_hfov(camera, where: str) -> float | None:
    """The optional per-view `"camera": {"hfov_deg": ...}`; absent or without hfov_deg: None."""
    if camera is None:
        return None
    if not isinstance(camera, dict):
        raise _bad(where, "'camera' must be an object such as {\"hfov_deg\": 62.2}")
    value = camera.get("hfov_deg")
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 1.0 < value < 179.0:
        raise _bad(where, f"'camera.hfov_deg' must be a number of degrees between 1 and 179, got {value!r}")
    return float(value)


def parse_track(data, source: str = "track") -> Track:
    if not isinstance(data, dict) or data.get("format") != FORMAT_KEYPOINTS:
        tag = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise _bad(source, f"not an {FORMAT_KEYPOINTS} track (format tag {tag!r})")
    views = data.get("views")
    if not isinstance(views, dict):
        raise _bad(source, "'views' must be an object with 'front' and/or 'side'")
    unknown = sorted(set(views) - set(VIEWS))
    if unknown:
        raise _bad(source, f"unknown view {unknown[0]!r}; views are {', '.join(VIEWS)}")
    return Track({v: parse_view(views[v], source, v) for v in VIEWS if v in views})


def read_track(path: str | Path) -> Track:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _bad(str(path), "no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise _bad(str(path), f"cannot read it ({e.__class__.__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _bad(str(path), f"not valid JSON (line {e.lineno}: {e.msg})") from None
    return parse_track(data, str(path))


def write_track(track: Track, path: str | Path) -> None:
    atomic.write_text(path, json.dumps(track.to_json(), separators=(",", ":")))
