"""Time for the panel: what time it is, and "run this later", in one object.

The panel measures presses and holds, blinks the status light and plays buzzer patterns. All of
that time comes from a clock with two members, so a test can drive it by hand (advance the clock,
the due calls run at once, in order) instead of sleeping and hoping the machine kept up:

    clock()                        # seconds, monotonic
    call = clock.call_later(0.25, fn)
    call.cancel()                  # fn will not run (if it has not started yet)

`MonotonicClock` is the real one: `time.monotonic` and one worker thread that runs the calls
when they are due, in order of due time.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Call:
    """One scheduled call; `cancel()` stops it unless it has started."""

    __slots__ = ("due", "fn", "cancelled")

    def __init__(self, due: float, fn: Callable[[], None]):
        self.due = due
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def run_call(call: Call) -> None:
    """Run a due call unless it was cancelled; a failing call is logged, never raised."""
    if call.cancelled:
        return
    try:
        call.fn()
    except Exception:  # one bad callback must not stop the clock
        log.exception("scheduled panel call failed")


class MonotonicClock:
    """`time.monotonic()` and a worker thread (started on first use) for `call_later`."""

    def __init__(self):
        self._queue: list[tuple[float, int, Call]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __call__(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, fn: Callable[[], None]) -> Call:
        call = Call(time.monotonic() + max(0.0, delay), fn)
        with self._cond:
            if self._closed:
                call.cancel()
                return call
            heapq.heappush(self._queue, (call.due, next(self._seq), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="panel-clock", daemon=True)
                self._thread.start()
            self._cond.notify()
        return call

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._closed:
                    return
                _, _, call = heapq.heappop(self._queue)
            run_call(call)

    def close(self) -> None:
        """Drop every pending call and stop the worker.

        Waits a little for a call that is running; never for ever, so a callback blocked on a lock
        the closer holds cannot hang the close."""
        with self._cond:
            self._closed = True
            for _, _, call in self._queue:
                call.cancel()
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
