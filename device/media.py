"""Decoding recordings into frames: video files, folders of images, single images.

A frame is an RGB `uint8` array `(H, W, 3)`, C-contiguous, upright: the file's rotation metadata
(a phone's portrait video, a JPEG's EXIF orientation) is already applied. OpenCV decodes to BGR;
this module converts, so nothing above it ever sees BGR.

    media = open_media("squat.mp4")        # or a folder of images, or one image
    media.width, media.height, media.fps, media.frame_count
    for t, rgb in media: ...               # t: seconds from the file's frame rate (i / fps)

Timestamps of a recording are `index / fps` (file time, starting at 0); a folder of images has no
frame rate of its own and uses `fps` (default 30). Problems are `InputError`s naming the file.

Nothing is decoded whole before its size is known: an image's header (PNG, JPEG, BMP, WebP,
PPM/PGM) and a video's stream size are checked against `MAX_PIXELS` first, so a small file
that claims 30000x30000 pixels (a decompression bomb) is refused in milliseconds; OpenCV's own
limit (`OPENCV_IO_MAX_IMAGE_PIXELS`) is set to the same number for the formats not sniffed
here. A path that is not valid UTF-8 reaches FFmpeg as /proc/self/fd/N (OpenCV would crash on it).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

MAX_PIXELS = 50_000_000  # a 48 MP phone photo fits (150 MB decoded); 30000x30000 does not

# FFmpeg and OpenCV would print their own warnings for a bad file; the user gets our one line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
import cv2  # noqa: E402

from device.errors import InputError  # noqa: E402

try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # OpenCV 4.x wheels without cv2.utils.logging
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    cv2.setLogLevel(2)  # LOG_LEVEL_ERROR

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
FOLDER_FPS = 30.0  # a folder of stills has no frame rate of its own


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB))
    if bgr.shape[2] == 4:
        return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB))
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, JPEG, BMP, WebP or PPM/PGM; None when
    the format is not one of these or the header is cut short."""
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"BM") and len(head) >= 26:
            w, h = struct.unpack("<ii", head[18:26])
            return abs(w), abs(h)
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            chunk = head[12:16]
            if chunk == b"VP8X":
                return (int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1)
            if chunk == b"VP8 ":
                w, h = struct.unpack("<HH", head[26:30])
                return w & 0x3FFF, h & 0x3FFF
            if chunk == b"VP8L":
                bits = int.from_bytes(head[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if head[:2] in (b"P5", b"P6", b"P2", b"P3"):
            words = []
            for line in head[2:].split(b"\n"):
                words += line.split(b"#", 1)[0].split()
                if len(words) >= 2:
                    return int(words[0]), int(words[1])
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(head)
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def check_pixels(path, width: int, height: int, what: str = "image") -> None:
    """InputError unless width x height is within MAX_PIXELS."""
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{path}: {what} of {width}x{height} pixels is larger than the {MAX_PIXELS // 1_000_000} "
            "megapixel limit; scale it down"
        )


def read_image(path: str | os.PathLike) -> np.ndarray:
    """One image file as an upright RGB uint8 array (EXIF orientation applied)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    # imdecode from bytes: imread would also say nothing useful for a bad file
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or e.__class__.__name__})") from None
    size = image_size(data[:1 << 16].tobytes())
    if size is not None:
        check_pixels(path, *size)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None or bgr.size == 0:
        raise InputError(f"{path}: not an image OpenCV can decode")
    return _to_rgb(bgr)


class Media:
    """Frames of one recording; iterate for `(t, rgb)`. Use `open_media` to make one."""

    def __init__(self, path: Path, kind: str, width: int, height: int, fps: float, frame_count: int):
        self.path = path
        self.kind = kind  # "video" | "folder" | "image"
        self.width = width
        self.height = height
        self.fps = fps
        self.frame_count = frame_count  # for a video: the container's count, may be approximate

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.kind} {self.path} {self.width}x{self.height} "
            f"{self.fps:g} fps {self.frame_count} frames>"
        )


def _ffmpeg_name(path: Path) -> tuple[str, int | None]:
    """A name FFmpeg can open for `path` and the file descriptor to close afterwards (if any).

    OpenCV crashes (SIGSEGV) on a path that is not valid UTF-8; such a file is opened here and
    handed over as /proc/self/fd/N."""
    name = str(path)
    try:
        name.encode("utf-8")
        return name, None
    except UnicodeEncodeError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or e})") from None
    if not os.path.exists(f"/proc/self/fd/{fd}"):
        os.close(fd)
        raise InputError(f"{path}: the name is not valid UTF-8; rename the file")
    return f"/proc/self/fd/{fd}", fd


class _Video(Media):
    def __init__(self, path: Path):
        name, self._fd = _ffmpeg_name(path)
        try:
            cap = self._open(path, name)
        except BaseException:
            self._close_fd()
            raise
        self._cap = cap

    def _open(self, path: Path, name: str):
        cap = cv2.VideoCapture(name, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise InputError(f"{path}: not a video or image that can be decoded")
        # the stream's size before any frame is decoded (a "bomb" claims a huge one)
        w0, h0 = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if w0 * h0 > MAX_PIXELS:
            cap.release()
            check_pixels(path, w0, h0, "video frame")
        # Rotation metadata (phones record portrait as rotated landscape): OpenCV applies it
        # when asked; say so explicitly rather than rely on the default.
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise InputError(f"{path}: video has no frames that can be decoded")
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not (fps and np.isfinite(fps) and 0 < fps < 1000):
            cap.release()
            raise InputError(f"{path}: video has no usable frame rate ({fps!r})")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        h, w = first.shape[:2]  # after rotation: the size a person sees
        super().__init__(path, "video", w, h, float(fps), max(count, 1))
        self._first = first
        return cap

    def _close_fd(self) -> None:
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            os.close(fd)

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._cap is None:
            raise InputError(f"{self.path}: already closed")
        if self._first is None:  # a second pass: start again
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        else:
            ok, frame, self._first = True, self._first, None
        i = 0
        while ok and frame is not None:
            yield i / self.fps, _to_rgb(frame)
            i += 1
            ok, frame = self._cap.read()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._close_fd()


class _Stills(Media):
    def __init__(self, path: Path, files: list[Path], kind: str, fps: float):
        first = read_image(files[0])
        h, w = first.shape[:2]
        super().__init__(path, kind, w, h, float(fps), len(files))
        self.files = files
        self._first = first

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        for i, f in enumerate(self.files):
            if i == 0 and self._first is not None:
                rgb, self._first = self._first, None
            else:
                rgb = read_image(f)
            if rgb.shape[:2] != (self.height, self.width):
                raise InputError(
                    f"{f}: is {rgb.shape[1]}x{rgb.shape[0]}, the folder's first image is "
                    f"{self.width}x{self.height}; a folder must hold frames of one size"
                )
            yield i / self.fps, rgb


def open_media(path: str | os.PathLike, fps: float | None = None) -> Media:
    """A video file, a folder of images (sorted by name) or one image, ready to iterate.

    `fps` sets the frame rate of a folder of images (default 30); a video uses its own.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise InputError(f"{path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return _Stills(path, files, "folder", fps or FOLDER_FPS)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _Stills(path, [path], "image", fps or FOLDER_FPS)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file, not a video")
    return _Video(path)
