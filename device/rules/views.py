"""What each camera shows: near side, which way the person faces, how square the camera is,
the standing frames (the person's own baseline), and whether keypoints were seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from device import placement
from device.rules import reps as repmod
from device.rules import signals
from device.rules.signals import NOSE, SIDE, View

LIMB = ("ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")
CORE = {"front": ("hip", "ankle"), "side": ("shoulder", "hip", "ankle")}  # the depth signal needs these
OK, MISSING, UNUSABLE = "ok", "missing", "unusable"


@dataclass
class ViewState:
    name: str
    v: View
    near: str | None  # side view: the side of the body facing the camera
    d: np.ndarray  # depth per frame
    seg: repmod.Segmentation
    status: str = OK
    reason: str | None = None
    reason_code: str | None = None  # device.verdict.REASON_CODES, with `reason`
    skew_deg: float | None = None
    width_ratio: float | None = None
    forward: float = 1.0  # side view: +1 if the person faces towards +x in the picture
    bottoms: list = field(default_factory=list)  # per rep: frame indices of the bottom, or None
    wide: list = field(default_factory=list)  # the same, widened to half the peak depth
    windows: list = field(default_factory=list)  # per rep: all frame indices of the rep
    judged: np.ndarray | None = None  # the frames visibility is judged on (filled on first use)
    standing: np.ndarray = field(default_factory=lambda: np.zeros(0, int))

    def idx(self, part: str, side: str | None = None) -> int:
        if part == "nose":
            return NOSE
        return SIDE[side or self.near][part]


def near_side(v: View) -> str:
    """The side of the body nearer a side camera: its keypoints score higher."""
    left = np.mean(v.score[:, [SIDE["left"][p] for p in LIMB]])
    right = np.mean(v.score[:, [SIDE["right"][p] for p in LIMB]])
    return "left" if left >= right else "right"


def analyse(name: str, v: View, th: dict) -> ViewState:
    near = near_side(v) if name == "side" else None
    d = signals.depth(v, near, th)
    seg = repmod.segment(v.t, d, th)
    return ViewState(name, v, near, d, seg)


def width_ratio(vs: ViewState, frames: np.ndarray) -> float | None:
    """(shoulder width + hip width) / trunk length over `frames`: how square the view is (the one
    computation of `device.placement`, which `ohsa check` and the station's positioning use too)."""
    if len(frames) == 0:
        return None
    return placement.width_ratio(np.stack([vs.v.x[frames], vs.v.y[frames]], axis=-1), vs.near)


def standing_frames(vs: ViewState, first_start_t: float | None, th: dict) -> np.ndarray:
    """Frames of quiet standing, preferably before the first rep (the person's baseline)."""
    d = vs.d
    calm = np.isfinite(d) & (d < th["rep_exit_depth"])
    if first_start_t is not None:
        before = calm & (vs.v.t < first_start_t)
        if before.sum() >= 5:
            return np.flatnonzero(before)
    if calm.sum() >= 5:
        return np.flatnonzero(calm)
    ok = np.flatnonzero(np.isfinite(d))
    if len(ok) == 0:
        return ok
    return ok[d[ok] <= np.percentile(d[ok], 20)]


def bottom_frames(vs: ViewState, t0: float, t1: float, th: dict, frac: float | None = None):
    """Frames at the bottom of the rep that lies between view times t0 and t1 (or None)."""
    v, d = vs.v, vs.d
    lo, hi = np.searchsorted(v.t, [t0, t1])
    if hi <= lo:
        return None
    seg = d[lo:hi]
    ok = np.isfinite(seg)
    if not ok.any():
        return None
    peak = float(np.nanmax(seg))
    if peak < th["rep_enter_depth"]:
        return None
    frac = th["bottom_fraction"] if frac is None else frac
    return lo + np.flatnonzero(ok & (seg >= frac * peak))


def facing(vs: ViewState) -> float:
    """+1 if the person faces towards +x in the side picture, -1 if towards -x.

    At depth the knees are always in front of the ankles; when there is no depth the nose is in
    front of the ear.
    """
    v = vs.v
    deep = np.isfinite(vs.d) & (vs.d > 0.5 * np.nanmax(vs.d)) if np.isfinite(vs.d).any() else None
    k, a = vs.idx("knee"), vs.idx("ankle")
    if deep is not None and deep.sum() >= 3:
        dx = v.x[deep, k] - v.x[deep, a]
        dx = dx[np.isfinite(dx)]
        if len(dx) and abs(np.median(dx)) > 0:
            return 1.0 if np.median(dx) > 0 else -1.0
    dx = v.x[:, NOSE] - v.x[:, vs.idx("ear")]
    dx = dx[np.isfinite(dx)]
    return 1.0 if (len(dx) == 0 or np.median(dx) >= 0) else -1.0


def visibility(vs: ViewState, parts: list[int], th: dict) -> tuple[float, float]:
    """Over the judged (bottom) frames of all reps: share of frames where every one of `parts`
    is inside the picture, and share where they are also above the score floor."""  # noqa: D205
    if vs.judged is None:
        frames = [b for b in vs.bottoms if b is not None and len(b)]
        if not frames:  # no depth seen in this view (hips or ankles lost): the whole reps
            frames = [w for w in vs.windows if len(w)]
        vs.judged = np.concatenate(frames) if frames else np.zeros(0, int)
    f = vs.judged
    if len(f) == 0:
        return 0.0, 0.0
    inside = vs.v.inside[np.ix_(f, parts)].all(axis=1)
    seen = inside & (vs.v.score[np.ix_(f, parts)] >= th["score_floor"]).all(axis=1)
    return float(inside.mean()), float(seen.mean())


def arms_overhead(vs: ViewState) -> float | None:
    """Share of standing frames with the wrist(s) above the nose (None when not seen)."""
    v, f = vs.v, vs.standing
    if len(f) == 0:
        return None
    sides = [vs.near] if vs.near else ["left", "right"]
    wy = np.column_stack([v.y[f, SIDE[s]["wrist"]] for s in sides])
    ww = np.column_stack([v.w[f, SIDE[s]["wrist"]] for s in sides])
    ny = v.y[f, NOSE]
    ok = (ww > 0).all(axis=1) & np.isfinite(ny) & (v.w[f, NOSE] > 0)
    if ok.sum() < 3:
        return None
    return float((wy[ok] < ny[ok, None]).all(axis=1).mean())
