"""Annotated stills: the skeleton and the findings drawn on one frame -> small JPEG bytes.

    jpeg = annotate(rgb, pose_rows, ["knees_cave_in"], "front")

The frame is downscaled to at most `MAX_HEIGHT` px tall (and `MAX_WIDTH` wide) before drawing,
so lines and text stay crisp and the file stays small (a result page carries two of these and
must stay under 300 KB in total). Joints the model was unsure of (score below `MIN_SCORE`) are
not drawn: a missing limb on the still means "not seen", never a guess. The joints a finding
is judged on are drawn in the finding colour, the rest in the skeleton colour; a legend names
the findings of this view in plain words.
"""

from __future__ import annotations

import cv2
import numpy as np

from device.errors import InputError
from device.pose.types import KEYPOINT_NAMES
from device.vocabulary import COMPENSATIONS, VIEWS

MAX_HEIGHT = 720
MAX_WIDTH = 1280
JPEG_QUALITY = 80
MIN_SCORE = 0.3

# BGR colours (OpenCV draws in BGR): calm teal skeleton, amber for what a finding is about.
SKELETON = (180, 160, 40)
FINDING = (0, 170, 255)
INK = (255, 255, 255)
PANEL = (40, 40, 40)

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
EDGES = (
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_ear", "left_eye"), ("left_eye", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"),
)

_BOTH = lambda part: (f"left_{part}", f"right_{part}")  # noqa: E731
# The joints each finding is judged on (drawn in the finding colour).
JOINTS = {
    "feet_turn_out": _BOTH("ankle"),
    "feet_turn_in": _BOTH("ankle"),
    "feet_flatten": _BOTH("ankle") + _BOTH("knee"),
    "heels_rise": _BOTH("ankle"),
    "knees_cave_in": _BOTH("knee") + _BOTH("ankle"),
    "knees_push_out": _BOTH("knee") + _BOTH("ankle"),
    "asymmetric_weight_shift": _BOTH("hip") + _BOTH("shoulder"),
    "excessive_forward_lean": _BOTH("shoulder") + _BOTH("hip") + _BOTH("knee") + _BOTH("ankle"),
    "low_back_arch": _BOTH("shoulder") + _BOTH("hip"),
    "low_back_round": _BOTH("shoulder") + _BOTH("hip"),
    "arms_fall_forward": _BOTH("shoulder") + _BOTH("elbow") + _BOTH("wrist"),
    "head_forward": ("nose",) + _BOTH("ear") + _BOTH("shoulder"),
    "head_down": ("nose",) + _BOTH("ear") + _BOTH("eye"),
}
assert set(JOINTS) == set(COMPENSATIONS), "every compensation needs its joints"


def _check(rgb, pose_rows, findings, view) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", type(rgb).__name__)
        raise InputError(f"frame: expected an RGB uint8 array (H, W, 3), got {shape}")
    if rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise InputError(f"frame: too small to annotate ({rgb.shape[1]}x{rgb.shape[0]})")
    if view not in VIEWS:
        raise InputError(f"view: must be one of {', '.join(VIEWS)}, got {view!r}")
    unknown = [f for f in findings if f not in COMPENSATIONS]
    if unknown:
        raise InputError(f"findings: unknown compensation {unknown[0]!r}")
    if pose_rows is None:
        return np.zeros((len(KEYPOINT_NAMES), 3))
    rows = np.asarray(pose_rows, dtype=np.float64)
    if rows.shape != (len(KEYPOINT_NAMES), 3):
        raise InputError(f"pose: expected 17 rows of x, y, score, got shape {rows.shape}")
    rows = rows.copy()
    bad = ~np.isfinite(rows).all(axis=1)
    rows[bad] = 0.0
    return rows


def annotate(rgb: np.ndarray, pose_rows, findings: list[str], view: str, *,
             sides: dict[str, str | None] | None = None, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of `rgb` (RGB uint8) with the skeleton and this view's findings drawn.

    `pose_rows` are 17 COCO rows of x, y (pixels of `rgb`), score — or None (no person: the
    still then only says so). `findings` are compensation ids; only those of this `view` are
    drawn, the others belong on the other camera's still. `sides` (optional, the result's
    `side` per finding) limits a one-sided finding's highlight to that side's joints.
    """
    findings = list(findings or [])
    rows = _check(rgb, pose_rows, findings, view)
    h, w = rgb.shape[:2]
    scale = min(1.0, MAX_HEIGHT / h, MAX_WIDTH / w)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if scale < 1.0:
        bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    pts = rows[:, :2] * scale
    seen = rows[:, 2] >= MIN_SCORE
    mine = [f for f in findings if COMPENSATIONS[f].view == view]
    sides = sides or {}
    hot = set()
    for f in mine:
        side = sides.get(f) if COMPENSATIONS[f].sided and f != "asymmetric_weight_shift" else None
        other = {"left": "right_", "right": "left_"}.get(side or "")
        hot |= {K[j] for j in JOINTS[f] if not (other and j.startswith(other))}

    size = bgr.shape[0]
    thick = max(2, round(size / 180))
    radius = thick + 2
    for a, b in EDGES:
        i, j = K[a], K[b]
        if seen[i] and seen[j]:
            colour = FINDING if i in hot and j in hot else SKELETON
            cv2.line(bgr, _pt(pts[i]), _pt(pts[j]), colour, thick, cv2.LINE_AA)
    for i in np.flatnonzero(seen):
        colour = FINDING if i in hot else SKELETON
        cv2.circle(bgr, _pt(pts[i]), radius + (2 if i in hot else 0), colour, -1, cv2.LINE_AA)
        cv2.circle(bgr, _pt(pts[i]), radius + (2 if i in hot else 0), INK, 1, cv2.LINE_AA)

    lines = [f"{view.capitalize()} view"]
    if pose_rows is None or not seen.any():
        lines.append("No person found in this frame")
    lines += [COMPENSATIONS[f].label + (f" ({sides[f]})" if sides.get(f) in ("left", "right")
                                        and COMPENSATIONS[f].sided else "") for f in mine]
    _legend(bgr, lines, first_hot=False)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality),
                                         cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise InputError("frame: OpenCV could not encode the still as JPEG")
    return buf.tobytes()


def _pt(xy) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def _legend(bgr: np.ndarray, lines: list[str], first_hot: bool) -> None:
    """A dark box top-left with one line per entry; finding lines get an amber marker."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.45, bgr.shape[0] / 900)
    weight = max(1, round(scale * 2))
    (_, th), base = cv2.getTextSize("Ag", font, scale, weight)
    step = th + base + 8
    width = max(cv2.getTextSize(t, font, scale, weight)[0][0] for t in lines) + step + 16
    width = min(width, bgr.shape[1])
    height = min(step * len(lines) + 10, bgr.shape[0])
    box = bgr[:height, :width]
    box[:] = (box * 0.35 + np.array(PANEL) * 0.65).astype(np.uint8)
    for n, text in enumerate(lines):
        y = 8 + step * n + th
        x = 10
        if n > 0 and text != "No person found in this frame":
            cv2.circle(bgr, (x + th // 2, y - th // 2), max(3, th // 2), FINDING, -1, cv2.LINE_AA)
            x += th + 8
        cv2.putText(bgr, text, (x, y), font, scale, INK, weight, cv2.LINE_AA)
