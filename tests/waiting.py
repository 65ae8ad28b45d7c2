"""Polling for tests that watch threads (cameras, panel, station).

Prefer driving time by hand (tests/hand_clock.py) wherever the code takes a clock. Where a test
must watch real threads, wait for the state, never sleep and then look: `timeout` only bounds a
failure. On a busy machine the threads being watched get less of the CPU, so the bound stretches
with the load (load average per core, re-read while waiting, at most LOAD_STRETCH_MAX times).
"""

import os
import time

LOAD_STRETCH_MAX = 10.0


def load_stretch() -> float:
    """How many times longer things take here now than on an idle machine (1 when idle)."""
    try:
        per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this system
        return 1.0
    return min(LOAD_STRETCH_MAX, max(1.0, per_core))


def wait_until(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:
    """True as soon as `predicate()` is; its last answer once `timeout` seconds (stretched by the
    machine's load) have passed."""
    start = time.monotonic()
    while time.monotonic() - start < timeout * load_stretch():
        if predicate():
            return True
        time.sleep(step)
    return predicate()
