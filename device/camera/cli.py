"""`ohsa check`: the camera placement helper."""

from __future__ import annotations

import json

from device.errors import InputError


def add_parser(sub) -> None:
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
    _common(c)
    c.set_defaults(func=_cmd_check)


def _common(p) -> None:
    p.add_argument("--config", metavar="TOML", help="station config (default: OHSA_CONFIG or /etc/ohsa/ohsa.toml)")
    p.add_argument("--model", metavar="PATH", help="MoveNet model file")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: config)")


def _movenet(args, cfg):
    from device.pose import MoveNet

    return MoveNet(args.model or cfg["model"]["path"] or None, threads=args.threads or cfg["model"]["threads"])


def _cmd_check(args) -> int:
    from device import config
    from device.camera.check import check_views, format_check, sample_live, sample_recording
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
    th = cfg["rules"]["thresholds"] or None
    checks = check_views(samples, movenet, th)
    if args.json:
        print(json.dumps({"views": {c.view: c.to_json() for c in checks}}, indent=2))
    else:
        print("\n".join(format_check(c) for c in checks))
    return 0 if all(c.ok for c in checks) else 1
