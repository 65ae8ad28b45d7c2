"""Plausible assessments for demos, benchmarks and web tests: `fill(store, n)`.

The results follow `ohsa-result/1` with the rules layer's extra keys (confidence, severity,
views, rep_windows, worst_rep); the measurements are made up from a seeded random generator,
so they are for exercising pages and the store, never for judging anyone.
"""

from __future__ import annotations

import datetime as dt
import math
import random

import cv2
import numpy as np

from device import verdict
from device.keypoints import KEYPOINT_NAMES
from device.thresholds import THRESHOLDS
from device.vocabulary import ABSENT, COMPENSATIONS, FORMAT_KEYPOINTS, FORMAT_RESULT, PRESENT


def measure(cid: str) -> tuple[str, float, float, float] | None:
    """(unit, threshold, a value without it, a value with it), from the one threshold table
    (the catalogue names the deciding entry); None for what the station cannot measure."""
    name = COMPENSATIONS[cid].threshold
    if name is None:
        return None
    spec = THRESHOLDS[name]
    worse = -1.0 if spec.direction == "below" else 1.0
    return spec.unit, spec.value, spec.value - worse * 0.6 * spec.step, spec.value + worse * 0.8 * spec.step


# How often each finding turns up in a walk-up crowd (a rough guess for realistic pages).
PREVALENCE = {
    "feet_turn_out": 0.35, "feet_turn_in": 0.03, "heels_rise": 0.15,
    "knees_cave_in": 0.35, "knees_push_out": 0.05, "asymmetric_weight_shift": 0.2,
    "excessive_forward_lean": 0.4, "low_back_arch": 0.2, "low_back_round": 0.1,
    "arms_fall_forward": 0.45, "head_forward": 0.2, "head_down": 0.1,
}
EXCLUSIVE = (("feet_turn_out", "feet_turn_in"), ("knees_cave_in", "knees_push_out"),
             ("low_back_arch", "low_back_round"))


def demo_result(rng: random.Random, reps: int = 5) -> dict:
    """One plausible `ohsa-result/1` (with the rules layer's extra keys)."""
    present = {cid for cid, p in PREVALENCE.items() if rng.random() < p}
    for a, b in EXCLUSIVE:
        if a in present and b in present:
            present.discard(rng.choice((a, b)))
    side_missing = rng.random() < 0.05
    comps = {}
    for cid, comp in COMPENSATIONS.items():
        m = measure(cid)
        if m is None:
            comps[cid] = verdict.not_assessed(comp.unmeasured, "cannot_measure")
            continue
        unit, threshold, normal, bad = m
        if side_missing and comp.view == "side":
            comps[cid] = verdict.not_assessed("the person was not seen in the side view", "not_visible",
                                              threshold, unit)
            continue
        status = PRESENT if cid in present else ABSENT
        centre = bad if status == PRESENT else normal
        value = round(centre + rng.gauss(0, abs(bad - normal) * 0.15), 2)
        side = None
        if comp.sided and status == PRESENT:
            side = rng.choice(("left", "right", "both", "both"))
        flagged = rng.randint(3, reps) if status == PRESENT else rng.randint(0, 1)
        spec = THRESHOLDS[comp.threshold]
        severity = verdict.severity(value, threshold, spec.step, spec.direction) if status == PRESENT else "none"
        comps[cid] = {"status": status, "reps_flagged": flagged, "side": side, "value": value,
                      "unit": unit, "threshold": threshold,
                      "confidence": round(rng.uniform(0.55, 0.95), 2), "severity": severity}
    windows, t = [], 1.0
    for _ in range(reps):
        dur = rng.uniform(2.0, 3.5)
        windows.append({"start": round(t, 2), "bottom": round(t + dur / 2, 2), "end": round(t + dur, 2)})
        t += dur + 0.3
    return {
        "format": FORMAT_RESULT,
        "reps": reps,
        "compensations": comps,
        "views": {"front": {"status": "ok", "reason": ""},
                  "side": ({"status": "missing", "reason": "no person in view"} if side_missing
                           else {"status": "ok", "reason": "", "near_side": rng.choice(("left", "right"))})},
        "rep_windows": windows,
        "worst_rep": rng.randrange(reps),
    }


def demo_track(rng: random.Random, seconds: float = 2.0, fps: float = 15.0) -> dict:
    """A short, smooth `ohsa-keypoints/1` track of a standing figure bobbing up and down."""
    base = _figure(640, 480)
    views = {}
    for view in ("front", "side"):
        frames = []
        for i in range(int(seconds * fps)):
            t = i / fps
            depth = 60 * (1 - math.cos(2 * math.pi * t / 2.5)) / 2
            k = base.copy()
            k[5:, 1] += depth * np.linspace(1, 0.2, 12)
            k[:, :2] += np.array([rng.gauss(0, 1), rng.gauss(0, 1)])
            k[:, 2] = np.clip(0.7 + np.array([rng.gauss(0, 0.08) for _ in range(17)]), 0, 1)
            frames.append({"t": round(t, 3), "keypoints": np.round(k, 2).tolist()})
        views[view] = {"width": 640, "height": 480, "fps": fps, "frames": frames}
    return {"format": FORMAT_KEYPOINTS, "views": views}


def _figure(width: int, height: int) -> np.ndarray:
    """COCO-17 keypoints of a person standing with arms overhead, in pixels."""
    cx = width / 2
    pts = {
        "nose": (0, 120), "left_eye": (8, 112), "right_eye": (-8, 112), "left_ear": (16, 118),
        "right_ear": (-16, 118), "left_shoulder": (40, 170), "right_shoulder": (-40, 170),
        "left_elbow": (50, 110), "right_elbow": (-50, 110), "left_wrist": (55, 50),
        "right_wrist": (-55, 50), "left_hip": (30, 280), "right_hip": (-30, 280),
        "left_knee": (35, 360), "right_knee": (-35, 360), "left_ankle": (38, 440),
        "right_ankle": (-38, 440),
    }
    # The person faces the camera: their left is on the image's right.
    return np.array([[cx + pts[n][0], pts[n][1] * height / 480, 0.8] for n in KEYPOINT_NAMES])


def demo_jpeg(view: str, width: int = 320, height: int = 240) -> bytes:
    """A small JPEG still with a stick figure (stands in for an annotated frame)."""
    img = np.full((height, width, 3), 235, np.uint8)
    k = _figure(width, height) * [1, 1, 1]
    k[:, 0] = (k[:, 0] - width / 2) * 0.5 + width / 2
    for a, b in ((5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (5, 11), (6, 12), (11, 12),
                 (11, 13), (13, 15), (12, 14), (14, 16)):
        cv2.line(img, tuple(int(v) for v in k[a, :2]), tuple(int(v) for v in k[b, :2]), (40, 90, 200), 3)
    cv2.putText(img, view, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def fill(store, n: int, *, seed: int = 0, clients: int = 0, with_tracks: bool = True,
         track_seconds: float = 2.0, start: dt.datetime | None = None,
         days: float = 180.0) -> list[str]:
    """Save `n` plausible assessments spread over `days` before `start` (default now); ids.

    `clients` labels (0 = about n/4) are reused so client histories have several entries;
    about one in ten assessments is a re-test linked to the one before it. A station's real
    track is about 20 s at 30 fps per view (`track_seconds=20, fps 30`); the default is short
    to keep tests fast.
    """
    rng = random.Random(seed)
    clients = clients or max(1, n // 4)
    labels = [f"M{1000 + i}" for i in range(clients)]
    images = {"front": demo_jpeg("front"), "side": demo_jpeg("side")}
    track = demo_track(rng, seconds=track_seconds, fps=30.0 if track_seconds > 5 else 15.0) if with_tracks else None
    start = start or dt.datetime.now(dt.timezone.utc)
    ids: list[str] = []
    times = sorted(start - dt.timedelta(days=rng.uniform(0, days)) for _ in range(n))
    for when in times:
        label = rng.choice(labels) if rng.random() < 0.85 else ""
        retest = bool(ids) and rng.random() < 0.1
        kind = rng.choice(("heels_raised", "hands_on_hips")) if retest else "standard"
        aid = store.save_assessment(
            demo_result(rng), track, images,
            label=label, notes="demo" if rng.random() < 0.1 else "", kind=kind,
            parent_id=ids[-1] if retest else None, created_at=when,
            model_sha256="0" * 64,
        )
        ids.append(aid)
    return ids
