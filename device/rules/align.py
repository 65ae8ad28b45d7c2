"""The one clock aligner: line up two views of the same squats by cross-correlating hip height.

Used once per analysis: by `device.rules.evaluate` within `max_clock_offset_s` when the track's
views already share a clock (the station, `ohsa rules`), and by the analysis pipeline with no
limit for recordings that started at different moments (`ohsa assess`).

Both cameras see the hips go down and up at the same moments, whatever the angle, so the
height of the hips over time (image y, the view's own scale) is one curve per view. Both are
resampled to a common rate and compared at every lag (Pearson correlation over the overlap);
the best lag, refined between samples, is the offset.

`offset` means: side file time + offset = front file time (the side clip started `offset`
seconds after the front clip). A result is only used when the curves move (someone squatted)
and agree (correlation >= MIN_CORRELATION); otherwise `estimate_offset` says why not.

Recordings need not share a time base either: the shared pair's side clip runs about 1.38 times
the front clip's rate (the same squat lasts 1.7 s in one and 2.15 s in the other, docs/geometry.md).
`estimate_clock` (used by `ohsa assess`) also fits a rate: side file time / rate + offset = front
file time. A rate other than 1 is kept only when it matches the hip curves clearly better
(`RATE_MIN_GAIN`); cameras on one station share a clock and never need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.keypoints import BodyPart
from device.track import ViewTrack

RATE_HZ = 30.0  # common resampling rate
MIN_SCORE = 0.2  # hips below this score count as not seen
MIN_CORRELATION = 0.6  # below this the two curves do not show the same motion
MIN_OVERLAP = 0.5  # of the shorter clip, and at least MIN_OVERLAP_S
MIN_OVERLAP_S = 1.0
MIN_MOTION = 0.05  # hip travel (range / body height) below this: nothing to align on
RATES = (0.7, 1.45, 0.01)  # clock rates tried for recordings: from, to, step (coarse at 2 steps)
RATE_MIN_GAIN = 0.3  # a rate other than 1 must cut the hip curves' squared mismatch by this share
RATE_MIN_DEPARTURE = 0.03  # ... and differ from 1 by at least this much


@dataclass(frozen=True)
class Alignment:
    offset_s: float | None  # side time / rate + offset = front time; None when it could not be found
    correlation: float | None
    reason: str  # plain words: how it was found, or why not
    rate: float = 1.0  # how many seconds of the side clip pass in one of the front clip

    def to_front(self, times: np.ndarray) -> np.ndarray:
        """Side clip times on the front clip's clock."""
        return np.asarray(times, dtype=np.float64) / self.rate + (self.offset_s or 0.0)

    def to_json(self) -> dict:
        out = {
            "offset_s": None if self.offset_s is None else round(self.offset_s, 3),
            "correlation": None if self.correlation is None else round(self.correlation, 3),
            "reason": self.reason,
        }
        if self.rate != 1.0:  # only recordings on different time bases carry it
            out["rate"] = round(self.rate, 3)
        return out


def hip_height(view: ViewTrack) -> tuple[np.ndarray, np.ndarray, float]:
    """(times, hip y per frame with NaN where unseen, body height in pixels or NaN)."""
    kps = view.keypoints
    if len(kps) == 0:
        return view.times, np.zeros(0), float("nan")
    hips = kps[:, [BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP]]
    seen = hips[..., 2] >= MIN_SCORE
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(seen, hips[..., 1], 0.0).sum(axis=1) / seen.sum(axis=1)
    y[~seen.any(axis=1)] = np.nan
    shoulders = kps[:, [BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER], 1].mean(axis=1)
    ankles = kps[:, [BodyPart.LEFT_ANKLE, BodyPart.RIGHT_ANKLE], 1].mean(axis=1)
    ok = (kps[:, [5, 6, 15, 16], 2] >= MIN_SCORE).all(axis=1)
    height = float(np.median(ankles[ok] - shoulders[ok])) if ok.any() else float("nan")
    return view.times, y, height


def _resample(times: np.ndarray, y: np.ndarray, rate: float) -> tuple[float, np.ndarray] | None:
    good = np.isfinite(y)
    if good.sum() < 3:
        return None
    t, v = times[good], y[good]
    grid = np.arange(t[0], t[-1] + 0.5 / rate, 1.0 / rate)
    return float(t[0]), np.interp(grid, t, v)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def estimate_offset(front: ViewTrack, side: ViewTrack, max_lag_s: float | None = None,
                    rate: float = RATE_HZ) -> Alignment:
    tf, yf, hf = hip_height(front)
    ts, ys, hs = hip_height(side)
    rf, rs = _resample(tf, yf, rate), _resample(ts, ys, rate)
    if rf is None or rs is None:
        which = "front" if rf is None else "side"
        return Alignment(None, None, f"hips not seen in the {which} view")
    (f0, f), (s0, s) = rf, rs
    for name, curve, height in (("front", f, hf), ("side", s, hs)):
        travel = (curve.max() - curve.min()) / height if np.isfinite(height) and height > 0 else 0.0
        if travel < MIN_MOTION:
            return Alignment(None, None, f"no squat motion to align on in the {name} view")
    shorter = min(len(f), len(s))
    min_overlap = max(int(MIN_OVERLAP * shorter), int(MIN_OVERLAP_S * rate), 3)
    if shorter < min_overlap:
        return Alignment(None, None, "clips too short to align")
    # lag k: side sample i lines up with front sample i + k
    lo, hi = -(len(s) - min_overlap), len(f) - min_overlap
    if max_lag_s is not None:
        base = (s0 - f0) * rate  # lag already implied by the clips' own first frames
        lo, hi = max(lo, int(np.floor(base - max_lag_s * rate))), min(hi, int(np.ceil(base + max_lag_s * rate)))
    lags = np.arange(lo, hi + 1)
    scores = np.full(len(lags), -1.0)
    for j, k in enumerate(lags):
        i0, i1 = max(0, -k), min(len(s), len(f) - k)
        if i1 - i0 >= min_overlap:
            scores[j] = _corr(f[i0 + k:i1 + k], s[i0:i1])
    best = int(np.argmax(scores))
    peak = float(scores[best])
    if peak < MIN_CORRELATION:
        return Alignment(None, peak, f"hip motion of the two views does not match (correlation {peak:.2f})")
    shift = 0.0
    if 0 < best < len(lags) - 1 and scores[best - 1] > -1 and scores[best + 1] > -1:
        a, b, c = scores[best - 1], scores[best], scores[best + 1]
        den = a - 2 * b + c
        if den < 0:
            shift = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    lag_s = (lags[best] + shift) / rate
    # front sample index k+i (time f0 + (k+i)/rate) matches side time s0 + i/rate
    offset = f0 + lag_s - s0
    return Alignment(offset, peak, f"from the hip motion (correlation {peak:.2f})")


def _unit_curve(view: ViewTrack) -> tuple[np.ndarray, np.ndarray]:
    t, y, _ = hip_height(view)
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    return t, (y - np.median(y)) / max(float(np.ptp(y)), 1e-6) if len(y) else y


def _mismatch(tf, yf, ts, ys, rate: float, off: float) -> float:
    """Mean squared difference of the hip curves with front time t at side time rate * t + off."""
    at = rate * tf + off
    inside = (at >= ts[0]) & (at <= ts[-1])
    if inside.mean() < MIN_OVERLAP:
        return float("inf")
    return float(np.mean((yf[inside] - np.interp(at[inside], ts, ys)) ** 2))


def estimate_clock(front: ViewTrack, side: ViewTrack, max_lag_s: float | None = None) -> Alignment:
    """`estimate_offset`, then a clock rate for recordings on different time bases.

    First the side clip's times are divided by each rate of `RATES` (every other step) and the
    offset found for each: the best-correlated gives where the clips meet. Then, round that, every
    rate and offset within half a second is scored by the mean squared difference of the two hip
    curves (each scaled to its range), which a single rep's stretch shows better than a
    correlation does. A rate other than 1 is kept when it cuts that difference by `RATE_MIN_GAIN`."""
    from dataclasses import replace

    found = estimate_offset(front, side, max_lag_s)
    lo, hi, step = RATES
    coarse = {float(r): estimate_offset(front, replace(side, times=side.times / r), max_lag_s)
              for r in np.arange(lo, hi + step / 2, 2 * step)}
    rate_c = max(coarse, key=lambda r: coarse[r].correlation if coarse[r].offset_s is not None else -1.0)
    if coarse[rate_c].offset_s is None:
        return found
    tf, yf = _unit_curve(front)
    ts, ys = _unit_curve(side)
    if len(tf) < 3 or len(ts) < 3:
        return found
    mid = float(np.median(tf))
    side_mid = rate_c * (mid - coarse[rate_c].offset_s)  # front time t <-> side time rate * t + b

    def sweep(rates, centre_of):
        best = (float("inf"), 1.0, 0.0)
        for rate in rates:
            c = centre_of(rate)
            for b in np.arange(c - 0.5, c + 0.5 + 1e-9, 0.01):
                d = _mismatch(tf, yf, ts, ys, float(rate), float(b))
                if d < best[0]:
                    best = (d, float(rate), float(b))
        return best

    d, rate, b = sweep(np.arange(lo, hi + step / 2, step), lambda r: side_mid - r * mid)
    base = sweep([1.0], lambda r: -found.offset_s if found.offset_s is not None else side_mid - mid)[0]
    if abs(rate - 1.0) < RATE_MIN_DEPARTURE or not d <= (1 - RATE_MIN_GAIN) * base:
        return found
    corr = coarse[min(coarse, key=lambda r: abs(r - rate))].correlation
    return Alignment(-b / rate, corr,
                     f"from the hip motion; the side clip's clock runs {rate:.2f} times the front's "
                     f"(the hip curves match {base / max(d, 1e-12):.1f} times better with it)", rate)
