"""Annotated stills: the skeleton and the findings drawn on one frame -> small JPEG bytes.

    jpeg = annotate(rgb, pose_rows, ["knees_cave_in"], "front")
    jpeg = annotate(rgb, pose_rows, present, "side", entries=result["compensations"])

For each finding of the view, the measured lines are drawn where the keypoints are, in the
measure colour (solid: the body lines measured; dashed: the reference they are measured
against), with a text tag beside them — not by colour alone:
- chest leans forward: the trunk line (hip-shoulder) and the shin line (ankle-knee), with the
  shin's direction copied to the hip (dashed) so the angle between them shows;
- arms fall forward: the arm line (shoulder-wrist) against the trunk line carried on upwards;
- head juts forward / head drops: the ear's distance from, or the ear-nose line against, the
  trunk line carried on upwards;
- knees cave in / push out: the knee line against the ankle line, with plumb lines up from the
  ankles;
- weight shifts to one side: the hip midpoint against a plumb line up from the ankle midpoint;
- the silhouette checks (feet, heels, low back): a tag at the joints they are about.
With `entries` (the result's compensation entries: value, threshold, unit, status, side) the
tag and the legend say the measurement and its limit ("34° (limit 20°)"); an entry whose status
is not `present` draws nothing.

The frame is downscaled to at most `MAX_HEIGHT` px tall (and `MAX_WIDTH` wide) before drawing,
so lines and text stay crisp and the file stays small (a result page carries two of these and
must stay under 300 KB in total). Joints the model was unsure of (score below `MIN_SCORE`) are
not drawn: a missing limb on the still means "not seen", never a guess. The joints a finding
is judged on are drawn in the finding colour, the rest in the skeleton colour. A legend strip
under the frame (so nothing on the person is hidden) names the view and its findings in plain
words with their values; its text is sized to the frame's width, so it reads at phone width.
The JPEG is therefore taller than the frame by the strip.
"""

from __future__ import annotations

import cv2
import numpy as np

from device.errors import InputError
from device.keypoints import KEYPOINT_NAMES
from device.vocabulary import COMPENSATIONS, PRESENT, VIEWS

MAX_HEIGHT = 720
MAX_WIDTH = 1280
JPEG_QUALITY = 80
MIN_SCORE = 0.3

# BGR colours (OpenCV draws in BGR): calm teal skeleton, amber for what a finding is about.
SKELETON = (180, 160, 40)
FINDING = (0, 170, 255)
MEASURE = (255, 60, 230)  # measured lines: a magenta apart from both skeleton colours
OUTLINE = (20, 20, 20)
INK = (255, 255, 255)
PANEL = (40, 40, 40)
FONT = cv2.FONT_HERSHEY_SIMPLEX

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
             sides: dict[str, str | None] | None = None, quality: int = JPEG_QUALITY,
             entries: dict[str, dict] | None = None) -> bytes:
    """JPEG bytes of `rgb` (RGB uint8) with the skeleton and this view's findings drawn.

    `pose_rows` are 17 COCO rows of x, y (pixels of `rgb`), score — or None (no person: the
    still then only says so). `findings` are compensation ids; only those of this `view` are
    drawn, the others belong on the other camera's still. `sides` (optional, the result's
    `side` per finding) limits a one-sided finding's highlight to that side's joints.
    `entries` (optional, the result's `compensations`) adds each finding's value and threshold
    to its lines and legend; a finding whose entry is not `present` is not drawn; sides are
    taken from the entries when `sides` is not given.
    """
    findings = list(findings or [])
    rows = _check(rgb, pose_rows, findings, view)
    entries = entries or {}
    if entries:
        findings = [f for f in findings if (entries.get(f) or {}).get("status", PRESENT) == PRESENT]
        if sides is None:
            sides = {f: (entries.get(f) or {}).get("side") for f in findings}
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
        hot |= {K[j] for j in COMPENSATIONS[f].draw if not (other and j.startswith(other))}

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

    lines = [(f"{view.capitalize()} view", False)]
    if pose_rows is None or not seen.any():
        lines.append(("No person found in this frame", False))
    for f in mine:
        drawn = _measure(bgr, f, pts, seen, rows[:, 2], entries.get(f) or {}, thick)
        name = COMPENSATIONS[f].label + (f" ({sides[f]})" if sides.get(f) in ("left", "right")
                                         and COMPENSATIONS[f].sided else "")
        value = value_text(entries.get(f) or {})
        if value and _fits(bgr, f"{name}: {value}"):
            lines.append((f"{name}: {value}", True))
        else:
            lines.append((name, True))
            if value:
                lines.append(("  " + value, False))
        if not drawn:
            lines.append(("  (joints not seen: no lines)", False))
    bgr = np.vstack([bgr, _legend(bgr.shape[1], lines)])
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality),
                                         cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise InputError("frame: OpenCV could not encode the still as JPEG")
    return buf.tobytes()


def _pt(xy) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def _text_width(text: str, scale: float, weight: int) -> int:
    parts = text.split("°")
    w = sum(cv2.getTextSize(p, FONT, scale, weight)[0][0] for p in parts if p)
    return w + (len(parts) - 1) * max(4, round(scale * 9))


def _put(bgr: np.ndarray, text: str, org, scale: float, weight: int, colour) -> None:
    """putText with a drawn degree sign (the Hershey fonts have none)."""
    x, y = org
    (_, th), _ = cv2.getTextSize("0", FONT, scale, weight)
    parts = text.split("°")
    for n, part in enumerate(parts):
        if part:
            cv2.putText(bgr, part, (x, y), FONT, scale, colour, weight, cv2.LINE_AA)
            x += cv2.getTextSize(part, FONT, scale, weight)[0][0]
        if n < len(parts) - 1:
            r = max(2, round(scale * 3))
            cv2.circle(bgr, (x + r + 1, y - th + r), r, colour, max(1, weight - 1), cv2.LINE_AA)
            x += max(4, round(scale * 9))


def _text_scale(bgr: np.ndarray) -> tuple[float, int]:
    """Text sized to the picture's width: a phone shows the still at its screen's width, so a
    letter stays about 1/36 of the width (11 px high at 390 px) whatever the frame's size."""
    scale = max(0.5, bgr.shape[1] / 800)
    return scale, max(1, round(scale * 2))


def _fits(bgr: np.ndarray, text: str) -> bool:
    scale, weight = _text_scale(bgr)
    (_, th), _ = cv2.getTextSize("Ag", FONT, scale, weight)
    return _text_width(text, scale, weight) <= bgr.shape[1] - 36 - th


def _legend(width: int, lines: list[tuple[str, bool]]) -> np.ndarray:
    """The legend as a dark strip to go under the frame (the picture itself stays unobscured):
    one line per entry, a marker on finding lines (not colour alone: each has its words)."""
    probe = np.zeros((1, width, 3), np.uint8)
    scale, weight = _text_scale(probe)
    (_, th), base = cv2.getTextSize("Ag", FONT, scale, weight)
    widest = max(_text_width(t, scale, weight) for t, _ in lines)
    room = width - 24 - (th + 8)
    if widest > room:  # a very long label on a narrow frame: smaller text rather than cut off
        scale = max(0.35, scale * room / widest)
        weight = max(1, round(scale * 2))
        (_, th), base = cv2.getTextSize("Ag", FONT, scale, weight)
    step = th + base + max(6, th // 2)
    strip = np.full((step * len(lines) + 2 * max(6, th // 2), width, 3), PANEL, np.uint8)
    for n, (text, marked) in enumerate(lines):
        y = max(6, th // 2) + step * n + th + 2
        x = 10
        if marked:
            cv2.circle(strip, (x + th // 2, y - th // 2), max(3, th // 2), FINDING, -1, cv2.LINE_AA)
        if n > 0:
            x += th + 8
        _put(strip, text, (x, y), scale, weight, INK)
    return strip


# -- the measured lines ------------------------------------------------------------------------

def _num(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}"


def value_text(entry: dict) -> str:
    """"34° (limit 20°)", "0.71 (limit 0.80)", "14% of trunk (limit 10%)"; "" without a value."""
    v, t, unit = entry.get("value"), entry.get("threshold"), (entry.get("unit") or "")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        return ""
    has_t = isinstance(t, (int, float)) and not isinstance(t, bool) and np.isfinite(t)
    if unit.startswith("degrees"):
        return f"{v:.0f}°" + (f" (limit {t:.0f}°)" if has_t else "")
    if unit.startswith("fraction of "):
        what = unit.removeprefix("fraction of ").split()[0]
        return f"{v * 100:.0f}% of {what}" + (f" (limit {t * 100:.0f}%)" if has_t else "")
    if unit == "cm":
        return f"{v:.1f} cm" + (f" (limit {t:.1f} cm)" if has_t else "")
    if "ratio" in unit:
        return _num(v) + (f" (limit {_num(t)})" if has_t else "")
    return f"{v:.3g} {unit}".strip() + (f" (limit {t:.3g})" if has_t else "")


def _line(bgr, a, b, thick: int, dashed: bool = False) -> None:
    """A measured line (solid) or its reference (dashed), outlined so it shows on any background."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if dashed:
        n = max(1, int(np.linalg.norm(b - a) / (4 * thick)))
        segs = [(a + (b - a) * i / n, a + (b - a) * min(1.0, (i + 0.55) / n)) for i in range(0, n, 1)]
    else:
        segs = [(a, b)]
    for p, q in segs:
        cv2.line(bgr, _pt(p), _pt(q), OUTLINE, thick + 2, cv2.LINE_AA)
    for p, q in segs:
        cv2.line(bgr, _pt(p), _pt(q), MEASURE, thick, cv2.LINE_AA)


def _tag(bgr, text: str, at, thick: int) -> None:
    """A small dark label with the value beside the lines it belongs to."""
    if not text:
        return
    scale, weight = _text_scale(bgr)
    scale *= 0.9
    w = _text_width(text, scale, weight)
    (_, th), base = cv2.getTextSize("0", FONT, scale, weight)
    x = int(min(max(2, at[0] + 3 * thick), bgr.shape[1] - w - 8))
    y = int(min(max(th + 6, at[1]), bgr.shape[0] - base - 4))
    cv2.rectangle(bgr, (x - 4, y - th - 5), (x + w + 4, y + base + 3), PANEL, -1)
    cv2.rectangle(bgr, (x - 4, y - th - 5), (x + w + 4, y + base + 3), MEASURE, 1)
    _put(bgr, text, (x, y), scale, weight, INK)


def _near(scores, side_names) -> str:
    """The side ("left_"/"right_") whose joints MoveNet is surer of (the side camera's near side)."""
    total = {s: sum(float(scores[K[s + j]]) for j in side_names) for s in ("left_", "right_")}
    return "left_" if total["left_"] >= total["right_"] else "right_"


def _unit(v) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else np.zeros(2)


def _measure(bgr, f: str, pts, seen, scores, entry: dict, thick: int) -> bool:
    """Draw the lines finding `f` is measured on; False when its joints are not seen."""
    P = lambda name: pts[K[name]]  # noqa: E731
    ok = lambda *names: all(seen[K[n]] for n in names)  # noqa: E731
    tag = value_text(entry).split(" (")[0]
    mt = max(2, thick)
    if f in ("excessive_forward_lean", "arms_fall_forward", "head_forward", "head_down",
             "low_back_arch", "low_back_round", "heels_rise"):
        s = _near(scores, ("shoulder", "hip", "knee", "ankle"))
        hip, sh, knee, ankle = (s + j for j in ("hip", "shoulder", "knee", "ankle"))
        if f == "excessive_forward_lean":
            if not ok(hip, sh, knee, ankle):
                return False
            trunk = P(sh) - P(hip)
            _line(bgr, P(hip), P(sh), mt)
            _line(bgr, P(ankle), P(knee), mt)
            _line(bgr, P(hip), P(hip) + _unit(P(knee) - P(ankle)) * np.linalg.norm(trunk), mt, dashed=True)
            _tag(bgr, tag, P(hip), thick)
            return True
        if f == "heels_rise":
            if not ok(ankle):
                return False
            _tag(bgr, tag or "heel", P(ankle), thick)
            return True
        if not ok(hip, sh):
            return False
        trunk = P(sh) - P(hip)
        up = P(sh) + trunk * 0.6
        if f in ("low_back_arch", "low_back_round"):
            _line(bgr, P(hip), P(sh), mt)
            _tag(bgr, tag or "low back", (P(hip) + P(sh)) / 2, thick)
            return True
        _line(bgr, P(sh), up, mt, dashed=True)
        if f == "arms_fall_forward":
            hand = s + "wrist" if ok(s + "wrist") else s + "elbow"
            if not ok(hand):
                return False
            _line(bgr, P(sh), P(hand), mt)
            _tag(bgr, tag, P(sh), thick)
            return True
        ear = s + "ear" if ok(s + "ear") else ("right_ear" if s == "left_" else "left_ear")
        if not ok(ear):
            return False
        if f == "head_forward":
            # the ear's distance from the trunk line carried on upwards
            d = _unit(trunk)
            foot = P(sh) + d * float(np.dot(P(ear) - P(sh), d))
            _line(bgr, P(sh), foot, mt, dashed=True)
            _line(bgr, foot, P(ear), mt)
            _tag(bgr, tag, P(ear), thick)
            return True
        if not ok("nose"):
            return False
        _line(bgr, P(ear), P(ear) + (P("nose") - P(ear)) * 1.6, mt)
        _tag(bgr, tag, P("nose"), thick)
        return True
    if f in ("knees_cave_in", "knees_push_out"):
        if not ok("left_knee", "right_knee", "left_ankle", "right_ankle"):
            return False
        _line(bgr, P("left_knee"), P("right_knee"), mt)
        _line(bgr, P("left_ankle"), P("right_ankle"), mt)
        for side in ("left_", "right_"):
            a, k = P(side + "ankle"), P(side + "knee")
            _line(bgr, a, (a[0], k[1]), mt, dashed=True)
        top = (P("left_knee") + P("right_knee")) / 2
        _tag(bgr, tag, (top[0], top[1] - 4 * thick), thick)
        return True
    if f == "asymmetric_weight_shift":
        if not ok("left_hip", "right_hip", "left_ankle", "right_ankle"):
            return False
        hm = (P("left_hip") + P("right_hip")) / 2
        am = (P("left_ankle") + P("right_ankle")) / 2
        _line(bgr, am, (am[0], hm[1]), mt, dashed=True)
        _line(bgr, (am[0], hm[1]), hm, mt)
        for c in (hm, am):
            cv2.circle(bgr, _pt(c), thick + 3, OUTLINE, -1, cv2.LINE_AA)
            cv2.circle(bgr, _pt(c), thick + 2, MEASURE, -1, cv2.LINE_AA)
        _tag(bgr, tag, hm, thick)
        return True
    # feet: the silhouette measures them; the keypoints only place the tag
    if not ok("left_ankle", "right_ankle"):
        return False
    _line(bgr, P("left_ankle"), P("right_ankle"), mt, dashed=True)
    _tag(bgr, tag or "feet", (P("left_ankle") + P("right_ankle")) / 2, thick)
    return True
