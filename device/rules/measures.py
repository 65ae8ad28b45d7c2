"""Measurements: per frame for a whole view (vectorised), then per rep over its bottom frames.

Each measurement is a pair of arrays `(value, weight)` per frame; the weight is the smallest
confidence weight of the keypoints it uses. A rep's value is a robust weighted mean over its
bottom frames (points further than 3 MADs from the weighted median are dropped), so low-score
knees and ankles at the bottom still count, just less.

Front view (person's left/right; the person faces the camera):
  knee_ratio_<side>  knee's distance from the ankle midline over the ankle's (1 = knee over
                     ankle). A front camera off square shifts both knees sideways as they come
                     forward (about 0.09 of the ratio at 5 degrees off), so it should be square.
  knee_drift         knee midpoint sideways from the ankle midpoint, in stance widths: large
                     when the person turned from the camera (then the rep is not judged)
  hip_shift          hip midpoint sideways from the ankle midpoint, in stance widths (+ = left)
Side view (near side; x along the way the person faces, y up):
  lean        trunk angle minus shin angle from vertical, degrees (+ = trunk more forward)
  arms        shoulder-to-wrist angle minus the trunk angle, degrees (+ = arms forward)
  head_offset ear's distance forward of the trunk line, in trunk lengths
  head_pitch  ear-to-nose line below the trunk's normal, degrees (+ = looking down)
  ankle_y     near ankle height in pixels (up), over `shin_px` for the heel-rise proxy
"""

from __future__ import annotations

import numpy as np

from device.rules.signals import SIDE
from device.rules.views import ViewState


def _wrap(deg):
    return (deg + 180.0) % 360.0 - 180.0


def front(vs: ViewState) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    v = vs.v
    L, R = SIDE["left"], SIDE["right"]
    xa_l, xa_r = v.x[:, L["ankle"]], v.x[:, R["ankle"]]
    wa = np.minimum(v.w[:, L["ankle"]], v.w[:, R["ankle"]])
    mid = (xa_l + xa_r) / 2
    half = (xa_l - xa_r) / 2  # signed: the left ankle's side of the midline is +
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        good = np.abs(half) > 1.0
        for side, sign in (("left", 1.0), ("right", -1.0)):
            ratio = np.where(good, (v.x[:, SIDE[side]["knee"]] - mid) / half * sign, np.nan)
            out[f"knee_ratio_{side}"] = (ratio, np.minimum(wa, v.w[:, SIDE[side]["knee"]]) * good)
        knees = np.minimum(v.w[:, L["knee"]], v.w[:, R["knee"]])
        drift = np.where(good, ((v.x[:, L["knee"]] + v.x[:, R["knee"]]) / 2 - mid) / np.abs(2 * half), np.nan)
        out["knee_drift"] = (drift, np.minimum(wa, knees) * good)
        hip_mid = (v.x[:, L["hip"]] + v.x[:, R["hip"]]) / 2
        shift = np.where(good, (hip_mid - mid) / (2 * half), np.nan)
        wh = np.minimum(v.w[:, L["hip"]], v.w[:, R["hip"]])
        out["hip_shift"] = (shift, np.minimum(wa, wh) * good)
    return out


def side(vs: ViewState) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    v, f = vs.v, vs.forward

    def pt(part):
        i = vs.idx(part)
        return f * v.x[:, i], -v.y[:, i], v.w[:, i]

    sx, sy, sw = pt("shoulder")
    hx, hy, hw = pt("hip")
    kx, ky, kw = pt("knee")
    ax, ay, aw = pt("ankle")
    wx, wy, ww = pt("wrist")
    ex, ey, ew = pt("ear")
    nx, ny, nw = pt("nose")
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        trunk = np.degrees(np.arctan2(sx - hx, sy - hy))
        tw = np.minimum(sw, hw)
        shin = np.degrees(np.arctan2(kx - ax, ky - ay))
        out["lean"] = (_wrap(trunk - shin), np.minimum(tw, np.minimum(kw, aw)))
        arm = np.degrees(np.arctan2(wx - sx, wy - sy))
        out["arms"] = (_wrap(arm - trunk), np.minimum(tw, ww))
        tlen = np.hypot(sx - hx, sy - hy)
        rad = np.radians(trunk)
        off = ((ex - sx) * np.cos(rad) - (ey - sy) * np.sin(rad)) / tlen
        out["head_offset"] = (off, np.minimum(tw, ew))
        pitch = np.degrees(np.arctan2(-(ny - ey), nx - ex))
        out["head_pitch"] = (_wrap(pitch - trunk), np.minimum(tw, np.minimum(ew, nw)))
        out["ankle_y"] = (ay, aw)
        out["shin_px"] = (np.hypot(kx - ax, ky - ay), np.minimum(kw, aw))
    return out


def robust_mean(values: np.ndarray, weights: np.ndarray, min_weight: float) -> tuple[float, float]:
    """(value, mean weight) of a weighted sample without its outliers; NaN when too little weight."""
    ok = (weights > 0) & np.isfinite(values)
    v, w = values[ok], weights[ok]
    n = len(v)
    total = float(w.sum()) if n else 0.0
    mean_w = total / n if n else 0.0
    if total < min_weight:
        return float("nan"), mean_w
    order = np.argsort(v)
    v, w = v[order], w[order]
    cw = np.cumsum(w)
    med = v[np.searchsorted(cw, cw[-1] / 2)]
    dev = np.abs(v - med)
    mad = np.partition(dev, n // 2)[n // 2] * 1.4826
    keep = dev <= 3 * mad + 1e-9
    wk = w[keep]
    sk = float(wk.sum())
    if sk < min_weight:
        return float(np.dot(v, w) / total), mean_w
    return float(np.dot(v[keep], wk) / sk), mean_w
