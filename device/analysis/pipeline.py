"""`analyse`: from a two-view keypoint track and the frames kept of it to a finished result.

The station (after a set) and `ohsa assess` (after replaying recordings) both call this, with
the same `Thresholds` object the live rep counter used. Steps, in order:

1. the clocks aligned once (`device.rules.align`, within `max_clock_offset_s`), unless the caller
   already aligned them and passes `clock_offset`;
2. the 3-D stage (`stereo.measure`): both cameras calibrated (the station's mat `calibration`
   when it fits this set, else on the person), triangulated, measured in the body's frame; it
   says whether 3-D is trusted and why (`result["geometry"]`, docs/formats.md);
3. the rules on the keypoints (`device.rules.evaluate`), judging in 3-D where it is trusted and
   on today's 2-D path otherwise;
4. a hands-on-hips re-test cannot judge what needs the arms overhead;
5. silhouette refinement of feet, heels and low back from the kept frames, in the kept frames'
   pixels (`device.silhouette.refine`); a fault there keeps the keypoint result and says so;
   on the 3-D path without the mat's footprints, the knees are judged again against the feet's
   standing toe-out the silhouette measured (`_knees_over_seen_feet`); with the mat, how far the
   feet stand from the printed footprints is recorded (`geometry.feet_vs_footprints_deg`),
   "feet turn out" is judged as the feet's direction at the bottom against the footprints, and
   the heel's lift is measured above the mat's floor plane in centimetres; on the 2-D path a
   "knees push out" stands only over feet the silhouette saw pointing ahead
   (`device.rules.feet`);
6. for a re-test: the comparison with its standard set (`retest.compare`), stored with it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from dataclasses import replace

from device import silhouette
from device.analysis import retest, stereo
from device.rules import evaluate
from device.rules.align import estimate_offset
from device.rules.feet import push_out_over_seen_feet
from device.thresholds import Thresholds
from device.track import Track, ViewTrack
from device.verdict import not_assessed

log = logging.getLogger(__name__)

ARMS_OVERHEAD_ONLY = ("arms_fall_forward",)  # cannot be judged in the hands-on-hips re-test


class Kept(Protocol):
    """What the pipeline needs of a view's kept frames (device.analysis.keeper.ViewKeeper)."""

    scale: float | None  # kept pixels per original pixel

    def frames(self) -> list: ...  # [(t, RGB)] in time order, on the track's clock


def analyse(
    track: Track,
    kept: dict[str, Kept] | None = None,
    *,
    thresholds: Thresholds | dict | None = None,
    backgrounds: dict | None = None,
    kind: str = "standard",
    parent_result: dict | None = None,
    parent_id: str | None = None,
    clock_offset: float | None = None,
    calibration=None,
    person_check_px: float = 0.0,
) -> dict:
    """The `ohsa-result/1` of one set (with the rules' extra keys and `geometry`).

    `calibration`: the station's `device.geometry.calibration.Calibration` (the footprint mat),
    or None: the 3-D stage then calibrates the pair on the person. `person_check_px`: with the
    mat in use, the person-based check against it runs only when the mat's reprojection error on
    this set is above this (0: every set; `stereo.measure`); the station's keeper sets it."""
    th = Thresholds.of(thresholds)
    match = None
    if clock_offset is None and "front" in track.views and "side" in track.views:
        found = estimate_offset(track.views["front"], track.views["side"], th["max_clock_offset_s"])
        clock_offset, match = (-found.offset_s, found.correlation) if found.offset_s is not None else (0.0, None)
    st = _three_d(track, th, calibration, clock_offset or 0.0, person_check_px)
    result = evaluate(track, th, clock_offset=clock_offset, stereo=st)
    if match is not None:
        result["segmentation"]["clock_match"] = round(match, 2)
    _geometry(result, st)
    if kind == "hands_on_hips":
        not_overhead(result)
    result = _refine(result, track, kept or {}, backgrounds or {}, th,
                     calibration if st.geometry.get("calibration") == "mat" else None)
    result = _knees_over_seen_feet(result, track, th, st, clock_offset, calibration)
    return compared(result, kind, parent_result, parent_id)


def _three_d(track: Track, th: Thresholds, calibration, offset: float, person_check_px: float = 0.0) -> stereo.Stereo:
    """The 3-D stage on the front view's clock; a fault there keeps the 2-D path and says so."""
    views = dict(track.views)
    if offset and "side" in views:
        views["side"] = replace(views["side"], times=views["side"].times - offset)
    try:
        return stereo.measure(Track(views), th, calibration=calibration, person_check_px=person_check_px)
    except Exception as e:  # the 2-D result must not be lost to a geometry fault
        log.error("3-D stage failed, 2-D path kept: %s", e, exc_info=log.isEnabledFor(logging.DEBUG))
        return stereo.two_d(f"the 3-D stage failed ({e.__class__.__name__}: {e})")


def _geometry(result: dict, st: stereo.Stereo) -> None:
    """`result["geometry"]` and each view's `geometry` / `angle_deg` (docs/formats.md)."""
    result["geometry"] = st.geometry
    for entry in result["views"].values():
        if isinstance(entry, dict):
            entry["geometry"] = st.geometry["path"]
            entry["angle_deg"] = st.geometry["angle_deg"]
    log.info("geometry: %s (%s)", st.geometry["path"], st.geometry["reason"])


KNEES = ("knees_cave_in", "knees_push_out")


def _knees_over_seen_feet(result: dict, track: Track, th: Thresholds, st: stereo.Stereo,
                          clock_offset: float | None, calibration=None) -> dict:
    """The knees against the feet the front silhouette saw (docs/rules.md). In 3-D without the
    mat the feet's direction is otherwise not known, and push-out is judged past a foot turned
    out `stereo_toe_out_unknown_deg`, which misses push-out over straight feet; on the 2-D path a
    push-out stands only over feet seen pointing at the front camera (`device.rules.feet`)."""
    views = (result.get("silhouette") or {}).get("views") or {}
    feet = (views.get("front") or {}).get("standing_toe_out_deg")
    if not st.trusted or st.points is None:  # 2-D: push-out only over feet seen pointing ahead
        comps = result["compensations"]
        comps["knees_push_out"] = push_out_over_seen_feet(comps["knees_push_out"], feet, th)
        return result
    if not feet:
        return result
    if st.geometry.get("calibration") == "mat":  # the printed footprints decide; how far off they stand
        prints = stereo.footprints_seen_from_front(calibration)
        off = {k: round(float(v) - prints[k], 1) for k, v in feet.items() if k in prints}
        result["geometry"]["feet_vs_footprints_deg"] = off
        log.info("feet stand %s degrees (+ out) from the footprints' direction", off)
        return result
    seen = stereo.with_feet(st, feet, th, "the silhouette's standing toe-out (front view)")
    try:
        again = evaluate(track, th, clock_offset=clock_offset, stereo=seen)
    except Exception as e:  # the first judgement stands
        log.error("knees not judged against the seen feet: %s", e, exc_info=log.isEnabledFor(logging.DEBUG))
        return result
    for cid in KNEES:
        result["compensations"][cid] = again["compensations"][cid]
    result["geometry"] = seen.geometry
    log.info("3-D knees judged against the silhouette's feet %s", seen.geometry["foot_toe_out_deg"])
    return result


def compared(result: dict, kind: str, parent_result: dict | None, parent_id: str | None) -> dict:
    """A re-test's result with its comparison against the standard set (`retest.compare`), kept
    with it: the one place a re-test is compared; the station and the pages show what it kept."""
    if kind != "standard" and parent_result is not None:
        result["retest"] = {"parent_id": parent_id, **retest.compare(parent_result, result, kind)}
    return result


def not_overhead(result: dict) -> None:
    """Hands on hips: what needs the arms overhead cannot be judged in this set."""
    for cid in ARMS_OVERHEAD_ONLY:
        entry = result["compensations"][cid]
        entry.update(not_assessed("the hands were on the hips in this re-test, not overhead", "retest_stance",
                                  entry.get("threshold"), entry.get("unit")))


def scaled(view: ViewTrack, scale: float) -> ViewTrack:
    """`view` in the pixels of frames resized by `scale` (the one keypoint-rescaling helper)."""
    kps = view.keypoints.copy()
    kps[..., :2] *= scale
    return ViewTrack(max(1, round(view.width * scale)), max(1, round(view.height * scale)), view.fps,
                     view.times.copy(), kps)


def _heel_height(calibration, frames: list):
    """`(floor_uv, top_uv) -> metres` above the mat's floor plane in the side frames' pixels, or
    None (no side camera in the calibration, frames of another shape)."""
    from device.geometry.calibration import CalibrationError, _camera_for, height_above_floor

    if calibration is None or "side" not in calibration.views or not frames:
        return None
    h, w = frames[0][1].shape[:2]
    try:
        cam = _camera_for(calibration.views["side"], w, h, "side")
    except CalibrationError as e:
        log.info("heel height through the shank scale: %s", e)
        return None
    return lambda floor_uv, top_uv: height_above_floor(cam, floor_uv, top_uv)


def _refine(result: dict, track: Track, kept: dict, backgrounds: dict, th: Thresholds, calibration=None) -> dict:
    frames = {v: k.frames() for v, k in kept.items() if k is not None and k.scale and v in track.views}
    frames = {v: f for v, f in frames.items() if f}
    if not frames:
        return result
    small = Track({v: scaled(track.views[v], kept[v].scale) for v in frames})
    bgs = {v: bg for v, bg in backgrounds.items()
           if v in frames and bg is not None and bg.shape[:2] == frames[v][0][1].shape[:2]}
    # The 3-D path judges an oblique side view; the silhouette's heel line and back contour still
    # need a square one: it is told the side view is off square for its purposes, as on the 2-D path.
    side = result["views"].get("side") or {}
    skew = side.get("skew_deg")
    kept_side = None
    if side.get("status") == "ok" and side.get("geometry") == "3d" and skew is not None and skew > th["side_max_skew_deg"]:
        kept_side = dict(side)
        side.update(status="unusable", reason_code="camera_placement", reason=(
            f"the side camera is about {skew:.0f} degrees off square to the person (at most "
            f"{th['side_max_skew_deg']:g} for the heel and back contours; the 3-D checks do not need it)"))
    try:
        heel = _heel_height(calibration, frames.get("side"))
        extra = {"heel_height": heel} if heel else {}
        if calibration is not None:  # the person stands on the printed footprints
            extra["footprints"] = stereo.footprints_seen_from_front(calibration)
            extra["side_round_deg"] = stereo.side_round_from_mat(calibration)
        out = silhouette.refine(result, frames, small, bgs or None, th, **extra)
    except Exception as e:  # a fault there must not cost the person the keypoint result
        log.error("silhouette refinement failed, keypoint result kept: %s", e, exc_info=log.isEnabledFor(logging.DEBUG))
        result["silhouette"] = {"error": f"refinement failed: {e.__class__.__name__}: {e}"}
        out = result
    if kept_side is not None:  # the rules' own view of the side camera, back in the result
        out["views"]["side"] = kept_side
    return out
