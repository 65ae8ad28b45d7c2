"""One owner per camera: a thread with its own MoveNet interpreter and crop tracker per view.

    worker = PoseWorker("front", capture, station, movenet, handle=runtime.handle_frame).start()
    worker.alive(now, stuck_after_s)   # for the systemd watchdog: the loop came round lately
    worker.stop(); worker.join(timeout)

The interpreter's `invoke()` releases the GIL, so two views' workers use two cores. A worker
waits for its view's newest frame (DualCapture: newest frame wins, nothing queues up), asks the
station's state, and hands the frame to `handle(worker, frame, state)`: pose while a set is
under way, the empty scene's background while idle. While the station sleeps outside its
opening hours (machine.ASLEEP) the worker takes no frames at all (no pose, no card search, no
background) and only comes round, so the watchdog stays fed. The state machine is thread-safe (one
lock), so both workers feed it directly. One view's worker failing or hanging inside native
code does not hold up the other's; `beat` (when its loop last came round) tells the watchdog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from device.station.machine import ASLEEP

log = logging.getLogger(__name__)

WAIT_S = 0.1  # wait at most this long for a frame, then come round (stop, heartbeat)
ASLEEP_WAIT_S = 0.5  # asleep: how often the loop comes round to look whether the station woke
ERROR_PAUSE_S = 0.5  # after a failed frame: a moment before the next, so errors cannot spin


class PoseWorker:
    def __init__(self, view: str, capture, station, movenet, tracker,
                 handle: Callable[[PoseWorker, object, str], None], clock=time.monotonic):
        self.view = view
        self.capture = capture
        self.station = station
        self.movenet = movenet  # this worker's own interpreter (None: no model, safe mode)
        self.tracker = tracker  # its PoseTracker on that interpreter (None without a model)
        self._handle = handle
        self._clock = clock
        self._stop = threading.Event()
        self.beat = clock()  # when the loop last came round
        self.frames = 0
        self.errors = 0
        self.asleep_turns = 0  # turns the loop came round without taking a frame (station asleep)
        self.thread = threading.Thread(target=self._run, name=f"pose-{view}", daemon=True)

    def start(self) -> PoseWorker:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """True when the thread has ended."""
        if self.thread.ident is not None:
            self.thread.join(max(0.0, timeout))
        return not self.thread.is_alive()

    def alive(self, now: float, stuck_after_s: float) -> bool:
        """The loop is running and came round within `stuck_after_s` (not hung in a frame)."""
        return self.thread.is_alive() and now - self.beat <= stuck_after_s

    def _run(self) -> None:
        prev = None
        while not self._stop.is_set():
            self.beat = self._clock()
            t0 = time.monotonic()
            if self.station.current == ASLEEP:
                self.asleep_turns += 1
                self._stop.wait(ASLEEP_WAIT_S)
                continue
            try:
                frame = self.capture.wait_for_frame(self.view, timeout=WAIT_S)
                if frame is None:
                    if time.monotonic() - t0 < WAIT_S / 2:  # no camera, or it ended: no spinning
                        self._stop.wait(WAIT_S)
                    continue
                state = self.station.current
                if self.tracker is not None and state == "positioning" and prev != state and (
                    prev not in ("countdown", "recording")
                ):
                    self.tracker.reset()  # a new person: the crop starts from the whole frame
                prev = state
                self._handle(self, frame, state)
                self.frames += 1
            except Exception:  # one bad frame must not end the view; the watchdog sees hangs
                self.errors += 1
                log.exception("%s pose worker: frame failed", self.view)
                self._stop.wait(ERROR_PAUSE_S)
