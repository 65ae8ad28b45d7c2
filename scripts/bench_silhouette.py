#!/usr/bin/env python3
"""What the silhouette layer costs next to the pose pipeline, on this machine.

    .venv/bin/python scripts/bench_silhouette.py [--frames 90] [--json]

1. Per frame, on the same frames: `PoseTracker.process()` (MoveNet, crop tracking, smoothing)
   against one silhouette frame (`person_mask` + the side-view measurements), on the real
   true-side clip (../shared/data/side-back-squat/squat.mp4, 608x1080, processed at 360x640),
   on 640x480 renders of the synthetic squatter, and on those shrunk to 480x360 (what the
   station's frame keeper hands to refine).
2. Per set: `refine()` for a 5-rep set seen by both cameras (synthetic, 640x480, 30 fps, with the
   idle backgrounds), which looks only at standing frames and those within 0.12 s of each
   bottom; against the pose pipeline's time for every frame of the set in both views.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device import paths  # noqa: E402
from device.media import open_media  # noqa: E402
from device.pose import MoveNet, PoseTracker  # noqa: E402
from device.silhouette import BackgroundModel, measure, median_background, person_mask, refine  # noqa: E402
from device.silhouette.refine import _View  # noqa: E402
from device.vocabulary import COMPENSATION_IDS  # noqa: E402
from tests.synth.render import SquatSpec, learned_backgrounds, render, render_sequence  # noqa: E402


def _ms(f, *args):
    t0 = time.perf_counter()
    out = f(*args)
    return (time.perf_counter() - t0) * 1000, out


def per_frame(frames, movenet, background=None, valid=None):
    """Median ms per frame: pose, and silhouette (mask + heel and back measures)."""
    tracker = PoseTracker(movenet)
    pose_ms, kps = [], []
    for i, (t, rgb) in enumerate(frames):
        ms, pose = _ms(tracker.process, rgb, t)
        if i >= 5:
            pose_ms.append(ms)
        kps.append(pose.to_array())
    scale = min(1.0, 640 / max(frames[0][1].shape[:2]))
    small = [cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
             for _, rgb in frames]
    skps = [np.concatenate([k[:, :2] * scale, k[:, 2:]], axis=1) for k in kps]
    bg_ms = None
    if background is None:
        pick = np.linspace(0, len(small) - 1, min(40, len(small))).astype(int)
        bg_ms, (background, valid) = _ms(median_background, [small[i] for i in pick], [skps[i] for i in pick])
    sil_ms = []
    for rgb, k in zip(small, skps):
        t0 = time.perf_counter()
        mask = person_mask(rgb, background, k, valid)
        shank = measure.shank_px(k) or 50.0
        measure.back_curve(mask, k, 1.0, valid)
        floor = measure.foot_floor(mask, k, shank, 1.0, valid)
        if floor:
            measure.heel_bottom(mask, floor[1], floor[0], shank)
        sil_ms.append((time.perf_counter() - t0) * 1000)
    return {"pose_ms": float(np.median(pose_ms)), "silhouette_ms": float(np.median(sil_ms)),
            "median_background_ms": bg_ms, "frames": len(frames),
            "size": f"{small[0].shape[1]}x{small[0].shape[0]}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    movenet = MoveNet()
    out = {"runtime": movenet.runtime}

    clip = paths.SHARED_DIR / "data" / "side-back-squat" / "squat.mp4"
    frames = []
    with open_media(clip) as media:
        for i, (t, rgb) in enumerate(media):
            if i % 3 == 0:
                frames.append((t, rgb))
            if len(frames) >= args.frames:
                break
    out["real_side_clip"] = per_frame(frames, movenet)

    spec = SquatSpec(reps=5, fps=30.0, seed=1)
    rng = np.random.default_rng(0)
    times = np.arange(0.0, spec.duration, 1 / spec.fps)[: args.frames]
    synth = [(float(t), render(spec, "side", float(t), rng)) for t in times]
    bgm = BackgroundModel()
    for _ in range(5):
        bgm.update(render(spec, "side", None, rng))
    out["synthetic_640x480"] = per_frame(synth, movenet, bgm.image, None)
    # the smaller size the station once kept for refine (now 640, device/analysis/keeper.py)
    shrink = [(t, cv2.resize(im, (480, 360), interpolation=cv2.INTER_AREA)) for t, im in synth]
    out["synthetic_480x360"] = per_frame(shrink, movenet, cv2.resize(bgm.image, (480, 360), interpolation=cv2.INTER_AREA), None)

    # a whole 5-rep set, both views
    synth_set = render_sequence(spec)
    backgrounds = learned_backgrounds(synth_set)
    result = {"format": "ohsa-result/1", "reps": spec.reps, "rep_windows": synth_set.rep_windows,
              "compensations": {c: {"status": "not_assessed"} for c in COMPENSATION_IDS}}
    runs = [_ms(refine, result, synth_set.frames, synth_set.track, backgrounds)[0] for _ in range(3)]
    used = 0
    for view in ("front", "side"):
        v = _View(view, synth_set.frames[view], synth_set.track.views[view], synth_set.rep_windows, backgrounds[view])
        used += len(v.standing) + sum(len(b) for b in v.bottoms)
    all_frames = 2 * int(spec.duration * spec.fps)
    pose_set_ms = all_frames * out["synthetic_640x480"]["pose_ms"]
    out["set"] = {"reps": spec.reps, "refine_ms": float(np.median(runs)), "frames_in_set_both_views": all_frames,
                  "frames_passed": sum(len(f) for f in synth_set.frames.values()), "frames_measured": used,
                  "pose_ms_for_the_set": pose_set_ms, "share_of_pose": float(np.median(runs)) / pose_set_ms}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"runtime: {out['runtime']}")
    print("| frames | size | pose ms/frame | silhouette ms/frame | silhouette / pose |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("real_side_clip", "synthetic_640x480", "synthetic_480x360"):
        r = out[name]
        print(f"| {name} ({r['frames']}) | {r['size']} | {r['pose_ms']:.1f} | {r['silhouette_ms']:.1f} | "
              f"{r['silhouette_ms'] / r['pose_ms']:.0%} |")
    if out["real_side_clip"]["median_background_ms"]:
        print(f"\ntemporal median background of 40 frames (real clip): "
              f"{out['real_side_clip']['median_background_ms']:.0f} ms")
    s = out["set"]
    print(f"\n5-rep set, both views: refine {s['refine_ms']:.0f} ms on {s['frames_measured']} frames "
          f"(of {s['frames_in_set_both_views']}); pose for the whole set {s['pose_ms_for_the_set']:.0f} ms; "
          f"refine = {s['share_of_pose']:.0%} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
