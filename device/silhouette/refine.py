"""`refine`: feet, heels and low back from silhouettes, merged into an `ohsa-result/1`.

    refine(result, frames, track, backgrounds=None, thresholds=None) -> result (a new dict)

Inputs (what the camera and station layers pass):

- `result`: the rules' `ohsa-result/1` (`device.rules.evaluate`) with `rep_windows`
  (`[{"start", "bottom", "end"}]`, seconds on the shared clock) and, when present, `views`
  (`views[view]["status"] != "ok"` means the rules found that view unusable, e.g. a skewed side
  camera; refine then leaves that view's entries alone).
- `frames`: `{"front": [(t, rgb), ...], "side": [...]}`; RGB uint8 `(H, W, 3)` as the camera
  layer delivers them, `t` on the same clock as the track. Only frames standing before/between
  reps and within 0.12 s of each rep's bottom are used, so a caller may pass just those (see
  `wanted(t, rep_windows)`); with no `backgrounds` the frames also build the background, and then
  more frames spread over the set help (every 3rd frame is plenty).
- `track`: the `device.track.Track` the result was computed from (keypoints in the frames' pixels).
- `thresholds`: the `device.thresholds.Thresholds` in force (the rules get the same object), or
  overrides by name; the `silhouette_*` entries decide here.
- `backgrounds`: `{"front": rgb, "side": rgb}`, each camera's empty scene from its
  `BackgroundModel` (kept while the station is idle), same size as the frames. None or a missing
  view: a keypoint-guided temporal median of the frames is used, which cannot see the floor the
  feet stood on all along, so feet and heels are then usually not assessed.

Output: the same result with `feet_turn_out`, `feet_turn_in`, `heels_rise`, `low_back_arch`,
`low_back_round` replaced (status, reps_flagged, side, value, unit, threshold, confidence,
severity, reason, rep_values) where the measurement is trustworthy, unchanged otherwise; plus
`result["silhouette"]`: per view, what background was used and why an entry was not replaced;
the front view's `standing_toe_out_deg` ({"left", "right"}: each foot's toe-out when standing,
degrees, + out, from the standing forefoot's sideways offset; within 2 degrees on the renderer's
box feet, tests/test_silhouette.py) for the 3-D knees (device/analysis/pipeline.py).
`feet_flatten` is never touched: no honest measurement of the arch from these views.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from device import verdict
from device.silhouette import measure
from device.silhouette import thresholds as th
from device.silhouette.background import median_background
from device.silhouette.mask import person_mask
from device.thresholds import THRESHOLDS, Thresholds
from device.track import Track, ViewTrack
from device.vocabulary import ABSENT, COMPENSATIONS, NOT_ASSESSED, PRESENT

log = logging.getLogger(__name__)

PROC_MAX = 640  # frames are processed with their longer side at most this many pixels
BOTTOM_S = 0.12  # frames this close to a rep's bottom show the bottom
MAX_STANDING = 6  # most upright standing frames measured for the baseline
MAX_BOTTOM = 3  # frames nearest each rep's bottom measured
MAX_MEDIAN_FRAMES = 40
MAX_BACK_RESID = 0.012  # bottom vs standing back contour mismatch (share of trunk length): unreliable


def wanted(t: float, rep_windows: list[dict]) -> bool:
    """Whether refine uses a frame at time t: standing before/between reps or near a bottom."""
    if not rep_windows:
        return True
    if t < rep_windows[0]["start"] or t > rep_windows[-1]["end"]:
        return True
    for i, w in enumerate(rep_windows):
        if abs(t - w["bottom"]) <= BOTTOM_S:
            return True
        if i + 1 < len(rep_windows) and w["end"] <= t <= rep_windows[i + 1]["start"]:
            return True
    return False


@dataclass
class _Frame:
    t: float
    rgb: np.ndarray
    kps: np.ndarray
    mask: np.ndarray | None = None


def _kps_at(view: ViewTrack, t: float) -> np.ndarray | None:
    if len(view) == 0:
        return None
    i = int(np.argmin(np.abs(view.times - t)))
    if abs(view.times[i] - t) > max(0.6 / view.fps, 0.05):
        return None
    k = view.keypoints[i].astype(np.float64).copy()
    lost = ~np.isfinite(k).all(axis=1)  # a lost keypoint counts as unseen
    k[lost] = 0.0
    k[:, :2] = np.clip(k[:, :2], -4.0 * view.width, 5.0 * view.width)  # keep drawing sane
    return k


class _View:
    """One view's frames at processing scale, its background and the frames refine looks at."""

    def __init__(self, name, frames, vtrack: ViewTrack, windows, background):
        self.name = name
        self.reason = None
        self.background_kind = None
        frames = [(float(t), rgb) for t, rgb in frames]
        if not frames:
            self.reason = "no frames"
            return
        h, w = frames[0][1].shape[:2]
        self.scale = min(1.0, PROC_MAX / max(h, w))
        self.size = (int(round(w * self.scale)), int(round(h * self.scale)))
        paired = []
        for t, rgb in frames:
            k = _kps_at(vtrack, t)
            if k is not None and rgb.shape[:2] == (h, w):
                paired.append((t, rgb, k))
        if not paired:
            self.reason = "no keypoints at the frames' times"
            return
        self.all = paired
        self.windows = windows
        self._background(background, h, w)
        if self.reason:
            return
        self._select()

    def _small(self, rgb, kps):
        k = kps.copy()
        k[:, :2] *= self.scale
        if self.scale == 1.0:
            return rgb, k
        return cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA), k

    def _background(self, background, h, w):
        self.valid = None
        if background is not None and background.shape[:2] == (h, w) and background.ndim == 3:
            self.bg = self._small(background, np.zeros((17, 3)))[0]
            self.background_kind = "empty scene (idle model)"
            return
        if background is not None:
            log.warning("%s background is %s, frames are %dx%d: ignored", self.name,
                        background.shape, w, h)
        pick = np.linspace(0, len(self.all) - 1, min(len(self.all), MAX_MEDIAN_FRAMES)).round().astype(int)
        small = [self._small(self.all[i][1], self.all[i][2]) for i in sorted(set(pick))]
        if len(small) < 5:
            self.reason = "no empty-scene background and too few frames to build one"
            return
        self.bg, self.valid = median_background([s[0] for s in small], [s[1] for s in small])
        self.background_kind = "temporal median where the person moved (no empty scene)"

    def _select(self):
        win = self.windows
        stand = [f for f in self.all if not _in_rep(f[0], win)]
        bottoms = [sorted((f for f in self.all if abs(f[0] - w["bottom"]) <= BOTTOM_S),
                          key=lambda f, b=w["bottom"]: abs(f[0] - b))[:MAX_BOTTOM] for w in win]
        self.standing: list[_Frame] = []
        if stand:
            hips = np.array([_hip_y(f[2]) for f in stand])
            shanks = [measure.shank_px(f[2]) for f in stand]
            shank = np.nanmedian([s if s else np.nan for s in shanks]) if any(shanks) else np.nan
            if np.isfinite(shank) and np.isfinite(hips).any():
                upright = hips <= np.nanmin(hips) + 0.08 * shank
                picked = [f for f, u in zip(stand, upright) if u]
                idx = np.linspace(0, len(picked) - 1, min(len(picked), MAX_STANDING)).round().astype(int)
                self.standing = [_Frame(picked[i][0], *self._small(picked[i][1], picked[i][2]))
                                 for i in sorted(set(idx))]
        self.bottoms: list[list[_Frame]] = [
            [_Frame(f[0], *self._small(f[1], f[2])) for f in b] for b in bottoms
        ]
        if not self.standing:
            self.reason = "no standing frames before or between the reps"
        elif not any(self.bottoms):
            self.reason = "no frames at the bottom of any rep"

    def masks(self):
        for f in self.standing + [f for b in self.bottoms for f in b]:
            if f.mask is None:
                f.mask = person_mask(f.rgb, self.bg, f.kps, self.valid)

    @property
    def shank(self) -> float | None:
        vals = [measure.shank_px(f.kps) for f in self.standing]
        vals = [v for v in vals if v]
        return float(np.median(vals)) if vals else None


def _in_rep(t, windows) -> bool:
    return any(w["start"] <= t <= w["end"] for w in windows)


def _hip_y(kps) -> float:
    p = measure._mean_pt(kps, (measure.L_HIP, measure.R_HIP))
    return float(p[1]) if p is not None else np.nan


def _trunk(kps) -> float | None:
    hip = measure._mean_pt(kps, (measure.L_HIP, measure.R_HIP))
    sho = measure._mean_pt(kps, (measure.L_SHO, measure.R_SHO))
    return None if hip is None or sho is None else float(np.linalg.norm(sho - hip))


def _threshold(cid: str, limits: Thresholds, name: str | None = None) -> float:
    return limits[name or COMPENSATIONS[cid].threshold]


def _entry(cid, status, reps_flagged, side, value, unit, threshold, confidence, reason, rep_values,
           threshold_name: str | None = None) -> dict:
    spec = THRESHOLDS[threshold_name or COMPENSATIONS[cid].threshold]
    return {
        "status": status,
        "reps_flagged": int(reps_flagged),
        "side": side,
        "value": None if value is None else round(float(value), 2),
        "unit": unit,
        "threshold": threshold,
        "confidence": round(float(confidence), 2),
        "severity": verdict.severity(value, threshold, spec.step, spec.direction) if status == PRESENT else "none",
        "reason": reason,
        "rep_values": [None if x is None else round(float(x), 3) for x in rep_values],  # per rep, as the rules
    }


def _consistency(values, threshold) -> float:
    if len(values) < 2:
        return 0.85  # one rep: nothing to cross-check
    return float(1.0 / (1.0 + (np.std(values) / threshold) ** 2))


# --- front view: feet ---------------------------------------------------------------------------


def _turn(offset: float, shank: float) -> float:
    """A foot's turn (degrees, + out) from a change of its forefoot's outward offset (pixels)."""
    return math.degrees(math.asin(max(-1.0, min(1.0, offset / (th.TOE_REACH * shank)))))


def _toe_out(offset: float, shank: float) -> float:
    """A foot's own toe-out (degrees, + out, from the front camera's line of sight) from its
    forefoot's outward offset (pixels), corrected for the reading's bias."""
    return th.TOE_OUT_GAIN * _turn(offset, shank) - th.TOE_OUT_OFFSET_DEG


def _feet(v: _View, n_reps: int, limits: Thresholds, standing: dict | None = None,
          footprints: dict | None = None) -> tuple[dict, str | None]:
    """feet_turn_out / feet_turn_in (the turn from the standing start); `standing` gets each
    foot's standing toe-out (degrees, + out) where the standing frames show it.

    `footprints` ({"left", "right"}: the printed footprints' toe-out, degrees, + out; the mat):
    `feet_turn_out` is then the feet's toe-out at the bottom against the footprints' direction,
    judged on the compensation's `threshold_mat` (a person who stands turned out on the mat turns
    out, even without turning further during the squat); `feet_turn_in` stays the turn from the
    standing start."""
    shank = v.shank
    if not shank or shank < th.MIN_SHANK_PX:
        return {}, "the person's legs are too small in the front image"
    widths = [abs(f.kps[measure.L_HIP, 0] - f.kps[measure.R_HIP, 0]) / (_trunk(f.kps) or np.inf)
              for f in v.standing]
    if np.median(widths) < th.FRONT_VIEW_MIN_WIDTH:
        return {}, "the front camera does not face the person"
    v.masks()
    per_foot, against = {}, {}
    for name, ank in (("left", measure.L_ANK), ("right", measure.R_ANK)):
        base = [measure.forefoot_offset(f.mask, f.kps, ank, shank, v.valid) for f in v.standing]
        base = [b for b in base if b is not None]
        if len(base) < max(1, len(v.standing) // 2):
            continue
        b0 = float(np.median(base))
        if standing is not None:  # the standing forefoot's offset is the foot's own toe-out
            standing[name] = round(_toe_out(b0, shank), 1)
        reps, absolute = [], []
        for frames in v.bottoms:
            vals = [measure.forefoot_offset(f.mask, f.kps, ank, shank, v.valid) for f in frames]
            vals = [x for x in vals if x is not None]
            if not vals:
                reps.append(None)
                absolute.append(None)
                continue
            reps.append(_turn(float(np.median(vals)) - b0, shank))
            absolute.append(_toe_out(float(np.median(vals)), shank))
        per_foot[name] = reps
        if footprints is not None and name in footprints:
            against[name] = [None if a is None else a - float(footprints[name]) for a in absolute]
    if not per_foot:
        return {}, "the feet are not clear in the front view's silhouette"
    measured = [i for i in range(n_reps) if all(per_foot[s][i] is not None for s in per_foot)]
    if not verdict.measured_enough(len(measured), n_reps):
        return {}, f"the feet are clear at the bottom of only {len(measured)} of {n_reps} reps"
    scores = np.mean([f.kps[[measure.L_ANK, measure.R_ANK], 2].mean() for f in v.standing])
    coverage = len(measured) / n_reps * (len(per_foot) / 2)
    out = {}
    for cid, sign in (("feet_turn_out", 1.0), ("feet_turn_in", -1.0)):
        prints = cid == "feet_turn_out" and footprints is not None and set(against) == set(per_foot)
        name = COMPENSATIONS[cid].threshold_mat if prints else None
        thr = _threshold(cid, limits, name)
        source = against if prints else per_foot
        flagged, sides, worst = 0, set(), []
        per_rep: list[float | None] = [None] * n_reps
        for i in measured:
            turn = {s: sign * source[s][i] for s in source}
            worst.append(max(turn.values()))
            per_rep[i] = worst[-1]
            over = [s for s, x in turn.items() if verdict.flagged(x, thr, "above")]
            if over:
                flagged += 1
                sides.update(over)
        value = float(np.median(worst))
        conf = min(1.0, scores / 0.6) * coverage * _consistency(worst, thr)
        present = verdict.is_present(flagged, len(measured))
        side = None
        if present:
            side = "both" if len(sides) == 2 else next(iter(sides))
        what = "out" if (sign > 0) == (value >= 0) else "in"
        word = "out" if sign > 0 else "in"
        how = (f"points {what} by {abs(value):.0f} degrees against the printed footprints at the bottom" if prints
               else f"turned {what} by {abs(value):.0f} degrees from the standing start")
        reason = (f"silhouette: the foot turning most {word} {how} (median of {len(measured)} reps; "
                  f"estimated from the forefoot's sideways shift, feet of "
                  f"{'both sides' if len(per_foot) == 2 else 'one side'} measured)")
        out[cid] = (_entry(cid, PRESENT if present else ABSENT, flagged, side, value, "degrees", thr, conf, reason,
                           per_rep, name), conf)
    return out, None


# --- side view: heels and low back ---------------------------------------------------------------


def _side_checks(v: _View) -> str | None:
    skews = []
    for f in v.standing:
        tr = _trunk(f.kps)
        if not tr:
            continue
        k = f.kps
        skews.append(max(abs(k[measure.L_HIP, 0] - k[measure.R_HIP, 0]),
                         abs(k[measure.L_SHO, 0] - k[measure.R_SHO, 0])) / tr)
    if not skews:
        return "hips and shoulders not found in the side view"
    if np.median(skews) > th.SIDE_VIEW_MAX_SKEW:
        return ("the side camera sees the person at an angle (left and right sides apart by "
                f"{np.median(skews):.0%} of the trunk); the heel and back contour need a true side view")
    return None


def _face(v: _View) -> float | None:
    votes = [measure.facing(f.kps) for b in v.bottoms for f in b]
    votes = [x for x in votes if x is not None]
    if not votes:
        return None
    return 1.0 if np.sum(votes) > 0 else -1.0


def _heels(v: _View, face: float, n_reps: int, rules_entry: dict | None,
           limits: Thresholds, heel_height=None) -> tuple[dict, str | None]:
    shank = v.shank
    if not shank or shank < th.MIN_SHANK_PX:
        return {}, "the person's legs are too small in the side image"
    floors = [measure.foot_floor(f.mask, f.kps, shank, face, v.valid) for f in v.standing]
    floors = [x for x in floors if x is not None]
    if len(floors) < max(1, len(v.standing) // 2):
        return {}, "the floor line under the feet is not clear in the side view (no empty-scene background?)"
    floor = int(np.median([x[0] for x in floors]))
    starts = [x[1][0] for x in floors]
    cols = floors[int(np.argsort(starts)[len(starts) // 2])][1]
    base = [measure.heel_bottom(f.mask, cols, floor, shank) for f in v.standing]
    base = [b for b in base if b is not None]
    if not base:
        return {}, "the heel is not clear in the standing frames"
    b0 = float(np.median(base))
    rows = []  # each rep's heel bottom row (processing pixels)
    for frames in v.bottoms:
        vals = [x for x in (measure.heel_bottom(f.mask, cols, floor, shank) for f in frames) if x is not None]
        rows.append(float(np.median(vals)) if vals else None)
    reps = [None if r is None else (b0 - r) / shank * th.SHANK_CM for r in rows]
    scale_words = "the shank-length scale"
    if heel_height is not None:  # the mat calibration's floor plane: centimetres through the camera
        metric = _metric_lifts(heel_height, float(np.mean(cols)), floor, b0, rows, v.scale)
        if metric is not None:
            reps, scale_words = metric, "the mat calibration's floor plane"
    measured = [r for r in reps if r is not None]
    if not verdict.measured_enough(len(measured), n_reps):
        return {}, f"the heel is clear at the bottom of only {len(measured)} of {n_reps} reps"
    thr = _threshold("heels_rise", limits)
    flagged = sum(verdict.flagged(r, thr, "above") for r in measured)
    value = float(np.median(measured))
    present = verdict.is_present(flagged, len(measured))
    conf = (len(measured) / n_reps) * _consistency(measured, thr) * min(1.0, shank / (2 * th.MIN_SHANK_PX))
    reason = (f"silhouette: heel {value:.1f} cm above its standing floor line (median of {len(measured)} reps; "
              f"centimetres from {scale_words})")
    # The rules' ankle-rise proxy cross-checks the silhouette. The rules keep its reading under
    # "proxy" of a not_assessed entry (the ankle point also rises in a deep squat with the heels
    # down), or judge it outright; so it only nudges the confidence.
    proxy = None
    if rules_entry:
        proxy = rules_entry.get("proxy") if isinstance(rules_entry.get("proxy"), dict) else rules_entry
    if proxy and proxy.get("status") in (PRESENT, ABSENT):
        agree = (proxy["status"] == PRESENT) == present
        conf = min(1.0, conf + 0.1) if agree else conf * 0.85
        reason += "; the ankle-rise proxy " + ("agrees" if agree else f"disagrees ({proxy['status']})")
    entry = _entry("heels_rise", PRESENT if present else ABSENT, flagged, None, value, "cm", thr, conf, reason, reps)
    if proxy and proxy is not rules_entry:
        entry["proxy"] = proxy  # keep the rules' reading for the trainer
    return {"heels_rise": (entry, conf)}, None


def _metric_lifts(heel_height, col: float, floor: int, b0: float, rows: list, scale: float) -> list | None:
    """Each rep's heel lift in cm through `heel_height(floor_uv, top_uv) -> metres` (pixels of the
    frames given to refine): the heel's height above the floor point under it at the bottom minus
    standing. None when the calibration cannot place the heel (the ray misses the floor)."""
    def above(row):
        return heel_height((col / scale, floor / scale), (col / scale, row / scale))

    h0 = above(b0)
    out = []
    for r in rows:
        h = None if r is None else above(r)
        if h is not None and not (math.isfinite(h) and math.isfinite(h0)):
            return None
        out.append(None if h is None else 100.0 * (h - h0))
    return out


def _back(v: _View, face: float, n_reps: int, limits: Thresholds) -> tuple[dict, str | None]:
    trunks = [t for t in (_trunk(f.kps) for f in v.standing) if t]
    if not trunks or np.median(trunks) < th.MIN_TRUNK_PX:
        return {}, (f"the trunk is {np.median(trunks) if trunks else 0:.0f} px long in the side frames; "
                    f"the back contour needs at least {th.MIN_TRUNK_PX:.0f} (frames of 640 px or a closer camera)")
    whys = []

    def profile(f):
        ds, why = measure.back_profile(f.mask, f.kps, face, v.valid)
        if ds is None:
            whys.append(why)
        return ds

    stand = [p for p in (profile(f) for f in v.standing) if p is not None]
    if len(stand) < max(2, len(v.standing) // 2):
        return {}, "standing back contour unreliable: " + (max(set(whys), key=whys.count) if whys else "no frames")
    with np.errstate(all="ignore"):
        reference = np.nanmedian(np.array(stand), axis=0)  # the person's own standing back
    hollow, _ = measure.profile_bend(reference)
    if hollow > -th.MIN_STANDING_HOLLOW_DEG:
        return {}, (f"the low back's natural hollow does not show when standing (contour bends "
                    f"{hollow:+.0f} degrees): a loose top or something on the back hides its shape")
    reps, resids = [], []
    for frames in v.bottoms:
        vals = []
        for f in frames:
            ds = profile(f)
            if ds is None:
                continue
            bend, resid = measure.bend_change(ds, reference)
            if bend is None or resid > MAX_BACK_RESID:
                whys.append("back contour at the bottom does not match the standing one (loose clothing?)")
                continue
            vals.append(bend)
            resids.append(resid)
        reps.append(float(np.median(vals)) if vals else None)
    measured = [r for r in reps if r is not None]
    if not verdict.measured_enough(len(measured), n_reps):
        return {}, (f"back contour reliable in only {len(measured)} of {n_reps} reps: "
                    + (max(set(whys), key=whys.count) if whys else "no frames"))
    smooth = max(0.0, 1.0 - float(np.median(resids)) / MAX_BACK_RESID)
    out = {}
    for cid, sign, word in (("low_back_round", 1.0, "rounder"), ("low_back_arch", -1.0, "more arched")):
        thr = _threshold(cid, limits)
        vals = [sign * r for r in measured]
        flagged = sum(verdict.flagged(x, thr, "above") for x in vals)
        value = float(np.median(vals))
        present = verdict.is_present(flagged, len(measured))
        conf = (len(measured) / n_reps) * _consistency(vals, thr) * (0.5 + 0.5 * smooth)
        reason = (f"silhouette: back contour {abs(value):.0f} degrees "
                  f"{word if value > 0 else ('more arched' if sign > 0 else 'rounder')} than standing "
                  f"(median of {len(measured)} reps)")
        out[cid] = (_entry(cid, PRESENT if present else ABSENT, flagged, None, value, "degrees", thr, conf, reason,
                           [None if r is None else sign * r for r in reps]), conf)
    return out, None


# what each note of a view explains
_NOTE_COVERS = {"reason": None, "feet": ("feet_turn_out", "feet_turn_in"), "heels": ("heels_rise",),
                "low_back": ("low_back_arch", "low_back_round")}


def _explain_unmeasured(comps: dict, notes: dict) -> None:
    """Entries the silhouette tried but could not measure say why (the rules' reason said only
    that keypoints cannot see them)."""
    low = notes.get("low_confidence") or {}
    for cid, comp in COMPENSATIONS.items():
        entry = comps.get(cid)
        if comp.method != "silhouette" or not entry or entry.get("status") != NOT_ASSESSED:
            continue
        note = notes.get(comp.view) or {}
        if "background" not in note and "code" not in note:
            continue  # the view was not given: nothing was tried
        why = next((note[k] for k, covers in _NOTE_COVERS.items()
                    if k in note and (covers is None or cid in covers)), None)
        if why is None and cid in low:
            why = f"its measurement was too uncertain (confidence {low[cid]:.2f})"
        if why is None:
            continue
        entry["reason"] = f"{entry.get('reason') or comp.unmeasured}; the silhouette could not measure it: {why}"
        entry["reason_code"] = note.get("code", "silhouette_unclear")


# --- the entry point -------------------------------------------------------------------------------


def refine(result: dict, frames: dict, track: Track, backgrounds: dict | None = None,
           thresholds: Thresholds | dict | None = None, heel_height=None, footprints: dict | None = None,
           side_round_deg: float | None = None) -> dict:
    """The result with feet, heels and low back measured from silhouettes where trustworthy.

    `footprints`: with the mat calibration in use, the printed footprints' toe-out per side
    (degrees, + out; `device.analysis.stereo.mat_foot_deg`): `feet_turn_out` is then judged as the
    feet's direction at the bottom against them (`_feet`). `side_round_deg`: the side camera's
    angle round toward the front when the mat calibration knows it: the back contour is not
    assessed beyond `BACK_MAX_ROUND_DEG` (device/silhouette/thresholds.py).

    `heel_height`: with a calibrated side camera (the mat), `(floor_uv, top_uv) -> metres` in the
    side frames' pixels (`device.geometry.calibration.height_above_floor`): the heel's lift is then
    measured above the floor plane in centimetres instead of through a typical shank length."""
    limits = Thresholds.of(thresholds)
    out = copy.deepcopy(result)
    comps = out.setdefault("compensations", {})
    windows = sorted(out.get("rep_windows") or [], key=lambda w: w["bottom"])
    notes: dict[str, dict] = {}
    out["silhouette"] = {"views": notes}
    if not windows:
        notes["all"] = {"reason": "no reps found"}
        return out
    backgrounds = backgrounds or {}
    n = len(windows)
    found: dict[str, tuple[dict, float]] = {}
    for name in ("front", "side"):
        if name not in (frames or {}) or name not in track.views:
            notes[name] = {"reason": f"no {name} frames or keypoints"}
            continue
        rules_view = (out.get("views") or {}).get(name) or {}
        if rules_view.get("status") not in (None, "ok"):  # the rules' own view checks (skew, ...)
            notes[name] = {"reason": f"{name} view not usable ({rules_view.get('reason') or rules_view['status']})",
                           "code": rules_view.get("reason_code") or "not_visible"}
            continue
        v = _View(name, frames[name], track.views[name], windows, backgrounds.get(name))
        note = {"background": v.background_kind}
        notes[name] = note
        if v.reason:
            note["reason"] = v.reason
            continue
        if name == "front":
            standing: dict = {}
            got, why = _feet(v, n, limits, standing, footprints)
            if standing:
                note["standing_toe_out_deg"] = standing
            found.update(got)
            if why:
                note["feet"] = why
            continue
        why = _side_checks(v)
        face = None if why else _face(v)
        if why or face is None:
            note["reason"] = why or "cannot tell which way the person faces"
            continue
        v.masks()
        got, why = _heels(v, face, n, comps.get("heels_rise"), limits, heel_height)
        found.update(got)
        if why:
            note["heels"] = why
        if side_round_deg is not None and abs(side_round_deg) > th.BACK_MAX_ROUND_DEG:
            note["low_back"] = (f"the side camera stands {abs(side_round_deg):.0f} degrees round toward the "
                                f"{'front' if side_round_deg > 0 else 'back'} (the mat calibration); the back "
                                f"contour needs a side view within {th.BACK_MAX_ROUND_DEG:g} degrees of square")
            continue
        got, why = _back(v, face, n, limits)
        found.update(got)
        if why:
            note["low_back"] = why
    for cid, (entry, conf) in found.items():
        if conf < th.MIN_CONFIDENCE:
            notes.setdefault("low_confidence", {})[cid] = round(conf, 2)
            continue
        comps[cid] = entry
    _explain_unmeasured(comps, notes)
    log.info("silhouette: replaced %s; notes %s", sorted(c for c in found if comps.get(c) is found[c][0]), notes)
    return out
