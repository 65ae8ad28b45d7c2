"""The self-calibration on the real overhead-squat pair: real MoveNet on the two iPhone clips.

By hand (docs/geometry.md) the side phone stands about 15-20 degrees round toward the front (70-75
degrees between the cameras), on the person's left. With the iPhone's video field of view across
the portrait width (about 42 degrees) the calibration must agree within 10 degrees and trust itself.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from device.geometry.camera import Intrinsics
from device.geometry.selfcal import PairCalibration, calibrate_pair

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
    side = replace(side, times=side.times - _eval_module().align_clocks(front, side))
    intr = Intrinsics.from_hfov(front.width, front.height, IPHONE_PORTRAIT_HFOV)
    cal = calibrate_pair(front, side, intr, intr)
    assert isinstance(cal, PairCalibration), cal
    assert cal.trusted, cal.reason
    assert cal.side_on == "left"
    assert abs(cal.angle_between_deg - HAND_ANGLE_BETWEEN) <= 10.0, cal.describe()
