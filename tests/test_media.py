"""Decoding real recordings, folders and images into upright RGB frames with file time."""

import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from device.errors import InputError
from device.media import open_media, read_image


def _write_mp4(path, frames, fps=10):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()


def _set_rotation(path, matrix):
    """Rewrite the video track's tkhd display matrix (what a phone writes for portrait)."""
    data = bytearray(path.read_bytes())
    i = data.find(b"tkhd")
    version = data[i + 4]
    offset = i + 8 + (20 if version == 0 else 32) + 8 + 8  # times, ids; reserved, layer..volume
    assert struct.unpack(">9i", data[offset : offset + 36])[0] == 0x10000  # identity before
    data[offset : offset + 36] = struct.pack(">9i", *matrix)
    path.write_bytes(bytes(data))


def _marked_frame(w=64, h=48):
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:16, :16] = (255, 0, 0)  # red square top-left
    rgb[-16:, -16:] = (0, 0, 255)  # blue square bottom-right
    return rgb


def test_real_video_frames_and_times(data_dir):
    path = data_dir / "tfjs-pose-detection" / "pose_squats.mp4"
    with open_media(path) as media:
        assert (media.width, media.height, media.fps, media.kind) == (720, 1280, 5.0, "video")
        frames = list(media)
    assert len(frames) == 65 == media.frame_count
    t, rgb = frames[10]
    assert t == pytest.approx(2.0)
    assert rgb.shape == (1280, 720, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    # RGB, not BGR: OpenCV's own BGR decode of the same frame is the channel-reversed image
    cap = cv2.VideoCapture(str(path))
    for _ in range(11):
        ok, bgr = cap.read()
    assert ok and np.array_equal(rgb, bgr[..., ::-1])


def test_rotation_metadata_is_applied(tmp_path):
    path = tmp_path / "phone.mp4"
    _write_mp4(path, [_marked_frame()] * 3)
    _set_rotation(path, (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000))  # rotate 90 clockwise
    media = open_media(path)
    assert (media.width, media.height) == (48, 64)
    _, rgb = next(iter(media))
    assert rgb.shape == (64, 48, 3)
    # clockwise: the red top-left corner is now top-right, blue bottom-right is bottom-left
    assert rgb[:12, -12:, 0].mean() > 200 and rgb[:12, :12].mean() < 30
    assert rgb[-12:, :12, 2].mean() > 200


def test_image_folder_and_single_image(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        rgb = _marked_frame()
        rgb[30, 30] = (i, i, i)
        cv2.imwrite(str(folder / f"f{i:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("ignored")
    media = open_media(folder, fps=20)
    frames = list(media)
    assert media.kind == "folder" and media.frame_count == 4 and (media.width, media.height) == (64, 48)
    assert [t for t, _ in frames] == pytest.approx([0, 0.05, 0.1, 0.15])
    assert [int(f[30, 30, 0]) for _, f in frames] == [0, 1, 2, 3]
    rgb = read_image(folder / "f000.png")
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    single = open_media(folder / "f002.png")
    assert single.kind == "image" and len(list(single)) == 1


def test_exif_orientation_is_applied(tmp_path):
    # A JPEG whose EXIF says "rotate 90 CW to display" (orientation 6)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(_marked_frame(), cv2.COLOR_RGB2BGR))
    jpeg = jpeg.tobytes()
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0)
    tiff += b"\x00\x00\x00\x00"
    app1 = b"Exif\x00\x00" + tiff
    path = tmp_path / "rotated.jpg"
    path.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:])
    rgb = read_image(path)
    assert rgb.shape == (64, 48, 3)
    assert rgb[:12, -12:, 0].mean() > 200


def test_bad_inputs_raise_input_error(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video at all " * 50)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "nothing").mkdir()
    cases = {
        tmp_path / "missing.mp4": "no such file",
        tmp_path / "text.mp4": "not a video",
        tmp_path / "empty.mp4": "empty file",
        tmp_path / "broken.jpg": "not an image",
        tmp_path / "nothing": "no images",
    }
    for path, words in cases.items():
        with pytest.raises(InputError, match=words) as e:
            open_media(path)
        assert str(path) in str(e.value)


def test_video_with_zero_frames(tmp_path):
    # a valid container with no frames
    path = tmp_path / "zero.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    writer.release()
    with pytest.raises(InputError, match="(no frames|not a video)"):
        open_media(path)


def test_decoder_noise_stays_quiet(tmp_path):
    """FFmpeg/OpenCV must not print their own warnings next to our one line."""
    (tmp_path / "text.mp4").write_text("garbage " * 100)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    code = (
        "import sys\nfrom device.media import open_media\n"
        "for p in sys.argv[1:]:\n"
        "    try: open_media(p)\n"
        "    except Exception as e: print(type(e).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "text.mp4"), str(tmp_path / "bad.jpg")],
        capture_output=True, text=True,
    )
    assert out.stdout.split() == ["InputError", "InputError"]
    assert out.stderr == ""
