"""`ohsa check`: is each camera placed so the assessment can see what it needs?

For each view, on a few frames (live, or sampled across a recording) the pose is estimated and
the placement judged: a person is found; fully in frame head to feet with the hands overhead;
how much of the frame height they fill; the front camera sees the front (shoulders and hips
wide against the trunk) and the side camera a side (narrow); the picture is bright enough.
What is wrong comes back as plain advice on what to move.

The placement numbers (scores, edges, fill, centring) and how square a camera is are
`device.placement`'s, the same as the station's positioning and the rule engine use: width
ratio = (shoulder width + hip width) / trunk length (seen from the side: the near shoulder to
the near hip), skew from the front = arccos(ratio / W), from the side = arcsin(ratio / W), W the
person's own ratio from the front camera when that was checked too (else the rules'
`frontal_width_ratio`), judged against `front_max_skew_deg` / `side_max_skew_deg` of
`device.thresholds`. So `ohsa check` and an assessment give one number for one camera.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from device import placement as pl
from device.placement import DARK_MEAN, FILL_MAX, FILL_MIN, MIN_SCORE
from device.keypoints import BodyPart as B

log = logging.getLogger(__name__)

HEAD = pl.HEAD
WRISTS = (B.LEFT_WRIST, B.RIGHT_WRIST)
ANKLES = (B.LEFT_ANKLE, B.RIGHT_ANKLE)


@dataclass
class ViewCheck:
    view: str
    source: str
    width: int = 0
    height: int = 0
    frames: int = 0
    person: bool = False
    in_frame: bool = False
    arms_overhead: bool = False
    cut_off: list[str] = field(default_factory=list)  # "top", "bottom", "left", "right"
    fill: float | None = None  # of the frame height
    width_ratio: float | None = None  # (shoulder + hip width) / trunk length
    skew_deg: float | None = None  # how far off square to what this view should see
    orientation: str | None = None  # "front" | "side" | "oblique"
    brightness: float | None = None
    dark: bool = False
    advice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.advice

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items()}
        for k in ("fill", "width_ratio", "skew_deg", "brightness"):
            if out[k] is not None:
                out[k] = round(float(out[k]), 3)
        out["ok"] = self.ok
        return out


def _seen(k: np.ndarray, parts) -> np.ndarray:
    return k[list(parts)][k[list(parts), 2] >= MIN_SCORE]


def _frame_measures(k: np.ndarray, w: int, h: int) -> dict | None:
    """Extents of one pose (17x3 pixels), None when no person is seen."""
    if not pl.person_seen(k):
        return None
    core = (B.LEFT_SHOULDER, B.RIGHT_SHOULDER, B.LEFT_HIP, B.RIGHT_HIP)
    if (k[list(core), 2] < MIN_SCORE).all():
        return None
    top, bottom, trunk = pl.extent(k)
    if trunk <= 1:
        return None
    head, wrists, ankles = _seen(k, HEAD), _seen(k, WRISTS), _seen(k, ANKLES)
    seen = k[k[:, 2] >= MIN_SCORE, :2]
    return {
        "keypoints": k,
        "top": top,
        "bottom": bottom,
        "head_seen": len(head) > 0,
        "feet_seen": len(ankles) > 0,
        "wrists_seen": len(wrists) > 0,
        "overhead": len(wrists) == 2 and len(head) > 0 and wrists[:, 1].max() < head[:, 1].min(),
        "left": float(seen[:, 0].min()),
        "right": float(seen[:, 0].max()),
        "centre": pl.centre(k) / w,
    }


def check_view(view: str, images: list[np.ndarray], movenet, source: str = "",
               thresholds: dict | None = None, front_ratio: float | None = None) -> ViewCheck:
    """Judge the placement of one camera from a few of its frames (RGB uint8); `thresholds`:
    overrides of the rule engine's table (config `rules.thresholds`); `front_ratio`: the side
    check's reference, the front camera's `width_ratio` when it sees the person squarely."""
    from device.pose import estimate_image
    from device.thresholds import validate_overrides

    th = validate_overrides(thresholds or {}, "rules.thresholds")

    c = ViewCheck(view, source, frames=len(images))
    if not images:
        c.advice.append(f"No picture from the {view} camera ({source or 'no frames'}): check its cable and the config")
        return c
    c.height, c.width = images[0].shape[:2]
    w, h = c.width, c.height
    c.brightness = float(np.mean([img[::4, ::4].mean() for img in images]))
    c.dark = c.brightness < DARK_MEAN
    measures = []
    for img in images:
        m = _frame_measures(estimate_image(movenet, img).to_array(), img.shape[1], img.shape[0])
        if m is not None:
            measures.append(m)
    c.person = bool(measures)
    if c.dark:
        c.advice.append(
            f"The picture is too dark (brightness {c.brightness:.0f} of 255): light the spot better "
            "or turn the camera away from a bright window"
        )
    if not c.person:
        c.advice.append(
            f"No person found by the {view} camera: stand on the marked spot, facing the front camera, "
            "and check the camera points at the spot"
        )
        return c

    edge = pl.EDGE_MARGIN
    cut = set()
    if not all(m["head_seen"] for m in measures) or any(m["top"] is not None and m["top"] < edge * h for m in measures):
        cut.add("top")
    if not all(m["feet_seen"] for m in measures) or any(m["bottom"] is not None and m["bottom"] > (1 - edge) * h for m in measures):
        cut.add("bottom")
    if any(m["left"] < edge * w for m in measures):
        cut.add("left")
    if any(m["right"] > (1 - edge) * w for m in measures):
        cut.add("right")
    c.cut_off = sorted(cut)
    c.arms_overhead = any(m["overhead"] for m in measures)
    c.in_frame = not cut and c.arms_overhead
    spans = [m["bottom"] - m["top"] for m in measures if m["top"] is not None and m["bottom"] is not None]
    c.fill = max(spans) / h if spans else None
    poses = np.array([m["keypoints"] for m in measures])
    near = pl.near_side(poses) if view == "side" else None
    r = c.width_ratio = pl.width_ratio(poses, near, min_frames=1)
    off_front = pl.skew_deg("front", r, th)
    off_side = pl.skew_deg("side", r, th, front_ratio)
    c.skew_deg = off_front if view == "front" else off_side
    c.orientation = pl.orientation(r, th, front_ratio)
    centre = float(np.median([m["centre"] for m in measures]))

    if "top" in cut:
        c.advice.append("Head or hands are cut off at the top: tilt the camera up a little or move it back")
    if "bottom" in cut:
        c.advice.append("Feet are cut off at the bottom: tilt the camera down a little or move it back")
    if "left" in cut or "right" in cut:
        edge = " and ".join(e for e in ("left", "right") if e in cut)
        c.advice.append(f"The person reaches the {edge} edge of the picture: centre the camera on the spot")
    elif abs(centre - 0.5) > pl.CENTRE_TOLERANCE:
        side = "left" if centre < 0.5 else "right"
        c.advice.append(f"The person stands near the {side} edge of the picture: turn the camera to the {side}")
    if not c.arms_overhead and not {"top"} & cut:
        c.advice.append("Raise both arms overhead for the check: the hands must stay in the picture")
    if c.fill is not None and c.fill < FILL_MIN and not cut:
        c.advice.append(
            f"The person fills only {c.fill:.0%} of the picture height: move the camera closer "
            f"(aim for {FILL_MIN:.0%} to {FILL_MAX:.0%})"
        )
    elif c.fill is not None and c.fill > FILL_MAX:
        c.advice.append(f"The person fills {c.fill:.0%} of the picture height: move the camera back a little")
    if view == "front" and c.orientation != "front":
        what = "from the side" if c.orientation == "side" else "at an angle"
        c.advice.append(
            f"The front camera sees the person {what} (about {off_front:.0f} degrees off square, "
            f"at most {th['front_max_skew_deg']:g}): it must face the person squarely "
            "(or front and side are swapped in the config)"
        )
    if view == "side" and c.orientation != "side":
        what = "from the front" if c.orientation == "front" else "at an angle"
        c.advice.append(
            f"The side camera sees the person {what} (about {off_side:.0f} degrees off square, "
            f"at most {th['side_max_skew_deg']:g}): move it round so it looks at the person's "
            "side at 90 degrees to the front camera"
        )
    return c


def check_views(samples: dict, movenet, thresholds: dict | None = None) -> list[ViewCheck]:
    """`check_view` for each of `samples` ({view: (images, source)}), the front first: a front
    camera that sees the person squarely gives the side check its reference width, as in the
    rule engine."""
    checks, front_ratio = [], None
    for view in sorted(samples, key=lambda v: v != "front"):
        images, source = samples[view]
        c = check_view(view, images, movenet, source, thresholds, front_ratio=front_ratio)
        if view == "front" and c.orientation == "front":
            front_ratio = c.width_ratio
        checks.append(c)
    return checks


def format_check(c: ViewCheck) -> str:
    head = f"{c.view}: {'OK' if c.ok else 'MOVE'}  ({c.source}, {c.width}x{c.height}, {c.frames} frames)"
    facts = []
    if c.person:
        if c.fill is not None:
            facts.append(f"fills {c.fill:.0%} of the height")
        facts.append("fully in frame" if not c.cut_off else "cut off at the " + ", ".join(c.cut_off))
        if c.orientation != "oblique":
            facts.append(f"sees the {c.orientation} ({c.skew_deg:.0f} degrees off square)")
        else:
            facts.append(f"sees the person at an angle ({c.skew_deg:.0f} degrees off square)")
    if c.brightness is not None:
        facts.append(f"brightness {c.brightness:.0f}/255")
    lines = [head]
    if facts:
        lines.append("  " + "; ".join(facts))
    lines += [f"  - {a}" for a in c.advice]
    return "\n".join(lines)


def sample_recording(path, view: str, count: int = 8, fps: float | None = None) -> tuple[list[np.ndarray], str]:
    """Up to `count` frames spread over a recording (decoded in one pass, only those kept)."""
    from device.camera.replay import ReplaySource

    source = ReplaySource(path, view, paced=False, fps=fps)
    source.open()
    total = max(1, source.media.frame_count)
    wanted = set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist())
    images = [f.image for i, f in enumerate(source) if i in wanted]
    return images, f"recording {path}"


def sample_live(capture, view: str, seconds: float, count: int = 8) -> tuple[list[np.ndarray], str]:
    """Up to `count` frames of a running DualCapture over `seconds`."""
    import time

    images = []
    deadline = time.monotonic() + seconds
    gap = seconds / max(1, count)
    while time.monotonic() < deadline and len(images) < count:
        frame = capture.wait_for_frame(view, timeout=max(0.05, deadline - time.monotonic()))
        if frame is None:
            break
        images.append(frame.image)
        time.sleep(gap)
    status = capture.status(view)
    return images, status["source"] or status["reason"]
