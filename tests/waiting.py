"""Polling for tests that watch threads (cameras, panel, station)."""

import time


def wait_until(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:
    """True as soon as `predicate()` is; its last answer once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
