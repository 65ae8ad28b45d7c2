"""MoveNet pipeline on real recordings: accuracy against upstream references, exact mapping of
coordinates, crop tracking and its fallback, the runtime's fallback import."""

import json
import sys
import types

import numpy as np
import pytest

from device.errors import RuntimeMissing
from device.media import open_media
from device.pose import KEYPOINT_NAMES, MoveNet, PoseTracker, estimate_image
from device.pose import crop, runtime
from device.pose.crop import Square

# BlazePose's 33 landmarks -> COCO-17 (upstream's fixture README)
BLAZEPOSE_TO_COCO = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]


@pytest.fixture(scope="module")
def pose_1(data_dir):
    return [rgb for _, rgb in open_media(data_dir / "tfjs-pose-detection" / "pose_1.mp4")]


@pytest.fixture(scope="module")
def squats(data_dir):
    return [rgb for _, rgb in open_media(data_dir / "tfjs-pose-detection" / "pose_squats.mp4")]


def _track(movenet, frames, fps=30.0, **kw):
    tracker = PoseTracker(movenet, **kw)
    return np.array([tracker.process(rgb, i / fps).to_array() for i, rgb in enumerate(frames)])


def test_runtime_is_litert_and_built_once(movenet):
    assert movenet.runtime.startswith("ai-edge-litert ")
    interpreter = movenet._interpreter
    PoseTracker(movenet).process(np.zeros((480, 640, 3), np.uint8), 0.0)
    assert movenet._interpreter is interpreter


def test_pose_1_against_upstream_movenet_reference(movenet, pose_1, data_dir, record_property):
    """Upstream's own check: at least 95 % of keypoints within 60 px, median under 15 px."""
    ref = json.loads((data_dir / "tfjs-pose-detection" / "pose_1.json").read_text())
    expected = np.array([[[f[n]["x"], f[n]["y"]] for n in KEYPOINT_NAMES] for f in ref])
    got = _track(movenet, pose_1)
    assert got.shape == expected.shape[:2] + (3,)
    err = np.linalg.norm(got[..., :2] - expected, axis=-1)
    within, median = float((err < 60).mean()), float(np.median(err))
    print(f"\npose_1: {within:.2%} of keypoints within 60 px, median {median:.1f} px, p95 {np.percentile(err, 95):.1f} px")
    record_property("pose_1_within_60px", round(within, 4))
    record_property("pose_1_median_px", round(median, 2))
    assert within >= 0.95 and median < 15.0


def test_pose_squats_against_upstream_blazepose(movenet, squats, data_dir, record_property):
    """Our keypoints agree with upstream's BlazePose fixture on COCO-17: median < 0.15 torso."""
    ref = np.array(json.loads((data_dir / "tfjs-pose-detection" / "pose_squats.full.json").read_text()))
    expected = ref[:, BLAZEPOSE_TO_COCO, :2]
    got = _track(movenet, squats, fps=5.0)
    assert len(got) == len(expected) == 65
    torso = np.linalg.norm(expected[:, 5:7].mean(axis=1) - expected[:, 11:13].mean(axis=1), axis=-1)
    err = np.linalg.norm(got[..., :2] - expected, axis=-1) / torso[:, None]
    median = float(np.median(err))
    hips = float(np.median(err[:, 11:13]))
    print(f"\npose_squats vs BlazePose: median {median:.3f} torso lengths (hips {hips:.3f})")
    record_property("pose_squats_median_torso", round(median, 3))
    assert median < 0.15


def test_crop_tracking_raises_scores(movenet, squats, pose_1, record_property):
    """Before/after: whole frame only against crop tracking, same frames, no smoothing."""
    for name, frames in (("pose_squats", squats), ("pose_1", pose_1)):
        whole = _track(movenet, frames, crop_tracking=False, smoothing=False)[..., 2].mean()
        tracked = _track(movenet, frames, smoothing=False)[..., 2].mean()
        print(f"\n{name}: mean keypoint score whole frame {whole:.3f} -> crop tracking {tracked:.3f}")
        record_property(f"{name}_mean_score", f"{whole:.3f} -> {tracked:.3f}")
        assert tracked > whole + 0.1


def test_lost_person_falls_back_to_whole_frame(movenet, pose_1):
    tracker = PoseTracker(movenet)
    assert tracker.square is None  # first frame: whole frame
    first = tracker.process(pose_1[0], 0.0)
    assert tracker.square is not None and first.mean_score > 0.5
    tracker.process(np.zeros_like(pose_1[0]), 0.033)  # nobody there
    assert tracker.square is None
    # a crop far from the person (stale, or the person jumped): the same frame falls back
    tracker.process(pose_1[1], 0.066)
    tracker._square = Square(0.0, 0.0, 60.0)
    before = tracker.invokes
    pose = tracker.process(pose_1[2], 0.1)
    assert tracker.invokes == before + 2  # the crop, then the whole frame
    reference = estimate_image(movenet, pose_1[2]).to_array()
    assert pose.mean_score > 0.5
    assert np.median(np.linalg.norm(pose.to_array()[:, :2] - reference[:, :2], axis=-1)) < 15


def _pad(rgb, top, bottom, left, right):
    return np.ascontiguousarray(np.pad(rgb, ((top, bottom), (left, right), (0, 0))))


def test_letterbox_mapping_portrait_and_landscape_exact(movenet, squats, pose_1):
    """Padding a frame to a square with black bars gives the model the same input as the
    letterbox of the frame: keypoints must move by exactly the padding, every frame, with crop
    tracking and smoothing on."""
    portrait = squats[:12]  # 720x1280
    padded = [_pad(f, 0, 0, 280, 280) for f in portrait]  # 1280x1280
    a, b = _track(movenet, portrait), _track(movenet, padded)
    assert np.abs(b[..., :2] - a[..., :2] - [280, 0]).max() < 1.0
    landscape = [_pad(f, 0, 0, 100, 100) for f in pose_1[:12]]  # 776x576, a real landscape frame
    square = [_pad(f, 100, 100, 0, 0) for f in landscape]  # 776x776
    a, b = _track(movenet, landscape), _track(movenet, square)
    assert np.abs(b[..., :2] - a[..., :2] - [0, 100]).max() < 1.0
    assert a[..., 2].mean() > 0.5  # a person was found, not just noise compared with noise


@pytest.mark.parametrize("dx, dy", [(100, 100), (37, -25), (-40, -30)])
def test_square_frame_padded_or_cropped_by_a_known_amount(movenet, pose_1, dx, dy):
    """A square frame (576x576) padded (dx, dy > 0) or cropped (< 0) by a known amount: the same
    person region moved by that amount gives keypoints moved by exactly that amount."""
    rgb = pose_1[30]
    region = Square(60.0, 80.0, 440.0)
    if dx >= 0 and dy >= 0:
        moved = _pad(rgb, dy, 0, dx, 0)
    else:
        moved = np.ascontiguousarray(rgb[-dy:, -dx:]) if dx <= 0 and dy <= 0 else None
        if moved is None:  # pad one way, crop the other
            moved = _pad(rgb, 0, 0, dx, 0)[-dy:] if dy < 0 else _pad(rgb, dy, 0, 0, 0)[:, -dx:]
            moved = np.ascontiguousarray(moved)
    a = estimate_image(movenet, rgb, square=region).to_array()
    b = estimate_image(movenet, moved, square=region.shifted(dx, dy)).to_array()
    assert a[:, 2].mean() > 0.5
    assert np.abs(b[:, :2] - a[:, :2] - [dx, dy]).max() < 1.0
    assert np.allclose(a[:, 2], b[:, 2])


def test_estimate_image_on_stills_of_several_shapes(movenet, pose_1, squats, data_dir):
    """Stills through the whole-frame-then-closer path agree with the tracked reference."""
    ref = json.loads((data_dir / "tfjs-pose-detection" / "pose_1.json").read_text())
    expected = np.array([[ref[40][n]["x"], ref[40][n]["y"]] for n in KEYPOINT_NAMES])
    got = estimate_image(movenet, pose_1[40]).to_array()
    assert np.median(np.linalg.norm(got[:, :2] - expected, axis=-1)) < 15
    # a landscape frame cut from a portrait one: keypoints stay inside the frame they came from
    frame = np.ascontiguousarray(squats[0][300:1020])  # 720x720 region of the 720x1280 frame
    pose = estimate_image(movenet, frame)
    inside = pose.to_array()[:, 2] > 0.3
    assert inside.sum() >= 8
    assert (pose.to_array()[inside, :2] >= -5).all() and (pose.to_array()[inside, :2] <= 725).all()


def test_bad_frames_are_refused(movenet):
    tracker = PoseTracker(movenet)
    for bad in (np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8)):
        with pytest.raises(ValueError, match="RGB uint8"):
            tracker.process(bad, 0.0)


def test_fallback_import_when_litert_is_missing(monkeypatch, model_path, pose_1):
    """LiteRT first, tflite_runtime second: with `ai_edge_litert` unimportable, the interpreter
    comes from `tflite_runtime`. This machine has no tflite-runtime wheel in the test venv (it
    needs numpy<2), so the real LiteRT interpreter class is registered under that name."""
    from ai_edge_litert.interpreter import Interpreter

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # import now raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    package = types.ModuleType("tflite_runtime")
    package.__path__ = []
    package.__version__ = "2.14.0"
    module = types.ModuleType("tflite_runtime.interpreter")
    module.Interpreter = Interpreter
    monkeypatch.setitem(sys.modules, "tflite_runtime", package)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", module)
    cls, name = runtime.load_interpreter_class()
    assert cls is Interpreter and name.startswith("tflite-runtime ")
    net = MoveNet(model_path)
    assert net.runtime.startswith("tflite-runtime")
    assert estimate_image(net, pose_1[0]).mean_score > 0.5


def test_no_runtime_at_all_is_one_clear_error(monkeypatch, model_path):
    for name in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(RuntimeMissing, match="ai-edge-litert.*tflite-runtime") as e:
        MoveNet(model_path)
    assert "\n" not in str(e.value)


def test_infer_is_thread_safe(movenet, pose_1):
    """One interpreter shared by two views' threads gives the same answers as one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    inputs = [crop.warp(f, crop.whole_frame(576, 576)) for f in pose_1[:20]]
    serial = [movenet.infer(x) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(movenet.infer, inputs))
    assert all(np.array_equal(s, p) for s, p in zip(serial, parallel))
