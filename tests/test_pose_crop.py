"""Pre-processing geometry and crop tracking: exact inverse mapping, crop choice, fallback."""

import numpy as np
import pytest

from device.pose import crop
from device.pose.crop import Square, around_keypoints, whole_frame
from device.keypoints import BodyPart


@pytest.mark.parametrize("w, h", [(640, 480), (480, 640), (500, 500), (1080, 1920)])
def test_whole_frame_is_a_centred_letterbox(w, h):
    sq = whole_frame(w, h)
    assert sq.side == max(w, h)
    assert sq.x0 + sq.side / 2 == pytest.approx(w / 2) and sq.y0 + sq.side / 2 == pytest.approx(h / 2)
    # the frame's corners map to where the letterbox puts them
    corners = np.array([[0.0, 0.0], [w, h]])
    norm = (corners - [sq.x0, sq.y0]) / sq.side
    assert np.allclose(sq.to_frame(norm), corners)


def _blob_frame(w, h, x, y, sigma):
    yy, xx = np.mgrid[0:h, 0:w]
    # pixel i covers i..i+1: its centre is at i + 0.5
    g = np.exp(-(((xx + 0.5 - x) ** 2) + ((yy + 0.5 - y) ** 2)) / (2 * sigma**2))
    return np.repeat((g * 255).astype(np.uint8)[..., None], 3, axis=2)


def _centroid_normalised(img):
    g = img[..., 0].astype(np.float64)
    g[g < 8] = 0  # ignore the tails quantised to a few levels
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return np.array([((xx + 0.5) * g).sum() / g.sum(), ((yy + 0.5) * g).sum() / g.sum()]) / img.shape[0]


@pytest.mark.parametrize(
    "w, h, square",
    [
        (640, 480, None),  # landscape letterbox (black above and below)
        (480, 640, None),  # portrait letterbox
        (500, 500, None),  # square frame: no padding
        (1080, 1920, Square(200.0, 700.0, 600.0)),  # a crop inside the frame
        (640, 480, Square(-100.0, 250.0, 400.0)),  # a crop reaching beyond the frame
    ],
)
def test_warp_and_inverse_mapping_agree(w, h, square):
    """A bright spot at a known pixel position lands, after warp and mapping back, where it was."""
    square = square or whole_frame(w, h)
    x, y = square.x0 + 0.37 * square.side, square.y0 + 0.61 * square.side
    x, y = min(max(x, 40), w - 40), min(max(y, 40), h - 40)
    sigma = 3.0 * square.side / crop.INPUT_SIZE  # ~3 input pixels wide
    rgb = _blob_frame(w, h, x, y, sigma)
    inp = crop.warp(rgb, square)
    assert inp.shape == (192, 192, 3) and inp.dtype == np.uint8
    back = square.to_frame(_centroid_normalised(inp)[None])[0]
    assert np.abs(back - [x, y]).max() < 0.05 * square.side / crop.INPUT_SIZE + 0.5, (back, (x, y))


def test_warp_pads_black_outside_the_frame():
    rgb = np.full((480, 640, 3), 200, np.uint8)
    inp = crop.warp(rgb, whole_frame(640, 480))
    band = (640 - 480) / 2 * 192 / 640  # 24 input rows of black above and below
    assert inp[: int(band) - 1].max() == 0 and inp[-int(band) + 1 :].max() == 0
    assert inp[int(band) + 1 : -int(band) - 1].min() == 200


def _standing(cx=300.0, top=100.0, height=400.0, score=0.8):
    """A plausible standing person's 17 keypoints, pixels."""
    rel = {
        BodyPart.NOSE: (0, 0.05), BodyPart.LEFT_EYE: (0.02, 0.03), BodyPart.RIGHT_EYE: (-0.02, 0.03),
        BodyPart.LEFT_EAR: (0.04, 0.05), BodyPart.RIGHT_EAR: (-0.04, 0.05),
        BodyPart.LEFT_SHOULDER: (0.1, 0.2), BodyPart.RIGHT_SHOULDER: (-0.1, 0.2),
        BodyPart.LEFT_ELBOW: (0.14, 0.35), BodyPart.RIGHT_ELBOW: (-0.14, 0.35),
        BodyPart.LEFT_WRIST: (0.15, 0.48), BodyPart.RIGHT_WRIST: (-0.15, 0.48),
        BodyPart.LEFT_HIP: (0.07, 0.52), BodyPart.RIGHT_HIP: (-0.07, 0.52),
        BodyPart.LEFT_KNEE: (0.07, 0.75), BodyPart.RIGHT_KNEE: (-0.07, 0.75),
        BodyPart.LEFT_ANKLE: (0.07, 1.0), BodyPart.RIGHT_ANKLE: (-0.07, 1.0),
    }  # fmt: skip
    kps = np.zeros((17, 3))
    for part, (dx, dy) in rel.items():
        kps[part] = (cx + dx * height, top + dy * height, score)
    return kps


def test_crop_around_a_person():
    kps = _standing()
    sq = around_keypoints(kps, 1280, 720)
    assert sq is not None
    lo, hi = kps[:, :2].min(axis=0), kps[:, :2].max(axis=0)
    assert sq.side == pytest.approx((hi - lo).max() * crop.MARGIN)  # square, box x margin
    centre = np.array([sq.x0 + sq.side / 2, sq.y0 + sq.side / 2])
    assert np.allclose(centre, (lo + hi) / 2)
    assert (kps[:, :2] > [sq.x0, sq.y0]).all() and (kps[:, :2] < [sq.x0 + sq.side, sq.y0 + sq.side]).all()


def test_crop_ignores_unseen_keypoints_but_keeps_legs_in_view():
    kps = _standing()
    kps[BodyPart.LEFT_ANKLE] = (1200, 700, 0.05)  # a wild, unsure keypoint: not part of the box
    base = around_keypoints(_standing(), 1280, 720)
    assert around_keypoints(kps, 1280, 720).x0 == pytest.approx(base.x0)
    # legs not seen yet: the square is still at least TORSO_FLOOR torso lengths
    upper = _standing()
    upper[BodyPart.LEFT_KNEE :, 2] = 0.1
    upper[BodyPart.LEFT_WRIST - 1 : BodyPart.RIGHT_WRIST + 1, 2] = 0.1
    sq = around_keypoints(upper, 1280, 720)
    torso = 0.32 * 400
    assert sq.side == pytest.approx(torso * crop.TORSO_FLOOR)


@pytest.mark.parametrize(
    "change",
    [
        lambda k: k.__setitem__((slice(None), 2), 0.1),  # nothing confident
        lambda k: k.__setitem__(([BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP], 2), 0.05),  # no hips
        lambda k: k.__setitem__(([BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER], 2), 0.0),  # no shoulders
    ],
)
def test_lost_person_means_whole_frame(change):
    kps = _standing()
    change(kps)
    assert around_keypoints(kps, 1280, 720) is None


def test_crop_size_is_bounded():
    huge = _standing(cx=640, top=-2000, height=6000)
    assert around_keypoints(huge, 1280, 720).side == 1280  # never larger than the letterbox
    tiny = _standing(cx=640, top=300, height=10)
    assert around_keypoints(tiny, 1280, 720).side == pytest.approx(1280 * crop.MIN_SIDE_FRACTION)
