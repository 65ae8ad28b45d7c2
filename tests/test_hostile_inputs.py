"""Inputs that used to crash or hang the station's commands (issue 13): each gives one line and a
non-zero exit. Run as subprocesses: the old failure was a SIGSEGV inside OpenCV, which would
take pytest down with it. Full and read-only file systems are real tmpfs mounts in a private
mount namespace (`unshare -rm`), not mocks."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import MODEL
from tests.test_station_run import _stop
from tests.web_fakes import SIDE_VIDEO

REPO = Path(__file__).resolve().parent.parent


def ohsa(*argv, env=None, timeout=120, prefix=()):
    environment = dict(os.environ, OHSA_MODEL=str(MODEL), **(env or {}))
    cmd = [*prefix, sys.executable, "-m", "device", *map(os.fsdecode, argv)]
    return subprocess.run([os.fsencode(c) if isinstance(c, str) else c for c in cmd],
                          capture_output=True, timeout=timeout, env=environment, cwd=REPO)


def one_line(proc, *words) -> str:
    err = proc.stderr.decode(errors="replace").strip()
    assert proc.returncode not in (0, None) and proc.returncode > 0, (proc.returncode, err)  # < 0: a signal
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Six real frames of the side recording as a small MP4 (fast to track)."""
    cap = cv2.VideoCapture(str(SIDE_VIDEO))
    frames = [cap.read()[1] for _ in range(6)]
    cap.release()
    h, w = frames[0].shape[:2]
    frames = [cv2.resize(f, (w // 2 * 2 // 2, h // 2 * 2 // 2)) for f in frames]
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, frames[0].shape[1::-1])
    for f in frames:
        out.write(f)
    out.release()
    assert path.stat().st_size > 1000
    return path


def _png(width: int, height: int, rows: int | None = None) -> bytes:
    """A PNG that claims width x height; `rows` of zeros compressed (all: a real bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    comp = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    body = b"".join(comp.compress(row) for _ in range(height if rows is None else rows)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(_png(30000, 30000))  # 875 KB on disk, 900 megapixels (2.7 GB as RGB)
    return path


# -- decompression bombs ----------------------------------------------------------------------


def test_png_bomb_is_refused_before_decoding(bomb):
    # VmHWM: this process image's own peak (ru_maxrss keeps a big forking parent's across exec)
    code = ("import re, sys, time; from device.cli import main; t = time.monotonic(); "
            f"rc = main(['pose', {str(bomb)!r}]); "
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
            "print('figures', hwm, time.monotonic() - t, file=sys.stderr); "
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=dict(os.environ, OHSA_MODEL=str(MODEL)))
    lines = proc.stderr.strip().splitlines()
    figures = lines.pop()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "30000x30000" in lines[0] and "megapixel limit" in lines[0] and str(bomb) in lines[0]
    rss_mb, seconds = int(figures.split()[1]) / 1024, float(figures.split()[2])
    print(f"\n30000x30000 PNG ({bomb.stat().st_size // 1024} KB): refused, peak RSS {rss_mb:.0f} MB, {seconds:.2f} s")
    assert rss_mb < 400 and seconds < 10  # was 5.2 GB and 37 s


def test_video_frames_above_the_limit_are_refused_before_decoding(tmp_path):
    from device.media import MAX_PIXELS

    w, h = 8000, 7000  # 56 megapixels: one black MJPEG frame, 350 KB on disk
    assert w * h > MAX_PIXELS
    path = tmp_path / "big.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 1, (w, h))
    out.write(np.zeros((h, w, 3), np.uint8))
    out.release()
    one_line(ohsa("track", path, "-o", tmp_path / "t.json"), "video frame of 8000x7000", "megapixel limit")
    one_line(ohsa("assess", "--front", path), "8000x7000")


def test_huge_png_header_is_one_line(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(_png(70000, 70000, rows=10))  # a cut-short file claiming 70000x70000
    one_line(ohsa("pose", big), "70000x70000", "megapixel limit")
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(big, folder / "0001.png")
    one_line(ohsa("track", folder, "-o", tmp_path / "t.json"), "70000x70000")


def test_image_header_sizes_are_read_without_decoding():
    from device.media import MAX_PIXELS, image_size

    for ext in (".png", ".jpg", ".bmp", ".webp", ".ppm"):
        ok, data = cv2.imencode(ext, np.zeros((123, 457, 3), np.uint8))
        assert ok and image_size(data.tobytes()) == (457, 123), ext
    assert image_size(b"not an image") is None
    assert MAX_PIXELS >= 8064 * 6048  # a 48 MP phone photo still opens


def test_camera_frames_above_the_cap_are_not_handed_on():
    from device.camera.frame import MAX_FRAME_PIXELS, is_usable_image

    assert is_usable_image(np.zeros((720, 1280, 3), np.uint8))
    side = int(MAX_FRAME_PIXELS ** 0.5) + 1
    assert not is_usable_image(np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (side, side, 3)))


# -- paths that are not UTF-8 -----------------------------------------------------------------


def test_video_path_that_is_not_utf8_does_not_crash(clip, tmp_path):
    odd = os.path.join(os.fsencode(tmp_path), b"squat-\xff\xfe.mp4")
    shutil.copy(clip, odd)
    out = tmp_path / "track.json"
    proc = ohsa("track", odd, "-o", out)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")  # was SIGSEGV (-11)
    track = json.loads(out.read_text())
    assert len(track["views"]["front"]["frames"]) == 6
    proc = ohsa("assess", "--side", odd, "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    proc = ohsa("check", "--side", odd, "--json")
    assert proc.returncode in (0, 1) and json.loads(proc.stdout)["views"], proc.stderr.decode(errors="replace")
    assert json.loads((tmp_path / "r.json").read_text())["format"] == "ohsa-result/1"
    junk = os.path.join(os.fsencode(tmp_path), b"junk-\xff.mov")
    Path(os.fsdecode(junk)).write_bytes(b"not a video at all")
    one_line(ohsa("track", junk, "-o", out), "not a video")
    one_line(ohsa("run", "--front", junk, "--port", "0", "--data-dir", tmp_path / "d"), "not a video")


# -- outputs that cannot be written -----------------------------------------------------------


def test_track_to_a_folder_is_one_line(clip, tmp_path):
    one_line(ohsa("track", clip, "-o", tmp_path), "is a folder")


def _unshare_ok() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_unshare = pytest.mark.skipif(not _unshare_ok(), reason="needs unshare -rm (user and mount namespaces)")


def _on(fs: str, mount: Path):
    """A prefix that runs the command with `mount` as a read-only or a full tmpfs."""
    mount.mkdir(exist_ok=True)
    if fs == "ro":
        setup = f"mount -t tmpfs -o size=1m,ro tmpfs {mount}"
    else:
        setup = (f"mount -t tmpfs -o size=256k tmpfs {mount} && mkdir {mount}/sub && "
                 f"(dd if=/dev/zero of={mount}/fill bs=4k 2>/dev/null; true)")
    return ("unshare", "-rm", "sh", "-c", setup + ' && exec "$@"', "sh")


@needs_unshare
@pytest.mark.parametrize("fs", ["ro", "full"])
def test_outputs_on_full_or_read_only_file_systems(clip, tmp_path, fs):
    mnt = tmp_path / "mnt"
    pre = _on(fs, mnt)
    target = mnt / ("sub" if fs == "full" else "")
    words = "Read-only" if fs == "ro" else "No space"
    one_line(ohsa("track", clip, "-o", target / "t.json", prefix=pre), "-o", words)
    one_line(ohsa("assess", "--side", clip, "--json", target / "r.json", prefix=pre), "--json", words)
    one_line(ohsa("assess", "--side", clip, "--track", target / "t.json", prefix=pre), "--track", words)
    one_line(ohsa("model", "install", MODEL, prefix=pre, env={"OHSA_DATA_DIR": str(target / "data")}),
             "cannot install", words if fs == "ro" else "")


@needs_unshare
@pytest.mark.parametrize("fs", ["ro", "full"])
def test_run_with_a_data_dir_that_cannot_be_written(tmp_path, fs):
    mnt = tmp_path / "mnt"
    target = mnt / ("sub" if fs == "full" else "")
    err = one_line(ohsa("run", "--data-dir", target / "d", "--port", "0", prefix=_on(fs, mnt), timeout=60),
                   "--data-dir", "cannot write")
    assert ("Read-only" in err) if fs == "ro" else ("No space" in err)


def test_run_with_a_data_dir_that_is_a_file_or_a_bad_host(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    one_line(ohsa("run", "--data-dir", f, "--port", "0", timeout=60), f"--data-dir {f}: not a directory")
    one_line(ohsa("run", "--data-dir", tmp_path / "d", "--host", "999.1.1.1", "--port", "0", timeout=60),
             "--host 999.1.1.1: must be an IP address")
    assert not (tmp_path / "d").exists()  # refused before anything was made


@pytest.mark.parametrize("toml, key", [
    ('[web]\nkiosk_addresses = ["garbage"]\n', "web.kiosk_addresses"),
    ('[web]\nhost = "999.1.1.1"\n', "web.host"),
    ('[cameras.front]\nbackend = "bogus"\n', "cameras.front.backend"),
    ('[web]\nresult_link_days = 3000000\n', "web.result_link_days"),
    ('[model]\nthreads = 100000\n', "model.threads"),
    ('[panel]\nenabled = false\nbuzzer = 17\n', "panel.buzzer: pin 17 is already used by panel.button"),
])
def test_a_hand_edited_config_that_would_stop_it_starts_in_safe_mode(tmp_path, toml, key):
    """The settings page refuses these (tests/test_web.py); a file edited by hand still must not
    stop the station: safe mode, the page up, the key named."""
    import urllib.request

    conf = tmp_path / "ohsa.toml"
    conf.write_text(toml if "[panel]" in toml else toml + "[panel]\nenabled = false\n")
    proc = subprocess.Popen([sys.executable, "-m", "device", "run", "--config", str(conf), "--data-dir",
                             str(tmp_path / "d"), "--host", "127.0.0.1", "--port", "0"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, OHSA_MODEL=str(MODEL)))
    try:
        line = proc.stdout.readline()
        assert line.startswith("ohsa run: station at http://127.0.0.1:"), (line, proc.poll())
        with urllib.request.urlopen(line.split(" at ")[1].strip() + "/api/status", timeout=10) as r:
            assert key in json.loads(r.read())["safe_mode"]
    finally:
        out, err = _stop(proc, 30)
    assert proc.returncode == 0 and "Traceback" not in err, err


# -- start-up that still fails: the page stays up in safe mode ---------------------------------


def test_start_up_failure_keeps_the_page_up_in_safe_mode(tmp_path):
    import urllib.request

    data = tmp_path / "d"
    data.mkdir()
    (data / "assessments.db").write_bytes(b"this is not an SQLite database" * 100)
    conf = tmp_path / "ohsa.toml"
    conf.write_text('[cameras.front]\nbackend = "none"\n[cameras.side]\nbackend = "none"\n[panel]\nenabled = false\n')
    proc = subprocess.Popen([sys.executable, "-m", "device", "run", "--config", str(conf), "--data-dir", str(data),
                             "--host", "127.0.0.1", "--port", "0"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, OHSA_MODEL=str(MODEL)))
    try:
        line = proc.stdout.readline()
        assert line.startswith("ohsa run: station at http://127.0.0.1:"), (line, proc.poll())
        url = line.split(" at ")[1].strip()
        with urllib.request.urlopen(url + "/api/status", timeout=10) as r:
            status = json.loads(r.read())
        assert status["state"] == "safe_mode" and "not a usable assessment database" in status["safe_mode"]
        with urllib.request.urlopen(url + "/", timeout=10) as r:
            assert r.status == 200 and "needs a member of staff" in r.read().decode()
        with urllib.request.urlopen(url + "/trainer/login", timeout=10) as r:  # the trainer can get in to fix it
            assert r.status == 200
    finally:
        out, err = _stop(proc, 30)
    assert proc.returncode == 0 and "SAFE MODE" in err and "Traceback" not in err, err
