"""Assess recorded clips end to end: replay as fast as possible -> pose -> rules -> result.

    result, track = assess_recordings("front.mov", "side.mov")          # ohsa-result/1, Track

Either view may be left out, or be unreadable while the other is fine: that view's
compensations are then `not_assessed` and the reason names the file and the problem. Clips of
any size, orientation (portrait phone clips come upright from `device.media`) and frame rate are
fine: keypoints stay in pixels of each view's own frames. The clips need not start together:
`offset` (side time + offset = front time) or, by default, an estimate from the hip motion puts
both on one clock (front file time).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from device.camera.align import Alignment, estimate_offset
from device.camera.frame import Frame
from device.camera.replay import ReplaySource
from device.errors import InputError
from device.track import N_KEYPOINTS, Track, ViewTrack
from device.vocabulary import COMPENSATIONS, NOT_ASSESSED, VIEWS

log = logging.getLogger(__name__)


class Recording:
    """A clip's frames on the shared clock, to read again as often as needed (no frames kept)."""

    def __init__(self, path: str | os.PathLike, view: str, t0: float = 0.0, fps: float | None = None):
        self.path, self.view, self.t0, self.fps = Path(path), view, t0, fps

    def __iter__(self) -> Iterator[Frame]:
        return iter(ReplaySource(self.path, self.view, paced=False, t0=self.t0, fps=self.fps))


def track_recording(source: ReplaySource, movenet) -> ViewTrack:
    """Every frame of `source` through a fresh PoseTracker; a ViewTrack in the frames' pixels."""
    from device.pose import PoseTracker

    source.open()  # InputError for a missing or undecodable file
    width, height = source.size
    fps = source.fps
    tracker = PoseTracker(movenet)
    times: list[float] = []
    chunks: list[np.ndarray] = []
    block = np.empty((256, N_KEYPOINTS, 3), np.float32)
    n = 0
    try:
        for frame in source:
            if frame.image.shape[:2] != (height, width):
                raise InputError(
                    f"{source.path}: frame {len(times)} is {frame.width}x{frame.height}, "
                    f"the first was {width}x{height}"
                )
            block[n] = tracker.process(frame.image, frame.t).to_array()
            times.append(frame.t)
            n += 1
            if n == len(block):
                chunks.append(block)
                block, n = np.empty((256, N_KEYPOINTS, 3), np.float32), 0
    finally:
        source.close()
    chunks.append(block[:n])
    if not times:
        raise InputError(f"{source.path}: no frames could be decoded")
    keypoints = np.concatenate(chunks).astype(np.float64)
    return ViewTrack(width, height, fps, np.asarray(times, dtype=np.float64), keypoints)


def assess_recordings(
    front: str | os.PathLike | None = None,
    side: str | os.PathLike | None = None,
    offset: float | None = None,
    *,
    movenet=None,
    model_path: str | os.PathLike | None = None,
    threads: int = 1,
    thresholds: dict | None = None,
    align: bool = True,
    fps: float | None = None,
) -> tuple[dict, Track]:
    """The `ohsa-result/1` result and the keypoint track of one or two recordings.

    `offset`: side time + offset = front time, in seconds (None: estimate from the motion unless
    `align` is False, then 0). `fps`: frame rate of image folders. Raises InputError when no
    view can be used; a view that cannot be read while the other can is reported in the result.
    """
    if offset is not None and not math.isfinite(offset):
        raise InputError(f"offset {offset!r}: must be a finite number of seconds")
    given = {v: p for v, p in (("front", front), ("side", side)) if p is not None}
    if not given:
        raise InputError("no recording given: name a front and/or a side recording")
    if movenet is None:
        from device.pose import MoveNet

        movenet = MoveNet(model_path, threads=threads)

    views: dict[str, ViewTrack] = {}
    problems: dict[str, str] = {}
    for view in VIEWS:
        if view not in given:
            problems[view] = f"no {view} recording was given"
            continue
        try:
            views[view] = track_recording(ReplaySource(given[view], view, paced=False, fps=fps), movenet)
        except InputError as e:
            if len(given) == 1:
                raise
            log.warning("%s view not assessed: %s", view, e)
            problems[view] = str(e)
    if not views:
        raise InputError("; ".join(problems[v] for v in VIEWS if v in given))

    alignment = _align(views, offset, align)
    if "side" in views and alignment.offset_s:
        views["side"].times = views["side"].times + alignment.offset_s
    track = Track(views)

    from device.rules import evaluate

    result = evaluate(track, thresholds)
    for view, problem in problems.items():
        _mark_view_missing(result, view, problem)
    result["alignment"] = alignment.to_json()

    # --- silhouette refinement (device/silhouette, another module) ------------------------
    # refine(result, frames, track) may replace feet/heel/low-back entries it can measure from
    # the silhouettes; `frames` gives each view's frames again on the shared clock, on demand.
    refine = _silhouette_refine()
    if refine is not None:
        t0 = {"front": 0.0, "side": alignment.offset_s or 0.0}
        frames = {v: Recording(given[v], v, t0[v], fps) for v in views}
        result = refine(result, frames, track)
    return result, track


def _silhouette_refine():
    try:
        from device.silhouette import refine
    except ImportError as e:
        if (getattr(e, "name", "") or "").startswith("device.silhouette") or "refine" in str(e):
            return None  # not built yet in this checkout
        raise
    return refine


def _align(views: dict[str, ViewTrack], offset: float | None, align: bool) -> Alignment:
    if len(views) < 2:
        return Alignment(None, None, "one view only: nothing to align")
    if offset is not None:
        return Alignment(float(offset), None, "given")
    if not align:
        return Alignment(0.0, None, "not aligned: clips taken to start together")
    found = estimate_offset(views["front"], views["side"])
    if found.offset_s is None:
        log.warning("clips not aligned (%s); taking them to start together", found.reason)
        return Alignment(0.0, found.correlation, f"{found.reason}; clips taken to start together")
    log.info("side clip offset %.3f s %s", found.offset_s, found.reason)
    return found


def _mark_view_missing(result: dict, view: str, problem: str) -> None:
    """Make the result say why `view` was not assessed, in the user's terms."""
    views = result.setdefault("views", {})
    entry = views.get(view) if isinstance(views.get(view), dict) else {}
    entry.update({"status": "missing", "reason": problem})
    views[view] = entry
    for cid, comp in COMPENSATIONS.items():
        item = result["compensations"].get(cid)
        if comp.view == view and item is not None and item.get("status") == NOT_ASSESSED:
            item["reason"] = f"{view} view not assessed: {problem}"
