#!/usr/bin/env python3
"""Benchmark of `ohsa assess` and of replay memory (issue 4's performance targets).

1. Overhead: assessing the overhead-squat pair as fast as possible (`assess_recordings`, all of
   it: decode, pose, alignment, rules, silhouette refinement) against decoding plus pose
   inference alone on the same clips with the same MoveNet. Target: at most 1.5x. Rounds are
   interleaved and the median taken, wall clock and process CPU time both (the machine may be
   shared).
2. Memory: a looped replay run as fast as possible for `--minutes` of recording time per view
   (default 10), RSS sampled as it goes; growth after the warm-up (the first minute of recording
   time) must stay within 20 MB. Two paths: (a) the assess pipeline (looped replay -> pose ->
   keypoint track, both views), (b) the station's path (DualCapture with both views looping,
   pose on the newest frames). The clip is side-back-squat/squat.mp4 (608x1080, H.264) by
   default, so ten minutes of recording decode in minutes rather than an hour.

    .venv/bin/python scripts/bench_assess.py [--rounds 3] [--minutes 10] [--skip-memory] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device import paths  # noqa: E402

PAIR = paths.SHARED_DIR / "data" / "overhead-squat-pair"
LONG_CLIP = paths.SHARED_DIR / "data" / "side-back-squat" / "squat.mp4"
WARMUP_S = 60.0  # recording time
TARGET_RATIO = 1.5
TARGET_GROWTH_MB = 20.0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def decode_and_infer(movenet, clips) -> int:
    from device.media import open_media
    from device.pose import PoseTracker

    n = 0
    for clip in clips:
        tracker = PoseTracker(movenet)
        with open_media(clip) as media:
            for t, rgb in media:
                tracker.process(rgb, t)
                n += 1
    return n


def overhead(movenet, rounds: int) -> dict:
    from device.analysis.assess import assess_recordings

    clips = (PAIR / "front.mov", PAIR / "side_oblique.mov")
    runs = {"decode+infer": [], "assess": [], "assess (no silhouette)": []}
    decode_and_infer(movenet, clips)  # warm the caches and the interpreter
    frames = 0
    for _ in range(rounds):
        frames, w, c = timed(lambda: decode_and_infer(movenet, clips))
        runs["decode+infer"].append((w, c))
        _, w, c = timed(lambda: assess_recordings(*clips, movenet=movenet))
        runs["assess"].append((w, c))
        _, w, c = timed(lambda: assess_recordings(*clips, movenet=movenet, silhouette=False))
        runs["assess (no silhouette)"].append((w, c))
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in runs.items()}
    base_w, base_c = med["decode+infer"]
    return {
        "frames": frames,
        "rounds": rounds,
        "seconds": {k: {"wall": round(w, 2), "cpu": round(c, 2)} for k, (w, c) in med.items()},
        "ratio_wall": round(med["assess"][0] / base_w, 3),
        "ratio_cpu": round(med["assess"][1] / base_c, 3),
        "ratio_wall_no_silhouette": round(med["assess (no silhouette)"][0] / base_w, 3),
        "ratio_cpu_no_silhouette": round(med["assess (no silhouette)"][1] / base_c, 3),
    }


class RssLog:
    """RSS against recording time; growth = max after warm-up minus the value at warm-up."""

    def __init__(self, every_s: float = 30.0):
        self.every_s = every_s
        self.samples: list[tuple[float, float]] = []
        self._next = 0.0

    def maybe(self, video_t: float) -> None:
        if video_t >= self._next:
            gc.collect()
            self.samples.append((round(video_t, 1), round(rss_mb(), 1)))
            self._next = video_t + self.every_s

    def summary(self) -> dict:
        after = [m for t, m in self.samples if t >= WARMUP_S]
        base = after[0] if after else float("nan")
        return {
            "rss_start_mb": self.samples[0][1] if self.samples else None,
            "rss_at_warmup_mb": base,
            "rss_max_after_warmup_mb": max(after) if after else None,
            "rss_end_mb": self.samples[-1][1] if self.samples else None,
            "growth_after_warmup_mb": round(max(after) - base, 1) if after else None,
            "samples": self.samples,
        }


def memory_assess_path(movenet, clip: Path, minutes: float) -> dict:
    """Both views of a looped replay through the assess pipeline (replay -> pose -> track)."""
    from device.analysis.assess import track_recording
    from device.camera.replay import ReplaySource

    log = RssLog()
    limit = minutes * 60.0
    start = time.perf_counter()

    class Watched(ReplaySource):
        def read(self, timeout=1.0):
            frame = super().read(timeout)
            if frame is not None:
                log.maybe(frame.t + self.offset_for_log)
            return frame

    tracks = []
    for i, view in enumerate(("front", "side")):
        src = Watched(clip, view, paced=False, loop=True)
        src.offset_for_log = i * limit  # one timeline over both views' passes
        track, _ = track_recording(src, movenet, limit_s=limit)
        tracks.append(len(track))
    out = log.summary()
    out.update({"clip": str(clip), "frames": sum(tracks), "recording_s_per_view": limit,
                "wall_s": round(time.perf_counter() - start, 1),
                "note": "the keypoint track itself grows by 17x3 numbers a frame (it is the result)"})
    return out


def memory_station_path(movenet, clip: Path, minutes: float) -> dict:
    """DualCapture with both views looping unpaced; pose on the newest frame of each view."""
    from device.camera.dual import DualCapture
    from device.camera.replay import ReplaySource
    from device.pose import PoseTracker

    limit = minutes * 60.0
    log = RssLog()
    sources = {v: ReplaySource(clip, v, paced=False, loop=True) for v in ("front", "side")}
    trackers = {v: PoseTracker(movenet) for v in sources}
    cap = DualCapture(sources, offline_after_s=10.0)
    start = time.perf_counter()
    inferred = 0
    latest_t = {"front": 0.0, "side": 0.0}
    with cap:
        while min(latest_t.values()) < limit:
            frames = cap.wait_for_frames(timeout=5.0)
            if not frames:
                raise RuntimeError(f"no frames: {cap.status()}")
            for view, frame in frames.items():
                trackers[view].process(frame.image, frame.t)
                latest_t[view] = frame.t
                inferred += 1
            log.maybe(min(latest_t.values()))
        status = cap.status()
    out = log.summary()
    out.update({
        "clip": str(clip), "recording_s_per_view": limit, "wall_s": round(time.perf_counter() - start, 1),
        "frames_decoded": {v: s["frames"] for v, s in status.items()},
        "frames_inferred": inferred, "dropped": {v: s["dropped"] for v, s in status.items()},
        "threads_after_stop": threading.active_count(),
    })
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=10.0, help="recording time per view for the memory runs")
    ap.add_argument("--clip", type=Path, default=LONG_CLIP, help="clip looped for the memory runs")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args(argv)

    from device.pose import MoveNet

    movenet = MoveNet()
    report = {"runtime": movenet.runtime}
    if not args.skip_overhead:
        report["overhead"] = overhead(movenet, args.rounds)
        if not args.json:
            print(json.dumps(report["overhead"], indent=1), flush=True)
    if not args.skip_memory:
        report["memory_assess"] = memory_assess_path(movenet, args.clip, args.minutes)
        if not args.json:
            print(json.dumps({k: v for k, v in report["memory_assess"].items() if k != "samples"}, indent=1), flush=True)
        report["memory_station"] = memory_station_path(movenet, args.clip, args.minutes)
        if not args.json:
            print(json.dumps({k: v for k, v in report["memory_station"].items() if k != "samples"}, indent=1), flush=True)
    ok = True
    if "overhead" in report:
        ok &= report["overhead"]["ratio_cpu"] <= TARGET_RATIO
    for key in ("memory_assess", "memory_station"):
        if key in report and report[key]["growth_after_warmup_mb"] is not None:
            ok &= report[key]["growth_after_warmup_mb"] <= TARGET_GROWTH_MB
    report["targets_met"] = bool(ok)
    print(json.dumps(report) if args.json else f"targets met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
