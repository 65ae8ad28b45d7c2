#!/usr/bin/env python3
"""Evaluate the analysis's 3-D path (device/analysis/stereo.py + device/rules/in3d.py) on
synthetic two-view sets with known 3-D bodies (tests/synth/stereo.py).

Sets: the side camera 0-75 degrees round toward the front, cameras at 0.7 / 1.3 m high and
2.5 / 3.8 m away, feet turned out 0-30 degrees with the knees over the toes, one keypoint-visible
compensation per set at its "clear" size (or none), cycling. The cameras are calibrated on the
person (no mat). Reported:

- the camera angle's error, per placement;
- per measure, bias and p90 of the absolute error of each rep's value (the rules' robust mean
  over the rep's bottom frames) against the same measure on the generator's true joints;
- sensitivity (clear cases) and specificity (sets without it, half of them with another
  compensation) for every keypoint-visible compensation, per band of angles, with the feet known
  (their true direction in the body frame, what the mat's printed footprints approach), not
  known, and as the front silhouette measures their standing toe-out (the true one seen from the
  front camera's line of sight, with the silhouette's error drawn, turned into the body frame by
  the stage as the station does); where 3-D is not used, a 2-D push-out stands only over feet
  seen pointing ahead (device/rules/feet.py: the true feet seen from the front camera, none, the
  drawn ones);
- how often the 3-D path was not trusted.

Seeds below 50000 were used for tuning; `--held-out` runs seeds 50000+, never looked at while
tuning.

    .venv/bin/python scripts/eval_3d.py -n 10               # 240 sets, ~40 s
    .venv/bin/python scripts/eval_3d.py -n 2 --held-out --json /tmp/eval3d.json
    .venv/bin/python scripts/eval_3d.py --bench             # CPU on 30 s sets
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.analysis import stereo as stereo_stage  # noqa: E402
from device.geometry import measures3d  # noqa: E402
from device.rules import evaluate, in3d  # noqa: E402
from device.rules.feet import push_out_over_seen_feet  # noqa: E402
from device.thresholds import Thresholds  # noqa: E402
from device.track import Track  # noqa: E402
from tests.synth import AMPLITUDES  # noqa: E402
from tests.synth.stereo import make_stereo_case  # noqa: E402

SKEWS = (0, 15, 30, 45, 60, 75)
COMPS = ("knees_cave_in", "knees_push_out", "asymmetric_weight_shift", "excessive_forward_lean",
         "arms_fall_forward", "head_forward", "head_down")
KINDS = (*COMPS, None)
CONFLICT = {"knees_cave_in": "knees_push_out", "knees_push_out": "knees_cave_in"}
HELD_OUT = 50_000
HEAD = ("head_forward", "head_down")  # on the 2-D path: judged where the side view is square (0-15)
MEASURES = {  # reported measure -> (stereo measure, true measure function)
    "trunk_minus_shin_deg": "trunk_minus_shin_deg",
    "arm_vs_trunk_deg": "arm_vs_trunk_deg",
    "knee_left_ratio": "knee_left_in",
    "knee_right_ratio": "knee_right_in",
    "hip_shift_of_stance": "hip_shift_of_stance",
    "head_forward_of_trunk": "head_forward_of_trunk",
    "head_flexion_deg": "head_flexion_deg",
}


def true_measures(case) -> dict[str, np.ndarray]:
    P = case.world_joints @ case.axes.T
    toe = case.toe_out_deg
    m = measures3d.measures(P, {"left": toe, "right": toe})
    m["knee_left_in"] = stereo_stage.knee_ratio(P, "left", toe)
    m["knee_right_in"] = stereo_stage.knee_ratio(P, "right", toe)
    m.update(stereo_stage.head(P, m["trunk_deg"]))
    return m


def unknown_feet(st, th):
    """The same 3-D stage result with the feet's direction not known (no mat)."""
    m = dict(st.measures)
    for side in ("left", "right"):
        m[f"knee_{side}_in"] = stereo_stage.knee_ratio(st.points, side, 0.0)
        m[f"knee_{side}_out"] = stereo_stage.knee_ratio(st.points, side, th["stereo_toe_out_unknown_deg"])
    return dataclasses.replace(st, measures=m, geometry=dict(st.geometry, feet="not known"))


# The silhouette's standing toe-out (device/silhouette/refine.py, bias-corrected) against the
# renderer's true one, from the front camera's line of sight: +0.1 degrees bias, 0.7 spread on 30
# held-out rendered views (docs/silhouette.md); real feet are not boxes, so the evaluation draws a
# wider error.
SILHOUETTE_TOE_BIAS_DEG, SILHOUETTE_TOE_SD_DEG = 0.1, 3.0


def true_front_yaw(case) -> float:
    """The direction from the person's standing ankles to the front camera in the true body frame
    (degrees from forward, + toward the person's left): the generator's front camera stands up to
    5 degrees off the person's axis."""
    ankles = np.nanmedian((case.world_joints[:, 15] + case.world_joints[:, 16]) / 2, axis=0)
    c = case.axes @ (case.front_camera.center - ankles)
    return float(np.degrees(np.arctan2(c[1], c[0])))


def seen_from_front(case, toe: float) -> dict[str, float]:
    """Each foot's true toe-out as a front camera reads it: from its line of sight."""
    g = true_front_yaw(case)
    return {"left": toe - g, "right": toe + g}


def rep_bottoms(phase: np.ndarray) -> list[np.ndarray]:
    deep = phase >= 0.9
    edges = np.flatnonzero(np.diff(np.r_[0, deep.astype(int), 0]))
    return [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2])]


def run_set(seed: int, skew: float, height: float, distance: float, toe: float, kind: str | None, th) -> dict:
    rng = np.random.default_rng(seed)
    comps = {}
    if kind:
        side = str(rng.choice(["left", "right"] if kind == "asymmetric_weight_shift" else ["left", "right", "both"]))
        comps[kind] = (AMPLITUDES[kind]["clear"], side)
    near = str(rng.choice(["left", "right"]))
    case = make_stereo_case(seed, skew_deg=skew, cam_height=height, distance=distance, toe_out_deg=toe,
                            compensations=comps, near_side=near)
    # the fields of view are known (the station's camera modules; the generator frames each view)
    track = Track({"front": dataclasses.replace(case.front, hfov_deg=case.front_camera.intrinsics.hfov_deg),
                   "side": dataclasses.replace(case.side, hfov_deg=case.side_camera.intrinsics.hfov_deg)})
    t0 = time.process_time()
    st = stereo_stage.measure(track, th, foot_deg={"left": toe, "right": toe})
    cost = time.process_time() - t0
    known = st  # the feet's true direction in the body frame
    row = {"seed": seed, "skew": skew, "height": height, "distance": distance, "toe": toe, "kind": kind,
           "trusted": st.trusted, "reason": st.geometry["reason"], "cost_s": cost,
           "angle_err": None if st.geometry["angle_deg"] is None else st.geometry["angle_deg"] - case.angle_between_deg}
    verdicts = {}
    seen = seen_from_front(case, toe)
    drawn = {k: v + SILHOUETTE_TOE_BIAS_DEG + SILHOUETTE_TOE_SD_DEG * rng.standard_normal() for k, v in seen.items()}
    for feet, s, front_feet in (("known", known, seen), ("unknown", unknown_feet(st, th) if st.trusted else st, None),
                                ("silhouette", stereo_stage.with_feet(st, drawn, th, "the silhouette") if st.trusted
                                 else st, drawn)):
        res = evaluate(track, th, clock_offset=0.0, stereo=s)
        if not st.trusted:  # the 2-D path: push-out only over feet seen pointing ahead (the pipeline's step)
            res["compensations"]["knees_push_out"] = push_out_over_seen_feet(
                res["compensations"]["knees_push_out"], front_feet, th)
        verdicts[feet] = {c: res["compensations"][c]["status"] for c in COMPS}
        row.setdefault("values", {})[feet] = {c: res["compensations"][c]["value"] for c in COMPS}
    row["verdicts"] = verdicts
    errs = {}
    if st.trusted:
        truth = true_measures(case)
        for name, key in MEASURES.items():
            e = []
            for frames in rep_bottoms(case.phase):
                est, tru = known.measures[key][frames], truth[key][frames]
                if np.isfinite(est).sum() >= 2 and np.isfinite(tru).any():
                    e.append(float(np.nanmedian(est) - np.nanmedian(tru)))
            errs[name] = e
    row["errors"] = errs
    return row


def plan(seed0: int, n: int):
    k = 0
    for rep in range(n):
        for skew in SKEWS:
            for height in (0.7, 1.3):
                for distance in (2.5, 3.8):
                    kind = KINDS[k % len(KINDS)]
                    toe = (0.0, 10.0, 20.0, 30.0)[(k // len(KINDS)) % 4]
                    yield seed0 + k, skew, height, distance, toe, kind
                    k += 1


def band(skew):
    return "0-30" if skew <= 30 else "45-60" if skew <= 60 else "75"


def pct(v, q):
    return float(np.percentile(v, q)) if len(v) else float("nan")


def summarise(rows: list[dict], title: str) -> str:
    out = [f"## {title}: {len(rows)} sets, {sum(r['trusted'] for r in rows)} on the 3-D path\n"]
    out.append("Camera angle error (degrees, |estimate - truth|), p50 / p90:\n")
    out.append("| round toward the front | " + " | ".join(str(s) for s in SKEWS) + " |")
    out.append("| --- |" + " --- |" * len(SKEWS))
    cells = []
    for s in SKEWS:
        e = [abs(r["angle_err"]) for r in rows if r["skew"] == s and r["angle_err"] is not None]
        cells.append(f"{pct(e, 50):.1f} / {pct(e, 90):.1f}")
    out.append("| p50 / p90 | " + " | ".join(cells) + " |")
    out.append("| not trusted | " + " | ".join(
        str(sum(1 for r in rows if r["skew"] == s and not r["trusted"])) for s in SKEWS) + " |\n")
    out.append("Per-rep measures against the truth, bias / p90 of the absolute error:\n")
    bands = ("0-30", "45-60", "75", "0-60")
    out.append("| measure | " + " | ".join(bands) + " |")
    out.append("| --- |" + " --- |" * len(bands))
    for name in MEASURES:
        cells = []
        for b in bands:
            e = [x for r in rows if (band(r["skew"]) == b or (b == "0-60" and r["skew"] <= 60))
                 for x in r["errors"].get(name, [])]
            cells.append(f"{np.mean(e):+.2f} / {pct(np.abs(e), 90):.2f}" if e else "-")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    for feet in ("known", "unknown", "silhouette"):
        head = "" if in3d.HEAD_IN_3D else ", the head 0-15 where its 2-D path applies"
        out.append(f"\nSensitivity / specificity, feet {feet} (0-60 degrees{head}; 75 separately; "
                   "not_assessed counts as a miss):\n")
        out.append("| compensation | sens 0-60 | spec 0-60 | sens 75 | spec 75 |")
        out.append("| --- | --- | --- | --- | --- |")
        for cid in COMPS:
            cells = []
            for lo, hi in (((0, 15) if cid in HEAD and not in3d.HEAD_IN_3D else (0, 60)), (75, 75)):
                sub = [r for r in rows if lo <= r["skew"] <= hi]
                pos = [r["verdicts"][feet][cid] == "present" for r in sub if r["kind"] == cid]
                neg = [r["verdicts"][feet][cid] == "absent" for r in sub
                       if r["kind"] != cid and r["kind"] != CONFLICT.get(cid)]
                cells += [f"{np.mean(pos):.2f} ({len(pos)})" if pos else "-",
                          f"{np.mean(neg):.2f} ({len(neg)})" if neg else "-"]
            out.append(f"| {cid} | " + " | ".join(cells) + " |")
    for feet in ("unknown", "silhouette"):
        toe30 = [r["verdicts"][feet]["knees_push_out"] for r in rows
                 if r["toe"] >= 20 and r["kind"] != "knees_push_out" and r["skew"] <= 60]
        out.append(f"\nknees_push_out on knees over feet turned out 20-30 degrees, feet {feet}: "
                   f"{sum(v == 'present' for v in toe30)} of {len(toe30)} sets")
    costs = [r["cost_s"] for r in rows]
    out.append(f"\n3-D stage CPU per set (calibration + triangulation + measures, five reps): "
               f"p50 {1000 * pct(costs, 50):.0f} ms, p90 {1000 * pct(costs, 90):.0f} ms")
    return "\n".join(out)


def bench(n: int = 7) -> str:
    """CPU time of the 3-D stage and of the whole keypoint analysis on 30 s two-view sets at 30 fps:
    calibrated on the person (no mat), with the mat calibration and the person-based check against
    it (every set: `ohsa assess`; the station's every 5th), and with the mat alone (the station's
    other sets: `person_check_px` above the set's fit)."""
    import os

    from device.analysis import analyse
    from device.geometry.calibration import Calibration, ViewCalibration
    from device.geometry.camera import Camera

    def mat(case):
        to_mat = np.diag([-1.0, -1.0, 1.0])  # the stereo world -> the mat's frame (the person faces +Y)
        return Calibration({v: ViewCalibration(Camera(c.intrinsics, c.R @ to_mat, c.t), (0, 1, 2, 3), 0.3, c.intrinsics.f)
                            for v, c in (("front", case.front_camera), ("side", case.side_camera))})

    th = Thresholds()
    analyse(Track({"front": make_stereo_case(29999, skew_deg=45).front,
                   "side": make_stereo_case(29999, skew_deg=45).side}))  # imports (scipy) out of the timing
    modes = {"person calibration (no mat)": (False, 0.0), "mat + person-based check": (True, 0.0),
             "mat, check skipped": (True, float("inf"))}
    rows = {m: [] for m in modes}
    loads, secs, frames = [], [], []
    for i in range(n):
        case = make_stereo_case(30000 + i, skew_deg=45, reps=8, fps=30.0)
        track = Track({"front": dataclasses.replace(case.front, hfov_deg=case.front_camera.intrinsics.hfov_deg),
                       "side": dataclasses.replace(case.side, hfov_deg=case.side_camera.intrinsics.hfov_deg)})
        secs.append(case.front.times[-1] - case.front.times[0])
        frames.append(len(case.front))
        for m, (use_mat, px) in modes.items():
            cal = mat(case) if use_mat else None
            t0 = time.process_time()
            st = stereo_stage.measure(track, th, calibration=cal, person_check_px=px)
            t1 = time.process_time()
            analyse(track, thresholds=th, clock_offset=0.0, calibration=cal, person_check_px=px)
            t2 = time.process_time()
            assert st.trusted, st.geometry["reason"]
            assert (st.geometry["person_vs_mat_deg"] is None) == (not use_mat or px > 0), m
            rows[m].append((t1 - t0, t2 - t1))
        loads.append(os.getloadavg()[0])
    out = [f"{n} sets of {np.median(secs):.0f} s ({np.median(frames):.0f} front frames, side camera 45 degrees "
           f"round), CPU (time.process_time), load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores:",
           "", "| cameras | 3-D stage p50 / max | whole keypoint analysis (`analyse`) p50 / max |", "| --- | --- | --- |"]
    for m, r in rows.items():
        a = 1000 * np.array(r)
        out.append(f"| {m} | {np.median(a[:, 0]):.0f} / {a[:, 0].max():.0f} ms | "
                   f"{np.median(a[:, 1]):.0f} / {a[:, 1].max():.0f} ms |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=2, help="repeats of the placement grid (x 48 sets)")
    ap.add_argument("--held-out", action="store_true", help="the held-out seeds (50000+)")
    ap.add_argument("--first-seed", type=int, help="start the seeds here instead (a fresh held-out part)")
    ap.add_argument("--json", help="write every set's row here")
    ap.add_argument("--bench", action="store_true", help="CPU time on 30 s sets instead")
    args = ap.parse_args(argv)
    if args.bench:
        print(bench())
        return 0
    th = Thresholds()
    seed0 = args.first_seed if args.first_seed is not None else HELD_OUT if args.held_out else 1000
    t0 = time.perf_counter()
    rows = [run_set(*p, th) for p in plan(seed0, args.n)]
    title = ("held-out" if args.held_out or seed0 >= HELD_OUT else "tuning") + f" seeds from {seed0}"
    print(summarise(rows, title))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
