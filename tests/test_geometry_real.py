"""The self-calibration on the real overhead-squat pair: real MoveNet on the two iPhone clips.

By hand (docs/geometry.md) the side phone stands about 15-20 degrees round toward the front (70-75
degrees between the cameras), on the person's left. With the iPhone's video field of view across
the portrait width (about 42 degrees) the calibration must agree within 10 degrees and trust itself.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from device.geometry.body import body_frame
from device.geometry.camera import Intrinsics
from device.geometry.measures3d import measures
from device.geometry.selfcal import PairCalibration, calibrate_pair
from device.geometry.triangulate import smooth, triangulate_tracks

PAIR = "overhead-squat-pair"
HAND_ANGLE_BETWEEN = 72.5  # degrees, the middle of the hand estimate (70-75)
IPHONE_PORTRAIT_HFOV = 42.0


def _eval_module():
    path = Path(__file__).resolve().parents[1] / "scripts" / "eval_geometry.py"
    spec = importlib.util.spec_from_file_location("eval_geometry", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _track(path, movenet):
    from device.media import open_media
    from device.pose import PoseTracker
    from device.track import ViewTrack

    with open_media(path) as media:
        tracker = PoseTracker(movenet)
        poses = [tracker.process(rgb, t) for t, rgb in media]
        return ViewTrack.from_poses(poses, media.width, media.height, media.fps)


@pytest.mark.slow
def test_real_pair_camera_angle_agrees_with_the_hand_estimate(data_dir, movenet):
    front = _track(data_dir / PAIR / "front.mov", movenet)
    side = _track(data_dir / PAIR / "side_oblique.mov", movenet)
    ev = _eval_module()
    # the two clips' time bases differ: the same squat lasts 1.7 s in the front clip, 2.15 s in the side one
    offset, rate = ev.align_clocks(front, side, rates=ev.RATES)
    assert 1.2 < rate < 1.5
    side = replace(side, times=(side.times - offset) / rate)
    intr = Intrinsics.from_hfov(front.width, front.height, IPHONE_PORTRAIT_HFOV)
    cal = calibrate_pair(front, side, intr, intr)
    assert isinstance(cal, PairCalibration), cal
    assert cal.trusted, cal.reason
    assert cal.side_on == "left"
    assert abs(cal.angle_between_deg - HAND_ANGLE_BETWEEN) <= 10.0, cal.describe()
    # the near-ideal rep in 3-D: no forward lean, no hip shift, knees not inside the leg's own plane
    tri = smooth(triangulate_tracks((cal.front, cal.side), front, side), 0.3)
    bf = body_frame(tri.points)
    m = measures(bf.to_body(tri.points))
    hip = np.fmax(tri.points[:, 11, 2], tri.points[:, 12, 2])  # either hip; NaN when neither
    bottom = np.isfinite(hip) & (hip <= np.nanmin(hip) + 0.05)
    assert np.nanmedian(m["trunk_minus_shin_deg"][bottom]) < 10.0
    assert abs(np.nanmedian(m["hip_shift_m"][bottom])) < 0.05
    for side_name in ("left", "right"):
        assert np.nanmedian(m[f"knee_{side_name}_foot_m"][bottom]) > -0.03
