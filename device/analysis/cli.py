"""`ohsa assess`: recordings -> the analysis pipeline -> ohsa-result/1 on stdout."""

from __future__ import annotations

import json
import math
from pathlib import Path

from device.errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "assess",
        help="assess recorded clips: pose, rules, ohsa-result/1 on stdout",
        description="Replay recordings as fast as possible through pose and rules; print the "
        "ohsa-result/1 result. Either view may be left out (its compensations are not_assessed).",
    )
    p.add_argument("--front", metavar="F", help="front view: video file or image folder")
    p.add_argument("--side", metavar="S", help="side view: video file or image folder")
    p.add_argument("--json", metavar="OUT", help="also write the result to this file")
    p.add_argument("--track", metavar="OUT", help="write the ohsa-keypoints/1 track to this file")
    p.add_argument("--offset", type=float, metavar="S",
                   help="seconds the side clip started after the front clip (default: from the motion)")
    p.add_argument("--no-align", action="store_true", help="take the clips to start together")
    p.add_argument("--fps", type=float, help="frame rate of image folders (default 30)")
    p.add_argument("--no-silhouette", action="store_true",
                   help="keypoints only: skip the silhouette refinement of feet, heels and low back")
    _common(p)
    p.set_defaults(func=_cmd_assess)


def _common(p) -> None:
    p.add_argument("--config", metavar="TOML", help="station config (default: OHSA_CONFIG or /etc/ohsa/ohsa.toml)")
    p.add_argument("--model", metavar="PATH", help="MoveNet model file")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: config)")


def _movenet(args, cfg):
    from device.pose import MoveNet

    return MoveNet(args.model or cfg["model"]["path"] or None, threads=args.threads or cfg["model"]["threads"])


def _writable(path: str, option: str) -> Path:
    out = Path(path)
    if not out.parent.is_dir():
        raise InputError(f"{option} {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"{option} {out}: is a folder, not a file")
    return out


def _cmd_assess(args) -> int:
    from device import atomic, config
    from device.analysis.assess import assess_recordings
    from device.track import write_track

    if not args.front and not args.side:
        raise InputError("ohsa assess: give --front and/or --side recordings")
    if args.offset is not None and not math.isfinite(args.offset):
        raise InputError(f"--offset {args.offset}: must be a number of seconds")
    if args.fps is not None and not args.fps > 0:
        raise InputError(f"--fps {args.fps}: must be a positive number")
    json_out = _writable(args.json, "--json") if args.json else None
    track_out = _writable(args.track, "--track") if args.track else None
    cfg = config.load(args.config)
    result, track = assess_recordings(
        args.front, args.side, args.offset,
        movenet=_movenet(args, cfg), thresholds=cfg["rules"]["thresholds"] or None,
        align=not args.no_align, fps=args.fps, silhouette=not args.no_silhouette,
    )
    text = json.dumps(result, indent=2)
    if json_out:
        atomic.write_text(json_out, text + "\n")
    if track_out:
        write_track(track, track_out)
    print(text)
    return 0
