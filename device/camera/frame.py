"""The frame and the one small interface every camera backend implements.

    source.open()                 # may raise CameraMissing / SourceError
    frame = source.read(timeout)  # a Frame, None when nothing came within `timeout` seconds,
                                  # EndOfStream when a recording is over, SourceError on failure
    source.close()                # always safe, also after a failed open

A frame's image is RGB `uint8` `(H, W, 3)`, C-contiguous, upright and un-mirrored as configured:
backends convert (picamera2's `RGB888` and OpenCV are BGR in memory) and call `orient`.
`t` is seconds on `time.monotonic()` for live cameras and paced replay, file time for a replay run
as fast as possible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.errors import ConfigError, OhsaError

ROTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class Frame:
    view: str  # "front" | "side"
    t: float  # seconds on the shared clock
    image: np.ndarray  # RGB uint8 (H, W, 3)
    seq: int  # the source's running frame number (gaps are frames the source dropped)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


class SourceError(OhsaError, OSError):
    """A camera or recording failed while open (disconnected, timed out, decode error)."""


class CameraMissing(SourceError):
    """The configured camera is not attached (or its backend is not installed)."""


class EndOfStream(SourceError):
    """A recording that does not loop has delivered its last frame."""


class FrameSource:
    """Base of the backends: `open`, `read(timeout)`, `close`, and a `name` for messages."""

    name = "source"

    def open(self) -> None:
        raise NotImplementedError

    def read(self, timeout: float = 1.0) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def check_rotation(rotation: int, where: str = "rotation") -> int:
    if rotation not in ROTATIONS:
        raise ConfigError(f"{where}: must be one of 0, 90, 180, 270 (degrees clockwise), got {rotation!r}")
    return rotation


def orient(image: np.ndarray, rotation: int = 0, mirror: bool = False) -> np.ndarray:
    """Rotate clockwise by `rotation` degrees, then flip left-right if `mirror`; C-contiguous."""
    if rotation:
        image = np.rot90(image, k=-(rotation // 90), axes=(0, 1))
    if mirror:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


MAX_FRAME_PIXELS = 4096 * 4096  # the config's largest camera size; a bigger frame counts as corrupt


def is_usable_image(image) -> bool:
    """What a frame must be before anything above the camera layer sees it."""
    return (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.shape[0] >= 16
        and image.shape[1] >= 16
        and image.shape[0] * image.shape[1] <= MAX_FRAME_PIXELS
    )
