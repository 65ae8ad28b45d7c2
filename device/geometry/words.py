"""The cameras' geometry in plain words, from the analysis result's `geometry` entry or a mat
calibration: one home for the sentences `ohsa check`, `ohsa assess`, the station's calibration
keeper and the health page show.

    placement(geometry)  -> "side camera about 45 degrees toward the front, on the person's left, 3.1 m away; front camera 3.0 m away"
    path(geometry)       -> "3-D in use (mat calibration)" | "2-D: <reason>"
    person(geometry)     -> "person about 1.78 m tall, feet 0.42 m apart" (mat-calibrated sets)
    from_calibration(cal)-> the same `geometry`-shaped dict for a mat calibration (no set needed)

The `geometry` entry (device.analysis.analyse, docs/formats.md): {"path": "3d"|"2d",
"calibration": "mat"|"person"|None, "angle_deg", "round_toward_front_deg", "side",
"side_distance_m", "front_distance_m", "reprojection_px", "trusted", "reason",
"person_vs_mat_deg"}; any of them may be missing or None.
"""

from __future__ import annotations

import math

SOURCE_WORDS = {"mat": "mat calibration", "person": "calibration on the person"}


def _num(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def placement(geometry: dict | None) -> str | None:
    """Where the side camera stands, in words; None when the geometry says nothing about it."""
    g = geometry or {}
    round_deg = _num(g.get("round_toward_front_deg"))
    if round_deg is None and _num(g.get("angle_deg")) is not None:
        round_deg = 90.0 - _num(g.get("angle_deg"))
    if round_deg is None:
        return None
    if abs(round_deg) < 5:
        where = "side camera square to the person's side"
    elif round_deg > 0:
        where = f"side camera about {round_deg:.0f} degrees toward the front"
    else:
        where = f"side camera about {-round_deg:.0f} degrees toward the back"
    if g.get("side") in ("left", "right"):
        where += f", on the person's {g['side']}"
    parts = [where]
    d = _num(g.get("side_distance_m"))
    if d is not None:
        parts[0] += f", {d:.1f} m away"
    f = _num(g.get("front_distance_m"))
    if f is not None:
        parts.append(f"front camera {f:.1f} m away")
    return "; ".join(parts)


def path(geometry: dict | None) -> str:
    """Whether the measures were taken in 3-D, and with which calibration, in words."""
    g = geometry or {}
    if g.get("path") == "3d":
        return f"3-D in use ({SOURCE_WORDS.get(g.get('calibration'), 'calibrated')})"
    reason = g.get("reason")
    if not g:
        return "2-D (this analysis gives no 3-D geometry)"
    return f"2-D{': ' + reason if reason else ''}"


def person(geometry: dict | None) -> str | None:
    """What the mat measured of the person: "person about 1.78 m tall, feet 0.42 m apart"."""
    g = geometry or {}
    height, apart = _num(g.get("standing_height_m")), _num(g.get("feet_apart_m"))
    parts = ([f"person about {height:.2f} m tall"] if height is not None else []) + \
            ([f"feet {apart:.2f} m apart"] if apart is not None else [])
    return ", ".join(parts) or None


def sentence(geometry: dict | None) -> str:
    """Placement, path and (with the mat) the person's size in one line."""
    return "; ".join(p for p in (path(geometry), placement(geometry), person(geometry)) if p)


def from_calibration(cal, front: str = "front", side: str = "side") -> dict | None:
    """A mat calibration (device.geometry.calibration.Calibration) as a `geometry`-shaped dict:
    the side camera's angle round toward the front from the person's side, its side, both
    cameras' floor distance from the mat centre. None without both cameras."""
    if cal is None or front not in cal.views or side not in cal.views:
        return None
    c = cal.camera(side).center
    az = math.degrees(math.atan2(c[1], c[0]))  # mat frame: 0 = person's right, 90 = front
    on = "right" if abs(az) < 90 else "left"
    round_deg = abs(az) if on == "right" else 180.0 - abs(az)
    if az < 0:  # behind the person's side
        round_deg = -round_deg
    f = cal.camera(front).center
    rms = [cal.views[v].rms_px for v in (front, side)]
    return {
        "path": "3d", "calibration": "mat", "angle_deg": 90.0 - round_deg, "round_toward_front_deg": round_deg,
        "side": on, "side_distance_m": float(math.hypot(c[0], c[1])),
        "front_distance_m": float(math.hypot(f[0], f[1])), "reprojection_px": max(rms),
        "trusted": True, "reason": "the footprint mat's markers", "person_vs_mat_deg": None,
    }
