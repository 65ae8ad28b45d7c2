"""The stored calibration, the idle re-check, what the mat adds, and `ohsa calibrate` end to end
on rendered stills (files and a fake Pi camera)."""

from __future__ import annotations

import json
import math
import re

import cv2
import numpy as np
import pytest

from device import cli
from device.geometry import calibration as calib
from device.geometry import mat
from device.geometry.camera import Camera
from tests import fake_picamera2
from tests.synth.mat_scene import Placement, StillSpec, render_still, rotation_error_deg

SPEC = StillSpec(width=1920, height=1080, seed=11, focal_error=0.02)
FRONT = Placement(90, 3.0, 0.95)
SIDE = Placement(40, 3.0, 0.95)


@pytest.fixture(scope="module")
def stills():
    front, front_cam = render_still(FRONT, SPEC)
    side, side_cam = render_still(SIDE, SPEC)
    return {"front": front, "side": side}, {"front": front_cam, "side": side_cam}


@pytest.fixture(scope="module")
def cal(stills):
    images, _ = stills
    return calib.calibrate(images, {v: SPEC.model for v in images})


def _cover(image, corners, value=60):
    """Paint over one marker (its outline grown by 15 % about its centre)."""
    c = corners.mean(0) + 1.15 * (corners - corners.mean(0))
    cv2.fillConvexPoly(image, np.round(c).astype(np.int32), (value, value, value))


def _write_png(path, rgb):
    cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return str(path)


# --- the calibration --------------------------------------------------------------------------


def test_both_cameras_in_one_metric_frame(cal, stills):
    _, truth = stills
    for view in ("front", "side"):
        cam = cal.camera(view)
        assert np.linalg.norm(cam.center - truth[view].center) < 0.03
        assert rotation_error_deg(cam.R, truth[view].R) < 0.5
    R, _ = calib.relative_pose(cal)
    Rt = truth["side"].R @ truth["front"].R.T
    assert rotation_error_deg(R, Rt) < 0.5
    assert calib.baseline_m(cal) == pytest.approx(np.linalg.norm(truth["front"].center - truth["side"].center), abs=0.03)


def test_saved_atomically_and_loaded_back(cal, tmp_path):
    path = tmp_path / "calibration.json"
    calib.save(cal, path)
    data = json.loads(path.read_text())
    assert data["format"] == "ohsa-calibration/1" and data["mat"] == mat.MAT.name
    assert data["floor"] == {"normal": [0.0, 0.0, 1.0], "d": 0.0}
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]  # no temp file left
    back = calib.load(path)
    for view in ("front", "side"):
        a, b = cal.camera(view), back.camera(view)
        assert np.allclose(a.R, b.R) and np.allclose(a.t, b.t) and a.intrinsics == b.intrinsics
        assert back.views[view].markers == cal.views[view].markers


@pytest.mark.parametrize("content, message", [
    (None, "no calibration file"),
    ("{not json", "not JSON"),
    ('{"format": "ohsa-keypoints/1"}', "not an ohsa-calibration/1 file"),
    ('{"format": "ohsa-calibration/1", "mat": "other-mat/1", "views": {}}', "made with mat 'other-mat/1'"),
    ('{"format": "ohsa-calibration/1", "mat": "ohsa-mat-a1/1", "views": {}}', "no camera in it"),
])
def test_bad_calibration_files_fail_in_one_line(tmp_path, content, message):
    path = tmp_path / "c.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(calib.CalibrationError, match=message) as e:
        calib.load(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_calibration_whose_rotation_is_not_one_is_refused(cal, tmp_path):
    data = cal.to_json()
    data["views"]["side"]["R"] = [[1, 0, 0], [0, 2, 0], [0, 0, 1]]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(calib.CalibrationError, match="views.side: .*not a rotation"):
        calib.load(path)


# --- the idle re-check --------------------------------------------------------------------------


def test_recheck_in_place(cal, stills):
    images, _ = stills
    verdict = calib.recheck(cal, images)
    assert {v.status for v in verdict.views.values()} == {"ok"}
    assert not verdict.moved and verdict.usable and verdict.calibration is None
    # the same view in the station's smaller stream: scaled, still in place
    small = cv2.resize(images["side"], (960, 540), interpolation=cv2.INTER_AREA)
    assert calib.recheck(cal, {"side": small}).views["side"].status in ("ok", "unknown")


def test_recheck_finds_a_knocked_camera_and_recalibrates(cal):
    knocked = Placement(SIDE.azimuth_deg, SIDE.distance, SIDE.height, yaw_deg=2.0)  # turned 2 degrees
    image, truth = render_still(knocked, SPEC)
    verdict = calib.recheck(cal, {"side": image})
    check = verdict.views["side"]
    assert check.status == "recalibrated" and check.shift_px > 10 and verdict.moved
    new = verdict.calibration.camera("side")
    assert rotation_error_deg(new.R, truth.R) < 0.5 and np.linalg.norm(new.center - truth.center) < 0.03
    assert verdict.calibration.camera("front") is cal.camera("front")  # untouched


def test_recheck_moved_but_too_little_mat_in_view(cal):
    knocked = Placement(SIDE.azimuth_deg, SIDE.distance, SIDE.height, yaw_deg=2.0)
    image, _ = render_still(knocked, SPEC)
    det = mat.detect(image)
    keep = sorted(det)[:3]
    covered = image.copy()
    for i, c in det.items():  # a person's legs and a bag over all but three markers
        if i not in keep:
            _cover(covered, c)
    verdict = calib.recheck(cal, {"side": covered})
    check = verdict.views["side"]
    assert check.status == "moved" and check.markers == 3 and not verdict.usable
    assert "cannot be recalibrated" in check.message and verdict.calibration is None


def test_recheck_with_the_mat_covered_gives_no_verdict(cal, stills):
    images, _ = stills
    covered = np.full_like(images["front"], 90)
    check = calib.recheck(cal, {"front": covered}).views["front"]
    assert check.status == "unknown" and check.shift_px is None


# --- what the mat adds ---------------------------------------------------------------------------


def test_floor_point_and_height_from_one_view(cal, stills):
    _, truth = stills
    cam = cal.camera("side")
    for x, y, height in ((0.0, 0.0, 1.75), (0.15, -0.1, 1.62)):
        foot = truth["side"].project(np.array([x, y, 0.0]))
        head = truth["side"].project(np.array([x, y, height]))
        assert np.allclose(calib.floor_point(cam, foot)[:2], [x, y], atol=0.02)
        assert calib.height_above_floor(cam, foot, head) == pytest.approx(height, abs=0.02)
    up = cam.project(np.array([0.0, 0.0, 5.0]))  # a pixel above the horizon: no floor there
    assert np.isnan(calib.floor_point(cam, up)).all()
    n, d = calib.floor_plane(cal)
    assert np.allclose(n, [0, 0, 1]) and d == 0.0


def test_metric_scale_of_a_person_based_calibration(cal):
    b = calib.baseline_m(cal)
    assert calib.metric_scale(cal, b / 2.5) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        calib.metric_scale(cal, 0.0)


def test_describe_in_plain_words(cal):
    lines = calib.describe(cal)
    side = next(line for line in lines if line.startswith("side camera"))
    m = re.search(r"([\d.]+) m from the mat centre, lens ([\d.]+) m high, (\d+) degrees round", side)
    assert float(m.group(1)) == pytest.approx(3.0, abs=0.15)
    assert float(m.group(2)) == pytest.approx(0.95, abs=0.05)
    assert int(m.group(3)) == pytest.approx(40, abs=2)


# --- ohsa calibrate -----------------------------------------------------------------------------


def test_cli_calibrates_from_image_files(stills, tmp_path, capsys):
    images, truth = stills
    out = tmp_path / "cal.json"
    args = ["calibrate", "--front", _write_png(tmp_path / "f.png", images["front"]),
            "--side", _write_png(tmp_path / "s.png", images["side"]), "--hfov", "66", "-o", str(out)]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "side camera: " in text and "saved" in text
    cal = calib.load(out)
    assert np.linalg.norm(cal.camera("side").center - truth["side"].center) < 0.03


def test_cli_says_which_camera_to_move(stills, tmp_path, capsys):
    images, _ = stills
    image = images["side"].copy()
    det = mat.detect(image)
    for i, c in list(det.items())[2:]:  # only two markers left in the picture
        _cover(image, c, 70)
    out = tmp_path / "cal.json"
    args = ["calibrate", "--front", _write_png(tmp_path / "f.png", images["front"]),
            "--side", _write_png(tmp_path / "s.png", image), "--hfov", "66", "-o", str(out)]
    assert cli.main(args) == 1
    assert "the side camera sees only 2 markers of the mat" in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["calibrate", "--front", "/nonexistent.png"], "/nonexistent.png: no such file"),
    (["calibrate", "--hfov", "500", "--front", "{img}"], "--hfov 500.0: must be between 1 and 179"),
    (["calibrate", "--front", "{img}", "-o", "{tmp}/no/cal.json"], "folder {tmp}/no does not exist"),
    (["calibrate", "mat"], "give -o FILE"),
    (["calibrate", "mat", "-o", "{tmp}/mat.txt"], "unknown kind of file"),
    (["calibrate", "mat", "-o", "{tmp}/mat.svg", "--paper", "a4"], "tiled pages are PDF only"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, stills, args, message):
    img = _write_png(tmp_path / "f.png", stills[0]["front"])
    args = [a.format(tmp=tmp_path, img=img) for a in args]
    message = message.format(tmp=tmp_path)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_writes_the_mat_files(tmp_path, capsys):
    for name, extra in (("mat.svg", []), ("mat.pdf", []), ("tiles.pdf", ["--paper", "a4"]), ("mat.png", [])):
        assert cli.main(["calibrate", "mat", "-o", str(tmp_path / name), *extra]) == 0
    assert (tmp_path / "mat.svg").read_text().startswith("<?xml")
    assert (tmp_path / "tiles.pdf").read_bytes().count(b"/Type /Page ") == len(mat.tiles())
    png = cv2.imread(str(tmp_path / "mat.png"), cv2.IMREAD_GRAYSCALE)
    assert png.shape == (1188, 1682) and len(mat.detect(png)) == 12


def test_cli_live_stills_from_pi_cameras(stills, tmp_path, monkeypatch, capsys):
    """The live path: both Pi cameras (a faithful picamera2 double) show the mat; the camera
    module (imx708: Camera Module 3, 66 degrees) gives the model; stills at 2304x1296."""
    images, truth = stills
    fake_picamera2.install(monkeypatch, [
        fake_picamera2.FakeCamera("imx708", "/base/axi/pcie/rp1/i2c@88000/imx708@1a", scene=lambda t: images["front"]),
        fake_picamera2.FakeCamera("imx708", "/base/axi/pcie/rp1/i2c@80000/imx708@1a", scene=lambda t: images["side"]),
    ])
    infos = fake_picamera2.Picamera2.global_camera_info()
    conf = tmp_path / "ohsa.toml"
    front_id = next(i["Id"] for i in infos if "88000" in i["Id"])
    side_id = next(i["Id"] for i in infos if "80000" in i["Id"])
    conf.write_text(f'[cameras.front]\nbackend = "picamera2"\ncamera_id = "{front_id}"\n'
                    f'[cameras.side]\nbackend = "picamera2"\ncamera_id = "{side_id}"\n')
    out = tmp_path / "cal.json"
    assert cli.main(["calibrate", "--config", str(conf), "-o", str(out)]) == 0, capsys.readouterr()
    cal = calib.load(out)
    for view in ("front", "side"):
        cam = cal.camera(view)
        assert (cam.intrinsics.width, cam.intrinsics.height) == (2304, 1296)
        # the still was resized from SPEC's 1920x1080: the same camera, scaled
        true = Camera(truth[view].intrinsics.scaled(2304 / 1920), truth[view].R, truth[view].t)
        assert np.linalg.norm(cam.center - true.center) < 0.05
        assert math.isclose(cam.intrinsics.f, true.intrinsics.f, rel_tol=0.02)





def test_recheck_refuses_a_still_of_another_shape(cal, stills):
    images, _ = stills
    square = np.ascontiguousarray(images["side"][:, :1080])
    with pytest.raises(calib.CalibrationError, match="side still 1080x1080: not the calibration's shape 1920x1080"):
        calib.recheck(cal, {"side": square})
