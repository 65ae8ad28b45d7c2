"""Synthetic ground truth for the rule engine: a 3-D stick figure squatting, seen by pinhole cameras.

See `tests/synth/skeleton.py`; `make_case` is the usual entry point, `joint_positions` the public
kinematics (world coordinates in metres) that other generators (silhouettes) may reuse.
"""

from tests.synth.skeleton import (
    AMPLITUDES,
    Body,
    Camera,
    Case,
    Movement,
    front_camera,
    joint_positions,
    make_case,
    phase_at,
    side_camera,
)

__all__ = [
    "AMPLITUDES", "Body", "Camera", "Case", "Movement", "front_camera", "joint_positions",
    "make_case", "phase_at", "side_camera",
]  # fmt: skip
