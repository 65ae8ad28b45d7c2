"""Frame sources: replay (files, folders, pacing, looping), USB via OpenCV, picamera2 on its
test double, orientation, and building sources from the config."""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np
import pytest

from device import config
from device.config import CameraSettings
from device.camera.frame import CameraMissing, EndOfStream, orient
from device.camera.picam import PiCameraSource, yuv420_to_rgb
from device.camera.replay import ReplaySource
from device.camera.sources import AutoSource, make_source
from device.camera.usb import UsbSource
from device.errors import ConfigError, InputError
from tests import fake_picamera2
from tests.fake_picamera2 import FakeCamera

RED, BLUE = (255, 0, 0), (0, 0, 255)


def camera(**settings) -> CameraSettings:
    return CameraSettings.of(settings)


def marked(w=64, h=48, value=128) -> np.ndarray:
    """Grey RGB picture with a red block in the top-left corner."""
    img = np.full((h, w, 3), value, np.uint8)
    img[: h // 3, : w // 3] = RED
    return img


def corner_colour(img: np.ndarray, corner: str) -> tuple:
    h, w = img.shape[:2]
    ys = slice(2, h // 8) if corner[0] == "t" else slice(h - h // 8, h - 2)
    xs = slice(2, w // 8) if corner[1] == "l" else slice(w - w // 8, w - 2)
    return tuple(int(round(c)) for c in img[ys, xs].reshape(-1, 3).mean(axis=0))


def is_red(c) -> bool:
    return c[0] > 180 and c[1] < 80 and c[2] < 80


def write_video(path, frames: int = 12, fps: float = 10.0, w=64, h=48):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(cv2.cvtColor(marked(w, h, value=40 + 10 * i), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.mp4")


# -- orientation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rotation, mirror, corner",
    [(0, False, "tl"), (90, False, "tr"), (180, False, "br"), (270, False, "bl"), (0, True, "tr"), (90, True, "tl")],
)
def test_orient_moves_the_marked_corner(rotation, mirror, corner):
    out = orient(marked(), rotation, mirror)
    assert out.flags.c_contiguous and out.dtype == np.uint8
    assert out.shape[:2] == ((64, 48) if rotation in (90, 270) else (48, 64))
    assert is_red(corner_colour(out, corner))


# -- replay ----------------------------------------------------------------------------------
def test_replay_fast_gives_file_time_rgb_and_ends(video):
    src = ReplaySource(video, "side", paced=False, t0=5.0)
    frames = list(src)
    assert len(frames) == 12
    assert [f.seq for f in frames] == list(range(1, 13))
    assert np.allclose([f.t for f in frames], 5.0 + np.arange(12) / 10.0)
    assert all(f.view == "side" and f.image.shape == (48, 64, 3) for f in frames)
    assert is_red(corner_colour(frames[0].image, "tl"))  # RGB, not BGR
    assert frames[-1].image.mean() > frames[0].image.mean()  # in order
    src.open()
    for _ in range(12):
        src.read()
    with pytest.raises(EndOfStream):
        src.read()
    src.close()


def test_replay_paced_follows_the_frame_rate_on_the_monotonic_clock(video):
    clock = FakeTime()
    src = ReplaySource(video, "front", paced=True, clock=clock, sleep=clock.sleep)
    start = clock()
    frames = [src.read(timeout=1.0) for _ in range(6)]
    src.close()
    assert clock() - start == pytest.approx(0.5)  # 6 frames at 10 fps: the 6th is due 0.5 s on
    ts = np.array([f.t for f in frames])
    assert np.allclose(np.diff(ts), 0.1, atol=1e-6)
    assert ts[0] == pytest.approx(start)  # stamped on the source's clock
    assert ReplaySource(video)._clock is time.monotonic  # which is time.monotonic by default


def test_replay_paced_read_returns_none_when_the_next_frame_is_not_due(video):
    clock = FakeTime()
    src = ReplaySource(video, paced=True, fps=None, clock=clock, sleep=clock.sleep)
    assert src.read(timeout=1.0) is not None
    assert src.read(timeout=0.01) is None  # next frame due in 0.1 s
    assert src.read(timeout=1.0) is not None
    src.close()


def test_replay_loops_with_time_running_on(video):
    src = ReplaySource(video, paced=False, loop=True)
    src.open()
    frames = [src.read() for _ in range(30)]
    src.close()
    ts = np.array([f.t for f in frames])
    assert np.allclose(ts, np.arange(30) / 10.0)  # the second pass continues the clock
    assert np.array_equal(frames[12].image, frames[0].image)


def test_replay_image_folder_uses_given_fps_and_rotation(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(marked(), cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not an image")
    src = ReplaySource(folder, paced=False, fps=5.0, rotation=90)
    assert src.size == (48, 64)
    frames = list(src)
    assert [round(f.t, 3) for f in frames] == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert frames[0].image.shape == (64, 48, 3)
    assert is_red(corner_colour(frames[0].image, "tr"))


@pytest.mark.parametrize("name, content, problem", [
    ("missing.mp4", None, "no such file"),
    ("empty.mp4", b"", "empty file"),
    ("text.mp4", b"hello " * 100, "not a video"),
])
def test_replay_bad_inputs_are_input_errors_naming_the_file(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as e:
        ReplaySource(path, paced=False).open()
    assert str(path) in str(e.value) and problem in str(e.value)


# -- USB / OpenCV ----------------------------------------------------------------------------
def test_usb_source_converts_to_rgb_and_applies_rotation_and_mirror(video):
    # OpenCV opens a file like a device: the same read path as a webcam
    src = UsbSource("front", camera(rotation=180, mirror=True), device=video)
    src.open()
    frame = src.read()
    src.close()
    assert frame.image.shape == (48, 64, 3)
    assert is_red(corner_colour(frame.image, "bl"))  # 180 then mirror: top-left -> bottom-left
    assert abs(frame.t - time.monotonic()) < 30.0  # on the monotonic clock (not file time 0)


def test_usb_source_missing_device_and_end_of_input(video, tmp_path):
    with pytest.raises(CameraMissing, match="not attached"):
        UsbSource("side", camera(number=57)).open()
    src = UsbSource("front", device=write_video(tmp_path / "two.mp4", frames=2))
    src.open()
    src.read(), src.read()
    with pytest.raises(Exception, match="no frame"):
        src.read()
    src.close()


# -- picamera2 (test double) -----------------------------------------------------------------
FRONT_ID = "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a"
SIDE_ID = "/base/axi/pcie@120000/rp1/i2c@80000/imx708@1a"


@pytest.fixture
def two_picams(monkeypatch):
    return fake_picamera2.install(monkeypatch, [FakeCamera("imx708", FRONT_ID), FakeCamera("imx219", SIDE_ID)])


def test_fake_global_camera_info_orders_like_picamera2(two_picams):
    from picamera2 import Picamera2

    infos = Picamera2.global_camera_info()
    assert [i["Id"] for i in infos] == sorted([FRONT_ID, SIDE_ID], reverse=True)
    assert {i["Num"] for i in infos} == {0, 1}


def test_picamera_pinned_by_id_gives_rgb_lores_frames(two_picams):
    src = PiCameraSource("front", camera(camera_id=FRONT_ID, width=1280, height=720, fps=30, lores_width=300, lores_height=200))
    src.open()
    try:
        frame = src.read(timeout=1.0)
        cam = src._cam
        assert src.info["Id"] == FRONT_ID and src.info["Model"] == "imx708"
        assert cam.camera_config["lores"]["format"] == "YUV420"
        assert cam.camera_config["lores"]["stride"] == 320  # padded: the crop must cut it off
    finally:
        src.close()
    assert frame.image.shape == (200, 300, 3) and frame.image.flags.c_contiguous
    assert is_red(corner_colour(frame.image, "tl"))
    assert corner_colour(frame.image, "br")[2] > 180  # blue stays blue
    assert abs(frame.t - time.monotonic()) < 30.0  # on the monotonic clock (not the sensor's)


def test_picamera_main_stream_rgb888_is_bgr_in_memory(two_picams):
    src = PiCameraSource("side", camera(number=1, width=640, height=480, lores_width=0, lores_height=0, rotation=90))
    src.open()
    frame = src.read(timeout=1.0)
    src.close()
    assert frame.image.shape == (640, 480, 3)
    assert is_red(corner_colour(frame.image, "tr"))  # red, not blue; rotated clockwise


def test_picamera_capture_times_out_on_a_stalled_camera(two_picams):
    src = PiCameraSource("front", camera(lores_width=320, lores_height=240))
    src.open()
    try:
        assert src.read(timeout=1.0) is not None
        cam_fake = two_picams[src.info["Num"]]
        cam_fake.stall()
        start = time.monotonic()
        assert src.read(timeout=0.15) is None
        assert time.monotonic() - start < 5.0  # returned, not blocked (bound loose under load)
        assert src._cam._queued_jobs == 0  # the timed-out job was cancelled
        cam_fake.resume()
        assert src.read(timeout=1.0) is not None
    finally:
        src.close()


def test_picamera_frames_the_sensor_skipped_show_as_a_gap_in_seq(two_picams):
    src = PiCameraSource("front", camera(fps=30, lores_width=320, lores_height=240))
    src.open()
    try:
        a = src.read(timeout=1.0)
        b = src.read(timeout=1.0)
        time.sleep(0.25)  # a slow reader: the camera keeps only the newest buffers
        c = src.read(timeout=1.0)
    finally:
        src.close()
    assert b.seq == a.seq + 1
    assert c.seq - b.seq == pytest.approx(round((c.t - b.t) * 30), abs=1) and c.seq - b.seq >= 5


def test_picamera_missing_camera_and_missing_package(two_picams, monkeypatch):
    with pytest.raises(CameraMissing, match="attached:"):
        PiCameraSource("front", camera(camera_id="/base/nowhere@1a")).open()
    with pytest.raises(CameraMissing, match="2 camera"):
        PiCameraSource("front", camera(number=5)).open()
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails as without python3-picamera2
    with pytest.raises(CameraMissing, match="apt install python3-picamera2"):
        PiCameraSource("front").open()


def test_picamera_pi4_rejects_rgb_lores_and_we_never_ask_for_it(two_picams):
    from picamera2 import Picamera2

    cam = Picamera2(0)
    with pytest.raises(RuntimeError, match="YUV"):
        cam.configure(cam.create_video_configuration(main={"size": (640, 480)}, lores={"size": (320, 240), "format": "RGB888"}))
    cam.close()
    src = PiCameraSource("front", camera(width=640, height=480, lores_width=1280, lores_height=720))  # clamped to main
    src.open()
    assert src._cam.camera_config["lores"]["size"] == (640, 480)
    src.close()


def test_yuv420_conversion_matches_opencv_round_trip():
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (200, 30, 30)
    rgb[:, 32:] = (30, 30, 200)
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    back = yuv420_to_rgb(i420, 64, 48)
    assert back.shape == (48, 64, 3)
    assert np.abs(back.astype(int) - rgb).max() < 12


# -- from the config -------------------------------------------------------------------------
def test_make_source_from_config(video, monkeypatch):
    cfg = config.validate({"cameras": {
        "front": {"backend": "replay", "source": str(video), "rotation": 270},
        "side": {"backend": "none"},
    }})
    front = make_source("front", cfg["cameras"]["front"])
    assert isinstance(front, ReplaySource) and front.paced and front.loop and front.rotation == 270
    assert make_source("side", cfg["cameras"]["side"]) is None
    usb = make_source("side", config.validate({"cameras": {"side": {"backend": "usb", "number": 3}}})["cameras"]["side"])
    assert isinstance(usb, UsbSource) and usb.device == "/dev/video3"
    auto = make_source("front", config.validate({})["cameras"]["front"])
    assert isinstance(auto, AutoSource)
    rec = make_source("side", cfg["cameras"]["side"], recording=video, paced=False)
    assert isinstance(rec, ReplaySource) and not rec.paced


@pytest.mark.parametrize("cams, key", [
    ({"front": {"backend": "gopro"}}, "cameras.front.backend"),
    ({"front": {"rotation": 45}}, "cameras.front.rotation"),
    ({"side": {"backend": "replay"}}, "cameras.side.source"),
])
def test_make_source_bad_config_names_the_key(cams, key):
    # refused when the config is checked, before any camera is built
    view = next(iter(cams))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make_source(view, config.validate({"cameras": cams})["cameras"][view])
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make_source(view, cams[view])  # a plain dict is checked the same way


def test_auto_prefers_picamera2_and_reports_missing(two_picams, monkeypatch):
    cfg = config.validate({"cameras": {"side": {"number": 1, "lores_width": 320, "lores_height": 240}}})
    auto = make_source("side", cfg["cameras"]["side"])
    auto.open()
    assert isinstance(auto._active, PiCameraSource)
    assert auto.read(timeout=1.0).image.shape == (240, 320, 3)
    auto.close()
    monkeypatch.setitem(sys.modules, "picamera2", None)
    lonely = make_source("front", config.validate({"cameras": {"front": {"number": 41}}})["cameras"]["front"])
    with pytest.raises(CameraMissing, match="none attached"):
        lonely.open()


class FakeTime:
    """A clock whose sleep() moves it on: paced replay without waiting."""

    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += max(0.0, s)


def test_replay_lock_step_hold_then_play_with_a_common_period(tmp_path):
    """Two recordings of different length (12 and 7 frames at 10 fps) held at their first frame,
    then played from one origin with one period: each pass starts at the same time in both, the
    shorter one showing its last frame until the period ends; they never drift apart."""
    clock = FakeTime()
    long_ = ReplaySource(write_video(tmp_path / "a.mp4", 12), "front", loop=True, clock=clock, sleep=clock.sleep)
    short = ReplaySource(write_video(tmp_path / "b.mp4", 7), "side", loop=True, clock=clock, sleep=clock.sleep)
    for src in (long_, short):
        src.open()
        for _ in range(5):  # somewhere in the middle of their own loops
            src.read(timeout=1.0)
        src.hold()
    first = {}
    for src in (long_, short):
        held = [src.read(timeout=1.0) for _ in range(4)]
        first[src.view] = held[0].image
        assert all(np.array_equal(f.image, held[0].image) for f in held)  # the first frame, again
        assert np.allclose(np.diff([f.t for f in held]), 0.1)  # at the frame rate
    period = max(long_.duration, short.duration)
    assert period == pytest.approx(1.2)
    origin = clock() + 0.05
    for src in (long_, short):
        src.play(origin, period)
    out = {}
    for src in (long_, short):
        out[src.view] = [src.read(timeout=5.0) for _ in range(36)]  # three periods
    for view, frames in out.items():
        ts = np.array([f.t for f in frames])
        assert np.allclose(ts, origin + np.arange(36) / 10.0)  # one clock for both, no gaps
        assert np.array_equal(frames[0].image, first[view])  # played from the first frame
        for k in (1, 2):  # each period starts again with the first frame in both views
            assert np.array_equal(frames[12 * k].image, frames[0].image)
    side = out["side"]
    assert all(np.array_equal(side[i].image, side[6].image) for i in range(7, 12))  # last frame held
    assert not np.array_equal(side[6].image, side[0].image)


def test_replay_late_frames_start_again_from_now(video):
    """Free looping replay that fell behind (decoding slower than real time) goes on from now
    instead of handing out ever older frames."""
    clock = FakeTime()
    src = ReplaySource(video, loop=True, clock=clock, sleep=clock.sleep)
    src.read(timeout=1.0)
    clock.t += 5.0  # a busy machine: nothing read for 5 s
    f = src.read(timeout=1.0)
    assert f.t == pytest.approx(clock())
    src.close()
