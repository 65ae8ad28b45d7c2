"""Replay a recording (video file, image folder or one image) as a camera.

Paced (`paced=True`, demos and station tests) delivers each frame when it is due, stamped on
`time.monotonic()` like a live camera; unpaced delivers as fast as decoding allows, stamped with
file time (`index / fps`) plus `t0`. With `loop=True` the recording starts again at the end and
time keeps running on (the second pass starts one frame after the last frame of the first).
Decoding is `device.media`'s; this module only paces, loops and orients.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from device.camera.frame import EndOfStream, Frame, FrameSource, check_rotation, orient
from device.media import Media, open_media

log = logging.getLogger(__name__)


class ReplaySource(FrameSource):
    def __init__(
        self,
        path: str | os.PathLike,
        view: str = "front",
        *,
        paced: bool = True,
        loop: bool = False,
        fps: float | None = None,
        t0: float = 0.0,
        rotation: int = 0,
        mirror: bool = False,
        clock=time.monotonic,
        sleep=time.sleep,
    ):
        self.path = Path(path)
        self.view = view
        self.name = f"{view} recording {self.path}"
        self.paced = paced
        self.loop = loop
        self.t0 = t0
        self.rotation = check_rotation(rotation)
        self.mirror = mirror
        self._fps = fps  # a folder's frame rate; a video uses its own
        self._clock = clock
        self._sleep = sleep
        self._media: Media | None = None
        self._iter: Iterator | None = None
        self._pending = None
        self._origin: float | None = None
        self._pass_start = 0.0  # file time at which the current pass started (loops)
        self._last_file_t = -1.0
        self._in_pass = 0
        self._seq = 0

    # -- what a caller may want to know before reading -------------------------------------
    @property
    def media(self) -> Media:
        if self._media is None:
            self.open()
        return self._media

    @property
    def fps(self) -> float:
        return self.media.fps

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames handed on (after rotation)."""
        w, h = self.media.width, self.media.height
        return (h, w) if self.rotation in (90, 270) else (w, h)

    # -- FrameSource -----------------------------------------------------------------------
    def open(self) -> None:
        if self._media is not None:
            return
        self._media = open_media(self.path, fps=self._fps)  # InputError names the file
        self._iter = iter(self._media)
        self._pending = None
        self._origin = None
        self._pass_start = 0.0
        self._last_file_t = -1.0
        self._in_pass = 0
        self._seq = 0

    def close(self) -> None:
        if self._media is not None:
            self._media.close()
        self._media = None
        self._iter = None
        self._pending = None

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._media is None:
            self.open()
        if self._pending is None:
            self._pending = self._next()
        file_t, rgb = self._pending
        if self.paced:
            now = self._clock()
            if self._origin is None:
                self._origin = now - file_t
            due = self._origin + file_t
            if due - now > timeout:
                self._sleep(max(0.0, timeout))
                return None
            if due > now:
                self._sleep(due - now)
            t = due
        else:
            t = self.t0 + file_t
        self._pending = None
        self._seq += 1
        return Frame(self.view, t, orient(rgb, self.rotation, self.mirror), self._seq)

    def __iter__(self) -> Iterator[Frame]:
        """Every frame once (or forever with `loop`), as `Frame`s; closes at the end."""
        self.open()
        try:
            while True:
                try:
                    frame = self.read(timeout=3600.0)
                except EndOfStream:
                    return
                if frame is not None:
                    yield frame
        finally:
            self.close()

    def _next(self) -> tuple[float, object]:
        for _ in range(2):
            try:
                t, rgb = next(self._iter)
            except StopIteration:
                if not self.loop or self._in_pass == 0:
                    raise EndOfStream(f"{self.name}: recording ended") from None
                # the next pass starts one frame after the last frame of this one
                self._pass_start += self._last_file_t + 1.0 / self._media.fps
                self._iter = iter(self._media)
                self._in_pass = 0
                log.debug("%s: looping", self.name)
                continue
            self._in_pass += 1
            self._last_file_t = t
            return self._pass_start + t, rgb
        raise EndOfStream(f"{self.name}: recording has no frames to loop")
