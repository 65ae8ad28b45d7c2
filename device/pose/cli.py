"""`ohsa pose`, `ohsa track`, `ohsa bench`: the pose pipeline from the command line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from device.errors import InputError
from device.vocabulary import VIEWS

log = logging.getLogger(__name__)


def _model_options(p) -> None:
    p.add_argument(
        "--model", metavar="PATH", help="MoveNet file (default: config model.path, OHSA_MODEL, data dir, ../shared)"
    )
    p.add_argument("--threads", type=int, help="interpreter threads (default: config model.threads, 1)")


def model_settings(args) -> tuple[str | None, int]:
    """Model path and threads: the command's options, else the station's config `[model]`."""
    from device import config

    cfg = config.load()["model"]
    threads = args.threads if args.threads is not None else cfg["threads"]
    if threads < 1:
        raise InputError(f"--threads {threads}: must be at least 1")
    return args.model or cfg["path"] or None, threads


def _movenet(args):
    from device.pose.movenet import MoveNet

    path, threads = model_settings(args)
    return MoveNet(path, threads=threads)


def add_parser(sub) -> None:
    p = sub.add_parser("pose", help="keypoints (pixels) per image as JSON, one line per image")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    _model_options(p)
    p.set_defaults(func=_cmd_pose)

    t = sub.add_parser("track", help="one view's ohsa-keypoints/1 track from a video or image folder")
    t.add_argument("video", metavar="VIDEO", help="a video file or a folder of images")
    t.add_argument("--view", choices=VIEWS, default="front", help="which view this is (default front)")
    t.add_argument("-o", "--output", required=True, metavar="TRACK.json")
    t.add_argument("--fps", type=float, help="frame rate of an image folder (default 30)")
    t.add_argument("--no-smoothing", action="store_true", help="raw keypoints, no One Euro filter")
    t.add_argument("--no-crop", action="store_true", help="whole frame only (no crop tracking)")
    _model_options(t)
    t.set_defaults(func=_cmd_track)

    b = sub.add_parser("bench", help="pose pipeline latency and throughput on this machine")
    b.add_argument("--json", action="store_true", help="one JSON line of medians")
    b.add_argument("--frames", type=int, default=200, help="timed frames per view (default 200)")
    b.add_argument("--warmup", type=int, default=20, help="frames before timing (default 20)")
    b.add_argument("--front", metavar="VIDEO", help="front-view recording (default: ../shared data)")
    b.add_argument("--side", metavar="VIDEO", help="side-view recording (default: ../shared data)")
    _model_options(b)
    b.set_defaults(func=_cmd_bench)


def _cmd_pose(args) -> int:
    from device.media import read_image
    from device.pose.tracker import estimate_image

    images = [(path, read_image(path)) for path in args.images]  # every input checked first
    movenet = _movenet(args)
    for path, rgb in images:
        pose = estimate_image(movenet, rgb)
        record = {"image": str(path), "width": rgb.shape[1], "height": rgb.shape[0], "keypoints": pose.to_rows()}
        print(json.dumps(record, separators=(",", ":")))
    return 0


def track_media(media, movenet, smoothing: bool = True, crop_tracking: bool = True):
    """Run the pipeline over every frame of `media`; a `ViewTrack` in pixels of its frames."""
    from device.pose.tracker import PoseTracker
    from device.track import ViewTrack

    tracker = PoseTracker(movenet, smoothing=smoothing, crop_tracking=crop_tracking)
    poses = [tracker.process(rgb, t) for t, rgb in media]
    return ViewTrack.from_poses(poses, media.width, media.height, media.fps)


def _cmd_track(args) -> int:
    from device.media import open_media
    from device.track import Track, write_track

    out = Path(args.output)
    if not out.parent.is_dir():
        raise InputError(f"{out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"-o {out}: is a folder, not a file")
    if args.fps is not None and not args.fps > 0:
        raise InputError(f"--fps {args.fps}: must be a positive number")
    with open_media(args.video, fps=args.fps) as media:
        movenet = _movenet(args)
        view = track_media(media, movenet, not args.no_smoothing, not args.no_crop)
    if len(view) == 0:
        raise InputError(f"{args.video}: no frames could be decoded")
    try:
        write_track(Track({args.view: view}), out)
    except OSError as e:  # full or read-only file system
        raise InputError(f"-o {out}: cannot write ({e.strerror or e})") from None
    mean = float(view.keypoints[..., 2].mean())
    print(f"{out}: {args.view} view, {len(view)} frames, {view.width}x{view.height}, mean score {mean:.2f}")
    return 0


def _cmd_bench(args) -> int:
    from device.pose.bench import format_report, run_bench

    model_path, threads = model_settings(args)
    report = run_bench(
        front=args.front, side=args.side, frames=args.frames, warmup=args.warmup,
        model_path=model_path, threads=threads,
    )
    if args.json:
        keys = ("runtime", "invoke_ms", "frame_ms", "two_view_fps", "peak_rss_mb",  # the first form's
                "two_view_fps_cpu", "two_view_fps_alternating", "frame_over_invoke_cpu", "load_average")
        print(json.dumps({k: report[k] for k in keys}))
    else:
        print(format_report(report))
    return 0
