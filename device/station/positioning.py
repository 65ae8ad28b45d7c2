"""Is the person ready to start? Checks on one view's keypoints, with plain instructions.

`check_view(view, keypoints, width, height, stance)` returns None when the view sees a whole
person standing on the spot (facing the front camera, in the front view) in the start stance,
or the code of the first thing that is not right; `INSTRUCTIONS` says it in plain words.
Keypoints are one `(17, 3)` array of x, y (pixels) and score, as in `ohsa-keypoints/1`.

MoveNet SinglePose sees one person: a second person in the picture cannot be told apart here,
so "one person" means "one confident skeleton" (the mean score check).
"""

from __future__ import annotations

import numpy as np

from device.pose.types import BodyPart as P

# The thresholds of the start position (the one home of these numbers).
MIN_SCORE = 0.3  # a keypoint counts as seen at this MoveNet score
MIN_MEAN_SCORE = 0.25  # below this mean score nobody is there
EDGE_MARGIN = 0.01  # keypoints this close to the image edge (fraction) count as cut off
SPOT_TOLERANCE = 0.3  # feet midpoint within this fraction of the width from the centre
MIN_HEIGHT_FRACTION = 0.3  # nose-to-ankle at least this fraction of the image height
FACING_MIN_SHOULDER_RATIO = 0.35  # shoulder width / torso length when facing the camera
HIPS_TOLERANCE = 0.35  # hands on hips: wrists within this fraction of torso length of the hips

BODY = (P.NOSE, P.LEFT_SHOULDER, P.RIGHT_SHOULDER, P.LEFT_HIP, P.RIGHT_HIP,
        P.LEFT_KNEE, P.RIGHT_KNEE, P.LEFT_ANKLE, P.RIGHT_ANKLE)  # fmt: skip
WRISTS = (P.LEFT_WRIST, P.RIGHT_WRIST)

STANCES = ("arms_overhead", "heels_raised", "hands_on_hips")  # heels raised: arms overhead too

INSTRUCTIONS = {
    "camera_missing": "The {view} camera is not working. Please ask a member of staff.",
    "no_person": "Step onto the footprints on the mat.",
    "not_whole": "Step back a little so the {view} camera sees you from head to feet.",
    "off_spot": "Stand on the footprints in the middle of the mat.",
    "not_facing": "Turn to face the front camera.",
    "arms": "Raise both arms straight up overhead.",
    "hands": "Put your hands on your hips.",
    "heels": "Stand with your heels on the wedge and raise both arms straight up overhead.",
}


def _mid(k: np.ndarray, a: int, b: int) -> np.ndarray:
    return (k[a, :2] + k[b, :2]) / 2


def check_view(view: str, keypoints, width: int, height: int, stance: str = "arms_overhead") -> str | None:
    """None when this view is ready, else a key of INSTRUCTIONS (the first problem found)."""
    if keypoints is None:
        return "no_person"
    k = np.asarray(keypoints, dtype=np.float64).reshape(17, 3)
    if not np.isfinite(k).all() or k[:, 2].mean() < MIN_MEAN_SCORE:
        return "no_person"
    seen = k[list(BODY), 2] >= MIN_SCORE
    if seen.sum() < 3:
        return "no_person"
    if not seen.all():
        return "not_whole"
    x, y = k[list(BODY), 0], k[list(BODY), 1]
    mx, my = EDGE_MARGIN * width, EDGE_MARGIN * height
    if (x < mx).any() or (x > width - mx).any() or (y < my).any() or (y > height - my).any():
        return "not_whole"
    feet = _mid(k, P.LEFT_ANKLE, P.RIGHT_ANKLE)
    if abs(feet[0] - width / 2) > SPOT_TOLERANCE * width:
        return "off_spot"
    if feet[1] - k[P.NOSE, 1] < MIN_HEIGHT_FRACTION * height:
        return "off_spot"  # too far away (or lying down)
    shoulders = _mid(k, P.LEFT_SHOULDER, P.RIGHT_SHOULDER)
    hips = _mid(k, P.LEFT_HIP, P.RIGHT_HIP)
    torso = float(np.hypot(*(hips - shoulders)))
    if torso <= 1.0:
        return "not_whole"
    if view == "front":
        # Facing the camera: the person's left shoulder is on the image's right, and wide apart.
        dx = k[P.LEFT_SHOULDER, 0] - k[P.RIGHT_SHOULDER, 0]
        if dx < FACING_MIN_SHOULDER_RATIO * torso:
            return "not_facing"
    wrists = k[list(WRISTS)]
    if (wrists[:, 2] < MIN_SCORE).any():
        return "hands" if stance == "hands_on_hips" else "arms"
    if stance == "hands_on_hips":
        if (np.abs(wrists[:, 1] - hips[1]) > HIPS_TOLERANCE * torso).any():
            return "hands"
    elif (wrists[:, 1] >= k[P.NOSE, 1]).any():  # y grows downwards: wrists above the nose
        return "arms"
    return None


def person_present(keypoints) -> bool:
    """Someone is there (during a set): a confident skeleton with at least one hip seen.

    Lenient on purpose: at the bottom of a squat knees and ankles drop to scores of 0.35-0.7.
    """
    if keypoints is None:
        return False
    k = np.asarray(keypoints, dtype=np.float64).reshape(17, 3)
    if not np.isfinite(k[:, 2]).all():
        return False
    return k[:, 2].mean() >= MIN_MEAN_SCORE and max(k[P.LEFT_HIP, 2], k[P.RIGHT_HIP, 2]) >= MIN_SCORE


def instruction(code: str, view: str = "") -> str:
    return INSTRUCTIONS[code].format(view=view)
