#!/usr/bin/env python3
"""Station benchmark: end of the last rep -> LEDs and page showing the result; steady RSS.

    .venv/bin/python scripts/bench_station.py [--sets 5] [--front F --side S] [--json]

The whole station in this process, as `ohsa run --front F --side S` runs it: paced, looped
replay, MoveNet, rules, silhouette, stills, SQLite, the MockFactory panel and Waitress serving
the web app on 127.0.0.1. Default recordings: the shared overhead-squat pair (one rep per clip,
so a set is one rep) decoded once into half-size (540x960) image folders, because its 1080x1920
HEVC costs about 80 ms of CPU per frame to decode, more than two views at 30 fps allow on this
machine (on the Pi the camera hands over decoded frames). For each set the button is pressed on
the mock pin. The end of the last rep is the rules' `rep_windows[-1]["end"]`, taken at the
moment the station processed the frame showing it (the later of the two views); "LEDs" is when
the state machine entered `result` (LEDs and status light are set inside that transition, before
anyone is told), "page" is when `GET /api/status` polled every 10 ms first said `result`. RSS
and open files are sampled every 0.5 s.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device import config as cfg  # noqa: E402
from device import paths  # noqa: E402
from device.station.runtime import StationRuntime, process_memory  # noqa: E402

PAIR = paths.SHARED_DIR / "data" / "overhead-squat-pair"


def _wait(cond, timeout, step=0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", type=int, default=5)
    ap.add_argument("--front", help="front recording (default: the shared pair, half size)")
    ap.add_argument("--side", help="side recording (default: the shared pair, half size)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
    from web import create_app
    from web.server import serve

    config = cfg.validate({
        "station": {"target_reps": 1, "min_reps": 1, "countdown_s": 1, "positioning_hold_s": 0.0,
                    "record_limit_s": 60.0, "result_idle_s": 600.0},
        "panel": {"enabled": False},
        "cameras": {"front": {"offline_after_s": 10.0}, "side": {"offline_after_s": 10.0}},
    })
    mem_samples: list[dict] = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.5):
            mem_samples.append({"t": time.monotonic(), **process_memory()})

    with tempfile.TemporaryDirectory() as tmp:
        recordings = {"front": args.front, "side": args.side}
        if not (args.front and args.side):
            recordings = half_size_folders(Path(tmp) / "clips")
        rt = StationRuntime(config, Path(tmp) / "data", recordings=recordings,
                            shutdown_action=lambda: None).open()
        arrivals: collections.deque = collections.deque(maxlen=2000)  # (view, frame t, processed at)
        observe = rt.station.observe

        def timed_observe(view, t, *a, **kw):
            observe(view, t, *a, **kw)
            arrivals.append((view, t, time.monotonic()))

        rt.station.observe = timed_observe
        analyse = rt.station._analyse
        analysis_cpu: list[float] = []

        def timed_analyse(job):
            c0 = time.thread_time()
            try:
                return analyse(job)
            finally:
                analysis_cpu.append(time.thread_time() - c0)

        rt.station._analyse = timed_analyse
        server = serve(create_app(rt.store, station=rt, config=config, data_dir=tmp), "127.0.0.1", 0)
        threading.Thread(target=sample, daemon=True).start()
        t_start = time.monotonic()
        cpu_start = time.process_time()
        sets = []
        try:
            if not _wait(lambda: all(c["status"] == "online" for c in rt.capture.status().values()), 120):
                print("cameras did not come up", rt.capture.status(), file=sys.stderr)
                return 1
            button = rt.panel.pin_factory.pin(config["panel"]["button"])
            for n in range(args.sets):
                marks: dict[str, float] = {}

                def watch():
                    version = -1
                    while "result" not in marks and "stopped" not in marks:
                        version, s = rt.station.wait_for_change(version, 1.0)
                        now = time.monotonic()
                        marks.setdefault(s["state"], now)
                        if s["state"] in ("too_few_reps", "error", "person_left", "camera_offline", "cancelled"):
                            marks["stopped"] = now

                def poll_page():
                    while "page" not in marks and "stopped" not in marks:
                        with urllib.request.urlopen(f"{server.url}/api/status", timeout=5) as r:
                            if json.loads(r.read())["state"] == "result":
                                marks["page"] = time.monotonic()
                        time.sleep(0.01)

                w = threading.Thread(target=watch, daemon=True)
                w.start()
                p = threading.Thread(target=poll_page, daemon=True)
                p.start()
                button.drive_low()
                time.sleep(0.05)
                button.drive_high()
                w.join(180)
                p.join(10)
                state = rt.state()
                if state["state"] != "result":
                    print(f"set {n + 1}: ended in {state['state']}: {state['message']}", file=sys.stderr)
                    sets.append({"state": state["state"]})
                else:
                    result = rt.store.get(state["assessment_id"])["result"]
                    rep_end = result["rep_windows"][-1]["end"]
                    # (the stored times are rounded to 1 ms: allow for it)
                    seen = [min((at for v, t, at in arrivals if v == view and t >= rep_end - 0.002), default=None)
                            for view in ("front", "side")]
                    seen_at = max(x for x in seen if x is not None)
                    sets.append({
                        "state": "result",
                        "reps": result["reps"],
                        "stop_after_rep_end_s": round(marks["analysing"] - seen_at, 3),
                        "analysis_s": round(marks["result"] - marks["analysing"], 3),
                        "analysis_cpu_s": round(analysis_cpu[-1], 3),
                        "leds_s": round(marks["result"] - seen_at, 3),
                        "page_s": round(marks["page"] - seen_at, 3),
                        "frame_lag_s": round(seen_at - rep_end, 3),
                        "findings": state["findings"],
                    })
                if not args.json:
                    print(f"set {n + 1}: {sets[-1]}", flush=True)
                button.drive_low()
                time.sleep(0.05)
                button.drive_high()
                _wait(lambda: rt.state()["state"] == "idle", 5)
                time.sleep(1.0)  # idle between people
            stats = rt.stats()
        finally:
            stop.set()
            server.stop()
            rt.close()
        wall, cpu = time.monotonic() - t_start, time.process_time() - cpu_start
    ok = [s for s in sets if s["state"] == "result"]
    half = mem_samples[len(mem_samples) // 2:] or mem_samples
    report = {
        "sets": len(sets),
        "results": len(ok),
        "leds_s": _summary([s["leds_s"] for s in ok]),
        "page_s": _summary([s["page_s"] for s in ok]),
        "stop_after_rep_end_s": _summary([s["stop_after_rep_end_s"] for s in ok]),
        "analysis_s": _summary([s["analysis_s"] for s in ok]),
        "analysis_cpu_s": _summary([s["analysis_cpu_s"] for s in ok]),
        "rss_mb_steady_median": statistics.median(s["rss_mb"] for s in half) if half else None,
        "rss_mb_max": max((s["rss_mb"] for s in mem_samples), default=None),
        "open_files_max": max((s["open_files"] for s in mem_samples), default=None),
        "inference_ms": stats["inference_ms"],
        "camera_fps": {v: c["fps"] for v, c in stats["cameras"].items()},
        "skipped_frames": stats["skipped_frames"],
        "cpu_share": round(cpu / wall, 2),
        "load_avg_1min": round(os.getloadavg()[0], 1),
        "per_set": sets,
    }
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


def half_size_folders(root: Path) -> dict[str, str]:
    """The shared pair decoded once into 540x960 JPEG folders (30 fps as folders play)."""
    import cv2

    from device.media import open_media

    out = {}
    for view, name in (("front", "front.mov"), ("side", "side_oblique.mov")):
        folder = root / view
        folder.mkdir(parents=True)
        with open_media(PAIR / name) as media:
            for i, (_, rgb) in enumerate(media):
                small = cv2.resize(rgb, (540, 960), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(folder / f"{i:04d}.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
        out[view] = str(folder)
    return out


def _summary(values):
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


if __name__ == "__main__":
    raise SystemExit(main())
