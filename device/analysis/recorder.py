"""One set being recorded: the keypoints per view, the kept frames and the live rep count.

    rec = Recorder(started=now, target_reps=5, count_reps=counter)
    new_reps = rec.add(view, t, keypoints, width, height, now)   # None, or the new count
    rec.keep(view, t, image, keypoints)   # the frame, for stills and silhouettes (outside the lock)
    keepers = rec.close()   # {view: ViewKeeper}: each rep's bottom frames; no frame kept after
    rec.track()             # device.track.Track of what was recorded

The station's state machine (`device.station.machine`) owns one while it is in `recording` and
decides what a count means (stop at the target, a message for the page); `ohsa assess` records
each replayed recording with one, its frame times as the clock. This module only records.
`count_reps(view_track, view_name)` is the live counter: `live_counter(thresholds)` gives the
rule engine's own, with the same threshold overrides the final evaluation uses.

`add` is cheap and runs under the state machine's lock. `keep` downscales the frame (a few ms
for a 1080x1920 frame) and runs on the view's own pose worker outside that lock, so the two
views do not wait for each other's frames; each view's keeper has its own small lock, taken by
`keep`, by the live counter's rep boundaries and by `close`, after which nothing is kept.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from device.analysis.keeper import ViewKeeper
from device.placement import person_present
from device.track import Track, ViewTrack
from device.vocabulary import VIEWS

COUNT_EVERY_S = 0.1  # the live rep counter runs on a view at most this often (about 1 ms a call)

CountReps = Callable[[ViewTrack, str], int]


def live_counter(thresholds: dict | None = None) -> CountReps:
    """The rule engine's rep counter with these overrides (config `rules.thresholds`), so the
    live count and the final evaluation segment reps the same way."""
    from device.thresholds import Thresholds

    th = Thresholds.of(thresholds)  # checked once, the same object for every call

    def count(view: ViewTrack, name: str) -> int:
        from device.rules import count_reps

        return count_reps(view, th, kind=name)

    return count


def _fps(times: list) -> float:
    if len(times) < 2 or times[-1] <= times[0]:
        return 30.0
    return (len(times) - 1) / (times[-1] - times[0])


class Recorder:
    def __init__(self, started: float, target_reps: int, count_reps: CountReps,
                 count_every_s: float = COUNT_EVERY_S, views: tuple[str, ...] = VIEWS):
        self.started = started
        self.count_reps = count_reps
        self.count_every_s = count_every_s
        self.sizes: dict[str, tuple[int, int]] = {}
        self.views = views
        self.times: dict[str, list] = {v: [] for v in views}
        self.keypoints: dict[str, list] = {v: [] for v in views}
        self.keepers = {v: ViewKeeper(max_reps=target_reps + 1) for v in views}
        self.seen: dict[str, float] = {}  # clock time the person was last seen, per view
        self._keeping = {v: threading.Lock() for v in views}
        self._closed = False
        self.reps = 0
        self.view_reps = {v: 0 for v in views}  # the live count per view; `reps` is the larger
        self._counted_at = {v: -math.inf for v in views}

    def add(self, view: str, t: float, kps: np.ndarray | None, width: int, height: int,
            now: float = 0.0) -> int | None:
        """One processed frame's keypoints; returns the new rep count when the live counter
        went up (then the keepers start the next rep)."""
        self.sizes.setdefault(view, (int(width), int(height)))
        if person_present(kps):
            self.seen[view] = now
        if kps is not None:
            self.times[view].append(float(t))
            self.keypoints[view].append(kps)
        # counted on the view whose frame this is (the two views' frames take turns)
        if kps is None or now - self._counted_at[view] < self.count_every_s:
            return None
        self._counted_at[view] = now
        vt = self.view_track(view)
        if vt is not None and len(vt) >= 2:
            self.view_reps[view] = int(self.count_reps(vt, view))
        reps = max(self.view_reps.values())
        if reps <= self.reps:
            return None
        for _ in range(reps - self.reps):
            for v, keeper in self.keepers.items():
                with self._keeping[v]:
                    keeper.end_rep()
        self.reps = reps
        return reps

    def keep(self, view: str, t: float, image, kps: np.ndarray | None) -> None:
        """Keep this frame for the set's stills and silhouettes (the view's thread only)."""
        if image is None or kps is None:
            return
        with self._keeping[view]:
            if not self._closed:
                self.keepers[view].add(float(t), image, kps)

    def close(self) -> dict:
        """The set is over: the keepers, which no later frame changes (the analysis owns them)."""
        for lock in self._keeping.values():
            with lock:
                self._closed = True
        return self.keepers

    def last_seen(self, view: str) -> float:
        return self.seen.get(view, self.started)

    def view_track(self, view: str) -> ViewTrack | None:
        if not self.times[view]:
            return None
        w, h = self.sizes[view]
        return ViewTrack(
            w, h, _fps(self.times[view]), np.array(self.times[view]), np.array(self.keypoints[view])
        )

    def track(self) -> Track:
        return Track({v: vt for v in self.views if (vt := self.view_track(v)) is not None})
