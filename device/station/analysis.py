"""From a finished set to a stored assessment: rules, silhouette refinement, stills, store.

Runs on the station's analysis worker, never on a web or GPIO thread. `analyse(job)` computes
and returns plain data; `save(job, outcome)` writes it, and the state machine calls it only if
the set still counts (not cancelled meanwhile), so nothing of a stopped set is ever stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np

from device import health, silhouette
from device.station import retest
from device.station.keeper import ViewKeeper
from device.station.machine import Job
from device.track import Track, ViewTrack
from device.vocabulary import NOT_ASSESSED, PRESENT

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
ARMS_OVERHEAD_ONLY = ("arms_fall_forward",)  # cannot be judged in the hands-on-hips re-test


def not_overhead(result: dict) -> None:
    """Hands on hips: what needs the arms overhead cannot be judged in this set."""
    for cid in ARMS_OVERHEAD_ONLY:
        entry = result["compensations"][cid]
        entry.update(status=NOT_ASSESSED, reps_flagged=0, side=None, value=None,
                     reason="the hands were on the hips in this re-test, not overhead")
        if "confidence" in entry:
            entry["confidence"] = 0.0
        if "severity" in entry:
            entry["severity"] = "none"


def scaled_track(track: Track, scales: dict[str, float]) -> Track:
    """The track in the pixels of downscaled frames (scale per view; 1.0 = unchanged)."""
    views = {}
    for v, vt in track.views.items():
        s = scales.get(v) or 1.0
        kps = vt.keypoints.copy()
        kps[..., :2] *= s
        views[v] = ViewTrack(max(1, round(vt.width * s)), max(1, round(vt.height * s)), vt.fps, vt.times.copy(), kps)
    return Track(views)


def bottom_time(result: dict, keepers: dict[str, ViewKeeper]) -> float | None:
    """Time of the worst rep's bottom (the rules' choice), else of the deepest kept frame."""
    windows = result.get("rep_windows") or []
    worst = result.get("worst_rep")
    if isinstance(worst, int) and 0 <= worst < len(windows):
        return float(windows[worst]["bottom"])
    deepest = [b for k in keepers.values() for b in k.all_bottoms()]
    return max(deepest, key=lambda b: b.depth).t if deepest else None


class Analyser:
    """The real analysis path (device.rules, device.silhouette, device.annotate, device.store)."""

    def __init__(
        self,
        config: dict,
        store,
        *,
        backgrounds: Callable[[], dict] | None = None,
        model_sha256: str = "",
    ):
        self.thresholds = config["rules"]["thresholds"] or None
        self.storage = config["storage"]
        self.store = store
        self.backgrounds = backgrounds or (lambda: {})
        self.model_sha256 = model_sha256

    def analyse(self, job: Job) -> dict:
        from device.rules import evaluate

        result = evaluate(job.track, self.thresholds)
        if job.kind == "hands_on_hips":
            not_overhead(result)
        result = self._refine(result, job)
        if job.kind != "standard" and job.parent_result is not None:
            # kept with the re-test, so the trainer pages can show it later
            result["retest"] = {"parent_id": job.parent_id, **retest.compare(job.parent_result, result, job.kind)}
        return {"result": result, "images": self._stills(result, job)}

    def save(self, job: Job, outcome: dict) -> str:
        images = outcome.get("images") or {}
        if images and not health.store_images_allowed(self.store.path.parent, self.storage):
            log.warning("disk nearly full: assessment saved without its still images")
            outcome["result"]["images_skipped"] = "the station's disk is nearly full"
            images = {}
        return self.store.save_assessment(
            outcome["result"], job.track, images,
            kind=job.kind, parent_id=job.parent_id, model_sha256=self.model_sha256,
        )

    def mark_pain(self, assessment_id: str) -> None:
        """Pain reported on a result: the stored assessment says so."""
        self.store.set_pain(assessment_id, True)

    def _refine(self, result: dict, job: Job) -> dict:
        frames = {v: k.frames() for v, k in job.keepers.items() if k.scale and v in job.track.views}
        frames = {v: f for v, f in frames.items() if f}
        if not frames:
            return result
        scales = {v: job.keepers[v].scale for v in frames}
        backgrounds = {}
        for v, bg in (self.backgrounds() or {}).items():
            if v in frames and bg is not None and bg.shape[:2] == frames[v][0][1].shape[:2]:
                backgrounds[v] = bg
        return silhouette.refine(result, frames, scaled_track(job.track, scales), backgrounds or None)

    def _stills(self, result: dict, job: Job) -> dict[str, bytes]:
        t = bottom_time(result, job.keepers)
        if t is None:
            return {}
        images = {}
        for view, keeper in job.keepers.items():
            bottom = keeper.nearest(t)
            if bottom is None or not keeper.scale:
                continue
            kps = bottom.keypoints.copy()
            kps[:, :2] *= keeper.scale
            images[view] = still_jpeg(bottom.still, kps, result, view)
        return images


def still_jpeg(rgb: np.ndarray, keypoints: np.ndarray, result: dict, view: str) -> bytes:
    """The annotated still (device.annotate): skeleton and this view's findings, JPEG bytes."""
    from device.annotate import annotate

    present = [c for c, e in result["compensations"].items() if e.get("status") == PRESENT]
    return annotate(rgb, keypoints, present, view)


def plain_jpeg(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
