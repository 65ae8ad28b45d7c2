"""`ohsa check`: camera placement advice from real recordings and from altered copies of them."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from device.analysis.check import FILL_MAX, FILL_MIN, check_view, sample_recording
from device.cli import main
from device.pose import estimate_image
from tests.conftest import DATA, MODEL

FRONT = DATA / "overhead-squat-pair" / "front.mov"
OBLIQUE = DATA / "overhead-squat-pair" / "side_oblique.mov"
SIDE = DATA / "side-back-squat" / "squat.mp4"
SHORT_FRONT = DATA / "tfjs-pose-detection" / "pose_squats.mp4"


@pytest.fixture(scope="module")
def front_frames():
    images, _ = sample_recording(FRONT, "front", count=6)
    return images


@pytest.fixture(scope="module")
def side_frames():
    images, _ = sample_recording(SIDE, "side", count=6)
    return images


def advice(check) -> str:
    return " | ".join(check.advice)


def test_a_well_placed_front_camera_is_ok(movenet, front_frames):
    c = check_view("front", front_frames, movenet, "front.mov")
    assert c.ok, advice(c)
    assert c.person and c.in_frame and c.arms_overhead and not c.cut_off
    assert c.orientation == "front" and c.skew_deg < 20 and c.width_ratio > 0.9
    assert FILL_MIN <= c.fill <= FILL_MAX
    assert (c.width, c.height) == (1080, 1920) and not c.dark


def test_a_true_side_view_reads_as_a_side(movenet, side_frames):
    c = check_view("side", side_frames, movenet, "squat.mp4")
    assert c.orientation == "side" and c.skew_deg < 15 and c.width_ratio < 0.3
    assert not any("side camera sees" in a for a in c.advice)
    assert not c.arms_overhead and "Raise both arms overhead" in advice(c)  # a barbell back squat


def test_an_oblique_side_camera_is_told_to_move_round(movenet):
    """The pair's side clip was filmed at about 45 degrees: the rule engine's limit says no."""
    images, _ = sample_recording(OBLIQUE, "side", count=6)
    c = check_view("side", images, movenet)
    assert c.orientation == "oblique" and c.skew_deg > 15
    assert "side camera sees the person at an angle" in advice(c) and "90 degrees" in advice(c)
    relaxed = check_view("side", images, movenet, thresholds={"side_max_skew_deg": 45.0})
    assert relaxed.orientation == "side" and relaxed.ok, advice(relaxed)


def test_swapped_cameras_are_told_apart(movenet, front_frames, side_frames):
    as_side = check_view("side", front_frames, movenet)
    assert as_side.orientation == "front" and "side camera sees the person from the front" in advice(as_side)
    as_front = check_view("front", side_frames, movenet)
    assert as_front.orientation == "side" and "front camera sees the person from the side" in advice(as_front)
    assert "swapped" in advice(as_front)


def test_too_dark(movenet, front_frames):
    dark = [(img.astype(np.float32) * 0.2).astype(np.uint8) for img in front_frames]
    c = check_view("front", dark, movenet)
    assert c.dark and c.brightness < 60 and "too dark" in advice(c)


def _ankle_and_head_rows(movenet, images):
    kps = np.array([estimate_image(movenet, img).to_array() for img in images])
    return int(kps[:, 15:17, 1].min()), int(kps[:, 0, 1].max())


def test_feet_cut_off_at_the_bottom(movenet, front_frames):
    ankle, _ = _ankle_and_head_rows(movenet, front_frames)
    cropped = [np.ascontiguousarray(img[: ankle - 30]) for img in front_frames]
    c = check_view("front", cropped, movenet)
    assert "bottom" in c.cut_off and not c.in_frame
    assert "Feet are cut off at the bottom: tilt the camera down" in advice(c)


def test_head_cut_off_at_the_top(movenet, front_frames):
    _, nose = _ankle_and_head_rows(movenet, front_frames)
    cropped = [np.ascontiguousarray(img[nose + 10:]) for img in front_frames]
    c = check_view("front", cropped, movenet)
    assert "top" in c.cut_off and "cut off at the top" in advice(c)


def test_a_person_far_away_fills_too_little(movenet, front_frames):
    far = []
    for img in front_frames[:4]:
        h, w = img.shape[:2]
        canvas = np.full((h * 2, w * 2, 3), 150, np.uint8)
        canvas[h // 2: h // 2 + h, w // 2: w // 2 + w] = img
        far.append(canvas[::2, ::2].copy())  # same frame size, person half as tall
    c = check_view("front", far, movenet)
    assert c.person and c.fill < FILL_MIN
    assert "move the camera closer" in advice(c)


def test_nobody_there_and_no_picture(movenet):
    empty = [np.full((480, 640, 3), 120, np.uint8)] * 3
    c = check_view("side", empty, movenet)
    assert not c.person and "No person found" in advice(c)
    none = check_view("front", [], movenet, "no camera configured")
    assert not none.ok and "No picture from the front camera (no camera configured)" in advice(none)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(map(str, argv)))
    return code, out.getvalue(), err.getvalue()


def test_check_command_on_recordings(tmp_path):
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text("")
    code, out, err = run("check", "--front", SHORT_FRONT, "--side", SIDE, "--frames", "4", "--config", cfg, "--model", MODEL)
    assert code == 1, err  # hands clasped in front / a barbell: arms are not overhead
    assert out.startswith("front: MOVE") and "\nside: MOVE" in out
    assert "sees the front" in out and "sees the side" in out and "Raise both arms overhead" in out
    code, out, _ = run("check", "--side", SIDE, "--frames", "3", "--json", "--config", cfg, "--model", MODEL)
    data = json.loads(out)
    assert list(data["views"]) == ["side"] and data["views"]["side"]["orientation"] == "side"


def test_check_command_on_live_cameras_from_the_config(tmp_path):
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text(
        f'[cameras.front]\nbackend = "replay"\nsource = "{SHORT_FRONT}"\n\n[cameras.side]\nbackend = "none"\n'
    )
    code, out, err = run("check", "--seconds", "1.0", "--frames", "3", "--config", cfg, "--model", MODEL)
    assert code == 1
    assert "front: MOVE" in out and "sees the front" in out  # frames came through DualCapture
    assert "No picture from the side camera (no camera configured)" in out


def test_check_bad_input_is_one_line(tmp_path):
    code, out, err = run("check", "--front", tmp_path / "nothing.mov", "--model", MODEL)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "nothing.mov" in err
