"""Replay a recording (video file, image folder or one image) as a camera.

Paced (`paced=True`, demos and station tests) delivers each frame when it is due, stamped on
`time.monotonic()` like a live camera; unpaced delivers as fast as decoding allows, stamped with
file time (`index / fps`) plus `t0`. With `loop=True` the recording starts again at the end and
time keeps running on (the second pass starts one frame after the last frame of the first).
Decoding is `device.media`'s; this module only paces, loops and orients.

Two recordings as a station's two cameras (`ohsa run --front F --side S`): each loops at its
own length while the station is idle. When a set starts the station calls `hold()` on both
(DualCapture.hold_replays): each goes back to its first frame and keeps showing it, as a
person waits in the start position through positioning and countdown. When recording starts,
`play(origin, period)` (DualCapture.play_replays) starts both from their first frame at the
same `origin` and loops them with one common `period` (the longer clip's length; the shorter
shows its last frame until the period ends), so the two views cannot drift apart: the offset
between them stays what the recordings have, which the analysis' clock alignment measures.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from device.camera.frame import EndOfStream, Frame, FrameSource, check_rotation, orient
from device.media import Media, open_media

log = logging.getLogger(__name__)

LAG_RESET_S = 1.0  # paced replay this far behind real time starts again from now


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
        self._last_rgb = None
        self._period: float | None = None  # lock-step: the common loop period
        self._held = None  # (rgb, next due): showing the first frame until play()
        self._command: tuple | None = None  # hold/play from another thread, applied in read()
        self._control = threading.Lock()
        self.duration: float | None = None  # one pass in seconds, known once open

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
        self._held = None
        self._period = None
        self.duration = self._media.frame_count / self._media.fps

    # -- lock-step control (any thread; applied by the reading thread) ---------------------
    def now(self) -> float:
        """This source's clock (the one `play`'s origin is on)."""
        return self._clock()

    def hold(self) -> None:
        """Go back to the first frame and keep showing it (paced) until `play`."""
        with self._control:
            self._command = ("hold",)

    def play(self, origin: float, period: float | None = None) -> None:
        """Play from the first frame, due at `origin` (this source's clock); loop every
        `period` seconds (at least the recording's own length) instead of at its own end."""
        with self._control:
            self._command = ("play", float(origin), period)

    def _apply_command(self) -> None:
        with self._control:
            command, self._command = self._command, None
        if command is None:
            return
        # back to the first frame; it is also the first one played
        self._iter = iter(self._media)
        self._pass_start, self._in_pass = 0.0, 0
        file_t, rgb = self._next()
        self._pending = (file_t, rgb)
        if command[0] == "hold":
            self._held = (orient(rgb, self.rotation, self.mirror), self._clock())
            self._period = None
            log.debug("%s: holding the first frame", self.name)
        else:
            _, origin, period = command
            self._held = None
            self._origin = origin
            self._period = None if period is None else max(float(period), self.duration or 0.0)
            log.debug("%s: playing from the start, period %s", self.name, self._period)

    def close(self) -> None:
        if self._media is not None:
            self._media.close()
        self._media = None
        self._iter = None
        self._pending = None

    def read(self, timeout: float = 1.0) -> Frame | None:
        if self._media is None:
            self.open()
        self._apply_command()
        if self._held is not None and self.paced:
            return self._read_held(timeout)
        if self._pending is None:
            self._pending = self._next()
        file_t, rgb = self._pending
        if self.paced:
            now = self._clock()
            if self._origin is None:
                self._origin = now - file_t
            elif self._period is None and now - (self._origin + file_t) > LAG_RESET_S:
                # decoding fell behind real time (a busy machine): go on from now, as a live
                # camera would, instead of handing out ever older frames (not in lock-step,
                # where both views keep one clock)
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

    def _read_held(self, timeout: float) -> Frame | None:
        rgb, due = self._held
        now = self._clock()
        if due - now > timeout:
            self._sleep(max(0.0, timeout))
            return None
        if due > now:
            self._sleep(due - now)
        self._held = (rgb, max(due + 1.0 / self._media.fps, now))
        self._seq += 1
        return Frame(self.view, due, rgb, self._seq)

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
        dt = 1.0 / self._media.fps
        for _ in range(2):
            if self._iter is not None:
                try:
                    t, rgb = next(self._iter)
                except StopIteration:
                    if not self.loop or self._in_pass == 0:
                        raise EndOfStream(f"{self.name}: recording ended") from None
                    self._iter = None  # this pass is over
                else:
                    self._in_pass += 1
                    self._last_file_t, self._last_rgb = t, rgb
                    return self._pass_start + t, rgb
            after = self._last_file_t + dt
            if self._period is not None and after < self._period - dt / 2:
                # lock-step with a longer recording: the last frame stays until the period ends
                self._last_file_t = after
                return self._pass_start + after, self._last_rgb
            # the next pass starts one frame after the last frame of this one (or a period on)
            self._pass_start += after if self._period is None else max(self._period, after)
            self._iter = iter(self._media)
            self._in_pass = 0
            log.debug("%s: looping", self.name)
        raise EndOfStream(f"{self.name}: recording has no frames to loop")
