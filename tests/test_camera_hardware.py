"""On a Raspberry Pi with camera modules only (marker `hardware`; conftest skips them elsewhere)."""

from __future__ import annotations

import time

import pytest

from device import config
from device.config import CameraSettings
from device.camera.dual import DualCapture
from device.camera.picam import PiCameraSource, list_cameras

pytestmark = pytest.mark.hardware


def test_picamera2_lists_the_attached_cameras():
    cams = list_cameras()
    assert cams, "no camera in Picamera2.global_camera_info()"
    assert all("Id" in c and "Model" in c for c in cams)


def test_real_camera_gives_rgb_lores_frames_on_the_monotonic_clock():
    src = PiCameraSource("front", CameraSettings(width=1280, height=720, fps=30, lores_width=640, lores_height=360))
    src.open()
    try:
        frames = [src.read(timeout=2.0) for _ in range(10)]
    finally:
        src.close()
    frames = [f for f in frames if f is not None]
    assert len(frames) >= 8
    assert frames[0].image.shape == (360, 640, 3) and frames[0].image.flags.c_contiguous
    assert abs(frames[-1].t - time.monotonic()) < 1.0
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))


def test_pinned_by_id_and_both_views_online():
    cams = list_cameras()
    if len(cams) < 2:
        pytest.skip("needs two Pi cameras")
    cfg = config.validate({"cameras": {
        "front": {"backend": "picamera2", "camera_id": cams[0]["Id"]},
        "side": {"backend": "picamera2", "camera_id": cams[1]["Id"]},
    }})
    with DualCapture.from_config(cfg) as cap:
        assert cap.wait_for_frame("front", timeout=5) is not None
        assert cap.wait_for_frame("side", timeout=5) is not None
        time.sleep(2)
        status = cap.status()
        assert all(s["status"] == "online" and s["fps"] > 10 for s in status.values()), status
