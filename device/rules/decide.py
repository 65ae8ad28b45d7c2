"""From per-rep measurements to one verdict per compensation.

`present` when the compensation shows in most of the measured reps (more than half: 3 of 5,
2 of 3, 1 of 1), `absent` otherwise, `not_assessed` with a reason when the input cannot support
a verdict. Severity grades how far past the threshold the median rep is (half a `step`:
moderate, a full step: marked). Confidence (0..1) combines the keypoint confidence in the
measured frames, the number of reps measured, how consistent the reps are and how far the value
is from the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.rules.thresholds import THRESHOLDS
from device.vocabulary import ABSENT, COMPENSATIONS, NOT_ASSESSED, PRESENT  # noqa: F401


@dataclass(frozen=True)
class Spec:
    view: str
    parts: tuple[str, ...]  # keypoints it needs (front: both sides; side: the near side)
    measure: str  # key of the per-rep measurement
    sided: bool = False


SPECS = {
    "knees_cave_in": Spec("front", ("knee", "ankle"), "knees", True),
    "knees_push_out": Spec("front", ("knee", "ankle"), "knees", True),
    "asymmetric_weight_shift": Spec("front", ("hip", "ankle"), "shift", True),
    "excessive_forward_lean": Spec("side", ("shoulder", "hip", "knee", "ankle"), "lean"),
    "arms_fall_forward": Spec("side", ("shoulder", "hip", "wrist"), "arms"),
    "head_forward": Spec("side", ("shoulder", "hip", "ear"), "head_forward"),
    "head_down": Spec("side", ("shoulder", "hip", "ear", "nose"), "head_down"),
    "heels_rise": Spec("side", ("knee", "ankle"), "heels"),
}

CANNOT_SEE = {
    "feet_turn_out": "MoveNet's 17 keypoints have no toe or heel points, so which way the feet "
    "point cannot be measured from keypoints",
    "feet_turn_in": "MoveNet's 17 keypoints have no toe or heel points, so which way the feet "
    "point cannot be measured from keypoints",
    "feet_flatten": "MoveNet's 17 keypoints have no points on the foot's arch or toes, so a "
    "flattening foot cannot be measured from keypoints",
    "low_back_arch": "MoveNet's 17 keypoints have no points along the spine, so the curve of the "
    "low back cannot be measured from keypoints",
    "low_back_round": "MoveNet's 17 keypoints have no points along the spine, so the curve of the "
    "low back cannot be measured from keypoints",
}
HEELS_PROXY = (
    "MoveNet has no heel point; the ankle point's rise is only a proxy, and on real clips it "
    "moves by up to 0.12 shin lengths at the bottom of a deep squat with the heels down, as much "
    "as a heel rise would move it. The proxy's reading is under 'proxy', for information only"
)
assert set(SPECS) | set(CANNOT_SEE) == set(COMPENSATIONS)


def not_assessed(reason: str, threshold: float | None = None, unit: str | None = None) -> dict:
    return {
        "status": NOT_ASSESSED, "reps_flagged": 0, "side": None, "value": None, "unit": unit,
        "threshold": threshold, "reason": reason, "confidence": 0.0, "severity": "none",
        "rep_values": [],
    }  # fmt: skip


def _flag(value: float, threshold: float, direction: str) -> bool:
    return value < threshold if direction == "below" else value > threshold


def _worst(values, direction: str) -> float:
    return min(values) if direction == "below" else max(values)


def decide(cid: str, per_rep: list[dict | None], confs: list[float], th: dict) -> dict:
    """Verdict for `cid` from per-rep values (`{side_or_None: value}` or None when not measured)."""
    spec = THRESHOLDS[cid]
    t, direction = th[cid], spec.direction
    measured = [(i, r, c) for i, (r, c) in enumerate(zip(per_rep, confs)) if r]
    n = len(measured)
    if n == 0 or n * 2 < len(per_rep):
        return not_assessed(
            "the keypoints it needs were too uncertain at the bottom of "
            + ("every rep" if n == 0 else f"most reps (measured in {n} of {len(per_rep)})"),
            t, spec.unit,
        )
    sides = ("left", "right") if COMPENSATIONS[cid].sided else (None,)
    flagged = 0
    count = {s: 0 for s in sides}
    rep_values: list[float | None] = [None] * len(per_rep)
    for i, r, _ in measured:
        hit = False
        for s in sides:
            if s in r and _flag(r[s], t, direction):
                count[s] += 1
                hit = True
        flagged += hit
        rep_values[i] = round(_worst([r[s] for s in sides if s in r], direction), 3)
    present = flagged * 2 > n
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
    excess = (t - value if direction == "below" else value - t) / spec.step
    severity = "none"
    if present:
        severity = "mild" if excess < 0.5 else "moderate" if excess < 1.0 else "marked"
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
        if rep >= len(vals) or vals[rep] is None or cid not in SPECS:
            continue
        spec = THRESHOLDS[cid]
        t = th[cid]
        excess = (t - vals[rep] if spec.direction == "below" else vals[rep] - t) / spec.step
        total += (10.0 if excess > 0 else 0.0) + excess
    return total
