"""Assess recorded clips end to end: replay as fast as possible -> pose -> the analysis pipeline.

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
from dataclasses import replace

import numpy as np

from device.analysis.keeper import ViewKeeper
from device.analysis.pipeline import analyse
from device.analysis.recorder import Recorder, live_counter
from device.camera.replay import ReplaySource
from device.errors import InputError
from device.analysis import stereo
from device.rules.align import Alignment, estimate_clock
from device.thresholds import Thresholds
from device.track import N_KEYPOINTS, Track, ViewTrack
from device.vocabulary import COMPENSATIONS, NOT_ASSESSED, VIEWS

MAX_REPS = 12  # bottoms kept per view: a recording may hold more reps than a station set

log = logging.getLogger(__name__)


def track_recording(source: ReplaySource, movenet, keep: bool = False, limit_s: float | None = None,
                    thresholds: Thresholds | None = None) -> tuple[ViewTrack, ViewKeeper | None]:
    """Every frame of `source` through a fresh PoseTracker: a ViewTrack in the frames' pixels,
    and (with `keep`) the frames a set keeps: recorded with the station's own `Recorder` (its
    live rep counter marks each rep's bottom for the keeper), the frames' times as its clock.
    `limit_s` stops after that much recording time (a looped source runs for ever otherwise)."""
    from device.pose import PoseTracker

    source.open()  # InputError for a missing or undecodable file
    width, height = source.size
    fps = source.fps
    view = source.view
    rec = Recorder(0.0, MAX_REPS, live_counter(thresholds), views=(view,)) if keep else None
    tracker = PoseTracker(movenet)
    store = _Growing()
    first_t = None
    try:
        for index, frame in enumerate(source):
            if first_t is None:
                first_t = frame.t
            elif limit_s is not None and frame.t - first_t >= limit_s:
                break
            if frame.image.shape[:2] != (height, width):
                raise InputError(
                    f"{source.path}: frame {index} is {frame.width}x{frame.height}, "
                    f"the first was {width}x{height}"
                )
            kps = tracker.process(frame.image, frame.t).to_array()
            if rec is None:
                store.add(frame.t, kps)
            else:  # the recorder holds the keypoints (once: not also in `store`)
                rec.add(view, frame.t, kps, width, height, now=frame.t)
                rec.keep(view, frame.t, frame.image, kps)
    finally:
        source.close()
    if rec is not None:
        times, keypoints = np.array(rec.times[view]), np.array(rec.keypoints[view], np.float64)
    else:
        times, keypoints = store.arrays()
    if not len(times):
        raise InputError(f"{source.path}: no frames could be decoded")
    return ViewTrack(width, height, fps, times, keypoints), (rec.close()[view] if rec is not None else None)


class _Growing:
    """Times and keypoints in fixed blocks: 212 bytes a frame while a long clip runs."""

    BLOCK = 1024

    def __init__(self):
        self._t: list[np.ndarray] = []
        self._k: list[np.ndarray] = []
        self._n = self.BLOCK  # fill of the last block
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, t: float, keypoints: np.ndarray) -> None:
        if self._n == self.BLOCK:
            self._t.append(np.empty(self.BLOCK, np.float64))
            self._k.append(np.empty((self.BLOCK, N_KEYPOINTS, 3), np.float32))
            self._n = 0
        self._t[-1][self._n] = t
        self._k[-1][self._n] = keypoints
        self._n += 1
        self._count += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._count:
            return np.zeros(0), np.zeros((0, N_KEYPOINTS, 3))
        times = np.concatenate(self._t)[: self._count]
        keypoints = np.concatenate(self._k)[: self._count].astype(np.float64)
        return times, keypoints


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
    silhouette: bool = True,
) -> tuple[dict, Track]:
    """The `ohsa-result/1` result and the keypoint track of one or two recordings.

    `offset`: side time + offset = front time, in seconds (None: estimate from the motion unless
    `align` is False, then 0). `fps`: frame rate of image folders. `silhouette`: let
    device.silhouette refine feet/heel/low-back entries when that module is installed. Raises
    InputError when no view can be used; a view that cannot be read while the other can is
    reported in the result.
    """
    if offset is not None and not math.isfinite(offset):
        raise InputError(f"offset {offset!r}: must be a finite number of seconds")
    given = {v: p for v, p in (("front", front), ("side", side)) if p is not None}
    if not given:
        raise InputError("no recording given: name a front and/or a side recording")
    if movenet is None:
        from device.pose import MoveNet

        movenet = MoveNet(model_path, threads=threads)

    th = Thresholds.of(thresholds)
    views: dict[str, ViewTrack] = {}
    kept: dict[str, ViewKeeper] = {}
    problems: dict[str, str] = {}
    for view in VIEWS:
        if view not in given:
            problems[view] = f"no {view} recording was given"
            continue
        try:
            source = ReplaySource(given[view], view, paced=False, fps=fps)
            views[view], kept[view] = track_recording(source, movenet, keep=silhouette, thresholds=th)
        except InputError as e:
            if len(given) == 1:
                raise
            problems[view] = str(e)
    if not views:
        raise InputError("; ".join(problems[v] for v in VIEWS if v in given))
    for view in given:
        if view in problems:
            log.warning("%s view not assessed: %s", view, problems[view])

    # The one alignment: the side clip onto the front clip's clock, before the rules run.
    alignment = _align(views, offset, align)
    if "side" in views and (alignment.offset_s or alignment.rate != 1.0):
        views["side"].times = alignment.to_front(views["side"].times)
        if kept.get("side"):
            kept["side"].shift(alignment.offset_s or 0.0, alignment.rate)
    track = Track(views)
    # a recording says nothing of its lens: a phone's main camera is assumed for the 3-D stage
    # (the returned track keeps "unknown")
    lens = Track({v: t if t.hfov_deg is not None else replace(
        t, hfov_deg=stereo.width_hfov(t.width, t.height, stereo.PHONE_LONG_SIDE_HFOV_DEG)) for v, t in views.items()})
    result = analyse(lens, kept if silhouette else None, thresholds=th,
                     clock_offset=0.0 if len(views) == 2 else None)
    for view, problem in problems.items():
        _mark_view_missing(result, view, problem)
    result["alignment"] = alignment.to_json()
    return result, track


def _align(views: dict[str, ViewTrack], offset: float | None, align: bool) -> Alignment:
    if len(views) < 2:
        return Alignment(None, None, "one view only: nothing to align")
    if offset is not None:
        return Alignment(float(offset), None, "given")
    if not align:
        return Alignment(0.0, None, "not aligned: clips taken to start together")
    found = estimate_clock(views["front"], views["side"])
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
            item["reason_code"] = "no_view"
