"""The 3-D evaluation repeated with the mat calibration: are the measures as good as with the true
cameras?

    .venv/bin/python scripts/eval_mat_3d.py                 # 48 sets, tables (docs/calibration.md)
    .venv/bin/python scripts/eval_mat_3d.py --repeats 1     # 24 sets
    .venv/bin/python scripts/eval_mat_3d.py --json out.json
    .venv/bin/python scripts/eval_mat_3d.py --feet [--held-out]   # "feet turn out" with the mat

`--feet`: "feet turn out" judged against the printed footprints (device/silhouette/refine.py,
`footprints`) on rendered front views (tests/synth/render.py) of squatters standing with their
feet turned out a little (-2 to 7 degrees), standing turned out (6-26), or turning out 0-20 more
during the squat; the truth is the
renderer's foot direction at the bottom against the footprints (straight ahead). Reported: the
error of each rep's value (the foot turned most) against the true one, bias and p50 / p90;
sensitivity and specificity on clear cases (the true turn at least 5 degrees past the threshold,
or at least 5 short of it), with the footprints and, for contrast, judged as before (the turn
from the standing start). Seeds from 100 were used for tuning; `--held-out` runs seeds from 60000.

For each set of the geometry evaluation's plan (scripts/eval_geometry.py: the side camera 0-75
degrees round toward the front, two heights, two distances, feet turned out 0-30 degrees, one
compensation per set; seeds from 20000, the held-out part) the synthetic person
(tests/synth/stereo.py) is filmed by the set's true cameras. The same two cameras, at a still's
resolution (2304 px on the long side, same field of view), photograph the empty footprint mat
(tests/synth/mat_scene.render_view: light, blur, noise, JPEG varied per still as in
scripts/eval_mat.py), and `device.geometry.calibration.calibrate` solves them from those stills,
given a camera model whose focal length is up to 3 % off the true one. The keypoint tracks are
then triangulated (device.geometry.triangulate, 0.3 s smoothing), put in the body frame and
measured (device.geometry.measures3d) twice: with the true cameras and with the mat-calibrated
ones (scaled to the video's size). Each measure's per-rep median at the rep bottoms is compared
with the generator's true 3-D value. Reported per measure: bias and p90 of the error with each,
and how much worse the mat's p90 and |bias| are (goal: at most 1 degree).

The mat frame (X to the person's right, Y forward) is the stereo world (X to the person's left,
the person facing -Y) turned half round about Z; both share Z up and the floor Z = 0.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import eval_geometry as eg  # noqa: E402
from device.geometry import calibration as calib  # noqa: E402
from device.geometry.body import BodyFrame, body_frame  # noqa: E402
from device.geometry.camera import Camera  # noqa: E402
from device.geometry.mat import MatError  # noqa: E402
from device.geometry.measures3d import measures  # noqa: E402
from device.geometry.triangulate import smooth, triangulate_tracks  # noqa: E402
from tests.synth.mat_scene import StillSpec, render_view, rotation_error_deg  # noqa: E402
from tests.synth.skeleton import AMPLITUDES  # noqa: E402
from tests.synth.stereo import make_stereo_case  # noqa: E402

STILL_LONG_SIDE = 2304
TO_MAT = np.diag([-1.0, -1.0, 1.0])  # stereo world -> mat frame (and back: its own inverse)
SMOOTH_S = eg.DEFAULT_SMOOTH_S


def in_mat_frame(cam: Camera) -> Camera:
    return Camera(cam.intrinsics, cam.R @ TO_MAT, cam.t.copy())


def still_of(cam: Camera, rng: np.random.Generator, seed: int) -> tuple[np.ndarray, StillSpec, Camera]:
    """The empty mat photographed by `cam` (mat frame) at a still's resolution; the spec's model
    (what the calibration is given) has a focal length up to 3 % off the truth."""
    k = cam.intrinsics
    s = STILL_LONG_SIDE / max(k.width, k.height)
    true_k = k.scaled(s)
    still_cam = Camera(true_k, cam.R, cam.t)
    err = float(rng.uniform(-0.03, 0.03))
    model_hfov = math.degrees(2 * math.atan(true_k.width / (2 * true_k.f / (1 + err))))
    spec = StillSpec(width=true_k.width, height=true_k.height, hfov_deg=model_hfov, focal_error=err,
                     noise_sigma=float(rng.uniform(2, 5)), blur_px=float(rng.uniform(0.5, 1.3)),
                     gain=float(rng.uniform(0.6, 1.3)), light_pool=float(rng.uniform(0, 0.4)),
                     shadow=float(rng.uniform(0, 0.4)), jpeg_quality=int(rng.integers(80, 96)),
                     floor_grey=float(rng.uniform(40, 160)), seed=seed)
    return render_view(still_cam, spec, rng), spec, still_cam


def per_rep_errors(est: dict | None, truth: dict, phase: np.ndarray) -> dict[str, list[float]]:
    errs = {}
    if est is None:
        return errs
    for key in eg.ANGLE_MEASURES + eg.CM_MEASURES:
        out = []
        for idx in eg.rep_bottoms(phase):
            if not np.isfinite(est[key][idx]).any():
                continue
            e, t = np.nanmedian(est[key][idx]), np.nanmedian(truth[key][idx])
            if np.isfinite(e) and np.isfinite(t):
                out.append(float((e - t) * (100.0 if key.endswith("_m") else 1.0)))
        errs[key] = out
    return errs


def measured(cams, case, foot):
    tri = triangulate_tracks(cams, case.front, case.side)
    if SMOOTH_S:
        tri = smooth(tri, SMOOTH_S)
    bf = body_frame(tri.points)
    return (measures(bf.to_body(tri.points), foot) if bf is not None else None), float(tri.valid.mean())


def run_set(seed, skew, height, distance, toe, comp) -> dict:
    comps = {}
    if comp != "none":
        cid, lvl = comp.split(":")
        comps[cid] = (AMPLITUDES[cid][lvl], "left" if cid == "asymmetric_weight_shift" else "both")
    case = make_stereo_case(seed, skew_deg=skew, cam_height=height, distance=distance, toe_out_deg=toe,
                            compensations=comps)
    row = {"seed": seed, "skew": skew, "height": height, "distance": distance, "toe_out": toe, "comp": comp}
    rng = np.random.default_rng([seed, 18])
    true_mat = {"front": in_mat_frame(case.front_camera), "side": in_mat_frame(case.side_camera)}
    stills, models, truth_still = {}, {}, {}
    for view, cam in true_mat.items():
        stills[view], spec, truth_still[view] = still_of(cam, rng, seed)
        models[view] = spec.model
    t0 = time.process_time()
    views, failed = {}, []
    for view in stills:
        try:
            views.update(calib.calibrate({view: stills[view]}, {view: models[view]}).views)
        except MatError as e:
            failed.append(str(e))
    row["calibrate_cpu_s"] = time.process_time() - t0
    foot = {"left": toe, "right": toe}
    truth = measures(BodyFrame(np.zeros(3), case.axes, "floor").to_body(case.world_joints), foot)
    est_true, row["valid_true"] = measured((case.front_camera, case.side_camera), case, foot)
    row["errors_true"] = per_rep_errors(est_true, truth, case.phase)
    if failed:
        row["failed"] = "; ".join(failed)
        return row
    cal = calib.Calibration(views)
    mat_cams = []
    for view, video in (("front", case.front), ("side", case.side)):
        c = cal.camera(view)
        mat_cams.append(Camera(c.intrinsics.scaled(video.width / c.intrinsics.width), c.R, c.t))
        row[f"{view}_position_cm"] = float(100 * np.linalg.norm(c.center - truth_still[view].center))
        row[f"{view}_angle_deg"] = rotation_error_deg(c.R, truth_still[view].R)
        row[f"{view}_markers"] = len(cal.views[view].markers)
    est_mat, row["valid_mat"] = measured(tuple(mat_cams), case, foot)
    row["errors_mat"] = per_rep_errors(est_mat, truth, case.phase)
    return row


def pct(v, q):
    return float(np.percentile(v, q)) if len(v) else float("nan")


def summarise(rows: list[dict]) -> str:
    ok = [r for r in rows if "failed" not in r]
    failed = [r for r in rows if "failed" in r]
    where = sorted({(r["height"], r["distance"]) for r in failed})
    lines = [f"{len(rows)} sets; `calibrate` refused {len(failed)} (a camera saw fewer than 4 markers"
             + (", all with the cameras " + ", ".join(f"{h:g} m high {d:g} m away" for h, d in where) if failed else "")
             + "); the tables compare the other sets, the same sets for both columns", ""]
    pos = [r[f"{v}_position_cm"] for r in ok for v in ("front", "side")]
    ang = [r[f"{v}_angle_deg"] for r in ok for v in ("front", "side")]
    lines.append(f"camera position error p50 / p90: {pct(pos, 50):.1f} / {pct(pos, 90):.1f} cm; "
                 f"angle error p50 / p90: {pct(ang, 50):.2f} / {pct(ang, 90):.2f} degrees "
                 f"(stills of {STILL_LONG_SIDE} px on the long side)")
    for unit, keys in (("degrees", eg.ANGLE_MEASURES), ("cm", eg.CM_MEASURES)):
        for band, (a, b) in (("0-60", (0, 60)), ("75", (75, 75))):
            sel = [r for r in ok if a <= r["skew"] <= b]
            lines += ["", f"**{unit}, side camera {band} degrees round ({len(sel)} sets)**", "",
                      "| measure | true cameras: bias / p90 | mat calibration: bias / p90 | p90 worse by | |bias| worse by "
                      "| same rep, mat - true: p90 of the difference |",
                      "| --- | --- | --- | --- | --- | --- |"]
            for k in keys:
                t = np.array([e for r in sel for e in r["errors_true"].get(k, [])])
                m = np.array([e for r in sel for e in r["errors_mat"].get(k, [])])
                if not len(t) or not len(m):
                    lines.append(f"| {k} | - | - | - | - | - |")
                    continue
                dp = pct(np.abs(m), 90) - pct(np.abs(t), 90)
                db = abs(m.mean()) - abs(t.mean())
                paired = [a - b for r in sel if len(r["errors_mat"].get(k, [])) == len(r["errors_true"].get(k, []))
                          for a, b in zip(r["errors_mat"].get(k, []), r["errors_true"].get(k, []))]
                lines.append(f"| {k} | {t.mean():+.1f} / {pct(np.abs(t), 90):.1f} | {m.mean():+.1f} / "
                             f"{pct(np.abs(m), 90):.1f} | {dp:+.2f} | {db:+.2f} | {pct(np.abs(paired), 90):.2f} |")
    cpu = [r["calibrate_cpu_s"] for r in rows]
    lines += ["", f"mat calibration of both stills: p50 {pct(cpu, 50):.2f} s CPU"]
    return "\n".join(lines)


FEET_TUNING, FEET_HELD_OUT, CLEAR_MARGIN_DEG = 100, 60_000, 5.0


def feet_set(seed: int) -> dict:
    """One rendered front view, its feet judged against the footprints and from the standing start."""
    from device.analysis.stereo import mat_foot_deg
    from device.silhouette import refine
    from device.thresholds import Thresholds
    from device.vocabulary import COMPENSATION_IDS
    from tests.synth.render import SquatSpec, learned_backgrounds, render_sequence

    rng = np.random.default_rng([seed, 1818])
    mode = seed % 3  # a relaxed stance, standing turned out, turning out during the squat
    start = rng.uniform(-2, 7, 2) if mode == 0 else rng.uniform(6, 26, 2) if mode == 1 else rng.uniform(-2, 8, 2)
    turn = rng.uniform(0, 3, 2) if mode == 0 else np.zeros(2) if mode == 1 else rng.uniform(0, 20, 2)
    spec = SquatSpec(reps=3, seed=seed, depth=float(rng.uniform(0.85, 1.0)),
                     trunk_lean_deg=float(rng.uniform(30, 45)), keypoint_noise_px=float(rng.uniform(0.5, 2.0)),
                     foot_start_deg=tuple(float(x) for x in start), foot_turn_deg=tuple(float(x) for x in turn),
                     lighting_drift=0.06)
    synth = render_sequence(spec, views=("front",))
    result = {"format": "ohsa-result/1", "reps": spec.reps, "rep_windows": synth.rep_windows,
              "views": {"front": {"status": "ok"}},
              "compensations": {c: {"status": "not_assessed", "reason": "rules"} for c in COMPENSATION_IDS}}
    bgs = learned_backgrounds(synth)
    prints = mat_foot_deg()
    th = Thresholds()
    true_vs_prints = float(max(start[i] + turn[i] * spec.depth - prints[s] for i, s in enumerate(("left", "right"))))
    true_turn = float(max(turn) * spec.depth)
    row = {"seed": seed, "start": start.tolist(), "turn": turn.tolist(), "depth": spec.depth,
           "true_vs_prints": true_vs_prints, "true_turn": true_turn,
           "threshold_mat": th["silhouette_feet_turn_out_mat"], "threshold": th["silhouette_feet_turn_out"]}
    for key, fp in (("mat", prints), ("standing", None)):
        e = refine(result, synth.frames, synth.track, bgs, th, footprints=fp)["compensations"]["feet_turn_out"]
        row[key] = {"status": e["status"], "value": e.get("value"), "rep_values": e.get("rep_values")}
    return row


def summarise_feet(rows: list[dict], title: str) -> str:
    t_mat = rows[0]["threshold_mat"]
    err = [v - r["true_vs_prints"] for r in rows for v in (r["mat"]["rep_values"] or []) if v is not None]
    na = sum(r["mat"]["status"] == "not_assessed" for r in rows)
    out = [f"## feet turn out against the footprints, {title}: {len(rows)} rendered sets, {na} not assessed", "",
           f"each rep's value against the truth (the foot turned most, degrees against the footprints): "
           f"bias {np.mean(err):+.1f}, |error| p50 {pct(np.abs(err), 50):.1f}, p90 {pct(np.abs(err), 90):.1f} "
           f"({len(err)} reps)", "",
           f"clear cases: the true toe-out against the footprints at least {CLEAR_MARGIN_DEG:g} degrees past "
           f"the threshold ({t_mat:g}) or at least {CLEAR_MARGIN_DEG:g} short of it "
           "(not_assessed counts as a miss):", "",
           "| judged | sensitivity | specificity |", "| --- | --- | --- |"]
    pos = [r for r in rows if r["true_vs_prints"] >= t_mat + CLEAR_MARGIN_DEG]
    neg = [r for r in rows if r["true_vs_prints"] <= t_mat - CLEAR_MARGIN_DEG]
    for key, words in (("mat", "against the footprints (with the mat)"),
                       ("standing", "as without the mat (the turn from the standing start)")):
        sens = [r[key]["status"] == "present" for r in pos]
        spec = [r[key]["status"] == "absent" for r in neg]
        out.append(f"| {words} | {np.mean(sens):.2f} ({len(sens)}) | {np.mean(spec):.2f} ({len(spec)}) |")
    stood = [r for r in pos if r["true_turn"] < 3.0]
    out.append(f"\nof which standing turned out and not turning further (turn < 3 degrees): {len(stood)} sets, "
               f"found against the footprints {sum(r['mat']['status'] == 'present' for r in stood)}, "
               f"from the standing start {sum(r['standing']['status'] == 'present' for r in stood)}")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feet", action="store_true", help="feet turn out against the footprints (rendered)")
    ap.add_argument("--held-out", action="store_true", help="with --feet: the held-out seeds")
    ap.add_argument("-n", type=int, default=60, help="with --feet: sets")
    ap.add_argument("--repeats", type=int, default=2, help="rounds of the 24 placements (default 2)")
    ap.add_argument("--first-seed", type=int, default=eg.HELD_OUT_SEED)
    ap.add_argument("--json", metavar="OUT", help="write the per-set rows here")
    ap.add_argument("--summarise", metavar="JSON", help="only print the tables of rows written by --json")
    args = ap.parse_args(argv)
    if args.feet:
        seed0 = FEET_HELD_OUT if args.held_out else FEET_TUNING
        t0 = time.monotonic()
        rows = [feet_set(seed0 + i) for i in range(args.n)]
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        print(summarise_feet(rows, ("held-out" if args.held_out else "tuning") + f" seeds from {seed0}"))
        print(f"\n({time.monotonic() - t0:.0f} s)")
        return 0
    if args.summarise:
        print(summarise(json.loads(Path(args.summarise).read_text())))
        return 0
    rows = []
    t0 = time.monotonic()
    for spec in eg.plan(args.first_seed, args.repeats):
        rows.append(run_set(*spec))
        print(f"\r{len(rows)} sets, {time.monotonic() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(summarise(rows))
    print(f"\n({len(rows)} sets in {time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
