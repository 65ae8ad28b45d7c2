"""Is the person placed right for a camera: the one set of placement numbers and the one skew
computation, for the station's positioning (device.station.positioning), `ohsa check`
(device.analysis.check) and the rule engine's view gates (device.rules).

Keypoints are MoveNet's `(17, 3)` x, y (pixels), score per frame, or `(N, 17, 3)` for N frames.

How square a camera is comes from how wide the person looks:

    ratio = (shoulder width + hip width) / trunk length          width_ratio()
    front camera:  skew = arccos(ratio / W)                      skew_deg("front", ...)
    side camera:   skew = arcsin(ratio / W)                      skew_deg("side", ...)

with W the rules' `frontal_width_ratio` (how wide a person looks square from the front), or,
for the side camera, the person's own ratio as the front camera saw it, when that view is
usable (at least half of the table's). The trunk runs from the shoulders' midpoint to the hips'
midpoint, or, seen from the side (`near` given), from the near shoulder to the near hip.
Limits: `front_max_skew_deg` and `side_max_skew_deg` in device.thresholds.
"""

from __future__ import annotations

import numpy as np

from device.keypoints import BodyPart as P

# The placement numbers (the one home of these facts).
MIN_SCORE = 0.3  # a keypoint counts as seen at this MoveNet score
MIN_MEAN_SCORE = 0.25  # below this mean score of the 17 keypoints nobody is there
EDGE_MARGIN = 0.01  # a seen keypoint this close to the image edge (fraction) is cut off
CENTRE_TOLERANCE = 0.25  # the person's centre (feet, else hips) within this fraction of the width
FILL_MIN, FILL_MAX = 0.45, 0.92  # person (hands overhead to soles) / image height
HEAD_ABOVE_TOP = 0.25  # the top of the head (or the hands) above the eyes/wrists, trunk lengths
SOLES_BELOW_ANKLES = 0.12  # the soles below the ankles, trunk lengths
HIPS_TOLERANCE = 0.35  # hands on hips: wrists within this fraction of torso length of the hips
DARK_MEAN = 60  # mean brightness (0..255) below this is too dark

LEFT = {"ear": P.LEFT_EAR, "shoulder": P.LEFT_SHOULDER, "elbow": P.LEFT_ELBOW, "wrist": P.LEFT_WRIST,
        "hip": P.LEFT_HIP, "knee": P.LEFT_KNEE, "ankle": P.LEFT_ANKLE}  # fmt: skip
RIGHT = {"ear": P.RIGHT_EAR, "shoulder": P.RIGHT_SHOULDER, "elbow": P.RIGHT_ELBOW, "wrist": P.RIGHT_WRIST,
         "hip": P.RIGHT_HIP, "knee": P.RIGHT_KNEE, "ankle": P.RIGHT_ANKLE}  # fmt: skip
SIDES = {"left": LEFT, "right": RIGHT}
HEAD = (P.NOSE, P.LEFT_EYE, P.RIGHT_EYE, P.LEFT_EAR, P.RIGHT_EAR)
PAIRS = ("shoulder", "hip", "knee", "ankle")  # the whole person: each of these seen


def _frames(keypoints) -> np.ndarray:
    k = np.asarray(keypoints, dtype=np.float64)
    return k.reshape(-1, 17, k.shape[-1])


def near_side(keypoints) -> str:
    """The side of the body nearer a side camera: its keypoints score higher over the frames."""
    k = _frames(keypoints)
    left = np.nanmean(k[:, list(LEFT.values()), 2])
    right = np.nanmean(k[:, list(RIGHT.values()), 2])
    return "left" if left >= right else "right"


def width_ratios(keypoints, near: str | None = None) -> np.ndarray:
    """(shoulder width + hip width) / trunk length per frame (NaN where it cannot be measured)."""
    k = _frames(keypoints)
    x, y = k[..., 0], k[..., 1]
    widths = np.abs(x[:, P.LEFT_SHOULDER] - x[:, P.RIGHT_SHOULDER]) + np.abs(x[:, P.LEFT_HIP] - x[:, P.RIGHT_HIP])
    if near is None:
        sx = (x[:, P.LEFT_SHOULDER] + x[:, P.RIGHT_SHOULDER]) / 2
        sy = (y[:, P.LEFT_SHOULDER] + y[:, P.RIGHT_SHOULDER]) / 2
        hx = (x[:, P.LEFT_HIP] + x[:, P.RIGHT_HIP]) / 2
        hy = (y[:, P.LEFT_HIP] + y[:, P.RIGHT_HIP]) / 2
    else:
        n = SIDES[near]
        sx, sy, hx, hy = x[:, n["shoulder"]], y[:, n["shoulder"]], x[:, n["hip"]], y[:, n["hip"]]
    trunk = np.hypot(sx - hx, sy - hy)
    ok = np.isfinite(widths) & np.isfinite(trunk) & (trunk > 0)
    out = np.full(len(k), np.nan)
    out[ok] = widths[ok] / trunk[ok]
    return out


def width_ratio(keypoints, near: str | None = None, min_frames: int = 3) -> float | None:
    """The median width ratio over the frames; None with fewer than `min_frames` measurable."""
    r = width_ratios(keypoints, near)
    r = r[np.isfinite(r)]
    if len(r) < min_frames:
        return None
    return float(np.median(r))


def skew_deg(view: str, ratio: float | None, th: dict, front_ratio: float | None = None) -> float | None:
    """How far off square `view`'s camera sees the person, in degrees (None: not measurable).

    `th`: the thresholds (device.thresholds; needs `frontal_width_ratio`); `front_ratio`: for the side view,
    the person's own width ratio as a usable front view measured it (None: the table's)."""
    if ratio is None or not np.isfinite(ratio):
        return None
    wide = th["frontal_width_ratio"]
    if view == "front":
        return float(np.degrees(np.arccos(np.clip(ratio / wide, 0.0, 1.0))))
    if front_ratio:
        wide = max(front_ratio, 0.5 * wide)
    return float(np.degrees(np.arcsin(np.clip(ratio / wide, 0.0, 1.0))))


def max_skew_deg(view: str, th: dict) -> float:
    return th["front_max_skew_deg"] if view == "front" else th["side_max_skew_deg"]


def orientation(ratio: float | None, th: dict, front_ratio: float | None = None) -> str | None:
    """What a camera sees from the width ratio: "front", "side" or "oblique" (None: unknown)."""
    if ratio is None:
        return None
    off_front = skew_deg("front", ratio, th)
    off_side = skew_deg("side", ratio, th, front_ratio)
    if off_front <= th["front_max_skew_deg"] and off_front < off_side:
        return "front"
    if off_side <= th["side_max_skew_deg"]:
        return "side"
    return "oblique"


# -- one frame ---------------------------------------------------------------------------------

def person_seen(k: np.ndarray) -> bool:
    """A confident skeleton: the mean score of the 17 keypoints reaches MIN_MEAN_SCORE."""
    return bool(np.isfinite(k[:, 2]).all() and k[:, 2].mean() >= MIN_MEAN_SCORE)


def seen(k: np.ndarray, part: str, view: str) -> bool:
    """`part` ("shoulder", ...) is seen: both of the pair from the front, the nearer one (either)
    from the side, where the far one hides behind the body."""
    s = k[[LEFT[part], RIGHT[part]], 2] >= MIN_SCORE
    return bool(s.all() if view == "front" else s.any())


def extent(k: np.ndarray) -> tuple[float | None, float | None, float]:
    """(top, bottom, trunk) in pixels: the top of the head or hands, the soles, trunk length."""
    sh = k[[P.LEFT_SHOULDER, P.RIGHT_SHOULDER], :2].mean(axis=0)
    hip = k[[P.LEFT_HIP, P.RIGHT_HIP], :2].mean(axis=0)
    trunk = float(np.hypot(*(sh - hip)))
    ok = k[:, 2] >= MIN_SCORE
    tops = [k[i, 1] for i in (*HEAD, P.LEFT_WRIST, P.RIGHT_WRIST) if ok[i]]
    feet = [k[i, 1] for i in (P.LEFT_ANKLE, P.RIGHT_ANKLE) if ok[i]]
    top = min(tops) - HEAD_ABOVE_TOP * trunk if tops else None
    bottom = max(feet) + SOLES_BELOW_ANKLES * trunk if feet else None
    return top, bottom, trunk


def cut_off(k: np.ndarray, width: int, height: int) -> set[str]:
    """Edges ("top", "bottom", "left", "right") a seen keypoint comes within EDGE_MARGIN of."""
    ok = k[:, 2] >= MIN_SCORE
    x, y = k[ok, 0], k[ok, 1]
    mx, my = EDGE_MARGIN * width, EDGE_MARGIN * height
    out = set()
    if (y < my).any():
        out.add("top")
    if (y > height - my).any():
        out.add("bottom")
    if (x < mx).any():
        out.add("left")
    if (x > width - mx).any():
        out.add("right")
    return out


def centre(k: np.ndarray) -> float:
    """The person's centre across the picture (pixels): the feet, else the hips."""
    for a, b in ((P.LEFT_ANKLE, P.RIGHT_ANKLE), (P.LEFT_HIP, P.RIGHT_HIP)):
        s = k[[a, b], 2] >= MIN_SCORE
        if s.any():
            return float(k[[a, b], 0][s].mean())
    return float(k[:, 0].mean())


def facing_camera(k: np.ndarray, th: dict) -> bool:
    """The front camera sees the person's front: square enough (`front_max_skew_deg`), and the
    person's left shoulder on the image's right (not the back turned to the camera)."""
    if k[P.LEFT_SHOULDER, 0] <= k[P.RIGHT_SHOULDER, 0]:
        return False
    skew = skew_deg("front", width_ratio(k, min_frames=1), th)
    return skew is not None and skew <= th["front_max_skew_deg"]


def arms_overhead(k: np.ndarray, view: str) -> bool:
    """Both wrists (from the side: the seen ones) above the nose."""
    w = k[[P.LEFT_WRIST, P.RIGHT_WRIST]]
    ok = w[:, 2] >= MIN_SCORE
    if not (ok.all() if view == "front" else ok.any()) or k[P.NOSE, 2] < MIN_SCORE:
        return False
    return bool((w[ok, 1] < k[P.NOSE, 1]).all())  # y grows downwards


def hands_on_hips(k: np.ndarray, view: str) -> bool:
    w = k[[P.LEFT_WRIST, P.RIGHT_WRIST]]
    ok = w[:, 2] >= MIN_SCORE
    if not (ok.all() if view == "front" else ok.any()):
        return False
    _, _, trunk = extent(k)
    hips_y = k[[P.LEFT_HIP, P.RIGHT_HIP], 1].mean()
    return bool((np.abs(w[ok, 1] - hips_y) <= HIPS_TOLERANCE * trunk).all())


def person_present(keypoints) -> bool:
    """Someone is there (during a set): a confident skeleton with at least one hip seen.

    Lenient on purpose: at the bottom of a squat knees and ankles drop to scores of 0.35-0.7.
    """
    if keypoints is None:
        return False
    k = np.asarray(keypoints, dtype=np.float64).reshape(17, 3)
    if not np.isfinite(k[:, 2]).all():
        return False
    return person_seen(k) and max(k[P.LEFT_HIP, 2], k[P.RIGHT_HIP, 2]) >= MIN_SCORE
