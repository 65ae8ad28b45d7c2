"""The compensation vocabulary of the overhead squat assessment: the one home of these ids.

Every `ohsa-result/1` lists every id in `COMPENSATIONS`, always. Each compensation belongs to
one view (where a trainer watches for it) and one checkpoint region (one LED on the panel).
Sources: NASM Essentials of Corrective Exercise Training (2nd ed.) overhead squat checkpoints.
"""

from typing import NamedTuple

FORMAT_RESULT = "ohsa-result/1"
FORMAT_KEYPOINTS = "ohsa-keypoints/1"

VIEWS = ("front", "side")

PRESENT, ABSENT, NOT_ASSESSED = "present", "absent", "not_assessed"
STATUSES = (PRESENT, ABSENT, NOT_ASSESSED)

SIDES = ("left", "right", "both")


class Region(NamedTuple):
    id: str
    label: str


# Checkpoint regions, in the order a trainer reads the body (feet up). One panel LED each.
REGIONS = (
    Region("feet_ankles", "Feet and ankles"),
    Region("knees", "Knees"),
    Region("hips_low_back", "Hips and lower back"),
    Region("shoulders_arms", "Shoulders and arms"),
    Region("head", "Head and neck"),
)
REGION_IDS = tuple(r.id for r in REGIONS)


class Compensation(NamedTuple):
    id: str
    view: str  # "front" or "side"
    region: str  # one of REGION_IDS
    label: str  # what a person reads
    sided: bool  # whether left/right/both applies


COMPENSATIONS = {
    c.id: c
    for c in (
        Compensation("feet_turn_out", "front", "feet_ankles", "Feet turn out", True),
        Compensation("feet_turn_in", "front", "feet_ankles", "Feet turn in", True),
        Compensation("feet_flatten", "front", "feet_ankles", "Feet flatten", True),
        Compensation("heels_rise", "side", "feet_ankles", "Heels rise", False),
        Compensation("knees_cave_in", "front", "knees", "Knees cave in", True),
        Compensation("knees_push_out", "front", "knees", "Knees push out", True),
        Compensation("asymmetric_weight_shift", "front", "hips_low_back", "Weight shifts to one side", True),
        Compensation("excessive_forward_lean", "side", "hips_low_back", "Chest leans forward", False),
        Compensation("low_back_arch", "side", "hips_low_back", "Low back arches", False),
        Compensation("low_back_round", "side", "hips_low_back", "Low back rounds", False),
        Compensation("arms_fall_forward", "side", "shoulders_arms", "Arms fall forward", False),
        Compensation("head_forward", "side", "head", "Head juts forward", False),
        Compensation("head_down", "side", "head", "Head drops", False),
    )
}
COMPENSATION_IDS = tuple(COMPENSATIONS)


def region_of(compensation_id: str) -> str:
    return COMPENSATIONS[compensation_id].region
