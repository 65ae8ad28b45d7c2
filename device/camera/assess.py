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

import numpy as np

from device.camera.align import Alignment, estimate_offset
from device.camera.frame import Frame
from device.camera.replay import ReplaySource
from device.errors import InputError
from device.silhouette import refine as silhouette_refine
from device.track import N_KEYPOINTS, Track, ViewTrack
from device.vocabulary import COMPENSATIONS, NOT_ASSESSED, VIEWS

log = logging.getLogger(__name__)


# Frames kept for the silhouette refinement: every KEEP_EVERY-th frame (near each rep's bottom
# there are then still frames within its 0.12 s), shrunk so the longer side is KEEP_LONG_SIDE
# pixels (the size it works at anyway); at most KEEP_MAX frames per view.
KEEP_EVERY = 3
KEEP_LONG_SIDE = 640
KEEP_MAX = 240


class KeptFrames:
    """Shrunk copies of some frames of one view, with the scale from the view's pixels."""

    def __init__(self, frame_count: int, width: int, height: int):
        self.every = max(KEEP_EVERY, -(-frame_count // KEEP_MAX))
        self.scale = min(1.0, KEEP_LONG_SIDE / max(width, height))
        self.size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.frames: list[tuple[float, np.ndarray]] = []

    def offer(self, index: int, frame: Frame) -> None:
        if index % self.every or len(self.frames) >= KEEP_MAX:
            return
        import cv2

        image = frame.image
        if self.scale < 1.0:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.frames.append((frame.t, image))

    def scaled(self, view: ViewTrack) -> ViewTrack:
        """`view` in the pixels of the kept frames."""
        kps = view.keypoints.copy()
        kps[..., :2] *= self.scale
        return ViewTrack(self.size[0], self.size[1], view.fps, view.times.copy(), kps)


def track_recording(source: ReplaySource, movenet, keep: bool = False,
                    limit_s: float | None = None) -> tuple[ViewTrack, KeptFrames | None]:
    """Every frame of `source` through a fresh PoseTracker: a ViewTrack in the frames' pixels,
    and (with `keep`) shrunk copies of some frames for the silhouette refinement. `limit_s`
    stops after that much recording time (a looped source runs for ever otherwise)."""
    from device.pose import PoseTracker

    source.open()  # InputError for a missing or undecodable file
    width, height = source.size
    fps = source.fps
    kept = KeptFrames(source.media.frame_count, width, height) if keep else None
    tracker = PoseTracker(movenet)
    store = _Growing()
    first_t = None
    try:
        for frame in source:
            if first_t is None:
                first_t = frame.t
            elif limit_s is not None and frame.t - first_t >= limit_s:
                break
            if frame.image.shape[:2] != (height, width):
                raise InputError(
                    f"{source.path}: frame {len(store)} is {frame.width}x{frame.height}, "
                    f"the first was {width}x{height}"
                )
            if kept is not None:
                kept.offer(len(store), frame)
            store.add(frame.t, tracker.process(frame.image, frame.t).to_array())
    finally:
        source.close()
    if not len(store):
        raise InputError(f"{source.path}: no frames could be decoded")
    times, keypoints = store.arrays()
    return ViewTrack(width, height, fps, times, keypoints), kept


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

    refine = silhouette_refine if silhouette else None
    views: dict[str, ViewTrack] = {}
    kept: dict[str, KeptFrames] = {}
    problems: dict[str, str] = {}
    for view in VIEWS:
        if view not in given:
            problems[view] = f"no {view} recording was given"
            continue
        try:
            source = ReplaySource(given[view], view, paced=False, fps=fps)
            views[view], kept[view] = track_recording(source, movenet, keep=refine is not None)
        except InputError as e:
            if len(given) == 1:
                raise
            problems[view] = str(e)
    if not views:
        raise InputError("; ".join(problems[v] for v in VIEWS if v in given))
    for view in given:
        if view in problems:
            log.warning("%s view not assessed: %s", view, problems[view])

    alignment = _align(views, offset, align)
    if "side" in views and alignment.offset_s:
        views["side"].times = views["side"].times + alignment.offset_s
        if kept.get("side"):
            kept["side"].frames = [(t + alignment.offset_s, img) for t, img in kept["side"].frames]
    track = Track(views)

    from device.rules import evaluate

    result = evaluate(track, thresholds)
    for view, problem in problems.items():
        _mark_view_missing(result, view, problem)
    result["alignment"] = alignment.to_json()

    # Silhouette refinement replaces the feet/heel/low-back entries it can measure. It gets the
    # kept frames ({view: [(t, rgb)]}, shared clock) and the track in those frames' pixels.
    if refine is not None and views:
        frames = {v: kept[v].frames for v in views if kept.get(v)}
        small = Track({v: kept[v].scaled(views[v]) for v in frames})
        try:
            result = refine(result, frames, small)
        except Exception as e:  # a fault there must not cost the user the keypoint result
            log.error("silhouette refinement failed, keypoint result kept: %s", e, exc_info=log.isEnabledFor(logging.DEBUG))
            result["silhouette"] = {"error": f"refinement failed: {e.__class__.__name__}: {e}"}
        for view, problem in problems.items():  # refine may have rewritten the entries
            _mark_view_missing(result, view, problem)
    return result, track


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
