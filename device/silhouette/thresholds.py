"""Thresholds of the silhouette measurements: the one table for feet, heels and the low back.

`device/rules/thresholds.py` (the rules' table) did not exist when this layer was written, so the
silhouette layer keeps its own table here. Values are in the unit each entry reports; see
docs/silhouette.md for how each was chosen (synthetic renderer, scripts/eval_silhouette.py).
"""

# A compensation is present when the change from the person's own standing start, at the bottom
# of a rep, exceeds these (and the measurement is trustworthy).
FEET_TURN_OUT_DEG = 10.0  # toes move outwards during the squat, estimated degrees of foot turn
FEET_TURN_IN_DEG = 10.0  # toes move inwards during the squat
HEELS_RISE_CM = 1.5  # heel leaves the floor line, approximate cm (scale from the shank)
LOW_BACK_ROUND_DEG = 10.0  # back contour bends convex (lumbar flexion), degrees of contour turn
LOW_BACK_ARCH_DEG = 10.0  # back contour bends concave (lumbar extension)

# Share of the measured reps that must show it for "present" (at least one rep).
REPS_SHARE = 0.5

# Below this confidence (0..1) a measurement is not reported: the entry stays not_assessed.
MIN_CONFIDENCE = 0.5

# Geometry the measurements need before they are trusted.
MIN_SHANK_PX = 22.0  # knee-to-ankle length in the processed image (at most 640 px wide)
SIDE_VIEW_MAX_SKEW = 0.25  # |left-right hip/shoulder separation| / trunk length in the side view
FRONT_VIEW_MIN_WIDTH = 0.25  # hip width / trunk length in the front view

# Adult proportions used to turn pixels into cm and degrees (documented in docs/silhouette.md).
SHANK_CM = 43.0  # knee to ankle joint
TOE_REACH = 0.25  # ankle-region to forefoot-centroid shift per unit sin(turn), as a share of the shank


def severity(value: float, threshold: float) -> str:
    """none / mild / moderate / marked from how far a value passes its threshold."""
    ratio = abs(value) / threshold if threshold else 0.0
    if ratio < 1.0:
        return "none"
    if ratio < 1.5:
        return "mild"
    if ratio < 2.5:
        return "moderate"
    return "marked"
