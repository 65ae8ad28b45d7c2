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
