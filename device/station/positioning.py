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

from device import placement as pl
from device.keypoints import BodyPart as P
from device.thresholds import validate_overrides

# The placement numbers are device.placement's (shared with `ohsa check` and the rules); the
# start position adds only how far away the person may stand.
MIN_SCORE = pl.MIN_SCORE
MIN_MEAN_SCORE = pl.MIN_MEAN_SCORE

BODY = (P.NOSE, P.LEFT_SHOULDER, P.RIGHT_SHOULDER, P.LEFT_HIP, P.RIGHT_HIP,
        P.LEFT_KNEE, P.RIGHT_KNEE, P.LEFT_ANKLE, P.RIGHT_ANKLE)  # fmt: skip

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

_DEFAULT_TH = validate_overrides(None, "rules.thresholds")


def check_view(view: str, keypoints, width: int, height: int, stance: str = "arms_overhead",
               thresholds: dict | None = None) -> str | None:
    """None when this view is ready, else a key of INSTRUCTIONS (the first problem found).

    `thresholds`: the rule thresholds (for how square the front camera must see the person)."""
    th = thresholds or _DEFAULT_TH
    if keypoints is None:
        return "no_person"
    k = np.asarray(keypoints, dtype=np.float64).reshape(17, 3)
    if not np.isfinite(k).all() or not pl.person_seen(k):
        return "no_person"
    if (k[list(BODY), 2] >= MIN_SCORE).sum() < 3:
        return "no_person"
    seen = [pl.seen(k, part, view) for part in pl.PAIRS] + [bool(k[P.NOSE, 2] >= MIN_SCORE)]
    if not all(seen) or pl.cut_off(k, width, height):
        return "not_whole"
    top, bottom, trunk = pl.extent(k)
    if trunk <= 1.0:
        return "not_whole"
    if abs(pl.centre(k) - width / 2) > pl.CENTRE_TOLERANCE * width:
        return "off_spot"
    if top is not None and bottom is not None and (bottom - top) < pl.FILL_MIN * height:
        return "off_spot"  # too far away (or lying down)
    if view == "front" and not pl.facing_camera(k, th):
        return "not_facing"
    if stance == "hands_on_hips":
        return None if pl.hands_on_hips(k, view) else "hands"
    return None if pl.arms_overhead(k, view) else "arms"


def instruction(code: str, view: str = "") -> str:
    return INSTRUCTIONS[code].format(view=view)
