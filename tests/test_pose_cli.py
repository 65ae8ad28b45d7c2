"""`ohsa pose`, `ohsa track`, `ohsa bench` as a user runs them: real files, subprocesses."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from device.media import open_media
from device.pose import KEYPOINT_NAMES
from device.track import read_track


def ohsa(*args, env_extra=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "device", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def one_line_error(out, *words):
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert out.stdout == ""  # nothing partial presented as a result


@pytest.fixture(scope="module")
def stills(tmp_path_factory, data_dir):
    """Two real frames as JPEG and PNG, and upstream's reference keypoints for them."""
    folder = tmp_path_factory.mktemp("stills")
    frames = [rgb for _, rgb in open_media(data_dir / "tfjs-pose-detection" / "pose_1.mp4")]
    ref = json.loads((data_dir / "tfjs-pose-detection" / "pose_1.json").read_text())
    paths = []
    for i, ext in ((10, "jpg"), (60, "png")):
        path = folder / f"frame{i}.{ext}"
        cv2.imwrite(str(path), cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR))
        paths.append((path, np.array([[ref[i][n]["x"], ref[i][n]["y"]] for n in KEYPOINT_NAMES])))
    return paths


def test_pose_prints_keypoints_per_image(stills):
    out = ohsa("pose", *(str(p) for p, _ in stills))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # the runtime's own INFO line is kept out of the way
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, (path, expected) in zip(lines, stills):
        record = json.loads(line)
        assert record["image"] == str(path) and (record["width"], record["height"]) == (576, 576)
        kps = np.array(record["keypoints"])
        assert kps.shape == (17, 3) and ((kps[:, 2] >= 0) & (kps[:, 2] <= 1)).all()
        assert np.median(np.linalg.norm(kps[:, :2] - expected, axis=-1)) < 15


def test_pose_bad_inputs(stills, tmp_path, model_path):
    good = str(stills[0][0])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    one_line_error(ohsa("pose", str(tmp_path / "missing.jpg")), "missing.jpg", "no such file")
    one_line_error(ohsa("pose", good, str(broken)), "broken.jpg", "not an image")
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(model_path.read_bytes()[:500_000])
    one_line_error(ohsa("pose", good, "--model", str(truncated)), "truncated", "ohsa model")
    wrong = tmp_path / "wrong.tflite"
    data = bytearray(model_path.read_bytes())
    data[1000] ^= 0x55
    wrong.write_bytes(bytes(data))
    one_line_error(ohsa("pose", good, env_extra={"OHSA_MODEL": str(wrong)}), "wrong SHA-256", "OHSA_MODEL")
    shared = {"OHSA_SHARED_DIR": str(tmp_path / "nowhere")}
    one_line_error(ohsa("pose", good, env_extra=shared), "not found", "ohsa model fetch")


def test_track_video_writes_a_keypoint_track(tmp_path, data_dir):
    out_path = tmp_path / "squats.json"
    out = ohsa("track", str(data_dir / "tfjs-pose-detection" / "pose_squats.mp4"), "--view", "front", "-o", str(out_path))
    assert out.returncode == 0, out.stderr
    assert "65 frames" in out.stdout
    raw = json.loads(out_path.read_text())
    assert raw["format"] == "ohsa-keypoints/1" and list(raw["views"]) == ["front"]
    view = read_track(out_path).views["front"]
    assert (view.width, view.height, view.fps, len(view)) == (720, 1280, 5.0, 65)
    assert view.times[1] == pytest.approx(0.2)
    assert view.keypoints[..., 2].mean() > 0.6
    # the hips go down and up: about 3 squats of real motion, in pixels of the 720x1280 frame
    hip_y = view.keypoints[:, 11:13, 1].mean(axis=1)
    assert 100 < hip_y.max() - hip_y.min() < 700


def test_track_image_folder_side_view(tmp_path, data_dir):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, (_, rgb) in enumerate(open_media(data_dir / "tfjs-pose-detection" / "pose_1.mp4")):
        if i >= 8:
            break
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out_path = tmp_path / "side.json"
    out = ohsa("track", str(folder), "--view", "side", "--fps", "10", "-o", str(out_path))
    assert out.returncode == 0, out.stderr
    view = read_track(out_path).views["side"]
    assert (view.width, view.height, view.fps, len(view)) == (576, 576, 10.0, 8)
    assert view.times[-1] == pytest.approx(0.7)


def test_track_bad_inputs(tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("these are notes, not a video " * 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    out = str(tmp_path / "t.json")
    one_line_error(ohsa("track", str(tmp_path / "nope.mp4"), "-o", out), "nope.mp4", "no such file")
    one_line_error(ohsa("track", str(not_video), "-o", out), "notes.mp4", "not a video")
    one_line_error(ohsa("track", str(empty), "-o", out), "no images")
    one_line_error(ohsa("track", str(not_video), "-o", str(tmp_path / "no" / "t.json")), "does not exist")
    assert not (tmp_path / "t.json").exists()


def test_bench_json_has_the_documented_keys(data_dir):
    clips = data_dir / "tfjs-pose-detection"
    out = ohsa(
        "bench", "--json", "--frames", "10", "--warmup", "2",
        "--front", str(clips / "pose_1.mp4"), "--side", str(clips / "pose_squats.mp4"),
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert list(report)[:5] == ["runtime", "invoke_ms", "frame_ms", "two_view_fps", "peak_rss_mb"]
    assert list(report)[5:] == ["two_view_fps_cpu", "two_view_fps_alternating", "frame_over_invoke_cpu",
                                "load_average"]
    assert report["two_view_fps_cpu"] > 0 and report["two_view_fps_alternating"] > 0
    assert report["runtime"].startswith("ai-edge-litert")
    assert 0 < report["invoke_ms"] <= report["frame_ms"]
    assert report["two_view_fps"] > 0 and report["peak_rss_mb"] > 10


def test_bench_bad_recording(tmp_path):
    one_line_error(ohsa("bench", "--front", str(tmp_path / "gone.mov")), "gone.mov", "no such file")


def test_config_model_path_is_used(tmp_path, stills, model_path):
    """The station's config `model.path` counts as the explicit choice when no --model is given."""
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(model_path.read_bytes()[:1000])
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text(f'[model]\npath = "{truncated}"\nthreads = 2\n')
    env = {"OHSA_CONFIG": str(cfg)}
    one_line_error(ohsa("pose", str(stills[0][0]), env_extra=env), "cut.tflite", "truncated")
    one_line_error(ohsa("model", "status", env_extra=env), "cut.tflite", "truncated")
    out = ohsa("pose", str(stills[0][0]), "--model", str(model_path), env_extra=env)
    assert out.returncode == 0, out.stderr


def test_bench_without_development_data_says_what_to_pass(tmp_path):
    out = ohsa("bench", "--json", env_extra={"OHSA_SHARED_DIR": str(tmp_path / "none")})
    one_line_error(out, "front.mov", "--front VIDEO --side VIDEO")
