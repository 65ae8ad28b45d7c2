#!/usr/bin/env python3
"""Benchmark of the assessment store, plan and annotated stills on this machine.

    .venv/bin/python scripts/bench_store.py [--n 1000] [--json]

Fills a fresh store in a temp folder with N plausible assessments (device.store.demo, real-size
keypoint tracks of 20 s at 30 fps per view), then times what the pages and the station do:
save one assessment (synchronous=FULL commit), list a page and all N, count, search, open one,
read a still and a track, a client's history, delete a client, retention; build_plan and
describe_findings; annotate a real frame from ../shared/data. Prints medians (ms).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device import paths  # noqa: E402
from device.plan import build_plan, describe_findings  # noqa: E402
from device.store import Store  # noqa: E402
from device.store.demo import demo_jpeg, demo_result, demo_track, fill  # noqa: E402


def timed(fn, repeat: int = 20) -> float:
    """Median milliseconds of `fn()` over `repeat` runs."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(out), 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="assessments to store (default 1000)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        t = time.perf_counter()
        ids = fill(store, args.n, seed=1, track_seconds=20.0)
        figures["fill_total_s"] = round(time.perf_counter() - t, 2)
        figures["db_bytes_per_assessment"] = round(store.path.stat().st_size / args.n)
        rng = random.Random(2)
        result, track = demo_result(rng), demo_track(rng, seconds=20.0, fps=30.0)
        images = {"front": demo_jpeg("front", 405, 720), "side": demo_jpeg("side", 405, 720)}
        figures["save_one_ms"] = timed(lambda: store.save_assessment(result, track, images, label="B1"))
        label = store.get(ids[-1])["label"] or "M1000"
        # the reads below must hit real rows, not time a miss
        assert store.get_image(ids[0], "front") and store.get_track(ids[0]) and store.get(ids[1])
        assert len(store.list(limit=args.n)) == args.n and store.count() == args.n + 20
        figures["list_page_50_ms"] = timed(lambda: store.list(limit=50))
        figures[f"list_all_{args.n}_ms"] = timed(lambda: store.list(limit=args.n), repeat=10)
        figures["count_ms"] = timed(lambda: store.count())
        figures["search_list_ms"] = timed(lambda: store.list("M10", date_from="2000-01-01"))
        figures["get_ms"] = timed(lambda: store.get(ids[len(ids) // 2]))
        figures["get_image_ms"] = timed(lambda: store.get_image(ids[0], "front"))
        figures["get_track_ms"] = timed(lambda: store.get_track(ids[0]))
        figures["client_history_ms"] = timed(lambda: store.client_history(label))
        figures["build_plan_ms"] = timed(lambda: build_plan(result))
        figures["describe_findings_ms"] = timed(lambda: describe_findings(result))
        t = time.perf_counter()
        n = store.delete_client(label)
        figures["delete_client_ms"] = round((time.perf_counter() - t) * 1000, 1)
        figures["delete_client_rows"] = n
        t = time.perf_counter()
        figures["retention_rows"] = store.apply_retention(90)
        figures["retention_ms"] = round((time.perf_counter() - t) * 1000, 1)
        ok = store.integrity_check()
        store.close()
    figures.update(_annotate_figures())
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for k, v in figures.items():
            print(f"{k:28} {v}")
    return 0 if ok else 1


def _annotate_figures() -> dict:
    clip = paths.SHARED_DIR / "data" / "tfjs-pose-detection" / "pose_squats.mp4"
    if not clip.exists():
        return {}
    import cv2
    import numpy as np

    from device.annotate import annotate

    cap = cv2.VideoCapture(str(clip))
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        return {}
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    rows = np.array([[w / 2 + 40 * np.sin(i), h * (0.15 + 0.05 * i), 0.8] for i in range(17)])
    jpeg = annotate(rgb, rows, ["knees_cave_in"], "front")
    return {"annotate_ms": timed(lambda: annotate(rgb, rows, ["knees_cave_in"], "front")),
            "annotate_jpeg_bytes": len(jpeg), "annotate_source": f"{w}x{h}"}


if __name__ == "__main__":
    sys.exit(main())
