"""One view's keypoints as clean arrays, confidence weights, and the squat depth signal.

Nothing is gated at a flat score: a keypoint's weight rises linearly from 0 at `score_floor`
to 1 at `score_full`, and a point outside the picture (or lost: NaN) weighs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.keypoints import BodyPart as B
from device.track import ViewTrack

PARTS = ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")
SIDE = {
    side: {part: int(getattr(B, f"{side.upper()}_{part.upper()}")) for part in PARTS}
    for side in ("left", "right")
}
NOSE = int(B.NOSE)
EDGE = 0.004  # a point within this fraction of the frame's size of its border counts as outside


@dataclass
class View:
    """Cleaned arrays of one view: times (N,), x, y, score, weight (N, 17); NaN where lost."""

    name: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    score: np.ndarray
    w: np.ndarray
    inside: np.ndarray
    width: int
    height: int
    fps: float

    def __len__(self) -> int:
        return len(self.t)

    @property
    def dt(self) -> float:
        if len(self.t) > 1:
            step = float(np.median(np.diff(self.t)))
            if step > 0:
                return step
        return 1.0 / self.fps


def prepare(name: str, track: ViewTrack, th: dict) -> View:
    t = np.asarray(track.times, dtype=np.float64).reshape(-1)
    k = np.asarray(track.keypoints, dtype=np.float64).reshape(len(t), 17, 3)
    if len(t) > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, k = t[order], k[order]
    finite = np.isfinite(k).all(axis=-1)
    x = np.where(finite, k[..., 0], np.nan)
    y = np.where(finite, k[..., 1], np.nan)
    score = np.where(finite, np.clip(np.nan_to_num(k[..., 2]), 0.0, 1.0), 0.0)
    mx, my = EDGE * track.width, EDGE * track.height
    with np.errstate(invalid="ignore"):
        inside = finite & (x > mx) & (x < track.width - mx) & (y > my) & (y < track.height - my)
    w = weight(score, th) * inside
    return View(name, t, x, y, score, w, inside, int(track.width), int(track.height), float(track.fps))


def weight(score: np.ndarray, th: dict) -> np.ndarray:
    lo, hi = th["score_floor"], th["score_full"]
    return np.clip((score - lo) / (hi - lo), 0.0, 1.0)


def pair(v: View, part: str, near: str | None = None, far_weight: float = 0.25):
    """Score-weighted mean of the left and right `part`: (x, y, weight) per frame.

    With `near` set (a side view), the far side only counts `far_weight` as much.
    """
    li, ri = SIDE["left"][part], SIDE["right"][part]
    wl, wr = v.w[:, li].copy(), v.w[:, ri].copy()
    if near == "left":
        wr *= far_weight
    elif near == "right":
        wl *= far_weight
    tot = wl + wr
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (np.nan_to_num(v.x[:, li]) * wl + np.nan_to_num(v.x[:, ri]) * wr) / tot
        y = (np.nan_to_num(v.y[:, li]) * wl + np.nan_to_num(v.y[:, ri]) * wr) / tot
    x[tot <= 0] = np.nan
    y[tot <= 0] = np.nan
    return x, y, np.maximum(wl, wr)


def moving_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Centred moving mean over `k` frames that skips NaN (NaN where the window has none)."""
    if k <= 1 or len(values) == 0:
        return values.copy()
    ok = np.isfinite(values)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, values, 0.0))])
    n = np.concatenate([[0], np.cumsum(ok)])
    half = k // 2
    idx = np.arange(len(values))
    lo = np.clip(idx - half, 0, len(values))
    hi = np.clip(idx + half + 1, 0, len(values))
    cnt = n[hi] - n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[hi] - c[lo]) / cnt
    out[cnt == 0] = np.nan
    return out


def fill_gaps(t: np.ndarray, values: np.ndarray, max_gap: float) -> np.ndarray:
    """Linear interpolation across NaN runs whose valid neighbours are at most `max_gap` s apart."""
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values.copy()
    idx = np.arange(len(values))
    prev = np.maximum.accumulate(np.where(ok, idx, -1))
    nxt = np.minimum.accumulate(np.where(ok, idx, len(values))[::-1])[::-1]
    out = values.copy()
    hole = ~ok & (prev >= 0) & (nxt < len(values))
    p, q = prev[hole], nxt[hole]
    short = (t[q] - t[p]) <= max_gap
    frac = (t[hole] - t[p]) / np.maximum(t[q] - t[p], 1e-9)
    fill = values[p] + (values[q] - values[p]) * frac
    out[np.flatnonzero(hole)[short]] = fill[short]
    return out


def scale(v: View, near: str | None) -> tuple[np.ndarray, np.ndarray]:
    """A body size in pixels that squatting does not change: (values, weights) per frame.

    Front view: shoulder width + hip width. Side view: the trunk (hip to shoulder), which lies
    in the picture's plane whatever the lean.
    """
    if near is None:
        s = SIDE["left"], SIDE["right"]
        widths = np.abs(v.x[:, s[0]["shoulder"]] - v.x[:, s[1]["shoulder"]]) + np.abs(
            v.x[:, s[0]["hip"]] - v.x[:, s[1]["hip"]]
        )
        ws = np.min(v.w[:, [s[0]["shoulder"], s[1]["shoulder"], s[0]["hip"], s[1]["hip"]]], axis=1)
        return widths, ws
    sx, sy, sw = pair(v, "shoulder", near)
    hx, hy, hw = pair(v, "hip", near)
    return np.hypot(sx - hx, sy - hy), np.minimum(sw, hw)


def depth(v: View, near: str | None, th: dict) -> np.ndarray:
    """Squat depth per frame: 1 - (hip height over the ankles) / (its standing value).

    Heights are divided by a body size (`scale`, smoothed over about a second) so that a person
    stepping towards or away from the camera does not look like a squat. 0 standing, about 0.5
    at chair depth; NaN where the hips or ankles are not seen (short gaps are interpolated).
    """
    n = len(v)
    if n == 0:
        return np.zeros(0)
    _, hy, hw = pair(v, "hip", near)
    _, ay, aw = pair(v, "ankle", near)
    size, sw = scale(v, near)
    frames_1s = max(1, int(round(1.0 / v.dt)))
    size = np.where(sw > 0, size, np.nan)
    size = moving_mean(size, frames_1s | 1)
    ok = (hw > 0) & (aw > 0) & np.isfinite(size) & (size > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, (ay - hy) / size, np.nan)
    if not np.isfinite(r).any():
        return np.full(n, np.nan)
    r = fill_gaps(v.t, r, th["max_gap_s"])
    k = max(1, int(round(0.2 / v.dt))) | 1
    r = moving_mean(r, k)
    stand = np.nanpercentile(r, 90)
    if not stand > 0:
        return np.full(n, np.nan)
    return 1.0 - r / stand
