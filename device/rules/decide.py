"""From per-rep measurements to one verdict per compensation, by the policy of `device.verdict`.

`present` when the compensation shows in most of the measured reps, `absent` otherwise,
`not_assessed` with a reason when the input cannot support a verdict; severity from how far
past the threshold the median rep is. Confidence (0..1) combines the keypoint confidence in the
measured frames, the number of reps measured, how consistent the reps are and how far the value
is from the threshold.
"""

from __future__ import annotations

import numpy as np

from device import verdict
from device.thresholds import THRESHOLDS
from device.vocabulary import ABSENT, COMPENSATIONS, PRESENT

# what the keypoint rules judge outright; heels_rise's ankle-rise proxy is kept for information
KEYPOINT_JUDGED = tuple(c.id for c in COMPENSATIONS.values() if c.method == "keypoints")


def _worst(values, direction: str) -> float:
    return min(values) if direction == "below" else max(values)


def decide(cid: str, per_rep: list[dict | None], confs: list[float], th: dict,
           threshold: str | None = None) -> dict:
    """Verdict for `cid` from per-rep values (`{side_or_None: value}` or None when not measured).
    `threshold`: the table entry to judge against when not `cid`'s own (the 3-D knee ratios)."""
    spec = THRESHOLDS[threshold or cid]
    t, direction = th[threshold or cid], spec.direction
    measured = [(i, r, c) for i, (r, c) in enumerate(zip(per_rep, confs)) if r]
    n = len(measured)
    if not verdict.measured_enough(n, len(per_rep)):
        return verdict.not_assessed(
            "the keypoints it needs were too uncertain at the bottom of "
            + ("every rep" if n == 0 else f"most reps (measured in {n} of {len(per_rep)})"),
            "not_visible", t, spec.unit,
        )
    sides = ("left", "right") if COMPENSATIONS[cid].sided else (None,)
    flagged = 0
    count = {s: 0 for s in sides}
    rep_values: list[float | None] = [None] * len(per_rep)
    for i, r, _ in measured:
        hit = False
        for s in sides:
            if s in r and verdict.flagged(r[s], t, direction):
                count[s] += 1
                hit = True
        flagged += hit
        rep_values[i] = round(_worst([r[s] for s in sides if s in r], direction), 3)
    present = verdict.is_present(flagged, n)
    med = {s: float(np.median([r[s] for _, r, _ in measured if s in r])) for s in sides}
    side = None
    if COMPENSATIONS[cid].sided:
        if present:
            major = [s for s in sides if count[s] * 2 > n]
            if len(major) == 2 or (not major and min(count.values()) > 0):
                side = "both"
            elif major:
                side = major[0]
            else:
                side = max(sides, key=lambda s: count[s])
            shown = ["left", "right"] if side == "both" else [side]
            value = _worst([med[s] for s in shown], direction)
        else:
            value = _worst(list(med.values()), direction)
    else:
        value = med[None]
    excess = verdict.excess(value, t, spec.step, direction)
    severity = verdict.severity(value, t, spec.step, direction) if present else "none"
    kp = float(np.mean([c for _, _, c in measured]))
    reps_factor = min(1.0, 0.5 + 0.1 * n)
    consistency = 0.5 + 0.5 * abs(2 * flagged / n - 1)
    margin = 0.5 + 0.5 * min(1.0, abs(excess) * 2)
    confidence = kp * reps_factor * (consistency + margin) / 2
    return {
        "status": PRESENT if present else ABSENT,
        "reps_flagged": int(flagged),
        "side": side,
        "value": round(float(value), 3),
        "unit": spec.unit,
        "threshold": t,
        "reason": None,
        "confidence": round(float(np.clip(confidence, 0, 1)), 2),
        "severity": severity,
        "rep_values": rep_values,
    }


def rep_score(result: dict, th: dict, rep: int) -> float:
    """How bad rep `rep` was across all judged compensations (for `worst_rep`)."""
    total = 0.0
    for cid, entry in result.items():
        vals = entry.get("rep_values") or []
        if rep >= len(vals) or vals[rep] is None or cid not in KEYPOINT_JUDGED:
            continue
        spec = THRESHOLDS[cid]
        t = entry["threshold"] if entry.get("threshold") is not None else th[cid]  # 2-D or 3-D entry
        e = verdict.excess(vals[rep], t, spec.step, spec.direction)
        total += (10.0 if e > 0 else 0.0) + e
    return total
