"""The rule engine: from a two-view keypoint track to an `ohsa-result/1` (pure numpy).

    from device.rules import evaluate, count_reps
    result = evaluate(track)              # track: device.track.Track (front and/or side)
    n = count_reps(track.views["front"])  # live rep counter on a partial track

Steps: clean each view's keypoints into confidence weights (signals) -> squat depth per frame
and reps from it (reps) -> near side, facing, how square each camera is, standing baseline
(views) -> the two views' clocks aligned by their hip motion -> per-rep measurements at the
bottom of each rep (measures) -> a verdict per compensation (decide). Every threshold is in
`device.thresholds`. docs/rules.md explains the method, docs/formats.md the result.
"""

from __future__ import annotations

import numpy as np

from device import placement, verdict
from device.rules import decide as dec
from device.rules import in3d, measures, signals, views
from device.rules import reps as repmod
from device.rules.align import estimate_offset
from device.thresholds import THRESHOLDS, Thresholds
from device.track import Track, ViewTrack, parse_track
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS, FORMAT_RESULT, VIEWS

__all__ = ["evaluate", "count_reps"]


def count_reps(view: ViewTrack, thresholds: Thresholds | dict | None = None, kind: str | None = None) -> int:
    """Complete reps in one view's (possibly partial) track; fast enough to call live.

    `thresholds`: the same `Thresholds` the final evaluation uses (the trainer's overrides of
    the rep depths apply live too). `kind` is "front" or "side"; left out, it is guessed from how
    wide the person looks.
    """
    th = Thresholds.of(thresholds)
    if len(view) == 0:
        return 0
    v = signals.prepare(kind or "front", view, th)
    if kind is None:
        vs = views.ViewState("front", v, None, np.zeros(len(v)), repmod.Segmentation([]))
        ratio = views.width_ratio(vs, np.arange(min(len(v), 60)))
        kind = "front" if ratio is None or ratio >= 0.6 else "side"
    return len(views.analyse(kind, v, th).seg.reps)


def _missing(name: str) -> dict:
    return {"status": views.MISSING, "reason": f"no {name} view in the recording", "near_side": None}


def evaluate(track: Track, thresholds: Thresholds | dict | None = None, *,
             clock_offset: float | None = None, stereo=None) -> dict:
    """A full `ohsa-result/1` for `track`, every compensation id present.

    `track` may also be the parsed JSON of an `ohsa-keypoints/1` track. `thresholds`: a
    `Thresholds`, or overrides by name (or the full table) from `device.thresholds`.
    `clock_offset`: side time - front time of the same moment, when the caller aligned the views
    already (the analysis pipeline); None aligns them here within `max_clock_offset_s`.
    `stereo`: the analysis's 3-D stage (`device.analysis.stereo.Stereo`, on the same clock); when
    it is trusted the keypoint-visible compensations are judged in 3-D (`device.rules.in3d`) and
    the side camera's skew no longer matters; otherwise (or None) the 2-D path as ever.
    """
    th = Thresholds.of(thresholds)
    if isinstance(track, dict):  # parsed ohsa-keypoints/1 JSON
        track = parse_track(track)
    states: dict[str, views.ViewState] = {}
    info: dict[str, dict] = {}
    for name in VIEWS:
        vt = track.views.get(name)
        if vt is None or len(vt) == 0:
            info[name] = _missing(name)
            continue
        states[name] = views.analyse(name, signals.prepare(name, vt, th), th)

    # reps: from the view that found the most complete reps (the front on a tie)
    found = [s for s in states.values() if s.seg.reps]
    primary = max(found, key=lambda s: (len(s.seg.reps), s.name == "front")) if found else None
    offset, corr = 0.0, None
    if clock_offset is not None:
        offset = float(clock_offset)
    elif "front" in states and "side" in states:
        found = estimate_offset(track.views["front"], track.views["side"], th["max_clock_offset_s"])
        if found.offset_s is not None:
            offset, corr = -found.offset_s, found.correlation
    lag = {"front": 0.0, "side": offset}
    reps = primary.seg.reps if primary else []
    for s in states.values():
        delta = lag[s.name] - lag[primary.name] if primary else 0.0
        pad = 0.0 if s is primary else 0.25
        s.bottoms = [views.bottom_frames(s, r.t_start + delta - pad, r.t_end + delta + pad, th) for r in reps]
        s.wide = [views.bottom_frames(s, r.t_start + delta - pad, r.t_end + delta + pad, th, 0.5) for r in reps]
        s.windows = [np.flatnonzero((s.v.t >= r.t_start + delta) & (s.v.t <= r.t_end + delta)) for r in reps]
        s.standing = views.standing_frames(s, reps[0].t_start + delta if reps else None, th)

    three_d = bool(stereo is not None and stereo.trusted and "front" in states and "side" in states)
    _check_views(states, info, th, bool(reps), three_d)

    # measurements per rep, per view
    per_rep: dict[str, list] = {}
    confs: dict[str, list] = {}
    base_missing: dict[str, str] = {}
    for name, s in states.items():
        if s.status != views.OK or not reps:
            continue
        arrays = measures.front(s) if name == "front" else measures.side(s)
        base = {k: measures.robust_mean(a[s.standing], w[s.standing], th["min_rep_weight"])[0]
                for k, (a, w) in arrays.items()}  # fmt: skip
        for key, rows, conf in _per_rep(name, s, arrays, base, th, base_missing):
            per_rep[key], confs[key] = rows, conf
    if three_d and reps and states["front"].status == views.OK:
        for key, rows, conf in in3d.per_rep(states["front"], stereo, th):
            per_rep[key], confs[key] = rows, conf

    comps: dict[str, dict] = {}
    for cid in COMPENSATION_IDS:
        comps[cid] = _judge(cid, states, info, per_rep, confs, base_missing, th, reps, three_d)

    worst = None
    if reps:
        scores = [dec.rep_score(comps, th, i) for i in range(len(reps))]
        worst = int(np.argmax(scores))
    rep_windows = [
        {"start": round(r.t_start, 3), "bottom": round(r.t_bottom, 3), "end": round(r.t_end, 3),
         "depth": round(r.peak, 3)}
        for r in reps
    ]  # fmt: skip
    return {
        "format": FORMAT_RESULT,
        "reps": len(reps),
        "compensations": comps,
        "views": info,
        "rep_windows": rep_windows,
        "worst_rep": worst,
        "segmentation": {
            "view": primary.name if primary else None,
            "shallow_reps": (primary.seg.shallow if primary
                             else max([s.seg.shallow for s in states.values()] or [0])),  # fmt: skip
            "incomplete_reps": primary.seg.incomplete if primary else 0,
            "clock_offset_s": round(offset, 3),
            "clock_match": None if corr is None else round(corr, 2),
        },
    }


def _check_views(states: dict, info: dict, th: dict, have_reps: bool, three_d: bool = False) -> None:
    """Fill `info` per view and mark views that cannot be judged (status, reason). On the 3-D
    path the side camera's angle is measured, not a limit: its skew gate does not apply."""
    front = states.get("front")
    front_ratio = None
    if front is not None:
        front_ratio = views.width_ratio(front, front.standing)
    for name, s in states.items():
        seen = _core_seen(s, th)
        ratio = views.width_ratio(s, _person_frames(s, th)) if name == "side" else front_ratio
        s.width_ratio = ratio
        if seen < 0.2:
            s.status, s.reason = views.UNUSABLE, f"the person was not seen in the {name} view"
            s.reason_code = "not_visible"
        elif name == "front" and ratio is not None:
            s.skew_deg = placement.skew_deg("front", ratio, th)
            if s.skew_deg > th["front_max_skew_deg"]:
                s.reason_code = "camera_placement"
                s.status, s.reason = views.UNUSABLE, (
                    f"the front camera does not see the person from the front (about "
                    f"{s.skew_deg:.0f} degrees off; at most {th['front_max_skew_deg']:g})"
                )
        elif name == "side" and ratio is not None:
            usable_front = front is not None and front.status == views.OK
            s.skew_deg = placement.skew_deg("side", ratio, th, front_ratio if usable_front else None)
            if s.skew_deg > th["side_max_skew_deg"] and not three_d:
                s.reason_code = "camera_placement"
                s.status, s.reason = views.UNUSABLE, (
                    f"the side camera is about {s.skew_deg:.0f} degrees off square to the person "
                    f"(at most {th['side_max_skew_deg']:g}), which distorts the side-view angles"
                )
        if s.status == views.OK and name == "side":
            s.forward = views.facing(s)
        if s.status == views.OK and have_reps:
            missing = _not_seen(s, views.CORE[name], th)
            if missing:
                s.status, s.reason_code = views.UNUSABLE, "not_visible"
                s.reason = f"the person was not fully visible in the {name} view: {missing}"
            elif not any(b is not None and len(b) for b in s.bottoms) and not (three_d and name == "side"):
                # (the 3-D path measures at the front view's bottoms: the side's own depth signal,
                # weak from far round toward the front, need not find them)
                s.status, s.reason_code = views.UNUSABLE, "not_visible"
                s.reason = f"the person was not seen in the {name} view during the reps"
    f, sd = states.get("front"), states.get("side")
    if (f and sd and f.skew_deg is not None and sd.skew_deg is not None and not three_d
            and f.skew_deg > th["front_max_skew_deg"] and sd.skew_deg > th["side_max_skew_deg"]):  # fmt: skip
        swapped = (
            "the front and side cameras look swapped: the front camera sees the person from the "
            "side and the side camera from the front"
        )
        f.status = sd.status = views.UNUSABLE
        f.reason = sd.reason = swapped
        f.reason_code = sd.reason_code = "camera_placement"
    for name, s in states.items():
        info[name] = {
            "status": s.status,
            "reason": s.reason,
            "reason_code": s.reason_code,
            "near_side": s.near,
            "frames": len(s.v),
            "fps": s.v.fps,
            "skew_deg": None if s.skew_deg is None else round(s.skew_deg, 1),
            "reps_found": len(s.seg.reps),
            "standing_frames": int(len(s.standing)),
        }


def _person_frames(s: views.ViewState, th: dict) -> np.ndarray:
    parts = [s.idx(p, side) for p in ("shoulder", "hip") for side in ("left", "right")]
    seen = (s.v.score[:, parts] >= th["score_floor"]).any(axis=1)
    return np.flatnonzero(seen & np.isfinite(s.v.x[:, parts]).all(axis=1))


def _core_seen(s: views.ViewState, th: dict) -> float:
    """Share of frames where the person's trunk (shoulders and hips) is seen at all."""
    sides = (s.near,) if s.near else ("left", "right")
    parts = [s.idx(p, side) for p in ("shoulder", "hip") for side in sides]
    return float((s.v.score[:, parts] >= th["score_floor"]).all(axis=1).mean()) if len(s.v) else 0.0


def _parts(s: views.ViewState, names) -> list[tuple[str, int]]:
    sides = (s.near,) if s.near else ("left", "right")
    out = []
    for p in names:
        if p == "nose":
            out.append(("nose", s.idx("nose")))
        else:
            out += [(f"{side} {p}", s.idx(p, side)) for side in sides]
    return out


def _not_seen(s: views.ViewState, names, th: dict) -> str | None:
    """Plain words for the keypoints in `names` that were not seen at the bottom, or None."""
    out, uncertain = [], []
    for label, i in _parts(s, names):
        inside, seen = views.visibility(s, [i], th)
        if seen < th["min_visible_fraction"]:
            (out if inside < th["min_visible_fraction"] else uncertain).append(label)
    words = []
    if out:
        words.append(f"{', '.join(out)} out of the picture")
    if uncertain:
        words.append(f"{', '.join(uncertain)} too uncertain")
    return "; ".join(words) if words else None


def _per_rep(name, s, arrays, base, th, base_missing):
    """Yield (measure key, per-rep values, per-rep confidences) for one view."""
    mw = th["min_rep_weight"]

    def at(key, i):
        a, w = arrays[key]
        for frames in (s.bottoms[i], s.wide[i]):
            if frames is None or len(frames) == 0:
                continue
            val, conf = measures.robust_mean(a[frames], w[frames], mw)
            if np.isfinite(val):
                return val, conf
        return float("nan"), 0.0

    n = len(s.bottoms)
    if name == "front":
        knees, kc, shift, sc = [], [], [], []
        turned = []
        for i in range(n):
            drift, _ = at("knee_drift", i)
            if np.isfinite(drift) and abs(drift) > th["front_max_knee_drift"]:
                turned.append(abs(drift))  # the person turned: widths mean nothing this rep
                knees.append(None), kc.append(0.0), shift.append(None), sc.append(0.0)
                continue
            (l, cl), (r, cr) = at("knee_ratio_left", i), at("knee_ratio_right", i)
            row = {k: v for k, v in (("left", l), ("right", r)) if np.isfinite(v)}
            knees.append(row or None)
            kc.append(float(np.mean([c for c, v in ((cl, l), (cr, r)) if np.isfinite(v)] or [0])))
            h, hc = at("hip_shift", i)
            ok = np.isfinite(h) and np.isfinite(base["hip_shift"])
            shift.append({"left": h - base["hip_shift"], "right": base["hip_shift"] - h} if ok else None)
            sc.append(hc)
        if not np.isfinite(base["hip_shift"]):
            base_missing["shift"] = "front"
        if len(turned) * 2 >= n:
            for key in ("knees", "shift"):
                base_missing[key] = (
                    f"the person was turned from the front camera at the bottom of {len(turned)} of {n} "
                    f"reps (both knees {float(np.median(turned)):.2f} stance widths to one side of the "
                    f"feet; at most {th['front_max_knee_drift']:g}), so knee and hip widths cannot be judged"
                )
        yield "knees", knees, kc
        yield "shift", shift, sc
        return
    shin = base["shin_px"]
    for key, src, ref in (
        ("lean", "lean", None),
        ("arms", "arms", None),
        ("head_forward", "head_offset", "head_offset"),
        ("head_down", "head_pitch", "head_pitch"),
        ("heels", "ankle_y", "ankle_y"),
    ):
        rows, cs = [], []
        b = base[ref] if ref else 0.0
        if not np.isfinite(b) or (key == "heels" and not (np.isfinite(shin) and shin > 0)):
            base_missing[key] = "side"
        for i in range(n):
            val, c = at(src, i)
            if not np.isfinite(val) or not np.isfinite(b):
                rows.append(None)
            elif key == "heels":
                rows.append({None: (val - b) / shin} if np.isfinite(shin) and shin > 0 else None)
            else:
                rows.append({None: val - b})
            cs.append(c)
        yield key, rows, cs


def _judge(cid, states, info, per_rep, confs, base_missing, th, reps, three_d=False) -> dict:
    comp = COMPENSATIONS[cid]
    if comp.measure is None:  # keypoints cannot see it; the silhouette may measure it later
        return verdict.not_assessed(comp.unmeasured, "cannot_measure", _threshold(th, comp), _unit(comp))
    t = th[cid]
    unit = THRESHOLDS[cid].unit
    view = comp.view
    s = states.get(view)
    label = comp.label.lower()

    def na(reason, code):
        return verdict.not_assessed(reason, code, t, unit)

    if s is None:
        return na(f"no {view} view was recorded, and {label} is judged from the {view}", "no_view")
    if s.status != views.OK:
        return na(s.reason, s.reason_code or "not_visible")
    if not reps:
        shallow = max(x.seg.shallow for x in states.values())
        why = (
            f"the squats were too shallow to judge ({shallow} found; the hips must drop at least "
            f"{th['rep_min_depth']:.0%} of their standing height)"
            if shallow
            else "no complete squat rep was found"
        )
        return na(why, "no_reps")
    missing = _not_seen(s, comp.parts, th)
    if missing:
        return na(f"not seen well enough in the {view} view: {missing}", "not_visible")
    if cid == "arms_fall_forward":
        share = views.arms_overhead(s)
        if share is not None and share < 0.5:
            return na(
                "the arms were not held overhead (the wrists stayed below the head when standing), "
                "so arm position cannot be judged against the trunk",
                "arms_not_overhead",
            )
    if comp.measure in base_missing:
        why = base_missing[comp.measure]
        if why in VIEWS:
            return na(f"no standing frames in the {view} view to calibrate the person's own posture against",
                      "no_baseline")
        return na(why, "camera_placement")
    if three_d and in3d.judged_in_3d(cid) and states["front"].status == views.OK:
        key, name = in3d.measure_and_threshold(cid)
        entry = dec.decide(cid, per_rep[key], confs[key], th, name)
        if entry["status"] != verdict.NOT_ASSESSED:
            entry["geometry"] = "3d"
        return entry
    if three_d and comp.method == "keypoints" and view == "side" and s.skew_deg is not None and s.skew_deg > th["side_max_skew_deg"]:
        # kept on the 2-D path (the head: device.rules.in3d.HEAD_IN_3D), which needs a square side view
        return na(f"the side camera is about {s.skew_deg:.0f} degrees off square to the person "
                  f"(at most {th['side_max_skew_deg']:g}); {label} is judged from a square side view "
                  "only, even with both cameras calibrated (its 3-D measure is too noisy)", "camera_placement")
    entry = dec.decide(cid, per_rep[comp.measure], confs[comp.measure], th)
    if three_d and entry["status"] != verdict.NOT_ASSESSED:
        entry["geometry"] = "2d"  # on the 3-D path, a check still judged from one picture
    if comp.method != "keypoints" and entry["status"] != verdict.NOT_ASSESSED:
        # A keypoint proxy (heels: the ankle's rise) is reported but not trusted for the verdict.
        proxy = {k: entry[k] for k in ("status", "reps_flagged", "value", "unit", "threshold", "rep_values")}
        entry = verdict.not_assessed(comp.unmeasured, "cannot_measure", _threshold(th, comp), _unit(comp))
        entry["proxy"] = proxy
    return entry


def _threshold(th, comp) -> float | None:
    return th[comp.threshold] if comp.threshold else None


def _unit(comp) -> str | None:
    return THRESHOLDS[comp.threshold].unit if comp.threshold else None
