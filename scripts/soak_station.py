#!/usr/bin/env python3
"""Soak: many assessments through the station's state machine and real analysis path, fast.

    .venv/bin/python scripts/soak_station.py [--sets 1000] [--json]

One real set is prepared once: MoveNet keypoints of the shared overhead-squat pair (both views,
one rep each) and its frames at half size. Then each assessment drives `device.station.Station`
on a fake clock at full speed: a press, positioning and countdown on the standing frames, the
whole rep recorded (frames into the keeper), the real analysis (`device.rules.evaluate`,
silhouette refinement, annotated stills) and a real SQLite save, the result on the MockFactory
panel, a press back to idle. Every 50 sets the process's RSS and open files are sampled; the
verdict compares the first and last fifth of the run. Exit status 1 if either grew.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from device import config as cfg  # noqa: E402
from device import paths  # noqa: E402
from device.media import open_media  # noqa: E402
from device.panel import open_panel  # noqa: E402
from device.station import Station  # noqa: E402
from device.station.analysis import Analyser  # noqa: E402
from device.station.runtime import process_memory  # noqa: E402
from device.store import Store  # noqa: E402

PAIR = paths.SHARED_DIR / "data" / "overhead-squat-pair"
HALF = (540, 960)


def prepare():
    """Keypoints (tracker on half-size frames, as the station would) and frames, per view."""
    from device.pose import MoveNet, PoseTracker

    movenet = MoveNet()
    views = {}
    for view, name in (("front", "front.mov"), ("side", "side_oblique.mov")):
        tracker = PoseTracker(movenet)
        frames, kps, times = [], [], []
        with open_media(PAIR / name) as media:
            fps = media.fps
            for t, rgb in media:
                small = cv2.resize(rgb, HALF, interpolation=cv2.INTER_AREA)
                frames.append(small)
                kps.append(tracker.process(small, t).to_array())
                times.append(t)
        views[view] = {"frames": frames, "kps": np.array(kps), "times": np.array(times), "fps": fps}
    return views


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def one_set(station: Station, clock: Clock, views: dict) -> str:
    station.press()
    # positioning and countdown on the first (standing, arms overhead) frame of each view
    for _ in range(int((station.countdown_s + station.hold_s + 0.5) * 30)):
        clock.t += 1 / 30
        for v, d in views.items():
            h, w = d["frames"][0].shape[:2]
            station.observe(v, clock.t, d["kps"][0], w, h, d["frames"][0])
        station.tick()
        if station.current == "recording":
            break
    # the rep, both views interleaved by time, until the station stops recording
    start = clock.t
    events = sorted((d["times"][i], v, i) for v, d in views.items() for i in range(len(d["times"])))
    for t, v, i in events:
        if station.current != "recording":
            break
        clock.t = start + t
        d = views[v]
        h, w = d["frames"][i].shape[:2]
        station.observe(v, clock.t, d["kps"][i], w, h, d["frames"][i])
        station.tick()
    if station.current == "recording":  # the time limit ends it
        clock.t += station.record_limit_s
        station.tick()
    state = station.current
    station.press()  # back to idle
    return state


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", type=int, default=1000)
    ap.add_argument("--sample-every", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

    t0 = time.monotonic()
    views = prepare()
    prep_s = time.monotonic() - t0
    config = cfg.validate({
        "station": {"target_reps": 1, "min_reps": 1, "countdown_s": 1, "positioning_hold_s": 0.0,
                    "record_limit_s": 10.0},
        "panel": {"enabled": False},
    })
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "assessments.db")
        panel = open_panel(config.panel, shutdown_action=lambda: None)
        analyser = Analyser(config, store)
        clock = Clock()
        station = Station(config, clock=clock, panel=panel, analyse=analyser.analyse,
                          save=analyser.save, submit=lambda fn: fn(), on_pain=analyser.mark_pain)
        for v in ("front", "side"):
            station.set_camera(v, True)
        samples, outcomes = [], {}
        t1, cpu1 = time.monotonic(), time.process_time()
        for n in range(1, args.sets + 1):
            state = one_set(station, clock, views)
            outcomes[state] = outcomes.get(state, 0) + 1
            if n % args.sample_every == 0 or n == 1:
                mem = process_memory()
                samples.append({"sets": n, **mem, "stored": store.count()})
                if not args.json:
                    print(f"{n:5d} sets  rss {mem['rss_mb']} MB  open files {mem['open_files']}  "
                          f"stored {samples[-1]['stored']}", flush=True)
        wall, cpu = time.monotonic() - t1, time.process_time() - cpu1
        panel.close()
        store.close()
    fifth = max(1, len(samples) // 5)
    first, last = samples[1:1 + fifth] or samples[:1], samples[-fifth:]
    rss_growth = float(np.median([s["rss_mb"] for s in last]) - np.median([s["rss_mb"] for s in first]))
    fd_growth = int(max(s["open_files"] for s in last) - max(s["open_files"] for s in first))
    report = {
        "sets": args.sets, "outcomes": outcomes, "prepare_s": round(prep_s, 1),
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "per_set_ms_wall": round(1000 * wall / args.sets, 1), "per_set_ms_cpu": round(1000 * cpu / args.sets, 1),
        "rss_first_mb": samples[0]["rss_mb"], "rss_max_mb": max(s["rss_mb"] for s in samples),
        "rss_growth_mb": round(rss_growth, 1), "open_files_growth": fd_growth, "samples": samples,
    }
    ok = rss_growth < 10 and fd_growth <= 0 and outcomes.get("result", 0) == args.sets
    report["verdict"] = "no growth" if ok else "GROWTH OR FAILED SETS"
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
