"""Decoding recordings into frames: video files, folders of images, single images.

A frame is an RGB `uint8` array `(H, W, 3)`, C-contiguous, upright: the file's rotation metadata
(a phone's portrait video, a JPEG's EXIF orientation) is already applied. OpenCV decodes to BGR;
this module converts, so nothing above it ever sees BGR.

    media = open_media("squat.mp4")        # or a folder of images, or one image
    media.width, media.height, media.fps, media.frame_count
    for t, rgb in media: ...               # t: seconds from the file's frame rate (i / fps)

Timestamps of a recording are `index / fps` (file time, starting at 0); a folder of images has no
frame rate of its own and uses `fps` (default 30). Problems are `InputError`s naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# FFmpeg and OpenCV would print their own warnings for a bad file; the user gets our one line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
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


class _Video(Media):
    def __init__(self, path: Path):
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise InputError(f"{path}: not a video or image that can be decoded")
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
        self._cap = cap
        self._first = first

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
