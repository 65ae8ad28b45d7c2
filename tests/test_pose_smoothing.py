"""Smoothing: steadies a still person, does not lag or flatten the bottom of a squat."""

import numpy as np
import pytest

from device.pose.smoothing import OneEuro

FPS = 30.0
SIDE = 640.0  # the filter works in frame sides; this is a 640-pixel frame


def _squat(t, depth_px=150.0):
    """Hip height (pixels, y down): stand still 1 s, then 2 s cosine squats; lowest at t = 2, 4, 6 s."""
    y = 300.0 + depth_px / 2 * (1 - np.cos(2 * np.pi * (t - 1.0) / 2.0))
    return np.where(t < 1.0, 300.0, y)


def _run(filter_, t, y):
    # 17 keypoints, (x, y) each; x constant, y the trajectory, in frame sides as the tracker does
    out = []
    for ti, yi in zip(t, y):
        xy = np.tile([[0.5, yi / SIDE]], (17, 1))
        out.append(filter_(xy, ti)[:, 1] * SIDE)
    return np.array(out)


def _lowest_point(t, y, around):
    """Time and depth of the lowest point near `around`: the vertex of a parabola fitted to
    +-0.3 s (robust to noise, unlike the single largest sample)."""
    w = np.abs(t - around) < 0.3
    c = np.polyfit(t[w] - around, y[w], 2)
    tv = -c[1] / (2 * c[0])
    return around + tv, float(np.polyval(c, tv))


@pytest.mark.parametrize("noise_px, seed", [(0.0, 0), (1.5, 1), (1.5, 2)])
def test_bottom_of_squat_is_not_lagged(noise_px, seed):
    t = np.arange(0, 7, 1 / FPS)
    truth = _squat(t)
    rng = np.random.default_rng(seed)
    measured = truth + rng.normal(0, noise_px, t.shape)
    smoothed = _run(OneEuro(), t, measured)
    assert smoothed.shape == (len(t), 17)
    for bottom in (2.0, 4.0, 6.0):
        t_found, depth_found = _lowest_point(t, smoothed[:, 0], bottom)
        assert abs(t_found - bottom) <= 1.0 / FPS, f"lowest point at {t_found:.3f}s, truth {bottom}s"
        assert abs(depth_found - 450.0) <= 1.0, f"lowest point {depth_found:.1f}px, truth 450"


def test_a_plain_low_pass_would_fail_that_test():
    """The test above can fail: an exponential filter at the still-person cutoff lags the bottom."""
    t = np.arange(0, 7, 1 / FPS)
    t_found, depth_found = _lowest_point(t, _run(OneEuro(beta=0.0), t, _squat(t))[:, 0], 4.0)
    assert t_found - 4.0 > 3.0 / FPS and 450.0 - depth_found > 10.0


def test_still_person_jitter_is_reduced():
    t = np.arange(0, 3, 1 / FPS)
    rng = np.random.default_rng(7)
    measured = 300.0 + rng.normal(0, 2.0, t.shape)
    smoothed = _run(OneEuro(), t, measured)[:, 0]
    settled = t > 0.5
    assert np.std(smoothed[settled]) < np.std(measured[settled]) / 2
    assert abs(np.mean(smoothed[settled]) - 300.0) < 1.0


def test_reset_and_time_going_backwards_restart_the_filter():
    f = OneEuro()
    f(np.zeros((17, 2)), 0.0)
    f(np.zeros((17, 2)), 0.033)
    jump = np.full((17, 2), 0.01)  # a 6-pixel jump in a 640-pixel frame
    assert np.all(f(jump, 0.066) < 0.007)  # a jump is smoothed...
    f.reset()
    assert np.all(f(jump, 0.1) == 0.01)  # ...but not across a reset
    assert np.all(f(np.zeros((17, 2)), 0.05) == 0.0)  # backwards in time: start again
