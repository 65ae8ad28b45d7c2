"""Annotated stills on real frames: skeleton and findings drawn, small JPEG, clear errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from device.annotate import FINDING, MAX_HEIGHT, SKELETON, annotate
from device.errors import InputError
from device.pose.types import KEYPOINT_NAMES


def _frame(path, index: int = 0) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    for _ in range(index + 1):
        ok, bgr = cap.read()
        assert ok, f"{path}: could not read frame {index}"
    cap.release()
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def dance(data_dir):
    """Frame 0 of upstream's MoveNet test clip with upstream's reference keypoints (pixels)."""
    folder = data_dir / "tfjs-pose-detection"
    ref = json.loads((folder / "pose_1.json").read_text())[0]
    rows = np.array([[ref[n]["x"], ref[n]["y"], 0.9] for n in KEYPOINT_NAMES])
    return _frame(folder / "pose_1.mp4"), rows


def _decode(jpeg: bytes) -> np.ndarray:
    assert jpeg[:3] == b"\xff\xd8\xff"
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def _near(img, xy, colour, radius=3, tol=60) -> bool:
    x, y = int(round(xy[0])), int(round(xy[1]))
    patch = img[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1].reshape(-1, 3)
    return bool((np.abs(patch.astype(int) - colour).sum(axis=1) < tol).any())


def test_skeleton_and_findings_are_drawn_on_a_real_frame(dance):
    rgb, rows = dance
    plain = _decode(annotate(rgb, rows, [], "front"))
    flagged = _decode(annotate(rgb, rows, ["knees_cave_in"], "front"))
    assert plain.shape == flagged.shape == (rgb.shape[0], rgb.shape[1], 3)  # 576 px: no downscale
    knee = rows[KEYPOINT_NAMES.index("left_knee")]
    shoulder = rows[KEYPOINT_NAMES.index("left_shoulder")]
    # the knee is drawn in the skeleton colour without the finding and amber with it
    assert _near(plain, knee, SKELETON) and not _near(plain, knee, FINDING)
    assert _near(flagged, knee, FINDING)
    # joints the finding is not about keep the skeleton colour
    assert _near(flagged, shoulder, SKELETON) and not _near(flagged, shoulder, FINDING)
    # the drawing changes the picture where the skeleton is, and the legend adds a line
    raw = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(int)
    assert np.abs(plain.astype(int) - raw).max() > 100
    legend = np.abs(flagged[:80, :250].astype(int) - plain[:80, :250].astype(int)).sum()
    assert legend > 10_000


def test_findings_of_the_other_view_are_not_drawn(dance):
    rgb, rows = dance
    front = annotate(rgb, rows, [], "front")
    assert annotate(rgb, rows, ["head_down"], "front") == front  # a side-view finding
    assert annotate(rgb, rows, ["head_down"], "side") != annotate(rgb, rows, [], "side")


def test_low_score_joints_are_not_drawn(dance):
    rgb, rows = dance
    unsure = rows.copy()
    knee = KEYPOINT_NAMES.index("left_knee")
    unsure[knee, 2] = 0.1
    img = _decode(annotate(rgb, unsure, ["knees_cave_in"], "front"))
    assert not _near(img, rows[knee], FINDING, radius=1)
    nobody = _decode(annotate(rgb, None, [], "front"))
    assert nobody.shape[:2] == rgb.shape[:2]


def test_tall_frame_is_downscaled_and_small(data_dir, model_path):
    from device.pose import MoveNet, estimate_image

    rgb = _frame(data_dir / "tfjs-pose-detection" / "pose_squats.mp4", 5)
    assert rgb.shape[0] > MAX_HEIGHT  # 1280 tall as recorded
    pose = estimate_image(MoveNet(model_path), rgb)
    rows = np.array([[k.x, k.y, k.score] for k in pose.keypoints])
    jpeg = annotate(rgb, rows, ["knees_cave_in", "asymmetric_weight_shift"], "front")
    img = _decode(jpeg)
    assert img.shape[0] == MAX_HEIGHT and abs(img.shape[1] / img.shape[0] - rgb.shape[1] / rgb.shape[0]) < 0.01
    assert len(jpeg) < 120_000  # two stills + page must stay under 300 KB
    scale = MAX_HEIGHT / rgb.shape[0]
    hip = rows[KEYPOINT_NAMES.index("left_hip")]
    assert hip[2] >= 0.3 and _near(img, hip[:2] * scale, FINDING, radius=4)


@pytest.mark.parametrize("args, match", [
    ((np.zeros((10, 10), np.uint8), None, [], "front"), "RGB uint8"),
    ((np.zeros((10, 10, 3), np.float32), None, [], "front"), "RGB uint8"),
    ((np.zeros((100, 100, 3), np.uint8), np.zeros((5, 3)), [], "front"), "17 rows"),
    ((np.zeros((100, 100, 3), np.uint8), None, ["wobbly_knees"], "front"), "wobbly_knees"),
    ((np.zeros((100, 100, 3), np.uint8), None, [], "top"), "view"),
])
def test_bad_input_is_one_clear_error(args, match):
    with pytest.raises(InputError, match=match):
        annotate(*args)


def test_a_one_sided_finding_highlights_that_side_only(dance):
    rgb, rows = dance
    img = _decode(annotate(rgb, rows, ["knees_cave_in"], "front", sides={"knees_cave_in": "left"}))
    left, right = (rows[KEYPOINT_NAMES.index(k)] for k in ("left_knee", "right_knee"))
    assert _near(img, left, FINDING) and not _near(img, right, FINDING, radius=1)
    # the right thigh keeps the skeleton colour, the left one is highlighted (the knee points
    # themselves are crossed by the measured knee line)
    mid = lambda a, b: (rows[KEYPOINT_NAMES.index(a)][:2] + rows[KEYPOINT_NAMES.index(b)][:2]) / 2  # noqa: E731
    assert _near(img, mid("right_hip", "right_knee"), SKELETON)
    assert not _near(img, mid("right_hip", "right_knee"), FINDING, radius=1)
