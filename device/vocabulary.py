"""The compensation catalogue of the overhead squat assessment: the one home of these facts.

Every `ohsa-result/1` lists every id in `COMPENSATIONS`, always. Each compensation is described
once, as data: the view where a trainer watches for it, its checkpoint region (one LED on the
panel), whether it has a side, what measures it (keypoint rules, silhouettes, or nothing), the
keypoints it needs and those drawn on the still, the threshold that decides it (its unit, range
and source are in `device.thresholds`), and why keypoints alone cannot judge it. The rules, the
silhouette refinement, the stills, the demo data and the pages all read it from here.
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
    """One compensation, described once: where it is seen, how it is measured, what to draw."""

    id: str
    view: str  # "front" or "side": where a trainer watches for it
    region: str  # one of REGION_IDS (one panel LED)
    label: str  # what a person reads
    sided: bool  # whether left/right/both applies
    method: str  # "keypoints" | "silhouette" | "none": what measures it
    measure: str | None  # the rules' per-rep measurement it is judged on (None: not from keypoints)
    parts: tuple[str, ...]  # keypoints it needs (front: both sides; side: the near side)
    draw: tuple[str, ...]  # keypoints drawn on the still for it
    threshold: str | None  # the deciding entry of device.thresholds.THRESHOLDS
    unmeasured: str = ""  # why keypoints alone cannot judge it (its reason when nothing else does)
    # the 3-D path (device/rules/in3d.py): its per-rep measure, and its threshold when not the
    # 2-D one (None: judged from the pictures even when both cameras are calibrated)
    measure_3d: str | None = None
    threshold_3d: str | None = None
    # with the footprint mat's calibration: the deciding entry when the measure is taken against
    # the printed footprints instead of the person's own start (None: the same as without the mat)
    threshold_mat: str | None = None


def _both(*parts: str) -> tuple[str, ...]:
    return tuple(f"{side}_{p}" for p in parts for side in ("left", "right"))


_NO_FOOT_POINTS = ("MoveNet's 17 keypoints have no toe or heel points, so which way the feet point "
                   "cannot be measured from keypoints")
_NO_SPINE_POINTS = ("MoveNet's 17 keypoints have no points along the spine, so the curve of the low "
                    "back cannot be measured from keypoints")

COMPENSATIONS = {
    c.id: c
    for c in (
        Compensation("feet_turn_out", "front", "feet_ankles", "Feet turn out", True, "silhouette", None,
                     ("ankle",), _both("ankle"), "silhouette_feet_turn_out", _NO_FOOT_POINTS,
                     threshold_mat="silhouette_feet_turn_out_mat"),
        Compensation("feet_turn_in", "front", "feet_ankles", "Feet turn in", True, "silhouette", None,
                     ("ankle",), _both("ankle"), "silhouette_feet_turn_in", _NO_FOOT_POINTS),
        Compensation("feet_flatten", "front", "feet_ankles", "Feet flatten", True, "none", None,
                     ("ankle",), _both("ankle", "knee"), None,
                     "MoveNet's 17 keypoints have no points on the foot's arch or toes, and the "
                     "silhouette gives no honest measure of the arch, so a flattening foot cannot "
                     "be measured"),
        Compensation("heels_rise", "side", "feet_ankles", "Heels rise", False, "silhouette", "heels",
                     ("knee", "ankle"), _both("ankle"), "silhouette_heels_rise",
                     "MoveNet has no heel point; the ankle point's rise is only a proxy, and on real "
                     "clips it moves by up to 0.12 shin lengths at the bottom of a deep squat with "
                     "the heels down, as much as a heel rise would move it. The proxy's reading is "
                     "under 'proxy', for information only"),
        Compensation("knees_cave_in", "front", "knees", "Knees cave in", True, "keypoints", "knees",
                     ("knee", "ankle"), _both("knee", "ankle"), "knees_cave_in",
                     measure_3d="knees_in_3d", threshold_3d="knees_cave_in_3d"),
        Compensation("knees_push_out", "front", "knees", "Knees push out", True, "keypoints", "knees",
                     ("knee", "ankle"), _both("knee", "ankle"), "knees_push_out",
                     measure_3d="knees_out_3d", threshold_3d="knees_push_out_3d"),
        Compensation("asymmetric_weight_shift", "front", "hips_low_back", "Weight shifts to one side",
                     True, "keypoints", "shift", ("hip", "ankle"), _both("hip", "shoulder"),
                     "asymmetric_weight_shift"),
        Compensation("excessive_forward_lean", "side", "hips_low_back", "Chest leans forward", False,
                     "keypoints", "lean", ("shoulder", "hip", "knee", "ankle"),
                     _both("shoulder", "hip", "knee", "ankle"), "excessive_forward_lean", measure_3d="lean_3d"),
        Compensation("low_back_arch", "side", "hips_low_back", "Low back arches", False, "silhouette",
                     None, ("shoulder", "hip"), _both("shoulder", "hip"), "silhouette_low_back_arch",
                     _NO_SPINE_POINTS),
        Compensation("low_back_round", "side", "hips_low_back", "Low back rounds", False, "silhouette",
                     None, ("shoulder", "hip"), _both("shoulder", "hip"), "silhouette_low_back_round",
                     _NO_SPINE_POINTS),
        Compensation("arms_fall_forward", "side", "shoulders_arms", "Arms fall forward", False,
                     "keypoints", "arms", ("shoulder", "hip", "wrist"), _both("shoulder", "elbow", "wrist"),
                     "arms_fall_forward", measure_3d="arms_3d"),
        Compensation("head_forward", "side", "head", "Head juts forward", False, "keypoints",
                     "head_forward", ("shoulder", "hip", "ear"), ("nose", *_both("ear", "shoulder")),
                     "head_forward", measure_3d="head_forward_3d"),
        Compensation("head_down", "side", "head", "Head drops", False, "keypoints", "head_down",
                     ("shoulder", "hip", "ear", "nose"), ("nose", *_both("ear", "eye")), "head_down",
                     measure_3d="head_down_3d"),
    )
}
COMPENSATION_IDS = tuple(COMPENSATIONS)
LABELS = {cid: c.label for cid, c in COMPENSATIONS.items()}  # id -> the trainer's English label


def region_of(compensation_id: str) -> str:
    return COMPENSATIONS[compensation_id].region
