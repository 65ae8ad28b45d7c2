"""Annotated stills on real frames: skeleton and findings drawn, small JPEG, clear errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from device.annotate import FINDING, MAX_HEIGHT, SKELETON, annotate
from device.errors import InputError
from device.keypoints import KEYPOINT_NAMES


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
    # 576 px: no downscale; the legend strip goes under the frame, one line more with a finding
    assert plain.shape[1] == flagged.shape[1] == rgb.shape[1]
    assert rgb.shape[0] < plain.shape[0] < flagged.shape[0]
    knee = rows[KEYPOINT_NAMES.index("left_knee")]
    shoulder = rows[KEYPOINT_NAMES.index("left_shoulder")]
    # the knee is drawn in the skeleton colour without the finding and amber with it
    assert _near(plain, knee, SKELETON) and not _near(plain, knee, FINDING)
    assert _near(flagged, knee, FINDING)
    # joints the finding is not about keep the skeleton colour
    assert _near(flagged, shoulder, SKELETON) and not _near(flagged, shoulder, FINDING)
    # the drawing changes the picture where the skeleton is, and the legend adds a line
    raw = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(int)
    assert np.abs(plain[:rgb.shape[0]].astype(int) - raw).max() > 100
    h = rgb.shape[0]
    assert (plain[h + 2:] < 80).mean() > 0.8  # a dark strip with light text
    legend = (flagged[plain.shape[0]:].astype(int).min(axis=2) > 200).sum()  # the finding's line
    assert legend > 100


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
    assert nobody.shape[1] == rgb.shape[1] and nobody.shape[0] > rgb.shape[0]


def test_tall_frame_is_downscaled_and_small(data_dir, model_path):
    from device.pose import MoveNet, estimate_image

    rgb = _frame(data_dir / "tfjs-pose-detection" / "pose_squats.mp4", 5)
    assert rgb.shape[0] > MAX_HEIGHT  # 1280 tall as recorded
    pose = estimate_image(MoveNet(model_path), rgb)
    rows = np.array([[k.x, k.y, k.score] for k in pose.keypoints])
    jpeg = annotate(rgb, rows, ["knees_cave_in", "asymmetric_weight_shift"], "front")
    img = _decode(jpeg)
    frame_w = round(rgb.shape[1] * MAX_HEIGHT / rgb.shape[0])
    assert img.shape[1] == frame_w and MAX_HEIGHT < img.shape[0] < MAX_HEIGHT * 1.3  # frame + legend
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


# -- measured lines on a real side-view squat -------------------------------------------------

LEAN = {"status": "present", "value": 34.2, "threshold": 20.0, "unit": "degrees (trunk minus shin angle)",
        "side": None}
ARMS = {"status": "present", "value": 27.0, "threshold": 20.0, "unit": "degrees forward of the trunk line",
        "side": None}


@pytest.fixture(scope="module")
def squat_bottom(data_dir, movenet):
    """The deepest of a few frames of the real side-view back squat, with real MoveNet keypoints."""
    from device.pose import estimate_image

    cap = cv2.VideoCapture(str(data_dir / "side-back-squat" / "squat.mp4"))
    best = None
    for index in (250, 290, 310, 330):
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = cap.read()
        assert ok, f"squat.mp4: no frame {index}"
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        pose = estimate_image(movenet, rgb)
        rows = np.array([[k.x, k.y, k.score] for k in pose.keypoints])
        hip_y = rows[[11, 12], 1].mean()
        if best is None or hip_y > best[0]:
            best = (hip_y, rgb, rows)
    cap.release()
    return best[1], best[2]


def _along(img, a, b, colour, fractions=(0.55, 0.7, 0.85)) -> list[bool]:
    a, b = np.asarray(a[:2], float), np.asarray(b[:2], float)
    return [_near(img, a + (b - a) * f, colour, radius=2) for f in fractions]


def _pt_of(rows, name, scale):
    return rows[KEYPOINT_NAMES.index(name)][:2] * scale


def test_forward_lean_draws_trunk_and_shin_lines_with_the_limit(squat_bottom):
    from device.annotate import MEASURE

    rgb, rows = squat_bottom
    scale = MAX_HEIGHT / rgb.shape[0]
    near = "left_" if rows[[5, 11, 13, 15], 2].sum() >= rows[[6, 12, 14, 16], 2].sum() else "right_"
    assert all(rows[KEYPOINT_NAMES.index(near + j), 2] >= 0.3 for j in ("shoulder", "hip", "knee", "ankle"))
    hip, sh, knee, ankle = (_pt_of(rows, near + j, scale) for j in ("hip", "shoulder", "knee", "ankle"))
    plain = _decode(annotate(rgb, rows, [], "side"))
    drawn = _decode(annotate(rgb, rows, ["excessive_forward_lean"], "side",
                             entries={"excessive_forward_lean": LEAN}))
    assert all(_along(drawn, hip, sh, MEASURE)) and all(_along(drawn, ankle, knee, MEASURE))
    assert not any(_along(plain, hip, sh, MEASURE)) and not any(_along(plain, ankle, knee, MEASURE))
    # the shin's direction copied to the hip (dashed): some of it in the measure colour
    ref_end = hip + (knee - ankle) / np.linalg.norm(knee - ankle) * np.linalg.norm(sh - hip)
    ref = _along(drawn, hip, ref_end, MEASURE, fractions=np.linspace(0.3, 0.95, 14))
    assert 3 <= sum(ref) < 14  # dashed, not solid
    # the labels: the legend strip gains the finding and its value, and a tag sits beside the hip
    white = lambda img: (img.astype(int).min(axis=2) > 215)  # noqa: E731
    h = round(rgb.shape[0] * scale)
    assert drawn.shape[0] > plain.shape[0] > h
    assert white(drawn[plain.shape[0]:]).sum() > 150  # the line the finding added
    x, y = int(hip[0]), int(hip[1])
    tag = white(drawn[y - 40:y + 10, x:x + 160]) & ~white(plain[y - 40:y + 10, x:x + 160])
    assert tag.sum() > 40


def test_arms_and_head_lines_follow_their_keypoints(squat_bottom):
    from device.annotate import MEASURE

    rgb, rows = squat_bottom
    scale = MAX_HEIGHT / rgb.shape[0]
    s = "left_" if rows[[5, 11, 13, 15], 2].sum() >= rows[[6, 12, 14, 16], 2].sum() else "right_"
    img = _decode(annotate(rgb, rows, ["arms_fall_forward"], "side", entries={"arms_fall_forward": ARMS}))
    sh, hip = _pt_of(rows, s + "shoulder", scale), _pt_of(rows, s + "hip", scale)
    hand = s + "wrist" if rows[KEYPOINT_NAMES.index(s + "wrist"), 2] >= 0.3 else s + "elbow"
    assert all(_along(img, sh, _pt_of(rows, hand, scale), MEASURE, fractions=(0.4, 0.6, 0.8)))
    up = sh + (sh - hip) * 0.6  # the trunk line carried on (dashed)
    assert any(_along(img, sh, up, MEASURE, fractions=np.linspace(0.1, 0.9, 9)))


def test_absent_and_not_assessed_findings_draw_nothing(squat_bottom):
    rgb, rows = squat_bottom
    plain = annotate(rgb, rows, [], "side")
    absent = dict(LEAN, status="absent")
    unknown = dict(LEAN, status="not_assessed", value=None)
    assert annotate(rgb, rows, ["excessive_forward_lean"], "side",
                    entries={"excessive_forward_lean": absent}) == plain
    assert annotate(rgb, rows, ["excessive_forward_lean"], "side",
                    entries={"excessive_forward_lean": unknown}) == plain
    # a finding whose joints were not seen: no lines, and the legend says so
    blind = rows.copy()
    blind[:, 2] = 0.05
    img = _decode(annotate(rgb, blind, ["excessive_forward_lean"], "side",
                           entries={"excessive_forward_lean": LEAN}))
    from device.annotate import MEASURE

    assert not (np.abs(img.astype(int) - MEASURE).sum(axis=2) < 40).any()


def test_knee_and_ankle_lines_on_a_real_front_frame(data_dir, movenet):
    from device.annotate import MEASURE
    from device.pose import estimate_image

    cap = cv2.VideoCapture(str(data_dir / "overhead-squat-pair" / "front.mov"))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rows = np.array([[k.x, k.y, k.score] for k in estimate_image(movenet, rgb).keypoints])
    scale = MAX_HEIGHT / rgb.shape[0]
    knees = {"status": "present", "value": 0.71, "threshold": 0.8, "unit": "knee-to-ankle width ratio",
             "side": "left"}
    img = _decode(annotate(rgb, rows, ["knees_cave_in"], "front", entries={"knees_cave_in": knees}))
    lk, rk, la, ra = (_pt_of(rows, n, scale) for n in ("left_knee", "right_knee", "left_ankle", "right_ankle"))
    assert all(_along(img, lk, rk, MEASURE, fractions=(0.3, 0.5, 0.7)))
    assert all(_along(img, la, ra, MEASURE, fractions=(0.3, 0.5, 0.7)))
    # plumb lines up from the ankles (dashed) reach the knees' height
    assert any(_along(img, la, (la[0], lk[1]), MEASURE, fractions=np.linspace(0.1, 0.9, 9)))


@pytest.mark.parametrize("entry, text", [
    (LEAN, "34° (limit 20°)"),
    ({"value": 0.712, "threshold": 0.8, "unit": "knee-to-ankle width ratio"}, "0.71 (limit 0.80)"),
    ({"value": 0.14, "threshold": 0.1, "unit": "fraction of trunk length"}, "14% of trunk (limit 10%)"),
    ({"value": 2.14, "threshold": 1.5, "unit": "cm"}, "2.1 cm (limit 1.5 cm)"),
    ({"value": None, "threshold": 20.0, "unit": "degrees"}, ""),
])
def test_value_text(entry, text):
    from device.annotate import value_text

    assert value_text(entry) == text
