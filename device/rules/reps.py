"""Rep segmentation from the depth signal, and time alignment of the two views.

A rep starts when depth passes `rep_enter_depth`, ends when it comes back under
`rep_exit_depth`, and is judged only if its deepest point reached `rep_min_depth` (shallower
dips are counted as shallow; quicker than `rep_min_duration_s` is noise). A rep is dropped as
incomplete when a gap longer than `max_gap_s` cuts it (the person left the picture), when the
recording ends in it, or when it was already under way as the recording began (or as the
person came back into the picture). A pause at the bottom or at the top changes nothing; the
bottom of a paused rep is the middle of the pause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Rep:
    start: int  # frame indices in the view it was found in
    bottom: int
    end: int
    peak: float  # deepest depth
    t_start: float
    t_bottom: float
    t_end: float


@dataclass
class Segmentation:
    reps: list[Rep]
    shallow: int = 0
    incomplete: int = 0


def segment(t: np.ndarray, d: np.ndarray, th: dict) -> Segmentation:
    enter, leave, need = th["rep_enter_depth"], th["rep_exit_depth"], th["rep_min_depth"]
    max_gap = th["max_gap_s"]
    reps: list[Rep] = []
    shallow = incomplete = 0
    down = partial = False
    standing_seen = False  # a rep counts only if the person was seen standing before it
    last_low = None  # last frame standing (depth under half the exit level)
    last_ok_t = None
    start = peak_i = 0
    peak = 0.0
    for i in range(len(d)):
        v = d[i]
        if v != v:  # NaN: lost
            continue
        if last_ok_t is not None and t[i] - last_ok_t > max_gap:
            if down:  # lost mid-rep: the person left the picture
                down = False
                incomplete += 1
            standing_seen, last_low = False, None
        last_ok_t = t[i]
        if not down:
            if v < leave:
                standing_seen = True
            if v <= leave * 0.5:
                last_low = i
            if v > enter:
                partial = not standing_seen  # the recording (or the view) began mid-rep
                down, peak, peak_i = True, v, i
                start = last_low if (last_low is not None and not partial) else i
        else:
            if v > peak:
                peak, peak_i = v, i
            if v < leave:
                down = False
                if partial:
                    incomplete += 1
                elif t[i] - t[start] < th["rep_min_duration_s"]:
                    pass  # too quick to be a squat: noise
                elif peak >= need:
                    seg = d[start : i + 1]
                    deep = np.flatnonzero(seg >= peak - 0.02 * max(peak, 0.1))
                    b = start + int(deep[len(deep) // 2]) if len(deep) else peak_i
                    reps.append(Rep(start, b, i, float(peak), float(t[start]), float(t[b]), float(t[i])))
                else:
                    shallow += 1
                last_low, standing_seen = i, True
    if down:
        incomplete += 1
    return Segmentation(reps, shallow, incomplete)


def clock_offset(ta, da, tb, db, max_offset: float, step: float = 0.02) -> tuple[float, float]:
    """Offset (s) to add to view a's times to find the same moment in view b, and its correlation.

    Both depth signals see the same hip motion, so the lag that best correlates them is the
    difference between the cameras' clocks. Returns (0.0, corr) when the signals are too short
    or too flat to tell.
    """
    ok_a, ok_b = np.isfinite(da), np.isfinite(db)
    if ok_a.sum() < 10 or ok_b.sum() < 10:
        return 0.0, 0.0
    lo = max(ta[ok_a][0], tb[ok_b][0] - max_offset)
    hi = min(ta[ok_a][-1], tb[ok_b][-1] + max_offset)
    if hi - lo < 2.0:
        return 0.0, 0.0
    grid = np.arange(lo, hi, step)
    m = int(round(max_offset / step))
    ga = np.interp(grid, ta[ok_a], da[ok_a], left=np.nan, right=np.nan)
    gb_t = np.arange(lo - m * step, hi + (m + 1) * step, step)
    gb = np.interp(gb_t, tb[ok_b], db[ok_b], left=np.nan, right=np.nan)
    shifted = np.lib.stride_tricks.sliding_window_view(gb, len(grid))[: 2 * m + 1]  # row k: lag k - m
    # coarse to fine: every 5th lag on every 5th sample, then every lag near the best one
    last = len(shifted) - 1
    coarse = np.arange(0, last + 1, 5)
    c = _correlations(ga[::5], shifted[coarse][:, ::5], 10)
    k0 = int(coarse[int(np.argmax(c))])
    fine = np.arange(max(0, k0 - 5), min(last, k0 + 5) + 1)
    corr = _correlations(ga, shifted[fine], 50)
    j = int(np.argmax(corr))
    best = float(corr[j])
    if best < 0.5:
        return 0.0, max(best, 0.0)
    off = (int(fine[j]) - m) * step
    if 0 < j < len(fine) - 1 and corr[j - 1] > -2 and corr[j + 1] > -2:
        c0, c1, c2 = corr[j - 1], corr[j], corr[j + 1]
        if c0 - 2 * c1 + c2 < 0:
            off += step * 0.5 * (c0 - c2) / (c0 - 2 * c1 + c2)
    return float(off), best


def _correlations(a: np.ndarray, rows: np.ndarray, min_count: int) -> np.ndarray:
    """Pearson correlation of `a` with each row, over the samples both have (-2 if too few)."""
    ok = np.isfinite(a)[None, :] & np.isfinite(rows)
    cnt = ok.sum(axis=1)
    x = np.where(ok, a[None, :], 0.0)
    y = np.where(ok, rows, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(ok, x - (x.sum(axis=1) / cnt)[:, None], 0.0)
        y = np.where(ok, y - (y.sum(axis=1) / cnt)[:, None], 0.0)
        corr = (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    return np.where((cnt >= min_count) & np.isfinite(corr), corr, -2.0)
