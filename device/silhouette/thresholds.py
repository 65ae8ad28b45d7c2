"""Numbers the silhouette measurements decide and measure with.

The decision thresholds live in the rules' one table, `device/rules/thresholds.py` (entries
`silhouette_*`, with unit, range and reason; a trainer may override them by name in
`[rules.thresholds]`). This module reads them from there and holds only the measurement's own
geometry constants. docs/silhouette.md says how each was chosen (scripts/eval_silhouette.py).
"""

from device.rules.thresholds import THRESHOLDS

# decision thresholds (read from the rules' table)
FEET_TURN_OUT_DEG = THRESHOLDS["silhouette_feet_turn_out"].value
FEET_TURN_IN_DEG = THRESHOLDS["silhouette_feet_turn_in"].value
HEELS_RISE_CM = THRESHOLDS["silhouette_heels_rise"].value
LOW_BACK_ROUND_DEG = THRESHOLDS["silhouette_low_back_round"].value
LOW_BACK_ARCH_DEG = THRESHOLDS["silhouette_low_back_arch"].value
STEP = {
    "feet_turn_out": THRESHOLDS["silhouette_feet_turn_out"].step,
    "feet_turn_in": THRESHOLDS["silhouette_feet_turn_in"].step,
    "heels_rise": THRESHOLDS["silhouette_heels_rise"].step,
    "low_back_round": THRESHOLDS["silhouette_low_back_round"].step,
    "low_back_arch": THRESHOLDS["silhouette_low_back_arch"].step,
}

# Below this confidence (0..1) a measurement is not reported: the entry stays as the rules left it.
MIN_CONFIDENCE = 0.5

# Geometry the measurements need before they are trusted.
MIN_SHANK_PX = 22.0  # knee-to-ankle length in the processed image (longer side at most 640 px)
# Hip-to-shoulder length the back contour needs: a 10-degree contour turn is a sagitta of about
# 1 px at 75 px. On the renderer the back's spread on clean squats is about 6 degrees at 85 px
# (640x480, 2.6 m) and 15 at 64 px (480x360), where it raised false alarms.
MIN_TRUNK_PX = 75.0
SIDE_VIEW_MAX_SKEW = 0.25  # |left-right hip/shoulder separation| / trunk length in the side view
FRONT_VIEW_MIN_WIDTH = 0.25  # hip width / trunk length in the front view
# Upright in fitted clothes the back's profile from buttocks to shoulder blades is hollow (the
# lumbar lordosis): about -19 degrees on the renderer's body. Flatter than this when standing,
# something hides the back's shape (a loose top hanging straight from the shoulder blades reads
# 0) and the low back is not assessed.
MIN_STANDING_HOLLOW_DEG = 6.0

# Adult proportions used to turn pixels into cm and degrees (documented in docs/silhouette.md).
SHANK_CM = 43.0  # knee to ankle joint
TOE_REACH = 0.25  # forefoot-centroid shift per unit sin(turn), as a share of the shank


def severity(value: float, threshold: float, step: float) -> str:
    """As the rules grade: past the threshold mild, half a step further moderate, a step marked."""
    if value <= threshold:
        return "none"
    excess = (value - threshold) / step if step else 0.0
    return "mild" if excess < 0.5 else "moderate" if excess < 1.0 else "marked"
