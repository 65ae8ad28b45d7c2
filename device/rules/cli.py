"""`ohsa rules`: an `ohsa-result/1` on stdout from a keypoint track.

    ohsa rules TRACK.json                  # a two-view (or one-view) ohsa-keypoints/1 track
    ohsa rules front.json side.json        # one-view tracks from `ohsa track`, merged by view
    ohsa rules TRACK.json --config ohsa.toml   # thresholds from [rules.thresholds]
"""

from __future__ import annotations

import json

from device.errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("rules", help="ohsa-result/1 on stdout from a keypoint track")
    p.add_argument("tracks", nargs="+", metavar="TRACK.json",
                   help="ohsa-keypoints/1 file(s); views are merged")
    p.add_argument("--config", metavar="FILE",
                   help="station config whose [rules.thresholds] apply "
                   "(default: OHSA_CONFIG, /etc/ohsa/ohsa.toml)")  # fmt: skip
    p.add_argument("--compact", action="store_true", help="one line of JSON")
    p.set_defaults(func=_cmd_rules)


def _cmd_rules(args) -> int:
    from device import config
    from device.rules import evaluate
    from device.track import Track, read_track

    cfg = config.load(args.config)
    views, source = {}, {}
    for path in args.tracks:
        track = read_track(path)
        for name, view in track.views.items():
            if name in views:
                raise InputError(f"{path}: has a {name} view too, already given by {source[name]}")
            views[name], source[name] = view, path
    if not views:
        raise InputError(f"{args.tracks[0]}: the track has no views")
    result = evaluate(Track(views), cfg.rules.thresholds)
    print(json.dumps(result, indent=None if args.compact else 1))
    return 0
