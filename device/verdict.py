"""One decision policy for every compensation, whichever measurement it comes from.

The keypoint rules (`device.rules.decide`) and the silhouette measurements
(`device.silhouette.refine`) both judge per rep and then decide the same way:

- a verdict needs measurements in at least half of the reps (`measured_enough`);
- `present` when flagged in more than half of the measured reps (`is_present`: 3 of 5, 2 of 3,
  1 of 1), `absent` otherwise;
- severity grades how far past the threshold the value is: past it mild, half a `step` further
  moderate, a full step marked (`severity`; the step belongs to the threshold's table entry);
- `not_assessed` carries a reason in plain words for the trainer and a `reason_code` (one of
  `REASON_CODES`) from which the member pages say it in their own words.
"""

from __future__ import annotations

from device.vocabulary import NOT_ASSESSED

# Why a compensation could not be judged, as codes the member pages word for members.
REASON_CODES = (
    "no_view",  # the camera for it was not recorded or is missing
    "camera_placement",  # a camera at the wrong angle, or the cameras swapped
    "not_visible",  # the person or the joints it needs not seen clearly
    "no_reps",  # no complete, deep enough squat
    "arms_not_overhead",  # arms not held overhead
    "no_baseline",  # no standing frames to compare the squat with
    "cannot_measure",  # this station has no way to measure it
    "silhouette_unclear",  # the body's outline was not clear (clothing, background)
    "retest_stance",  # not judged in this re-test's stance
    "feet_direction",  # from the front alone, knees over turned-out feet cannot be told from pushing out
)


def not_assessed(reason: str, code: str, threshold: float | None = None, unit: str | None = None) -> dict:
    assert code in REASON_CODES, code
    return {
        "status": NOT_ASSESSED, "reps_flagged": 0, "side": None, "value": None, "unit": unit,
        "threshold": threshold, "reason": reason, "reason_code": code, "confidence": 0.0,
        "severity": "none", "rep_values": [],
    }  # fmt: skip


def flagged(value: float, threshold: float, direction: str) -> bool:
    """Whether one rep's value is past the threshold (`below` thresholds flag smaller values)."""
    return value < threshold if direction == "below" else value > threshold


def excess(value: float, threshold: float, step: float, direction: str) -> float:
    """How far past the threshold, in steps (negative: on the good side)."""
    past = threshold - value if direction == "below" else value - threshold
    return past / step if step else 0.0


def measured_enough(n_measured: int, n_reps: int) -> bool:
    return n_measured > 0 and n_measured * 2 >= n_reps


def is_present(n_flagged: int, n_measured: int) -> bool:
    return n_flagged * 2 > n_measured


def severity(value: float, threshold: float, step: float, direction: str) -> str:
    """none | mild | moderate | marked, by how far past the threshold `value` is."""
    e = excess(value, threshold, step, direction)
    if e <= 0:
        return "none"
    return "mild" if e < 0.5 else "moderate" if e < 1.0 else "marked"
