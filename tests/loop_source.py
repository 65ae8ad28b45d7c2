"""A camera without a camera: in-memory frames looped in real time (newest frame wins upstream).

Subclasses change what a frame shows through `picture(img)`; returning None delivers no frame
(a stalled camera).
"""

from __future__ import annotations

import time

from device.camera import Frame, FrameSource


class LoopSource(FrameSource):
    def __init__(self, view: str, frames, fps: float = 30.0):
        self.view, self.frames, self.fps = view, frames, fps
        self.name = f"{view} loop"
        self._i, self._t0 = 0, None

    def open(self):
        pass

    def close(self):
        pass

    def picture(self, img):
        return img

    def read(self, timeout=1.0):
        img = self.picture(self.frames[self._i % len(self.frames)])
        if img is None:
            time.sleep(min(timeout, 0.05))
            return None
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._i / self.fps
        if due > now:
            time.sleep(min(due - now, timeout))
        self._i += 1
        return Frame(self.view, max(due, now - 1.0), img, self._i)
