"""`ohsa assess` (recordings -> the analysis pipeline -> ohsa-result/1) and `ohsa check` (is each
camera placed so the analysis can see what it needs?)."""

from __future__ import annotations

import json
import math
import sys
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
    p.add_argument("--calibration", metavar="JSON",
                   help="the cameras' mat calibration (ohsa-calibration/1, from `ohsa calibrate`) for the 3-D "
                   "measures; default: the calibration on the person in the recordings")
    _common(p)
    p.set_defaults(func=_cmd_assess)

    c = sub.add_parser(
        "check",
        help="camera placement helper (live cameras, or --front/--side recordings)",
        description="For each view: is a person fully in frame with arms overhead, how much of "
        "the height they fill, does the front camera see the front and the side camera a side, "
        "is it too dark; and what to move. Exit status 1 when something should be moved.",
    )
    c.add_argument("--front", metavar="F", help="check this recording instead of the front camera")
    c.add_argument("--side", metavar="S", help="check this recording instead of the side camera")
    c.add_argument("--seconds", type=float, default=3.0, help="live cameras: look this long (default 3)")
    c.add_argument("--frames", type=int, default=8, help="frames to judge per view (default 8)")
    c.add_argument("--json", action="store_true", help="print the findings as JSON")
    c.add_argument("--data-dir", metavar="DIR",
                   help="where the station keeps its calibration (default: the station's data dir)")
    _common(c)
    c.set_defaults(func=_cmd_check)


def _common(p) -> None:
    p.add_argument("--config", metavar="TOML", help="station config (default: OHSA_CONFIG or /etc/ohsa/ohsa.toml)")
    p.add_argument("--model", metavar="PATH", help="MoveNet model file")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: config)")


def _movenet(args, cfg):
    from device.pose import MoveNet

    return MoveNet(args.model or cfg.model.path or None, threads=args.threads or cfg.model.threads)


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
    extra = {}
    if args.calibration:
        import inspect

        from device.geometry import calibration as calib

        extra["calibration"] = calib.load(args.calibration)  # one line naming the file when it cannot
        if "calibration" not in inspect.signature(assess_recordings).parameters:
            raise InputError(f"--calibration {args.calibration}: this version's analysis has no 3-D path to use it")
    result, track = assess_recordings(
        args.front, args.side, args.offset,
        movenet=_movenet(args, cfg), thresholds=cfg.rules.thresholds,
        align=not args.no_align, fps=args.fps, silhouette=not args.no_silhouette, **extra,
    )
    text = json.dumps(result, indent=2)
    for out, option, write in ((json_out, "--json", lambda p: atomic.write_text(p, text + "\n")),
                               (track_out, "--track", lambda p: write_track(track, p))):
        if out is None:
            continue
        try:
            write(out)
        except OSError as e:  # full or read-only file system
            raise InputError(f"{option} {out}: cannot write ({e.strerror or e})") from None
    print(f"geometry: {geometry_words(result)}", file=sys.stderr)  # once the outputs are written
    print(text)
    return 0


def geometry_words(result: dict) -> str:
    """The result's camera geometry in one plain line: "3-D in use (calibration on the person);
    side camera about 45 degrees toward the front, ..., 3.1 m away", or "2-D: <why>"."""
    from device.geometry import words

    g = result.get("geometry")
    line = words.sentence(g)
    if isinstance(g, dict) and g.get("person_vs_mat_deg") is not None:
        line += f"; the person-based calibration differs from the mat's by {float(g['person_vs_mat_deg']):.0f} degrees"
    return line


def _cmd_check(args) -> int:
    from device import config, paths
    from device.analysis.check import (check_calibration, check_views, format_calibration, format_check,
                                       sample_live, sample_recording)
    from device.vocabulary import VIEWS

    if not args.seconds > 0 or args.frames < 1:
        raise InputError("--seconds and --frames must be positive")
    cfg = config.load(args.config)
    movenet = _movenet(args, cfg)
    recordings = {v: p for v, p in (("front", args.front), ("side", args.side)) if p}
    samples = {}
    if recordings:
        for view, path in recordings.items():
            samples[view] = sample_recording(path, view, args.frames)
    else:
        from device.camera.dual import DualCapture

        with DualCapture.from_config(cfg) as capture:
            for view in VIEWS:
                samples[view] = sample_live(capture, view, args.seconds, args.frames)
    # the live cameras' newest pictures re-check the mat calibration (recordings are other cameras)
    stills = None if recordings else {v: images[-1] for v, (images, _) in samples.items() if images}
    cal = check_calibration(paths.data_dir(args.data_dir), stills)
    checks = check_views(samples, movenet, cfg.rules.thresholds, oblique_side_ok=not recordings and cal.oblique_side_ok)
    if args.json:
        print(json.dumps({"views": {c.view: c.to_json() for c in checks}, "calibration": cal.to_json()}, indent=2))
    else:
        print("\n".join([format_check(c) for c in checks] + [format_calibration(cal)]))
    return 0 if all(c.ok for c in checks) and cal.ok else 1
