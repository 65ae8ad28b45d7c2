"""The rule engine on tracks made from real recordings (../shared/data) with the pose pipeline.

- overhead-squat-pair: one near-ideal overhead squat filmed from the front and from an oblique
  side (about 45 degrees). A trainer noted only a slight knee varus: nothing else may be
  flagged, and the oblique side camera must be caught (side-view checks not assessed).
- side-back-squat: a true side view of barbell back squats (2-3 reps). The hands hold a bar on
  the back, so the arms cannot be judged; the side view itself is usable.
- tfjs-pose-detection/pose_squats.mp4: a front view at 5 fps of band squats, hands clasped in
  front, the person turned well off the camera at the bottom: the reps count, but knee and hip
  widths must not be judged from it.

The tracks are made once per module (MoveNet on every frame takes some seconds).
"""

from __future__ import annotations

import pytest

from device.rules import count_reps, evaluate
from device.vocabulary import COMPENSATIONS

SPECS = {c.id: c for c in COMPENSATIONS.values() if c.measure}  # judged from keypoints
from device.track import Track

PAIR = "overhead-squat-pair"


def _track(path, model_path):
    from device.media import open_media
    from device.pose import MoveNet, PoseTracker
    from device.track import ViewTrack

    movenet = MoveNet(model_path)
    with open_media(path) as media:
        tracker = PoseTracker(movenet)
        poses = [tracker.process(rgb, t) for t, rgb in media]
        return ViewTrack.from_poses(poses, media.width, media.height, media.fps)


@pytest.fixture(scope="module")
def real(data_dir, model_path):
    return {
        "front": _track(data_dir / PAIR / "front.mov", model_path),
        "oblique": _track(data_dir / PAIR / "side_oblique.mov", model_path),
        "back_squat": _track(data_dir / "side-back-squat" / "squat.mp4", model_path),
        "turned": _track(data_dir / "tfjs-pose-detection" / "pose_squats.mp4", model_path),
    }


def test_near_ideal_overhead_squat_pair(real):
    result = evaluate(Track({"front": real["front"], "side": real["oblique"]}))
    assert result["reps"] == 1
    assert result["views"]["front"]["status"] == "ok"
    side = result["views"]["side"]
    assert side["status"] == "unusable" and "off square" in side["reason"]
    comps = result["compensations"]
    for cid, spec in SPECS.items():
        if spec.view == "side":
            assert comps[cid]["status"] == "not_assessed" and "off square" in comps[cid]["reason"], cid
    # the front checks are judged (one rep: flagged in 1 of 1 or none), and only the noted
    # slight knee varus may show
    for cid in ("knees_cave_in", "knees_push_out", "asymmetric_weight_shift"):
        assert comps[cid]["status"] in ("present", "absent"), cid
    flagged = {cid for cid, e in comps.items() if e["status"] == "present"}
    assert flagged <= {"knees_push_out"}, flagged
    assert comps["knees_cave_in"]["status"] == "absent"
    assert comps["asymmetric_weight_shift"]["status"] == "absent"
    assert 0 < comps["knees_cave_in"]["confidence"] < 0.9  # one rep: not fully sure


def test_front_alone_and_the_live_counter(real):
    result = evaluate(Track({"front": real["front"]}))
    assert result["reps"] == 1 and result["views"]["side"]["status"] == "missing"
    assert result["compensations"]["excessive_forward_lean"]["reason"].startswith("no side view")
    assert count_reps(real["front"], kind="front") == 1
    assert count_reps(real["oblique"], kind="side") == 1


def test_true_side_view_of_a_back_squat(real):
    result = evaluate(Track({"side": real["back_squat"]}))
    side = result["views"]["side"]
    assert side["status"] == "ok" and side["skew_deg"] < 15
    assert 2 <= result["reps"] <= 3
    comps = result["compensations"]
    arms = comps["arms_fall_forward"]
    assert arms["status"] == "not_assessed" and "overhead" in arms["reason"]
    # a clean, upright deep squat: the side checks that apply are judged and nothing is flagged
    for cid in ("excessive_forward_lean", "head_forward", "head_down"):
        assert comps[cid]["status"] == "absent", (cid, comps[cid])
    assert comps["heels_rise"]["status"] == "not_assessed"
    for cid, spec in SPECS.items():
        if spec.view == "front":
            assert comps[cid]["status"] == "not_assessed"


def test_person_turned_from_the_front_camera(real):
    result = evaluate(Track({"front": real["turned"]}))
    assert 2 <= result["reps"] <= 3  # about three reps; the clip ends in the last one
    assert result["views"]["front"]["status"] == "ok"
    for cid in ("knees_cave_in", "knees_push_out", "asymmetric_weight_shift"):
        e = result["compensations"][cid]
        assert e["status"] == "not_assessed" and "turned" in e["reason"], (cid, e)


# --- the 3-D path (device/analysis/stereo.py): the pair as `ohsa assess` puts it together ------

HAND_ROUND_TOWARD_FRONT = 17.5  # docs/geometry.md: 15-20 degrees, estimated from the frames


def _pair_on_one_clock(real):
    from dataclasses import replace

    from device.analysis import stereo
    from device.rules.align import estimate_clock

    front, side = real["front"], real["oblique"]
    clock = estimate_clock(front, side)
    assert 1.3 < clock.rate < 1.45, clock  # the side clip's time base runs about 1.38x
    lens = stereo.width_hfov(front.width, front.height, stereo.PHONE_LONG_SIDE_HFOV_DEG)  # iPhone: ~42
    return Track({"front": replace(front, hfov_deg=lens),
                  "side": replace(side, times=clock.to_front(side.times), hfov_deg=lens)})


def test_near_ideal_pair_in_3d(real):
    from device.analysis import analyse

    result = analyse(_pair_on_one_clock(real), clock_offset=0.0)
    geo = result["geometry"]
    assert geo["path"] == "3d" and geo["trusted"] and geo["side"] == "left", geo
    assert abs(geo["round_toward_front_deg"] - HAND_ROUND_TOWARD_FRONT) <= 10, geo
    assert result["views"]["side"]["geometry"] == "3d"
    comps = result["compensations"]
    # the side checks are assessed now, and the near-ideal rep raises nothing moderate or worse
    for cid, spec in SPECS.items():
        if spec.method == "keypoints":
            assert comps[cid]["status"] in ("present", "absent"), (cid, comps[cid])
    worse = {cid: e["severity"] for cid, e in comps.items() if e["severity"] in ("moderate", "marked")}
    assert not worse, worse
    # the 2-D front view's perspective read the knees as pushing out (1.56, moderate): not in 3-D
    assert comps["knees_push_out"]["status"] == "absent" and comps["knees_push_out"]["geometry"] == "3d"
    assert comps["knees_cave_in"]["status"] == "absent"
    assert comps["excessive_forward_lean"]["status"] == "absent"
    flagged = {cid for cid, e in comps.items() if e["status"] == "present"}
    assert flagged <= {"arms_fall_forward"}, flagged  # the trainer: slightly limited shoulder mobility


def test_true_side_view_stays_on_the_2d_path(real):
    from device.analysis import analyse

    track = Track({"side": real["back_squat"]})
    result = analyse(track)
    assert result["geometry"]["path"] == "2d" and result["geometry"]["reason"].startswith("one camera only")
    plain = evaluate(track)
    for cid, entry in plain["compensations"].items():
        assert result["compensations"][cid] == entry, cid
