#!/usr/bin/env python3
"""Benchmark the rule engine: `evaluate` on a 30 s two-view track at 30 fps (goal < 50 ms).

The track is synthetic (tests/synth: eight squats, 30 fps front and side, about 900 frames
each). Prints the median and 95th percentile of:
  evaluate          the rules on the in-memory track (what the station runs after the last rep)
  read+evaluate     parsing the ohsa-keypoints/1 JSON file first (what `ohsa rules` computes)
  count_reps        the live rep counter on one whole view (called several times a second)

    .venv/bin/python scripts/bench_rules.py [--runs 50] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.rules import count_reps, evaluate  # noqa: E402
from device.track import read_track, write_track  # noqa: E402
from tests.synth import Movement, make_case  # noqa: E402


def timed(fn, runs: int) -> dict:
    """Wall time and this process's CPU time (the compute, whatever else the machine runs)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    wall.sort()
    return {
        "median_ms": round(statistics.median(wall), 2),
        "p95_ms": round(wall[int(0.95 * (len(wall) - 1))], 2),
        "cpu_median_ms": round(statistics.median(cpu), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    mv = replace(Movement.random(rng, reps=8), lead_s=2.0, tail_s=1.5, descent_s=1.4, ascent_s=1.2,
                 bottom_pause_s=0.2, top_pause_s=0.75, depth=[1.0] * 8)  # fmt: skip
    case = make_case(1, {"knees_cave_in": "clear"}, movement=mv, fps=30, drop=0.0)
    frames = {v: len(t) for v, t in case.track.views.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "track.json"
        write_track(case.track, path)
        result = evaluate(case.track)
        report = {
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version(),
            "duration_s": round(mv.duration(), 1),
            "frames": frames,
            "reps": result["reps"],
            "evaluate": timed(lambda: evaluate(case.track), args.runs),
            "read+evaluate": timed(lambda: evaluate(read_track(path)), max(5, args.runs // 5)),
            "count_reps": timed(lambda: count_reps(case.track.views["front"], kind="front"), args.runs),
        }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"rules on a {report['duration_s']} s two-view track, frames {frames}, {report['reps']} reps found")
    for key in ("evaluate", "read+evaluate", "count_reps"):
        r = report[key]
        print(f"  {key:14} wall median {r['median_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms"
              f"   CPU median {r['cpu_median_ms']:7.2f} ms")  # fmt: skip
    ok = report["evaluate"]["cpu_median_ms"] < 50
    print(f"goal: evaluate < 50 ms of compute -> {'met' if ok else 'NOT met'}")
    print(f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (wall times suffer when busy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
