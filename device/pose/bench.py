"""The pose pipeline's benchmark (`ohsa bench`, scripts/bench_pose.py).

Measured per frame over real recordings (looped when shorter than the frame count), after a
warm-up: pre-processing (affine crop+resize), `invoke()`, post-processing (mapping back, next
crop), smoothing, and `frame_ms`, the whole `PoseTracker.process()` from an RGB array in memory
to smoothed keypoints. Decoding (video, JPEG) is timed separately and is not in `frame_ms`.
Two-view throughput as the station runs it (`two_view_fps`): two threads at once, each view
with its own interpreter and tracker (device.station.pose_worker), frames from memory; and, for
comparison, the old way (`two_view_fps_alternating`): both views alternating on one thread and
one interpreter. Each also by CPU time of the threads (`..._cpu`), which other load on a shared
machine skews less than wall time. Also: mean keypoint score with crop tracking against the
whole frame only, on the same frames.
"""

from __future__ import annotations

import itertools
import os
import platform
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from device import paths
from device.errors import InputError
from device.media import open_media, read_image
from device.pose.movenet import INPUT_SIZE, MoveNet
from device.pose.tracker import PoseTracker

STAGES = ("pre_ms", "invoke_ms", "post_ms", "smooth_ms")
PARALLEL_IMAGES = 8  # frames per view held in memory for the two-worker run (6 MB each at 1080p)


def default_recordings() -> tuple[Path, Path]:
    pair = paths.SHARED_DIR / "data" / "overhead-squat-pair"
    return pair / "front.mov", pair / "side_oblique.mov"


def decode_clip(path: str, folder: str) -> dict:
    """Decode a recording into JPEG files in `folder`, timing the video decode. Runs in a child
    process, so the video decoder's memory (about 90 MB for a phone's 1080x1920 clip) is not
    counted in the pipeline's peak RSS: a camera hands over frames without one."""
    import cv2

    files, decode_ms = [], []
    with open_media(path) as media:
        frames = iter(media)
        while True:
            t0 = time.perf_counter()
            item = next(frames, None)
            if item is None:
                break
            decode_ms.append((time.perf_counter() - t0) * 1e3)
            name = str(Path(folder) / f"{len(files):05d}.jpg")
            cv2.imwrite(name, cv2.cvtColor(item[1], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            files.append(name)
        fps = media.fps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"fps": fps, "files": files, "decode_ms": decode_ms, "peak_rss_mb": peak}


def _decode_in_child(recordings: list[Path], folder: Path) -> list[dict]:
    import multiprocessing

    jobs = []
    for i, p in enumerate(recordings):
        (folder / str(i)).mkdir()
        jobs.append((str(p), str(folder / str(i))))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.starmap(decode_clip, jobs)


def _looped(clip: dict, limit: int):
    """`(t, rgb, decode_ms)` for `limit` frames, replaying the clip as often as needed (t keeps
    increasing, as a camera's clock would); decode_ms: reading and decoding that frame's JPEG."""
    dt = 1.0 / clip["fps"]
    for i, name in zip(range(limit), itertools.cycle(clip["files"])):
        t0 = time.perf_counter()
        rgb = read_image(name)
        yield i * dt, rgb, (time.perf_counter() - t0) * 1e3


def _summary(values) -> dict:
    a = np.asarray(values, dtype=np.float64)
    return {"median": round(float(np.median(a)), 3), "p95": round(float(np.percentile(a, 95)), 3), "n": len(a)}


def run_bench(
    front=None, side=None, frames: int = 200, warmup: int = 20, model_path=None, threads: int = 1,
    compare_whole_frame: bool = True,
) -> dict:
    d_front, d_side = default_recordings()
    front_given, side_given = bool(front), bool(side)
    front, side = Path(front or d_front), Path(side or d_side)
    if frames < 1 or warmup < 0:
        raise InputError(f"--frames {frames} / --warmup {warmup}: need at least one timed frame")
    for p, given in ((front, front_given), (side, side_given)):
        if not given and not p.exists():
            raise InputError(f"{p}: no such recording (the development data); pass --front VIDEO --side VIDEO")
        open_media(p).close()  # a bad recording fails here with its one line
    with tempfile.TemporaryDirectory(prefix="ohsa-bench-") as folder:
        clips = dict(zip(("front", "side"), _decode_in_child([front, side], Path(folder))))
        return _measure(clips, front, side, frames, warmup, model_path, threads, compare_whole_frame)


def _measure(clips, front, side, frames, warmup, model_path, threads, compare_whole_frame) -> dict:
    movenet = MoveNet(model_path, threads=threads)

    # bare invoke() on a fixed real input, the floor the pipeline is compared with: timed right
    # after each pipeline frame, so both see the same machine (other load, caches, clock speed)
    first = next(_looped(clips["front"], 1))[1]
    from device.pose import crop

    square = crop.warp(first, crop.whole_frame(first.shape[1], first.shape[0]))
    bare = []
    cpu = {"frame": [], "bare_invoke": []}  # CPU time of this thread: less skewed by other load

    # one view, frame by frame
    tracker = PoseTracker(movenet)
    stages = {k: [] for k in (*STAGES, "frame_ms", "jpeg_decode_ms")}
    size = None
    for i, (t, rgb, decode_ms) in enumerate(_looped(clips["front"], warmup + frames)):
        t0, c0 = time.perf_counter(), time.thread_time()
        tracker.process(rgb, t)
        frame_ms, frame_cpu = (time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3
        size = rgb.shape[1], rgb.shape[0]
        t0, c0 = time.perf_counter(), time.thread_time()
        movenet.infer(square)
        bare_ms, bare_cpu = (time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3
        if i >= warmup:
            bare.append(bare_ms)
            cpu["frame"].append(frame_cpu)
            cpu["bare_invoke"].append(bare_cpu)
            for k in STAGES:
                stages[k].append(tracker.timing[k])
            stages["frame_ms"].append(frame_ms)
            stages["jpeg_decode_ms"].append(decode_ms)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # before the frames in memory
    parallel = _two_workers(clips, frames, warmup, movenet)

    # two views alternating through one interpreter
    trackers = {"front": PoseTracker(movenet), "side": PoseTracker(movenet)}
    busy = busy_cpu = 0.0
    counted = 0
    scores = {"crop": [], "whole": []}
    whole = {"front": PoseTracker(movenet, smoothing=False, crop_tracking=False),
             "side": PoseTracker(movenet, smoothing=False, crop_tracking=False)}
    pairs = zip(_looped(clips["front"], warmup + frames), _looped(clips["side"], warmup + frames))
    for i, pair in enumerate(pairs):
        for view, (t, rgb, _) in zip(("front", "side"), pair):
            t0, c0 = time.perf_counter(), time.thread_time()
            pose = trackers[view].process(rgb, t)
            elapsed, cpu_s = time.perf_counter() - t0, time.thread_time() - c0
            if i >= warmup:
                busy += elapsed
                busy_cpu += cpu_s
                counted += 1
            if compare_whole_frame:
                scores["crop"].append(pose.mean_score)
                scores["whole"].append(whole[view].process(rgb, t).mean_score)

    summary = {k: _summary(v) for k, v in stages.items()}
    summary["video_decode_ms"] = _summary(clips["front"]["decode_ms"])
    bare_summary = _summary(bare)
    report = {
        "runtime": movenet.runtime,
        "invoke_ms": summary["invoke_ms"]["median"],
        "frame_ms": summary["frame_ms"]["median"],
        "two_view_fps": parallel["fps"],
        "two_view_fps_cpu": parallel["fps_cpu"],
        "two_view_fps_alternating": round(counted / busy, 1),
        "two_view_fps_alternating_cpu": round(counted / busy_cpu, 1),
        "two_workers": parallel,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "bare_invoke_ms": bare_summary,
        "frame_over_invoke": round(summary["frame_ms"]["median"] / bare_summary["median"], 3),
        "frame_over_invoke_cpu": round(_summary(cpu["frame"])["median"] / _summary(cpu["bare_invoke"])["median"], 3),
        "cpu_ms": {k: _summary(v) for k, v in cpu.items()},
        "stages": summary,
        "decoder_peak_rss_mb": round(max(c["peak_rss_mb"] for c in clips.values()), 1),
        "frames": frames,
        "warmup": warmup,
        "threads": threads,
        "recordings": {"front": str(front), "side": str(side)},
        "frame_size": list(size) if size else None,
        "input_size": INPUT_SIZE,
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],  # other work on the machine skews times
    }
    if compare_whole_frame:
        report["mean_score"] = {
            "whole_frame": round(float(np.mean(scores["whole"])), 3),
            "crop_tracking": round(float(np.mean(scores["crop"])), 3),
        }
    return report


def _two_workers(clips: dict, frames: int, warmup: int, movenet: MoveNet) -> dict:
    """Both views at once, as the station's pose workers run them: a thread, an interpreter and
    a tracker per view, `frames` timed frames each after `warmup`, started together."""
    images = {v: [read_image(f) for f in c["files"][:PARALLEL_IMAGES]] for v, c in clips.items()}
    start = threading.Barrier(len(images))
    out: dict[str, dict] = {}

    def work(view: str) -> None:
        tracker = PoseTracker(MoveNet(movenet.model_path, threads=movenet.threads))
        seq = images[view]
        dt = 1.0 / clips[view]["fps"]
        for i in range(warmup):
            tracker.process(seq[i % len(seq)], i * dt)
        start.wait()
        t0, c0 = time.perf_counter(), time.thread_time()
        for i in range(warmup, warmup + frames):
            tracker.process(seq[i % len(seq)], i * dt)
        out[view] = {"start": t0, "end": time.perf_counter(), "cpu_s": time.thread_time() - c0}

    threads = [threading.Thread(target=work, args=(v,), name=f"bench-{v}") for v in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = max(o["end"] for o in out.values()) - min(o["start"] for o in out.values())
    return {
        "fps": round(frames * len(out) / wall, 1),
        "fps_cpu": round(sum(frames / o["cpu_s"] for o in out.values()), 1),  # with a free core each
        "frame_ms_cpu": {v: round(o["cpu_s"] / frames * 1e3, 3) for v, o in out.items()},
        "images_per_view": PARALLEL_IMAGES,
    }


def format_report(r: dict) -> str:
    s = r["stages"]
    lines = [
        f"runtime            {r['runtime']}, {r['threads']} thread(s), {r['machine']}, "
        f"{os.cpu_count()} CPUs, load average {r['load_average'][0]:.2f} during the run",
        f"recordings         {r['recordings']['front']} / {r['recordings']['side']}",
        f"frames             {r['frames']} timed after {r['warmup']} warm-up, frame {r['frame_size'][0]}x{r['frame_size'][1]}",
        "per frame (ms)     median     p95",
    ]
    for key, label in (
        ("pre_ms", "pre-process"), ("invoke_ms", "invoke"), ("post_ms", "post-process"),
        ("smooth_ms", "smoothing"), ("frame_ms", "frame (total)"),
        ("video_decode_ms", "video decode"), ("jpeg_decode_ms", "JPEG read+decode"),
    ):
        lines.append(f"  {label:<16} {s[key]['median']:7.3f} {s[key]['p95']:7.3f}")
    b = r["bare_invoke_ms"]
    lines += [
        f"  {'bare invoke()':<16} {b['median']:7.3f} {b['p95']:7.3f}",
        f"frame / bare invoke {r['frame_over_invoke']:.2f} (goal <= 1.15); by CPU time of the thread "
        f"{r['frame_over_invoke_cpu']:.2f}: frame {r['cpu_ms']['frame']['median']:.3f} ms, bare invoke "
        f"{r['cpu_ms']['bare_invoke']['median']:.3f} ms",
        f"two views           {r['two_view_fps']:.1f} frames/s in total, a worker per view "
        f"(goal >= 500); by CPU time of the threads {r['two_view_fps_cpu']:.1f}",
        f"  alternating       {r['two_view_fps_alternating']:.1f} frames/s on one thread; by CPU "
        f"time {r['two_view_fps_alternating_cpu']:.1f}",
        f"peak RSS            {r['peak_rss_mb']:.1f} MB (goal < 250); the video decoder, in its own "
        f"process, peaked at {r['decoder_peak_rss_mb']:.1f} MB",
    ]
    if "mean_score" in r:
        m = r["mean_score"]
        lines.append(f"mean keypoint score whole frame {m['whole_frame']:.3f} -> crop tracking {m['crop_tracking']:.3f}")
    return "\n".join(lines)


__all__ = ["run_bench", "format_report", "default_recordings"]
