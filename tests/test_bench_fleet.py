"""scripts/bench_fleet.py --quick: the benchmark runs end to end on the real services, every
assessment sent is stored exactly once, and every figure docs/fleet.md quotes is produced."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from device import paths


@pytest.mark.slow
def test_quick_bench_runs_and_loses_nothing():
    proc = subprocess.run([sys.executable, str(paths.REPO_ROOT / "scripts" / "bench_fleet.py"), "--quick", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert proc.stdout.strip(), proc.stderr[-2000:]
    figures = json.loads(proc.stdout)
    for run in ("burst", "paced"):
        r = figures[run]
        assert r["errors"] == [] and r["complete"], r
        assert r["sent"] == r["stored"] == r["stations"] * r["per_station"]
        assert 0 < r["delay_ms_p50"] <= r["delay_ms_p99"]
    assert figures["burst"]["rate_per_s"] > 0
    reads = figures["reads"]
    assert reads["total"] == 5_000  # what was sent, topped up to 5,000 by the bulk fill
    assert reads["member_history_rows"] > 0
    assert set(reads["pages"]) >= {"list_first_page", "list_one_station", "list_search", "member_history"}
    assert figures["message_bytes"] > 1000
