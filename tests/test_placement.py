"""One placement judgement: device.placement's skew for `ohsa check`, the station and the rules."""

from __future__ import annotations

import contextlib
import io
import json

import cv2
import numpy as np
import pytest

from device import placement as pl
from device.cli import main
from device.media import open_media
from device.pose import estimate_image
from device.rules import evaluate
from device.thresholds import validate_overrides
from device.track import Track, ViewTrack
from tests.conftest import DATA, MODEL

TH = validate_overrides(None, "thresholds")
PAIR = DATA / "overhead-squat-pair"


def body(shoulder_half: float, hip_half: float, trunk: float = 200.0) -> np.ndarray:
    """(17, 3) keypoints: shoulders and hips this far either side of x = 500, trunk tall."""
    k = np.zeros((17, 3))
    k[:, 2] = 0.9
    k[:, 0], k[:, 1] = 500, 300
    k[[5, 6], 0] = 500 + shoulder_half, 500 - shoulder_half  # left shoulder on the image's right
    k[[5, 6], 1] = 300
    k[[11, 12], 0] = 500 + hip_half, 500 - hip_half
    k[[11, 12], 1] = 300 + trunk
    return k


def test_skew_from_the_width_ratio():
    wide = TH["frontal_width_ratio"]
    square = body(wide * 200 * 0.6 / 2, wide * 200 * 0.4 / 2)  # ratio = frontal_width_ratio
    assert pl.width_ratio(square, min_frames=1) == pytest.approx(wide)
    assert pl.skew_deg("front", wide, TH) == pytest.approx(0.0)
    assert pl.skew_deg("side", wide, TH) == pytest.approx(90.0)
    half = wide * np.cos(np.radians(60))  # seen 60 degrees off the front = 30 off the side
    assert pl.skew_deg("front", half, TH) == pytest.approx(60.0)
    assert pl.skew_deg("side", half, TH) == pytest.approx(30.0)
    # the side camera's reference is the person's own frontal width when the front measured it
    assert pl.skew_deg("side", 0.5, TH, front_ratio=1.0) == pytest.approx(30.0)
    assert pl.skew_deg("side", 0.5, TH, front_ratio=0.2) == pytest.approx(
        np.degrees(np.arcsin(0.5 / (0.5 * wide))))  # at least half the table's
    assert pl.skew_deg("front", None, TH) is None
    assert pl.orientation(wide, TH) == "front" and pl.orientation(0.05, TH) == "side"
    assert pl.orientation(half, TH) == "oblique"
    # seen from the side the trunk runs from the near shoulder to the near hip
    k = body(10, 5)
    k[6, 0] += 100  # the far shoulder wanders off
    assert pl.width_ratio(k, near="left", min_frames=1) == pytest.approx(90 / np.hypot(5, 200))
    assert pl.width_ratio(k, min_frames=1) == pytest.approx(90 / np.hypot(50 - 0, 200))


def test_facing_the_camera_is_square_and_not_turned_round():
    square = body(60, 40)
    assert pl.facing_camera(square, TH)
    assert not pl.facing_camera(body(-60, -40), TH)  # the back turned to the camera
    assert not pl.facing_camera(body(8, 5), TH)  # turned sideways (about 84 degrees off)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(map(str, argv)))
    return code, out.getvalue(), err.getvalue()


def test_ohsa_check_and_the_rules_give_the_same_skew(tmp_path, movenet):
    """On the same frames of the shared pair (where the person stands, arms overhead, as for a
    placement check), `ohsa check` reports the skew an assessment's view gate computes."""
    views = {}
    for view, name in (("front", "front.mov"), ("side", "side_oblique.mov")):
        with open_media(PAIR / name) as media:
            frames = [rgb for _, rgb in media]
        kps = np.array([estimate_image(movenet, rgb).to_array() for rgb in frames])
        hips = kps[:, [11, 12], 1].mean(axis=1)
        keep = np.flatnonzero(hips <= hips.min() + 40)  # standing: hips near their highest
        assert len(keep) >= 5
        folder = tmp_path / view
        folder.mkdir()
        for i in keep:  # lossless, so `ohsa check` decodes the very same pixels
            cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR))
        views[view] = ViewTrack(frames[0].shape[1], frames[0].shape[0], 30.0, keep / 30.0, kps[keep])
    rules = evaluate(Track(views))["views"]
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text("")
    code, out, err = run("check", "--front", tmp_path / "front", "--side", tmp_path / "side",
                         "--frames", 100, "--json", "--config", cfg, "--model", MODEL)
    checked = json.loads(out)["views"]
    for view in ("front", "side"):
        assert checked[view]["frames"] == rules[view]["frames"]
        assert checked[view]["skew_deg"] == pytest.approx(rules[view]["skew_deg"], abs=0.06), view
    # the oblique side camera: both say it is over the limit, by one number
    assert rules["side"]["status"] == "unusable" and checked["side"]["orientation"] == "oblique"
    assert checked["side"]["skew_deg"] > TH["side_max_skew_deg"] and code == 1


def test_the_rules_view_measure_is_placements(movenet):
    """The rule engine's width ratio of a view (device.rules.views.width_ratio on the cleaned
    signals) is placement.width_ratio on the same points, so the rules can call it directly."""
    from device.rules import signals, views

    with open_media(PAIR / "side_oblique.mov") as media:
        frames = [rgb for _, (_, rgb) in zip(range(40), media)]
    kps = np.array([estimate_image(movenet, rgb).to_array() for rgb in frames])
    vt = ViewTrack(frames[0].shape[1], frames[0].shape[0], 30.0, np.arange(len(kps)) / 30.0, kps)
    for name in ("front", "side"):
        vs = views.analyse(name, signals.prepare(name, vt, TH), TH)
        idx = np.arange(len(kps))
        points = np.stack([vs.v.x, vs.v.y], axis=-1)
        assert pl.width_ratio(points[idx], vs.near) == pytest.approx(views.width_ratio(vs, idx), abs=1e-12)
        assert vs.near == (pl.near_side(kps) if name == "side" else None)
