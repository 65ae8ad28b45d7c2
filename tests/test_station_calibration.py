"""The station's kept calibration: the mat calibration checked while idle (rendered mat scenes,
a hand-moved clock), the person-based record refined over sets, a moved camera noticed from the
sets and from the mat, the health page's line, and the analyser's plumbing."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from device import health
from device.geometry import calibration as calib
from device.geometry import mat, words
from device.station import analysis as station_analysis
from device.station.calibration import SETTINGS, CalibrationKeeper
from tests.synth.mat_scene import Placement, StillSpec, render_still, rotation_error_deg

SPEC = StillSpec(width=1920, height=1080, seed=21, focal_error=-0.015)
FRONT = Placement(90, 3.0, 0.95)
SIDE = Placement(40, 3.1, 0.95)
KNOCKED = Placement(SIDE.azimuth_deg, SIDE.distance, SIDE.height, yaw_deg=2.0)  # turned 2 degrees


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def scenes():
    front, front_cam = render_still(FRONT, SPEC)
    side, side_cam = render_still(SIDE, SPEC)
    knocked, knocked_cam = render_still(KNOCKED, SPEC)
    images = {"front": front, "side": side}
    cal = calib.calibrate(images, {v: SPEC.model for v in images})
    return {"stills": images, "knocked": knocked, "knocked_cam": knocked_cam, "cal": cal,
            "truth": {"front": front_cam, "side": side_cam}}


@pytest.fixture
def data_dir(tmp_path, scenes):
    calib.save(scenes["cal"], tmp_path / "calibration.json")
    return tmp_path


def _cover_all_but(image, keep: int):
    out = image.copy()
    det = mat.detect(image)
    for i, c in det.items():
        if i not in sorted(det)[:keep]:
            c = c.mean(0) + 1.15 * (c - c.mean(0))
            cv2.fillConvexPoly(out, np.round(c).astype(np.int32), (70, 70, 70))
    return out


def _person_set(round_deg, side="left", dist=3.1, trusted=True):
    return {"path": "3d" if trusted else "2d", "calibration": "person", "angle_deg": 90 - round_deg,
            "round_toward_front_deg": round_deg, "side": side, "side_distance_m": dist, "front_distance_m": 3.0,
            "reprojection_px": 2.0, "trusted": trusted, "reason": "ok" if trusted else "too few confident frames",
            "person_vs_mat_deg": None}


def _mat_set(reproj, person_vs_mat=2.0):
    return {"path": "3d", "calibration": "mat", "angle_deg": 50.0, "round_toward_front_deg": 40.0, "side": "right",
            "side_distance_m": 3.1, "front_distance_m": 3.0, "reprojection_px": reproj, "trusted": True,
            "reason": "the mat calibration", "person_vs_mat_deg": person_vs_mat}


# --- the mat calibration, in words ----------------------------------------------------------------


def test_the_mat_calibration_in_plain_words(scenes):
    g = words.from_calibration(scenes["cal"])
    assert abs(g["round_toward_front_deg"] - 40) < 1.0 and g["side"] == "right"
    assert abs(g["side_distance_m"] - 3.1) < 0.05 and abs(g["front_distance_m"] - 3.0) < 0.05
    assert words.placement(g) == ("side camera about 40 degrees toward the front, on the person's right, 3.1 m away; "
                                  "front camera 3.0 m away")
    assert words.path(g) == "3-D in use (mat calibration)"
    assert words.path({"path": "2d", "reason": "the side view is missing"}) == "2-D: the side view is missing"
    assert words.placement({"path": "2d"}) is None


def test_without_a_mat_calibration(tmp_path):
    clock = Clock()
    keeper = CalibrationKeeper(tmp_path, clock=clock)
    assert keeper.for_analysis() is None
    clock.t += 3600
    assert not keeper.claim_recheck()  # nothing to check
    st = keeper.status()
    assert st["source"] == "none" and st["mat"] == "none" and not st["warning"]
    assert "`ohsa calibrate`" in st["message"]
    assert "`ohsa calibrate`" in health.calibration_status(tmp_path)["message"]


def test_loaded_from_the_data_dir_and_used(data_dir, scenes):
    before = health.calibration_status(data_dir)  # no station has run: the file alone
    assert before["source"] == "mat" and "not yet checked by the running station" in before["message"]
    assert "side camera about 40 degrees toward the front" in before["message"]
    keeper = CalibrationKeeper(data_dir, clock=Clock())
    cal = keeper.for_analysis()
    assert cal is not None and set(cal.views) == {"front", "side"}
    assert np.allclose(cal.camera("side").R, scenes["cal"].camera("side").R)
    st = keeper.status()
    assert st["source"] == "mat" and st["mat"] == "ok"
    assert "Mat calibration in use (3-D): side camera about 40 degrees toward the front" in st["message"]
    # the health page reads the running station's words
    assert health.calibration_status(data_dir)["message"] == st["message"]
    assert "in use (3-D)" not in health.calibration_status(data_dir.parent / "nowhere")["message"]


# --- the idle re-check ----------------------------------------------------------------------------


def test_recheck_schedule_on_the_clock(data_dir, scenes):
    clock = Clock()
    keeper = CalibrationKeeper(data_dir, clock=clock)
    clock.t += SETTINGS["first_check_after_s"] - 1
    assert not keeper.claim_recheck()
    clock.t += 1
    assert keeper.claim_recheck()
    assert not keeper.claim_recheck()  # claimed: not twice while it runs
    verdict = keeper.recheck(scenes["stills"])
    assert {v.status for v in verdict.views.values()} == {"ok"}
    assert keeper.status()["checked_at"] == clock.t and "in place" in keeper.status()["check"]
    clock.t += SETTINGS["recheck_every_s"] - 1
    assert not keeper.claim_recheck()
    clock.t += 1
    assert keeper.claim_recheck()
    # the mat covered (someone on it): no verdict, tried again sooner
    covered = {v: np.full_like(im, 90) for v, im in scenes["stills"].items()}
    keeper.recheck(covered)
    assert keeper.for_analysis() is not None
    clock.t += SETTINGS["retry_after_s"]
    assert keeper.claim_recheck()


def test_a_knocked_camera_is_recalibrated_and_saved(data_dir, scenes):
    clock = Clock()
    keeper = CalibrationKeeper(data_dir, clock=clock)
    verdict = keeper.recheck({"front": scenes["stills"]["front"], "side": scenes["knocked"]})
    assert verdict.views["side"].status == "recalibrated" and verdict.views["front"].status == "ok"
    truth = scenes["knocked_cam"]
    for cal in (keeper.for_analysis(), calib.load(data_dir / "calibration.json")):  # in use and on disk
        assert rotation_error_deg(cal.camera("side").R, truth.R) < 0.5
        assert np.linalg.norm(cal.camera("side").center - truth.center) < 0.05
    st = keeper.status()
    assert st["mat"] == "ok" and not st["warning"]
    assert any("recalibrated" in e["message"] for e in st["events"])


def test_moved_without_enough_mat_falls_back_and_says_so(data_dir, scenes):
    clock = Clock()
    keeper = CalibrationKeeper(data_dir, clock=clock)
    covered = _cover_all_but(scenes["knocked"], 3)
    verdict = keeper.recheck({"side": covered})
    assert verdict.views["side"].status == "moved"
    assert keeper.for_analysis() is None  # the sets fall back to the person or 2-D
    st = keeper.status()
    assert st["mat"] == "moved" and st["warning"] and st["source"] == "none"
    assert "side camera has moved" in st["message"] and "`ohsa calibrate`" in st["message"]
    page = health.calibration_status(data_dir)
    assert page["warning"] and page["message"] == st["message"]
    # a restart does not forget it
    again = CalibrationKeeper(data_dir, clock=clock)
    assert again.for_analysis() is None and again.status()["mat"] == "moved"
    # the camera put back: the next re-check finds the markers in place and takes the mat up again
    clock.t += SETTINGS["recheck_every_s"]
    assert again.claim_recheck()
    again.recheck(scenes["stills"])
    assert again.for_analysis() is not None and not again.status()["warning"]
    # a new `ohsa calibrate` (the file replaced) is loaded without a restart
    keeper.recheck({"side": covered})
    assert keeper.for_analysis() is None
    calib.save(calib.Calibration(dict(scenes["cal"].views), created=2.0), data_dir / "calibration.json")
    import os

    os.utime(data_dir / "calibration.json", (clock.t + 5, clock.t + 5))
    assert keeper.for_analysis() is not None and keeper.status()["mat"] == "ok"


def test_a_broken_calibration_file_is_said_not_used(tmp_path):
    (tmp_path / "calibration.json").write_text("{ not json")
    keeper = CalibrationKeeper(tmp_path, clock=Clock())
    assert keeper.for_analysis() is None
    st = keeper.status()
    assert st["mat"] == "invalid" and st["warning"] and "not JSON" in st["message"]
    (tmp_path / "calibration-record.json").unlink(missing_ok=True)
    assert "not JSON" in health.calibration_status(tmp_path)["message"]


# --- what the sets say --------------------------------------------------------------------------------


def test_person_based_estimate_refined_and_a_moved_camera_noticed(tmp_path):
    clock = Clock()
    keeper = CalibrationKeeper(tmp_path, clock=clock)
    rng = np.random.default_rng(3)
    for a in 45 + rng.normal(0, 3, 6):
        keeper.observe(_person_set(float(a)))
        clock.t += 300
    keeper.observe(_person_set(20.0, trusted=False))  # not trusted: not part of the estimate
    est = keeper.person_estimate()
    assert est["sets"] == 6 and abs(est["round_toward_front_deg"] - 45) < 3 and est["side"] == "left"
    st = keeper.status()
    assert st["source"] == "person" and "over 6 sets: side camera about 4" in st["message"]
    assert st["three_d"] is False  # the last set fell back to 2-D
    # one odd set is the person, not the camera
    keeper.observe(_person_set(25.0))
    keeper.observe(_person_set(46.0))
    assert keeper.person_estimate()["sets"] == 7 and abs(keeper.person_estimate()["round_toward_front_deg"] - 45) < 3
    # two in a row: the camera was moved, the estimate starts again from them
    keeper.observe(_person_set(24.0))
    keeper.observe(_person_set(26.0))
    est = keeper.person_estimate()
    assert est["sets"] == 2 and abs(est["round_toward_front_deg"] - 25) < 1.5
    assert "seems to have moved" in keeper.status()["events"][-1]["message"]
    # kept across a restart
    again = CalibrationKeeper(tmp_path, clock=clock)
    assert again.person_estimate()["sets"] == 2
    data = json.loads((tmp_path / "calibration-record.json").read_text())
    assert data["format"] == "ohsa-calibration-record/1" and data["status"]["source"] == "person"


def test_sets_that_stop_fitting_the_mat_make_it_suspect(data_dir, scenes):
    clock = Clock()
    keeper = CalibrationKeeper(data_dir, clock=clock)
    for e in (1.8, 2.1, 2.0, 1.9):
        keeper.observe(_mat_set(e))
    assert keeper.for_analysis() is not None
    keeper.observe(_mat_set(9.0))  # one bad set: nothing yet
    keeper.observe(_mat_set(2.0))
    assert keeper.for_analysis() is not None and keeper.status()["mat"] == "ok"
    keeper.observe(_mat_set(2.0, person_vs_mat=22.0))
    keeper.observe(_mat_set(9.5, person_vs_mat=25.0))
    assert keeper.for_analysis() is None
    st = keeper.status()
    assert st["mat"] == "suspect" and st["warning"] and "did not match the mat calibration" in st["message"]
    assert keeper.claim_recheck()  # checked at the next idle moment, not in 10 minutes
    keeper.recheck(scenes["stills"])  # the mat says the cameras are in place: the mat wins
    assert keeper.for_analysis() is not None and keeper.status()["mat"] == "ok"


# --- the analyser's plumbing ---------------------------------------------------------------------------


def test_the_analyser_passes_the_kept_calibration_and_feeds_the_geometry_back(data_dir, monkeypatch):
    from device import config
    from device.rules import evaluate
    from device.station.machine import Job
    from tests.synth.skeleton import make_case

    case = make_case(5)
    seen = {}

    def analyse(track, kept=None, *, calibration=None, **kw):  # the 3-D pipeline's contract
        seen["calibration"] = calibration
        seen["person_check_px"] = kw.get("person_check_px")
        result = evaluate(track)
        result["geometry"] = _person_set(44.0) if calibration is None else _mat_set(2.0)
        return result

    monkeypatch.setattr(station_analysis, "analyse", analyse)
    monkeypatch.setattr(station_analysis, "TAKES_CALIBRATION", True)
    keeper = CalibrationKeeper(data_dir, clock=Clock())
    analyser = station_analysis.Analyser(config.Config(), store=None, calibration=keeper)
    job = Job(token=1, kind="standard", parent_id=None, parent_result=None, track=case.track, keepers={},
              live_reps=5, started=0.0, ended=30.0)
    out = analyser.analyse(job)
    assert seen["calibration"] is keeper.for_analysis() and seen["calibration"] is not None
    assert seen["person_check_px"] == 0.0  # the mat's usual fit not known yet: checked
    assert out["result"]["geometry"]["calibration"] == "mat"
    assert keeper.status()["last_set"]["path"] == "3-D in use (mat calibration)"
    (data_dir / "calibration.json").unlink()
    analyser.analyse(job)
    assert seen["calibration"] is None and keeper.person_estimate()["sets"] == 1


def test_the_person_check_against_the_mat_runs_every_few_sets_and_on_a_jump(data_dir):
    keeper = CalibrationKeeper(data_dir, clock=Clock())
    every, floor = SETTINGS["person_check_every"], SETTINGS["reprojection_floor_px"]
    asked = []
    for i in range(3 * every):
        px = keeper.person_check_px()
        asked.append(px)
        keeper.observe(_mat_set(2.0, person_vs_mat=2.0 if px == 0.0 else None))  # run when asked at 2 px
    first = SETTINGS["min_person_sets"]
    assert asked[:first] == [0.0] * first  # until the mat's usual fit is known
    later = asked[first:]
    assert later.count(0.0) == len(later) // every and all(px in (0.0, floor) for px in later)
    gaps = np.diff([i for i, px in enumerate(asked) if px == 0.0])
    assert gaps.max() == every
    while keeper.person_check_px() == 0.0:
        keeper.observe(_mat_set(2.0))
    keeper.observe(_mat_set(9.0, person_vs_mat=None))  # the fit jumped (the analysis checked above 6 px)...
    assert keeper.person_check_px() == 0.0  # ...so the next set is checked whatever it fits
    keeper.observe(_mat_set(9.5, person_vs_mat=25.0))
    assert keeper.for_analysis() is None and keeper.status()["mat"] == "suspect"


def test_the_health_page_shows_the_calibration_line(data_dir, scenes):
    from device import owner
    from device.store import Store
    from tests.test_web import PASSWORD, PASSWORD_HASH, Clock as WebClock, token_of
    from tests.web_fakes import FakeStation
    from web import create_app

    keeper = CalibrationKeeper(data_dir, clock=Clock())
    keeper.recheck({"side": _cover_all_but(scenes["knocked"], 3)})
    store = Store(data_dir / "assessments.db")
    try:
        client = create_app(store, FakeStation(), data_dir=data_dir, testing=True,
                            config_path=data_dir / "ohsa.toml", clock=WebClock()).test_client()
        owner.write_hash(store.path.parent, PASSWORD_HASH)
        r = client.post("/trainer/login", data={"password": PASSWORD, "csrf_token": token_of(client, "/trainer/login")})
        assert r.status_code == 302
        html = client.get("/trainer/health").get_data(as_text=True)
        line = re.search(r'<td id="calibration">(.*?)</td>', html, re.S).group(1)
        assert "<strong" in line and "side camera has moved" in line and "ohsa calibrate" in line
        assert client.get("/trainer/health.json").get_json()["pi"]["calibration"]["mat"] == "moved"
    finally:
        store.close()


# --- `ohsa check` and `ohsa assess` ----------------------------------------------------------------------


def _run(*argv):
    import contextlib
    import io

    from device.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(map(str, argv)))
    return code, out.getvalue(), err.getvalue()


def test_check_walks_an_owner_through_the_mat_without_one(tmp_path):
    from device.analysis.check import check_calibration, format_calibration

    c = check_calibration(tmp_path)
    text = format_calibration(c)
    assert c.ok and c.source == "none" and not c.oblique_side_ok
    assert "`ohsa calibrate mat -o mat.pdf`" in text and "print at 100 %" in text
    assert re.search(r"3\. with nobody on the mat .*`ohsa calibrate`", text)


def test_check_reports_the_mat_calibration_and_rechecks_it(data_dir, scenes):
    from device.analysis.check import check_calibration, format_calibration

    c = check_calibration(data_dir, scenes["stills"])
    text = format_calibration(c)
    assert c.ok and c.rechecked == {"front": "ok", "side": "ok"} and c.oblique_side_ok
    assert "side camera about 40 degrees toward the front, on the person's right, 3.1 m away" in text
    assert "3-D in use with the mat calibration" in text and "side camera: in place on the mat" in text
    moved = check_calibration(data_dir, {"side": scenes["knocked"]})
    assert not moved.ok and not moved.oblique_side_ok
    assert "The side camera has moved since `ohsa calibrate`" in format_calibration(moved)
    (data_dir / "calibration.json").write_text('{"format": "something-else"}')
    bad = check_calibration(data_dir)
    assert not bad.ok and "cannot be used" in bad.advice[0]


def test_an_oblique_side_camera_is_fine_when_the_mat_calibration_holds(data_dir, scenes):
    from device.analysis.check import check_calibration, check_view, sample_recording
    from device.pose import MoveNet
    from tests.conftest import DATA, MODEL

    images, _ = sample_recording(DATA / "overhead-squat-pair" / "side_oblique.mov", "side", count=6)
    movenet = MoveNet(MODEL)
    cal = check_calibration(data_dir, scenes["stills"])
    with_mat = check_view("side", images, movenet, oblique_side_ok=cal.oblique_side_ok)
    assert with_mat.orientation == "oblique" and with_mat.ok
    assert "fine for the 3-D measures with the mat calibration" in with_mat.notes[0]
    moved = check_calibration(data_dir, {"side": scenes["knocked"]})
    without = check_view("side", images, movenet, oblique_side_ok=moved.oblique_side_ok)
    assert not without.ok and "move it round" in without.advice[-1] and not without.notes


def test_check_command_live_reports_the_calibration(data_dir, tmp_path):
    from tests.conftest import DATA, MODEL

    cfg = tmp_path / "ohsa.toml"
    cfg.write_text(f'[cameras.front]\nbackend = "none"\n\n[cameras.side]\nbackend = "replay"\n'
                   f'source = "{DATA / "side-back-squat" / "squat.mp4"}"\n')
    code, out, err = _run("check", "--seconds", "1.0", "--frames", "2", "--config", cfg, "--model", MODEL,
                          "--data-dir", data_dir, "--json")
    data = json.loads(out)["calibration"]
    assert data["source"] == "mat" and abs(data["geometry"]["round_toward_front_deg"] - 40) < 1
    assert any("3-D in use with the mat calibration" in line for line in data["lines"])
    # the recording is not the mat's camera (another shape): said, not a crash
    assert any("Not re-checked" in line or "too little of the mat" in line for line in data["lines"])
    code, out, err = _run("check", "--seconds", "1.0", "--frames", "2", "--config", cfg, "--model", MODEL,
                          "--data-dir", tmp_path / "none")
    assert "calibration: OK  (none)" in out and "`ohsa calibrate mat -o mat.pdf`" in out


def test_assess_says_which_geometry_it_used(tmp_path):
    from device.analysis.cli import geometry_words
    from tests.conftest import DATA, MODEL

    g = {"path": "3d", "calibration": "person", "angle_deg": 45.0, "round_toward_front_deg": 45.0, "side": "left",
         "side_distance_m": 3.1, "front_distance_m": 2.9, "reprojection_px": 3.0, "trusted": True,
         "reason": "trusted", "person_vs_mat_deg": None}
    assert geometry_words({"geometry": g}) == (
        "3-D in use (calibration on the person); side camera about 45 degrees toward the front, on the person's left, "
        "3.1 m away; front camera 2.9 m away")
    g2 = dict(g, path="2d", calibration=None, reason="the calibration's reprojection error is too large")
    assert geometry_words({"geometry": g2}).startswith("2-D: the calibration's reprojection error is too large; side camera about 45")
    assert "differs from the mat's by 7 degrees" in geometry_words({"geometry": dict(g, calibration="mat", person_vs_mat_deg=7.2)})
    code, out, err = _run("assess", "--front", DATA / "tfjs-pose-detection" / "pose_squats.mp4", "--no-silhouette",
                          "--model", MODEL)
    assert code == 0 and json.loads(out)["format"] == "ohsa-result/1"
    assert re.search(r"^geometry: 2-D", err, re.M)
    bad = tmp_path / "cal.json"
    bad.write_text("{")
    code, out, err = _run("assess", "--front", DATA / "tfjs-pose-detection" / "pose_squats.mp4", "--calibration", bad,
                          "--model", MODEL)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "cal.json" in err


# --- issue 18's figure, a slice: the 3-D measures with mat-calibrated cameras -----------------------


@pytest.mark.parametrize("seed, skew, height, distance, toe", [(20005, 45, 1.3, 3.8, 10.0), (20010, 30, 1.3, 2.5, 20.0)])
def test_mat_calibrated_cameras_measure_as_well_as_the_true_ones(seed, skew, height, distance, toe):
    """scripts/eval_mat_3d.py on two sets: the person filmed by the true cameras, the cameras
    calibrated on rendered stills of the mat; every measure's per-rep error within 1 degree (1 cm)
    of the true cameras' (the docs' table is the whole run)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import eval_mat_3d

    row = eval_mat_3d.run_set(seed, skew, height, distance, toe, "knees_cave_in:clear")
    assert "failed" not in row, row.get("failed")
    assert row["side_angle_deg"] < 0.5 and row["side_position_cm"] < 10
    compared = 0
    for key, true_errs in row["errors_true"].items():
        mat_errs = row["errors_mat"][key]
        assert len(mat_errs) == len(true_errs) >= 3, key
        assert np.max(np.abs(np.subtract(mat_errs, true_errs))) < 1.0, key
        compared += 1
    assert compared == 14


# --- the running station re-checks the mat on its own cameras while idle ------------------------------


def test_the_idle_station_recalibrates_a_knocked_camera_from_its_own_frames(data_dir, scenes, tmp_path, movenet):
    from device import config as cfg
    from device.station.runtime import StationRuntime
    from tests.waiting import wait_until

    stills = {"front": scenes["stills"]["front"], "side": scenes["knocked"]}  # the side camera was knocked
    paths = {}
    for view, image in stills.items():
        paths[view] = tmp_path / f"{view}.png"
        cv2.imwrite(str(paths[view]), np.ascontiguousarray(image[..., ::-1]))
    config = cfg.validate({"cameras": {v: {"backend": "replay", "source": str(p)} for v, p in paths.items()}})
    import time

    rt = StationRuntime(config, data_dir, movenet=movenet)
    rt.open()
    try:
        clock = Clock(time.time())  # after the keeper was made: its first check is due a minute on
        rt.calibration.clock = clock  # from here its schedule is on a clock moved by hand
        assert rt.analyser.calibration is rt.calibration
        assert wait_until(lambda: rt.capture.latest("side") is not None and rt.capture.latest("front") is not None, 20)
        assert rt.calibration.status()["checked_at"] is None  # not due yet
        clock.t += SETTINGS["first_check_after_s"]
        assert wait_until(lambda: rt.calibration.status()["checked_at"] == clock.t, 30)
    finally:
        rt.close()
    saved = calib.load(data_dir / "calibration.json")
    truth = scenes["knocked_cam"]
    assert rotation_error_deg(saved.camera("side").R, truth.R) < 0.5
    assert any("recalibrated" in e["message"] for e in health.calibration_status(data_dir)["events"])


@pytest.mark.skipif(not station_analysis.TAKES_CALIBRATION, reason="the pipeline's 3-D stage is not in this build")
def test_a_set_through_the_real_pipeline_with_the_kept_mat_calibration(tmp_path):
    """The analyser with the real pipeline: a synthetic person filmed by two cameras whose mat
    calibration the station keeps; the result measures in 3-D with it, and the keeper records it."""
    from device import config
    from device.geometry.camera import Camera
    from device.station.machine import Job
    from device.track import Track
    from tests.synth.stereo import make_stereo_case

    case = make_stereo_case(20007, skew_deg=45, cam_height=1.3, distance=3.0)
    to_mat = np.diag([-1.0, -1.0, 1.0])  # the stereo world turned half round: the mat's frame
    views = {v: calib.ViewCalibration(Camera(c.intrinsics, c.R @ to_mat, c.t), tuple(range(12)), 0.3, c.intrinsics.f)
             for v, c in (("front", case.front_camera), ("side", case.side_camera))}
    calib.save(calib.Calibration(views), tmp_path / "calibration.json")
    keeper = CalibrationKeeper(tmp_path, clock=Clock())
    analyser = station_analysis.Analyser(config.Config(), store=None, calibration=keeper)
    job = Job(token=1, kind="standard", parent_id=None, parent_result=None,
              track=Track({"front": case.front, "side": case.side}), keepers={}, live_reps=5, started=0.0, ended=30.0)
    geometry = analyser.analyse(job)["result"]["geometry"]
    assert geometry["path"] == "3d" and geometry["calibration"] == "mat", geometry
    assert abs(geometry["round_toward_front_deg"] - (90 - case.angle_between_deg)) < 2
    st = keeper.status()
    assert st["last_set"]["path"] == "3-D in use (mat calibration)" and st["three_d"] and st["mat"] == "ok"
