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
    notes: list[str] = field(default_factory=list)  # worth knowing, nothing to move

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
               thresholds: dict | None = None, front_ratio: float | None = None,
               oblique_side_ok: bool = False) -> ViewCheck:
    """Judge the placement of one camera from a few of its frames (RGB uint8); `thresholds`:
    overrides of the rule engine's table (config `rules.thresholds`); `front_ratio`: the side
    check's reference, the front camera's `width_ratio` when it sees the person squarely;
    `oblique_side_ok`: the mat calibration holds for this side camera, so the 3-D measures do
    not need it square (an oblique view is a note, not something to move)."""
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
    if view == "side" and c.orientation == "oblique" and oblique_side_ok:
        c.notes.append(f"The side camera sees the person at an angle (about {off_side:.0f} degrees off square): "
                       "fine for the 3-D measures with the mat calibration; the 2-D side checks would need it square")
    elif view == "side" and c.orientation != "side":
        what = "from the front" if c.orientation == "front" else "at an angle"
        c.advice.append(
            f"The side camera sees the person {what} (about {off_side:.0f} degrees off square, "
            f"at most {th['side_max_skew_deg']:g}): move it round so it looks at the person's "
            "side at 90 degrees to the front camera"
        )
    return c


def check_views(samples: dict, movenet, thresholds: dict | None = None,
                oblique_side_ok: bool = False) -> list[ViewCheck]:
    """`check_view` for each of `samples` ({view: (images, source)}), the front first: a front
    camera that sees the person squarely gives the side check its reference width, as in the
    rule engine."""
    checks, front_ratio = [], None
    for view in sorted(samples, key=lambda v: v != "front"):
        images, source = samples[view]
        c = check_view(view, images, movenet, source, thresholds, front_ratio=front_ratio,
                       oblique_side_ok=oblique_side_ok)
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
    lines += [f"  * {n}" for n in c.notes]
    return "\n".join(lines)


# --- the calibration: the mat, where the cameras stand, whether 3-D is in use --------------------

MAT_STEPS = (
    "`ohsa calibrate mat -o mat.pdf` (one A1 sheet; `--paper a4` for 15 A4 pages to trim and tape); "
    "print at 100 % and check the printed 100 mm bar with a ruler",
    "lay it flat where members stand, the printed toes pointing at the front camera, and fix it to the floor",
    "with nobody on the mat and the station stopped (`sudo systemctl stop ohsa`): `ohsa calibrate`; "
    "it says where each camera stands, or which camera to move so it sees the whole mat",
    "run `ohsa check` again: it then says where the cameras stand and that 3-D uses the mat",
)
OBLIQUE_MAX_DEG = 60.0  # the 3-D measures are validated up to this far round toward the front (issue 12)


@dataclass
class CalibrationCheck:
    source: str  # "mat" | "none" | "invalid"
    lines: list[str] = field(default_factory=list)  # plain words
    advice: list[str] = field(default_factory=list)  # something to do
    geometry: dict | None = None  # device.geometry.words' geometry-shaped dict
    rechecked: dict = field(default_factory=dict)  # view -> "ok" | "moved" | "recalibrated" | "unknown"

    @property
    def ok(self) -> bool:
        return not self.advice

    @property
    def oblique_side_ok(self) -> bool:
        """The mat calibration holds and puts the side camera where the 3-D measures work."""
        g = self.geometry or {}
        moved = any(s in ("moved", "recalibrated") for s in self.rechecked.values())
        return (self.source == "mat" and not moved and g.get("round_toward_front_deg") is not None
                and 0 <= g["round_toward_front_deg"] <= OBLIQUE_MAX_DEG)

    def to_json(self) -> dict:
        return {"source": self.source, "lines": self.lines, "advice": self.advice, "geometry": self.geometry,
                "rechecked": self.rechecked, "ok": self.ok}


def check_calibration(data_dir, stills: dict | None = None) -> CalibrationCheck:
    """The station's mat calibration (`<data dir>/calibration.json`) in plain words, re-checked
    against `stills` ({view: RGB}, the live cameras) when given; without one, how to make it."""
    import time
    from pathlib import Path

    from device.geometry import calibration as calib
    from device.geometry import words
    from device.health import CALIBRATION_FILE, CALIBRATION_RECORD_FILE, calibration_status

    data_dir = Path(data_dir)
    path = data_dir / CALIBRATION_FILE
    if not path.exists():
        c = CalibrationCheck("none")
        c.lines.append(f"No mat calibration ({path}): 3-D uses the calibration on the person when it can be trusted, "
                       "else the 2-D checks, which need the side camera square to the person. For a calibration "
                       "the station can trust every day, print the footprint mat and calibrate on it:")
        c.lines += [f"  {i}. {step}" for i, step in enumerate(MAT_STEPS, 1)]
    else:
        try:
            cal = calib.load(path)
        except calib.CalibrationError as e:
            return CalibrationCheck("invalid", advice=[f"The calibration file cannot be used: {e}. "
                                                       "Run `ohsa calibrate` again (docs/calibration.md)"])
        c = CalibrationCheck("mat", geometry=words.from_calibration(cal))
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(cal.created))
        where = words.placement(c.geometry)
        c.lines.append(f"Mat calibration of {when}{': ' + where if where else ''}")
        if c.geometry is None:
            c.lines.append("Only one camera is calibrated: 3-D needs both; run `ohsa calibrate` with both cameras")
        else:
            c.lines.append("3-D in use with the mat calibration (the station re-checks it on the mat while idle)")
        if stills:
            try:
                verdict = calib.recheck(cal, stills)
            except calib.CalibrationError as e:
                c.lines.append(f"Not re-checked on these pictures: {e}")
                verdict = None
            for view, v in (verdict.views.items() if verdict else ()):
                c.rechecked[view] = v.status
                if v.status == "ok":
                    c.lines.append(f"{view} camera: in place on the mat ({v.shift_px:.1f} px)")
                elif v.status == "unknown":
                    c.lines.append(f"{view} camera: sees too little of the mat to re-check it now "
                                   f"({v.markers} markers; someone on it?)")
                else:
                    c.advice.append(f"The {view} camera has moved since `ohsa calibrate` (the mat's markers are "
                                    f"{v.shift_px:.0f} px from where they were): run `ohsa calibrate` again with the "
                                    "mat clear (the station also recalibrates by itself when it can)")
    if (data_dir / CALIBRATION_RECORD_FILE).exists():
        c.lines.append(f"The station says: {calibration_status(data_dir)['message']}")
    return c


def format_calibration(c: CalibrationCheck) -> str:
    lines = [f"calibration: {'OK' if c.ok else 'REDO'}  ({'the footprint mat' if c.source == 'mat' else c.source})"]
    lines += [f"  {line}" for line in c.lines]
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
