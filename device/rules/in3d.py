"""Per-rep measurements from the 3-D path (docs/rules.md "Two cameras: the 3-D path").

When both cameras are calibrated and the calibration is trusted (device/analysis/stereo.py), the
keypoint-visible compensations are judged from 3-D measures in the body's own planes instead of
from one picture each: the same rep windows and bottoms (the front view's bottom frames; the 3-D
measures are on the front view's clock), the same robust mean over them, the same decision policy
(`device.verdict`). Only the knees have their own thresholds (a ratio square to the foot); the
others keep their 2-D thresholds and units.

`stereo` is any object with `.at(name, times) -> (N,) array` (NaN where not measured): the rules
do not import the analysis layer.
"""

from __future__ import annotations

import numpy as np

from device.rules import measures
from device.rules.views import ViewState
from device.vocabulary import COMPENSATIONS

# The head in 3-D: from either ear (the far ear is rarely triangulated) and the nose, measured with
# scripts/eval_3d.py (p90 0.05 trunk lengths, 8 degrees over 0-60): good enough for clear cases; set
# False to keep the head on its 2-D path, judged only where the side view is square.
HEAD_IN_3D = True
HEAD = ("head_forward", "head_down")


# Which checks the 3-D path judges, on which measure and threshold: the catalogue
# (`device.vocabulary`: `measure_3d`, `threshold_3d`). The weight shift has none: a sideways
# movement, which a square front camera sees without perspective error; in 3-D the hips' backward
# travel at the bottom (20-30 cm) leaks into it through any error in the body's left-right axis
# (on the real pair the 3-D reading was 0.14 stance widths, a false "mild", where the front picture
# reads 0.05), so it stays on the front view's 2-D path.


def judged_in_3d(cid: str) -> bool:
    return COMPENSATIONS[cid].measure_3d is not None and (HEAD_IN_3D or cid not in HEAD)


def measure_and_threshold(cid: str) -> tuple[str, str | None]:
    """(per-rep 3-D key, deciding threshold when not the compensation's own)."""
    return COMPENSATIONS[cid].measure_3d, COMPENSATIONS[cid].threshold_3d


def per_rep(front: ViewState, stereo, th) -> list[tuple[str, list, list]]:
    """(per-rep key, rows, confidences) for every 3-D measure, over the front view's rep bottoms."""
    t = front.v.t
    mw = th["min_rep_weight"]

    def series(name):
        a = stereo.at(name, t)
        return a, np.isfinite(a).astype(np.float64)

    def at(a, w, i):
        for frames in (front.bottoms[i], front.wide[i]):
            if frames is None or len(frames) == 0:
                continue
            val, _ = measures.robust_mean(a[frames], w[frames], mw)
            if np.isfinite(val):
                return val, float(w[frames].mean())
        return float("nan"), 0.0

    def baseline(a, w):
        return measures.robust_mean(a[front.standing], w[front.standing], mw)[0] if len(front.standing) else np.nan

    n = len(front.bottoms)
    out = []
    for key, suffix in (("knees_in_3d", "in"), ("knees_out_3d", "out")):
        (la, lw), (ra, rw) = series(f"knee_left_{suffix}"), series(f"knee_right_{suffix}")
        rows, cs = [], []
        for i in range(n):
            (l, cl), (r, cr) = at(la, lw, i), at(ra, rw, i)
            row = {k: v for k, v in (("left", l), ("right", r)) if np.isfinite(v)}
            rows.append(row or None)
            cs.append(float(np.mean([c for c, v in ((cl, l), (cr, r)) if np.isfinite(v)] or [0.0])))
        out.append((key, rows, cs))
    for key, name, relative, sided in (
        ("shift_3d", "hip_shift_of_stance", True, True),
        ("lean_3d", "trunk_minus_shin_deg", False, False),
        ("arms_3d", "arm_vs_trunk_deg", False, False),
        ("head_forward_3d", "head_forward_of_trunk", True, False),
        ("head_down_3d", "head_flexion_deg", True, False),
    ):
        a, w = series(name)
        b = baseline(a, w) if relative else 0.0
        rows, cs = [], []
        for i in range(n):
            v, c = at(a, w, i)
            if not (np.isfinite(v) and np.isfinite(b)):
                rows.append(None)
            elif sided:
                rows.append({"left": v - b, "right": b - v})
            else:
                rows.append({None: v - b})
            cs.append(c)
        out.append((key, rows, cs))
    return out
