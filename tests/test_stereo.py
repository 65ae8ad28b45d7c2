"""The analysis's 3-D path on synthetic two-view sets with known cameras and bodies
(tests/synth/stereo.py): the calibration chosen, the checks judged in 3-D, the honest fallback
to the 2-D path, the mat calibration and its check against the person, the clock rate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from device.analysis import analyse
from device.analysis import stereo as stage
from device.geometry.calibration import Calibration, ViewCalibration
from device.geometry import selfcal
from device.geometry.camera import Camera
from device.rules import evaluate, in3d
from device.rules.align import estimate_clock
from device.thresholds import THRESHOLDS, Thresholds
from device.track import Track
from tests.synth import AMPLITUDES
from tests.synth.stereo import make_stereo_case

SIDE_CHECKS = ("excessive_forward_lean", "arms_fall_forward", "head_forward", "head_down")
KEYPOINT_CHECKS = ("knees_cave_in", "knees_push_out", "asymmetric_weight_shift", *SIDE_CHECKS)


def _case(seed, skew, comps=None, toe=0.0, **kw):
    """A stereo set whose tracks carry their cameras' true fields of view (the station's modules)."""
    comps = {c: (AMPLITUDES[c]["clear"], side) for c, side in (comps or {}).items()}
    case = make_stereo_case(seed, skew_deg=skew, toe_out_deg=toe, compensations=comps, **kw)
    track = Track({"front": replace(case.front, hfov_deg=case.front_camera.intrinsics.hfov_deg),
                   "side": replace(case.side, hfov_deg=case.side_camera.intrinsics.hfov_deg)})
    return case, track


def _statuses(result):
    return {c: result["compensations"][c]["status"] for c in KEYPOINT_CHECKS}


def test_an_oblique_side_camera_is_measured_in_3d():
    case, track = _case(11, 45, {"excessive_forward_lean": "both"})
    result = analyse(track)
    geo = result["geometry"]
    assert geo["path"] == "3d" and geo["trusted"] and geo["calibration"] == "person", geo
    assert abs(geo["angle_deg"] - case.angle_between_deg) <= 10, (geo, case.angle_between_deg)
    assert geo["round_toward_front_deg"] == pytest.approx(90 - geo["angle_deg"], abs=0.11)
    assert geo["side"] == case.near_side
    for view in ("front", "side"):
        assert result["views"][view]["geometry"] == "3d" and result["views"][view]["angle_deg"] == geo["angle_deg"]
    # the 2-D path would refuse this side view; the 3-D path judges every side check
    assert result["views"]["side"]["skew_deg"] > 15 and result["views"]["side"]["status"] == "ok"
    comps = result["compensations"]
    assert comps["excessive_forward_lean"]["status"] == "present"
    assert comps["excessive_forward_lean"]["geometry"] == "3d"
    for cid in KEYPOINT_CHECKS:
        if cid != "excessive_forward_lean":
            assert comps[cid]["status"] == "absent", (cid, comps[cid])
    two_d = evaluate(track)
    assert all(two_d["compensations"][c]["status"] == "not_assessed" for c in SIDE_CHECKS)


@pytest.mark.parametrize("seed,skew,cid,side", [
    (21, 0, "knees_cave_in", "left"), (22, 30, "arms_fall_forward", None), (23, 60, "head_down", None),
    (24, 15, "head_forward", None), (25, 45, "asymmetric_weight_shift", "right"),
])
def test_each_compensation_is_found_in_3d_at_any_angle(seed, skew, cid, side):
    _, track = _case(seed, skew, {cid: side or "both"})
    result = analyse(track)
    assert result["geometry"]["path"] == "3d", result["geometry"]["reason"]
    entry = result["compensations"][cid]
    assert entry["status"] == "present", entry
    assert entry["geometry"] == ("3d" if in3d.judged_in_3d(cid) else "2d")  # the shift: the front picture
    if side:
        assert entry["side"] == side
    others = {c: s for c, s in _statuses(result).items() if c != cid}
    assert set(others.values()) == {"absent"}, others


def test_knees_over_turned_out_feet_are_not_pushing_out():
    """Without the mat the feet's direction is unknown: knees tracking over toes turned out 30
    degrees are not read as pushing out (the 2-D front view's perspective reads them wide)."""
    for seed, skew in ((31, 0), (32, 30), (33, 60)):
        _, track = _case(seed, skew, toe=30.0)
        result = analyse(track)
        assert result["geometry"]["path"] == "3d" and result["geometry"]["feet"] == "not known"
        assert result["compensations"]["knees_push_out"]["status"] == "absent", seed
        assert result["compensations"]["knees_cave_in"]["status"] == "absent", seed


def _seen_feet(result, toe):
    out = dict(result)
    out["silhouette"] = {"views": {"front": {"background": "empty scene",
                                             "standing_toe_out_deg": {"left": toe, "right": toe}}}}
    return out


def test_knees_are_judged_against_the_feet_the_silhouette_saw():
    """Without the mat, push-out over straight feet is judged past a foot turned out 30 degrees
    and missed; with the front silhouette's standing toe-out (device/silhouette/refine.py) it is
    found, and knees over feet it saw turned out are still not pushing out."""
    from device.analysis.pipeline import _knees_over_seen_feet

    th = Thresholds()
    for seed, skew, comps, toe, seen, want in ((81, 15, {"knees_push_out": "both"}, 0.0, 1.5, "present"),
                                               (84, 45, {"knees_push_out": "both"}, 0.0, 2.0, "present"),
                                               (85, 30, None, 25.0, 26.0, "absent"),
                                               (86, 30, {"knees_cave_in": "left"}, 10.0, 11.0, "absent")):
        _, track = _case(seed, skew, comps, toe=toe)
        result = analyse(track)
        assert result["compensations"]["knees_push_out"]["status"] == "absent", seed  # feet not known
        st = stage.measure(track, th)
        out = _knees_over_seen_feet(_seen_feet(result, seen), track, th, st, 0.0)
        assert out["geometry"]["feet"].startswith("the silhouette") and out["geometry"]["foot_toe_out_deg"]["left"] == seen
        assert out["compensations"]["knees_push_out"]["status"] == want, (seed, out["compensations"]["knees_push_out"])
        if comps and "knees_cave_in" in comps:
            assert out["compensations"]["knees_cave_in"]["status"] == "present"


def test_with_the_mat_the_feet_seen_are_compared_with_the_footprints():
    """The front camera stands a few degrees off the person's axis: the footprints are read from
    its line of sight, as the silhouette reads the feet."""
    from device.analysis.pipeline import _knees_over_seen_feet

    th = Thresholds()
    case, track = _case(87, 30, toe=5.0)
    cal = _mat(case)
    result = analyse(track, calibration=cal)
    st = stage.measure(track, th, calibration=cal)
    prints = stage.footprints_seen_from_front(cal)
    c = case.front_camera.center  # the stereo world: the person faces -Y, their left is +X
    yaw = np.degrees(np.arctan2(c[0], -c[1]))  # the camera's direction from the mat's axis, + to the left
    assert abs(yaw) > 0.5 and abs(prints["left"] + yaw) < 0.5 and abs(prints["right"] - yaw) < 0.5
    out = _knees_over_seen_feet(_seen_feet(result, 5.0), track, th, st, 0.0, cal)
    assert out["geometry"]["feet"] == "the mat's footprints"  # the knees stay judged against them
    assert out["geometry"]["feet_vs_footprints_deg"] == {s: round(5.0 - prints[s], 1) for s in ("left", "right")}
    assert out["compensations"] == result["compensations"]


def _true_front_yaw(case) -> float:
    """The direction from the person's ankles to the front camera in the true body frame (degrees
    from forward, + toward the person's left)."""
    ankles = np.median((case.world_joints[:, 15] + case.world_joints[:, 16]) / 2, axis=0)
    c = case.axes @ (case.front_camera.center - ankles)
    return float(np.degrees(np.arctan2(c[1], c[0])))


def test_feet_seen_by_the_front_camera_are_turned_into_the_body_frame():
    assert stage.from_front_camera({"left": 10.0, "right": 10.0}, 5.0) == {"left": 15.0, "right": 5.0}
    a = np.radians(10.0)  # a body turned 10 degrees to its left on the mat (mat: +Y forward, +X right)
    axes = np.array([[-np.sin(a), np.cos(a), 0.0], [-np.cos(a), -np.sin(a), 0.0], [0.0, 0.0, 1.0]])
    prints = stage.footprints_in(axes)  # straight prints: the left one reads turned in, the right out
    assert abs(prints["left"] + 10.0) < 1e-6 and abs(prints["right"] - 10.0) < 1e-6


@pytest.mark.parametrize("seed, skew, toe, side", [(908, 60, 30.0, "left"), (922, 30, 20.0, "left"),
                                                   (949, 30, 20.0, "right"), (956, 60, 0.0, "left")])
def test_a_one_sided_push_out_over_the_seen_feet_is_found(seed, skew, toe, side, monkeypatch):
    """Issue 12's misses: push-out was judged outside the seen foot turned 4 degrees further out
    (and the silhouette read feet 1.3 degrees too far out, from the camera's line of sight taken
    as the body's): at the bottom, 15-29 cm ahead of the ankle, that moved the ratio 0.06-0.12
    and clear one-sided push-outs fell under 1.26. Judged against the seen foot itself, turned
    into the body frame, they are found; that is what the old margins and reading missed (with
    the calibration of that time: raw keypoints, every bone alike)."""
    th = Thresholds()
    case, track = _case(seed, skew, {"knees_push_out": side}, toe=toe)
    st = stage.measure(track, th)
    yaw = _true_front_yaw(case)
    seen = {"left": toe - yaw, "right": toe + yaw}  # each foot from the front camera's line of sight
    new = evaluate(track, th, clock_offset=0.0, stereo=stage.with_feet(st, seen, th, "seen"))
    assert new["compensations"]["knees_push_out"]["status"] == "present", new["compensations"]["knees_push_out"]
    assert new["compensations"]["knees_push_out"]["side"] == side
    old_reading = {k: v + 1.3 for k, v in seen.items()}
    monkeypatch.setitem(selfcal.SETTINGS, "smooth_s", 0.0)
    monkeypatch.setitem(selfcal.SETTINGS, "bone_score_power", 0.0)
    st = stage.measure(track, th)
    old = evaluate(track, th, clock_offset=0.0,
                   stereo=stage.with_feet(replace(st, front_yaw_deg=0.0), old_reading, th, "seen", (4.0, 4.0)))
    assert old["compensations"]["knees_push_out"]["status"] == "absent"


def test_knees_over_feet_seen_turned_out_from_an_off_axis_camera_do_not_push_out():
    th = Thresholds()
    for seed, skew, toe in ((88, 15, 30.0), (89, 45, 25.0), (90, 60, 20.0)):
        case, track = _case(seed, skew, toe=toe)
        st = stage.measure(track, th)
        yaw = _true_front_yaw(case)
        out = evaluate(track, th, clock_offset=0.0,
                       stereo=stage.with_feet(st, {"left": toe - yaw, "right": toe + yaw}, th, "seen"))
        assert out["compensations"]["knees_push_out"]["status"] == "absent", (seed, out["compensations"]["knees_push_out"])
        assert out["compensations"]["knees_cave_in"]["status"] == "absent", seed


def test_on_the_2d_path_push_out_needs_feet_seen_pointing_ahead():
    """One camera, knees tracking over feet turned out 20 degrees: the front picture's ratio reads
    push-out (the issue's complaint); the analysis calls it only over feet seen pointing ahead."""
    from device.analysis.pipeline import _knees_over_seen_feet

    th = Thresholds()
    _, track = _case(97, 30, toe=20.0)
    front_only = Track({"front": track.views["front"]})
    assert evaluate(front_only, th)["compensations"]["knees_push_out"]["status"] == "present"
    entry = analyse(front_only)["compensations"]["knees_push_out"]  # no pictures: the feet not seen
    assert entry["status"] == "not_assessed" and entry["reason_code"] == "feet_direction", entry
    assert "did not show which way the feet point" in entry["reason"]
    two_d = stage.two_d("one camera only")
    for feet, want in (({"left": 20.0, "right": 19.0}, "not_assessed"), ({"left": 2.0, "right": 1.0}, "present")):
        result = evaluate(front_only, th)
        result["silhouette"] = {"views": {"front": {"standing_toe_out_deg": feet}}}
        out = _knees_over_seen_feet(result, front_only, th, two_d, None)["compensations"]["knees_push_out"]
        assert out["status"] == want, (feet, out)
    # a push-out over straight feet on the 2-D path stands
    _, straight = _case(98, 0, {"knees_push_out": "both"})
    result = evaluate(Track({"front": straight.views["front"]}), th)
    assert result["compensations"]["knees_push_out"]["status"] == "present"
    result["silhouette"] = {"views": {"front": {"standing_toe_out_deg": {"left": 1.0, "right": -2.0}}}}
    out = _knees_over_seen_feet(result, straight, th, two_d, None)["compensations"]["knees_push_out"]
    assert out["status"] == "present"


def test_one_view_keeps_the_2d_path_unchanged():
    _, track = _case(41, 0, {"excessive_forward_lean": "both"})
    side_only = Track({"side": track.views["side"]})
    result = analyse(side_only)
    assert result["geometry"]["path"] == "2d" and not result["geometry"]["trusted"]
    assert result["geometry"]["reason"].startswith("one camera only")
    assert result["geometry"]["angle_deg"] is None and result["views"]["side"]["geometry"] == "2d"
    plain = evaluate(side_only)
    for cid, entry in plain["compensations"].items():
        assert result["compensations"][cid] == entry, cid  # the 2-D path's entries, unchanged


def test_cameras_too_close_together_fall_back_to_2d():
    """75 degrees round toward the front: the cameras are 15 degrees apart, depth is guessed."""
    _, track = _case(51, 75, {"excessive_forward_lean": "both"})
    result = analyse(track)
    geo = result["geometry"]
    assert geo["path"] == "2d" and not geo["trusted"]
    assert "degrees apart" in geo["reason"] and geo["angle_deg"] is not None
    plain = evaluate(track, clock_offset=-result["segmentation"]["clock_offset_s"] * 0 + result["segmentation"]["clock_offset_s"])
    assert _statuses(result) == _statuses(plain)
    assert result["compensations"]["excessive_forward_lean"]["status"] == "not_assessed"
    assert "off square" in result["compensations"]["excessive_forward_lean"]["reason"]
    assert "geometry" not in result["compensations"]["knees_cave_in"]


def test_too_few_moments_fall_back_to_2d():
    _, track = _case(52, 30)
    front = track.views["front"]
    k = front.keypoints.copy()
    k[10:, :, 2] = 0.05  # the front camera loses the person after the first frames
    result = analyse(Track({"front": replace(front, keypoints=k), "side": track.views["side"]}))
    assert result["geometry"]["path"] == "2d" and "moments" in result["geometry"]["reason"]


TO_MAT = np.diag([-1.0, -1.0, 1.0])  # the stereo world (the person faces -Y) -> the mat's frame (+Y)


def _mat(case, side_camera: Camera | None = None) -> Calibration:
    """The set's true cameras as a mat calibration: in the mat's frame (the person faces +Y)."""
    def vc(cam):
        return ViewCalibration(Camera(cam.intrinsics, cam.R @ TO_MAT, cam.t), (0, 1, 2, 3), 0.3, cam.intrinsics.f)

    return Calibration({"front": vc(case.front_camera), "side": vc(side_camera or case.side_camera)})


def test_the_mat_calibration_is_used_and_checked_against_the_person():
    case, track = _case(61, 30, {"knees_push_out": "both"})
    result = analyse(track, calibration=_mat(case))
    geo = result["geometry"]
    assert geo["path"] == "3d" and geo["calibration"] == "mat" and geo["feet"] == "the mat's footprints"
    assert abs(geo["angle_deg"] - case.angle_between_deg) < 1.0  # the true cameras
    assert geo["person_vs_mat_deg"] is not None and geo["person_vs_mat_deg"] < 10
    assert result["compensations"]["knees_push_out"]["status"] == "present"


def test_a_moved_camera_is_noticed_and_the_person_calibrates_instead():
    case, track = _case(62, 30)
    cam = case.side_camera
    tilt = np.radians(5.0)  # the side camera knocked: tipped 5 degrees about its own x axis
    Rx = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    moved = Camera(cam.intrinsics, Rx @ cam.R, Rx @ cam.t)  # same place, pointing elsewhere
    result = analyse(track, calibration=_mat(case, moved))
    geo = result["geometry"]
    assert geo["calibration"] == "person" and "moved" in geo["reason"], geo
    assert geo["path"] == "3d"


def test_the_person_check_against_the_mat_runs_only_when_asked(monkeypatch):
    from device.geometry import selfcal

    TH = Thresholds()
    calls = []
    real = selfcal.calibrate_pair
    monkeypatch.setattr(selfcal, "calibrate_pair", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    case, track = _case(64, 30)
    cal = _mat(case)
    skipped = stage.measure(track, TH, calibration=cal, person_check_px=float("inf"))
    assert calls == [] and skipped.trusted and skipped.geometry["calibration"] == "mat"
    assert skipped.geometry["person_vs_mat_deg"] is None
    fit = skipped.geometry["reprojection_px"]
    above = stage.measure(track, TH, calibration=cal, person_check_px=fit + 0.5)
    assert calls == [] and above.geometry["person_vs_mat_deg"] is None
    below = stage.measure(track, TH, calibration=cal, person_check_px=fit - 0.05)  # the fit jumped
    assert calls == [1] and below.geometry["person_vs_mat_deg"] is not None
    for name, a in skipped.measures.items():  # the same measures with or without the check
        np.testing.assert_array_equal(a, below.measures[name])
    cam = case.side_camera
    tilt = np.radians(5.0)
    Rx = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    moved = stage.measure(track, TH, calibration=_mat(case, Camera(cam.intrinsics, Rx @ cam.R, Rx @ cam.t)),
                          person_check_px=float("inf"))  # the mat does not fit: the person calibrates
    assert calls == [1, 1] and moved.geometry["calibration"] == "person"


def test_a_mat_calibration_of_another_shape_is_not_used():
    case, track = _case(63, 15)
    front = case.front_camera
    k = front.intrinsics
    odd = Camera(replace(k, width=k.width + 200), front.R, front.t)
    result = analyse(track, calibration=_mat(replace(case, front_camera=odd)))
    assert result["geometry"]["calibration"] == "person"
    assert "does not fit" in result["geometry"]["reason"]


def test_3d_knee_thresholds_can_be_overridden():
    _, track = _case(71, 30)
    th = Thresholds({"knees_push_out_3d": 1.0, "stereo_toe_out_unknown_deg": 0.0})
    result = analyse(track, thresholds=th)
    entry = result["compensations"]["knees_push_out"]
    assert entry["threshold"] == 1.0 and entry["unit"] == "knee-to-ankle width ratio, square to the foot"
    base = analyse(track)["compensations"]["knees_push_out"]
    assert base["threshold"] == THRESHOLDS["knees_push_out_3d"].value and entry["value"] != base["value"]


def test_the_field_of_view_without_a_camera_entry():
    _, track = _case(72, 30)
    landscape = replace(track.views["front"], width=1920, height=1080, hfov_deg=None)
    portrait = replace(track.views["front"], width=1080, height=1920, hfov_deg=None)
    assert stage.intrinsics(landscape).hfov_deg == pytest.approx(62.2)
    assert stage.intrinsics(portrait).hfov_deg == pytest.approx(37.5, abs=0.1)
    assert stage.width_hfov(1080, 1920, stage.PHONE_LONG_SIDE_HFOV_DEG) == pytest.approx(42.6, abs=0.1)


def test_the_clock_rate_of_a_recording_on_another_time_base():
    case, track = _case(81, 30)
    front, side = track.views["front"], track.views["side"]
    fast = replace(side, times=side.times * 1.38 + 0.4)  # the side clip's clock runs 1.38x
    found = estimate_clock(front, fast)
    assert found.rate == pytest.approx(1.38, abs=0.03)
    back = found.to_front(fast.times)
    assert np.median(np.abs(back - side.times)) < 0.05
    assert found.to_json()["rate"] == pytest.approx(1.38, abs=0.03)
    same = estimate_clock(front, side)
    assert same.rate == 1.0 and "rate" not in same.to_json()


def test_the_head_kept_on_its_2d_path_needs_a_square_side_view(monkeypatch):
    """The switch that keeps the head on the 2-D path (if its 3-D measures were too noisy): on an
    oblique side view the head is then not assessed, saying why; the rest stays 3-D."""
    monkeypatch.setattr(in3d, "HEAD_IN_3D", False)
    _, track = _case(91, 45, {"excessive_forward_lean": "both"})
    comps = analyse(track)["compensations"]
    for cid in ("head_forward", "head_down"):
        assert comps[cid]["status"] == "not_assessed" and comps[cid]["reason_code"] == "camera_placement"
        assert "square side view" in comps[cid]["reason"]
    assert comps["excessive_forward_lean"]["status"] == "present" and comps["excessive_forward_lean"]["geometry"] == "3d"


def test_a_fault_in_the_3d_stage_keeps_the_2d_result(monkeypatch):
    _, track = _case(92, 0, {"knees_cave_in": "left"})

    def broken(*a, **kw):
        raise FloatingPointError("boom")

    monkeypatch.setattr(stage, "measure", broken)
    result = analyse(track)
    assert result["geometry"]["path"] == "2d" and "FloatingPointError: boom" in result["geometry"]["reason"]
    assert _statuses(result) == _statuses(evaluate(track))


def _rep_bottoms(phase):
    deep = phase >= 0.9
    edges = np.flatnonzero(np.diff(np.r_[0, deep.astype(int), 0]))
    return [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2])]


def test_the_far_knee_is_held_by_the_rigid_bones():
    """The side camera 60 degrees round sees the far knee badly (scored low, 2.5 times the
    scatter): its depth along the front camera's ray is loose. With the bones' lengths, the
    rigid pelvis and the still ankles (device/geometry/bones.py) every rep's far-knee angle on
    these six sets is within 7 degrees of the true body's, 3.0 on average; the plain
    triangulation was 4.3 on average and up to 15 degrees off (8-15 on a rep of four of them). The cameras are the
    true ones (the mat), so only the 3-D points are judged."""
    from device.geometry import measures3d

    errors = []
    for seed in (600, 602, 603, 605, 609, 611):
        case, track = _case(seed, 60, toe=10.0)
        feet = {"left": 10.0, "right": 10.0}
        st = stage.measure(track, Thresholds(), calibration=_mat(case), foot_deg=feet)
        assert st.trusted, st.geometry["reason"]
        far = "right" if case.near_side == "left" else "left"
        truth = measures3d.measures(case.world_joints @ case.axes.T, feet)[f"knee_{far}_foot_deg"]
        est = st.measures[f"knee_{far}_foot_deg"]
        errors += [abs(float(np.nanmedian(est[f]) - np.nanmedian(truth[f]))) for f in _rep_bottoms(case.phase)
                   if np.isfinite(est[f]).any() and np.isfinite(truth[f]).any()]
    assert len(errors) >= 20
    assert max(errors) < 7.0 and np.mean(errors) < 3.5, errors


@pytest.mark.parametrize("seed, skew", [(81, 0), (82, 30), (83, 60)])
def test_the_mat_measures_the_persons_height_and_stance_in_metres(seed, skew):
    from device.geometry import words

    case, track = _case(seed, skew)
    geo = analyse(track, calibration=_mat(case))["geometry"]
    w, standing = case.world_joints, case.phase < 0.05
    apart = np.median(np.linalg.norm(w[standing, 15, :2] - w[standing, 16, :2], axis=1))
    assert abs(geo["standing_height_m"] - case.body.height) < 0.04 * case.body.height  # the renderer's stature
    assert abs(geo["feet_apart_m"] - apart) < 0.03
    assert f"person about {geo['standing_height_m']:.2f} m tall" in words.sentence(geo)
    # on the person's own calibration the metres are a typical adult's guess: not reported
    person = analyse(track)["geometry"]
    assert person["calibration"] == "person" and "standing_height_m" not in person
