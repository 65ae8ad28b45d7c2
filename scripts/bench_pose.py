#!/usr/bin/env python3
"""Benchmark and accuracy figures of the pose pipeline on this machine (docs/performance.md).

    .venv/bin/python scripts/bench_pose.py [--frames 200] [--json]
    # tflite-runtime for comparison, in a throwaway venv (its 2.14 wheel needs numpy<2):
    python3 -m venv /tmp/tfl && /tmp/tfl/bin/pip install tflite-runtime 'numpy<2' opencv-python-headless
    PYTHONPATH=$PWD /tmp/tfl/bin/python scripts/bench_pose.py --no-accuracy

Runs `ohsa bench`'s measurement (device.pose.bench: stages, frame_ms, two views, peak RSS, video
and JPEG decode separately), then on every clip in ../shared/data the mean keypoint score of the
whole frame against crop tracking, and the accuracy against upstream's references: pose_1
(MoveNet reference keypoints, share within 60 px, median px) and pose_squats (BlazePose fixture,
COCO-17 subset, median error in torso lengths).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from device import paths  # noqa: E402
from device.media import open_media  # noqa: E402
from device.pose import KEYPOINT_NAMES, MoveNet, PoseTracker  # noqa: E402
from device.pose.bench import format_report, run_bench  # noqa: E402

DATA = paths.SHARED_DIR / "data"
CLIPS = [
    "tfjs-pose-detection/pose_1.mp4",
    "tfjs-pose-detection/pose_squats.mp4",
    "side-back-squat/squat.mp4",
    "overhead-squat-pair/front.mov",
    "overhead-squat-pair/side_oblique.mov",
]
BLAZEPOSE_TO_COCO = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]


def track(movenet, path, **kw) -> np.ndarray:
    tracker = PoseTracker(movenet, **kw)
    with open_media(path) as media:
        return np.array([tracker.process(rgb, t).to_array() for t, rgb in media])


def crop_effect(movenet) -> dict:
    out = {}
    for clip in CLIPS:
        whole = track(movenet, DATA / clip, crop_tracking=False, smoothing=False)[..., 2]
        tracked = track(movenet, DATA / clip, smoothing=False)[..., 2]
        legs = slice(13, 17)  # knees and ankles
        out[clip] = {
            "frames": len(whole),
            "whole_frame": round(float(whole.mean()), 3),
            "crop_tracking": round(float(tracked.mean()), 3),
            "knees_ankles_whole_frame": round(float(whole[:, legs].mean()), 3),
            "knees_ankles_crop_tracking": round(float(tracked[:, legs].mean()), 3),
        }
    return out


def accuracy(movenet) -> dict:
    clips = DATA / "tfjs-pose-detection"
    ref = json.loads((clips / "pose_1.json").read_text())
    expected = np.array([[[f[n]["x"], f[n]["y"]] for n in KEYPOINT_NAMES] for f in ref])
    result = {}
    for label, kw in (("whole_frame", {"crop_tracking": False}), ("pipeline", {})):
        got = track(movenet, clips / "pose_1.mp4", **kw)
        err = np.linalg.norm(got[..., :2] - expected, axis=-1)
        result[f"pose_1_{label}"] = {
            "within_60px": round(float((err < 60).mean()), 4),
            "median_px": round(float(np.median(err)), 2),
            "p95_px": round(float(np.percentile(err, 95)), 1),
        }
    blaze = np.array(json.loads((clips / "pose_squats.full.json").read_text()))[:, BLAZEPOSE_TO_COCO, :2]
    torso = np.linalg.norm(blaze[:, 5:7].mean(axis=1) - blaze[:, 11:13].mean(axis=1), axis=-1)
    for label, kw in (("whole_frame", {"crop_tracking": False}), ("pipeline", {})):
        got = track(movenet, clips / "pose_squats.mp4", **kw)
        err = np.linalg.norm(got[..., :2] - blaze, axis=-1) / torso[:, None]
        result[f"pose_squats_{label}"] = {
            "median_torso": round(float(np.median(err)), 3),
            "hips_median_torso": round(float(np.median(err[:, 11:13])), 3),
        }
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="the whole report as JSON")
    ap.add_argument("--no-accuracy", action="store_true", help="timing only")
    args = ap.parse_args()
    t0 = time.time()
    report = {"bench": run_bench(frames=args.frames, warmup=args.warmup, threads=args.threads)}
    if not args.no_accuracy:
        movenet = MoveNet(threads=args.threads)
        report["crop_tracking"] = crop_effect(movenet)
        report["accuracy"] = accuracy(movenet)
    report["wall_s"] = round(time.time() - t0, 1)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(format_report(report["bench"]))
    for clip, c in report.get("crop_tracking", {}).items():
        print(
            f"{clip:<40} mean score {c['whole_frame']:.3f} -> {c['crop_tracking']:.3f}; "
            f"knees+ankles {c['knees_ankles_whole_frame']:.3f} -> {c['knees_ankles_crop_tracking']:.3f}"
        )
    for key, value in report.get("accuracy", {}).items():
        print(f"{key:<28} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
