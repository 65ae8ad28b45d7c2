"""Plain data types for a pose: COCO-17 keypoints in pixels of the original frame.

A foundation: the pose pipeline, the keypoint track and the rules all import it; it imports
only numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import numpy as np

KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


class BodyPart(IntEnum):
    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16


class Keypoint(NamedTuple):
    x: float  # pixels, origin top-left
    y: float  # pixels, y down
    score: float  # 0..1


@dataclass(frozen=True)
class Pose:
    """17 keypoints of one person in one frame, with the frame's timestamp (seconds)."""

    keypoints: tuple[Keypoint, ...]
    t: float = 0.0

    def __post_init__(self):
        if len(self.keypoints) != len(KEYPOINT_NAMES):
            raise ValueError(f"a pose has {len(KEYPOINT_NAMES)} keypoints, got {len(self.keypoints)}")

    def __getitem__(self, part: BodyPart | int | str) -> Keypoint:
        if isinstance(part, str):
            part = KEYPOINT_NAMES.index(part)
        return self.keypoints[int(part)]

    @property
    def mean_score(self) -> float:
        return float(np.mean([k.score for k in self.keypoints]))

    def to_array(self) -> np.ndarray:
        """(17, 3) float array of x, y, score."""
        return np.array(self.keypoints, dtype=np.float64)

    @classmethod
    def from_array(cls, array, t: float = 0.0) -> Pose:
        a = np.asarray(array, dtype=np.float64).reshape(len(KEYPOINT_NAMES), 3)
        return cls(tuple(map(Keypoint._make, a.tolist())), float(t))

    def to_rows(self) -> list[list[float]]:
        """Rows `[x, y, score]` as in the `ohsa-keypoints/1` format, rounded for JSON."""
        return [[round(k.x, 2), round(k.y, 2), round(k.score, 4)] for k in self.keypoints]
