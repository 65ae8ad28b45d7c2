#!/usr/bin/env python3
"""Evaluate the rule engine on the synthetic ground truth (tests/synth).

For every compensation the keypoints can see: sensitivity on clear cases (the compensation
injected at its "clear" magnitude, everything else none) and specificity on cases without it
(half of them with another compensation clear, to catch cross-talk); then the response curve:
the share of `present` verdicts across magnitudes (0 = none, 1 = clear; "borderline" sits near
the threshold). Cameras, bodies, frame rates and clock offsets vary with the seed.

    .venv/bin/python scripts/eval_rules.py            # 40 cases per cell
    .venv/bin/python scripts/eval_rules.py -n 10 --json
    .venv/bin/python scripts/eval_rules.py -n 15 --noise 2   # twice the keypoint noise
    .venv/bin/python scripts/eval_rules.py -n 10 --side-skew 45   # the side camera 45 degrees
                                                 # round toward the front, through the analysis
                                                 # pipeline (its 3-D path where trusted)

`--side-skew DEG` places the side camera that far round toward the front (0 = square, the
placements of issue 12: 0-75) and runs each case through `device.analysis.analyse` with the
generator's fields of view (the station's camera modules), so the 3-D path judges it where its
calibration is trusted; without it, the rules alone on side cameras up to 8 degrees off.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.rules import evaluate  # noqa: E402
from tests.synth import AMPLITUDES, make_case  # noqa: E402

COMPS = list(AMPLITUDES)
CURVE = [0.0, 0.25, 0.5, "borderline", 0.75, 1.0, 1.25]


NOISE = 1.0  # keypoint noise, times MoveNet-like (--noise)


SIDE_SKEW = None  # degrees round toward the front (--side-skew): through the analysis pipeline


def _result(case) -> dict:
    if SIDE_SKEW is None:
        return evaluate(case.track)
    import math
    from dataclasses import replace

    from device.analysis import analyse
    from device.track import Track

    def lens(view):  # the generator's field of view across the width, as a camera module gives it
        cam = case.cameras[view]
        return math.degrees(2 * math.atan(cam.width / 2 / cam.focal_px))

    return analyse(Track({v: replace(t, hfov_deg=lens(v)) for v, t in case.track.views.items()}))


def verdict(seed: int, comps: dict, target: str) -> tuple[str, str | None, str | None]:
    case = make_case(seed, comps, noise=NOISE, side_skew=SIDE_SKEW)
    entry = _result(case)["compensations"][target]
    if "proxy" in entry:  # heels_rise: the ankle proxy's own verdict (reported, not trusted)
        return entry["proxy"]["status"], None, None
    return entry["status"], entry["side"], case.sides.get(target)


def run(n: int, seed0: int) -> dict:
    out = {}
    for k, cid in enumerate(COMPS):
        base = seed0 + 100_000 * (k + 1)
        tp = side_ok = 0
        na_pos = na_neg = 0
        for i in range(n):
            status, side, true_side = verdict(base + i, {cid: "clear"}, cid)
            tp += status == "present"
            na_pos += status == "not_assessed"
            side_ok += status == "present" and (true_side is None or side == true_side or cid not in
                                                  ("knees_cave_in", "knees_push_out", "asymmetric_weight_shift"))  # fmt: skip
        tn = 0
        others = [c for c in COMPS if c != cid and not _conflict(c, cid)]
        for i in range(n):
            comps = {cid: "none"}
            if i % 2:
                comps[others[i % len(others)]] = "clear"
            status, _, _ = verdict(base + 50_000 + i, comps, cid)
            tn += status == "absent"
            na_neg += status == "not_assessed"
        curve = {}
        for j, mag in enumerate(CURVE):
            hits = 0
            for i in range(n):
                status, _, _ = verdict(base + 70_000 + 1000 * j + i, {cid: mag}, cid)
                hits += status == "present"
            curve[str(mag)] = hits / n
        out[cid] = {
            "sensitivity": tp / n, "specificity": tn / n, "side_correct": side_ok / max(tp, 1),
            "not_assessed_clear": na_pos, "not_assessed_none": na_neg, "curve": curve,
        }  # fmt: skip
    return out


def heels_under_drift(n: int, seed0: int) -> dict:
    """The heel-rise proxy when the ankle points drift down at depth as MoveNet's do."""
    tp = sum(evaluate(make_case(seed0 + 900_000 + i, {"heels_rise": "clear"}, ankle_drift=1.0).track)
             ["compensations"]["heels_rise"]["proxy"]["status"] == "present" for i in range(n))
    tn = sum(evaluate(make_case(seed0 + 950_000 + i, {}, ankle_drift=1.0).track)
             ["compensations"]["heels_rise"]["proxy"]["status"] == "absent" for i in range(n))  # fmt: skip
    return {"sensitivity": tp / n, "specificity": tn / n}


def _conflict(a: str, b: str) -> bool:
    """Pairs that are one movement seen two ways (a knee cannot cave in and push out at once)."""
    return {a, b} == {"knees_cave_in", "knees_push_out"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=40, help="cases per cell (default 40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--noise", type=float, default=1.0, help="keypoint noise, x MoveNet-like (default 1)")
    ap.add_argument("--side-skew", type=float, default=None,
                    help="side camera this many degrees round toward the front, through the analysis pipeline")
    args = ap.parse_args()
    global NOISE, SIDE_SKEW
    NOISE = args.noise
    SIDE_SKEW = args.side_skew
    t0 = time.perf_counter()
    res = run(args.n, args.seed)
    if args.json:
        res["heels_rise_proxy_with_ankle_drift"] = heels_under_drift(args.n, args.seed)
        print(json.dumps(res, indent=1))
        return 0
    where = "" if SIDE_SKEW is None else f", side camera {SIDE_SKEW:g} degrees round toward the front (analyse)"
    print(f"synthetic evaluation, {args.n} cases per cell, noise x{args.noise:g}{where} "
          f"({time.perf_counter() - t0:.0f} s)\n")
    print(f"{'compensation':26} {'sens':>5} {'spec':>5} {'side':>5}  present rate by magnitude (x clear)")
    print(f"{'':26} {'':>5} {'':>5} {'':>5}  " + " ".join(f"{str(m)[:6]:>6}" for m in CURVE))
    for cid, r in res.items():
        curve = " ".join(f"{r['curve'][str(m)]:6.2f}" for m in CURVE)
        print(f"{cid:26} {r['sensitivity']:5.2f} {r['specificity']:5.2f} {r['side_correct']:5.2f}  {curve}")
    drift = heels_under_drift(args.n, args.seed)
    print(f"\nheels_rise proxy with MoveNet's ankle drift at depth (as on the real back squat): "
          f"sensitivity {drift['sensitivity']:.2f}, specificity {drift['specificity']:.2f}")
    worst = min(min(r["sensitivity"], r["specificity"]) for r in res.values())
    print(f"\nlowest sensitivity/specificity: {worst:.2f} (goal >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
