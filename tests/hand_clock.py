"""A clock a test moves by hand: the station's `clock()` and the panel's `call_later`.

    clock = HandClock()
    panel = open_panel(config, pin_factory=MockFactory(), clock=clock)
    clock.advance(0.15)      # every call due by then runs now, in this thread, in order

Nothing happens between two `advance` calls, however busy the machine is.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable

from device.panel.clock import Call, run_call

EPS = 1e-9  # sums of float seconds land a hair either side of a due time: both count as due


class HandClock:
    def __init__(self, t: float = 1000.0):
        self.t = t
        self._queue: list[tuple[float, int, Call]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.t

    def call_later(self, delay: float, fn: Callable[[], None]) -> Call:
        with self._lock:
            call = Call(self.t + max(0.0, delay), fn)
            heapq.heappush(self._queue, (call.due, next(self._seq), call))
        return call

    def advance(self, dt: float) -> None:
        """Move time on by `dt` seconds, running each call when its due time is reached
        (calls scheduled meanwhile run too if they fall due before the end)."""
        end = self.t + dt
        while True:
            with self._lock:
                if not self._queue or self._queue[0][0] > end + EPS:
                    break
                due, _, call = heapq.heappop(self._queue)
                self.t = max(self.t, due)
            run_call(call)
        self.t = end

    def pending(self) -> list[float]:
        """Due times of the calls not run or cancelled yet, soonest first (for assertions)."""
        with self._lock:
            return sorted(c.due for _, _, c in self._queue if not c.cancelled)
