"""The front view's "knees push out" against the feet the front silhouette saw, on the 2-D path.

From the front alone, a knee tracking over a turned-out foot comes toward the camera and out
along the foot's line, and the 2-D knee ratio reads that as pushing out: on the sets of
`scripts/eval_3d.py` where 3-D is not used, knees over feet turned out 10 degrees read past the
push-out threshold in two sets of three, over feet turned out 20-30 degrees in every set. So
without 3-D a push-out is called only on a side whose foot the silhouette saw pointing at the
front camera, within `front_push_out_max_toe_out_deg`; otherwise it is `not_assessed` with the
reason. "Absent" stands: a turned-out foot only inflates the ratio. (On the 3-D path the knees
are judged against the feet themselves: `device.analysis.stereo.knees`.)
"""

from __future__ import annotations

from device.verdict import not_assessed


def push_out_over_seen_feet(entry: dict, feet: dict | None, th) -> dict:
    """The 2-D `knees_push_out` entry, kept when every flagged side's foot was seen within
    `front_push_out_max_toe_out_deg` of the front camera's line of sight, else `not_assessed`.
    `feet`: the front silhouette's standing toe-out per side (degrees, + out), or None."""
    if entry.get("status") != "present":
        return entry
    limit = th["front_push_out_max_toe_out_deg"]
    flagged = ("left", "right") if entry.get("side") in (None, "both") else (entry["side"],)
    seen = {s: (feet or {}).get(s) for s in flagged}
    if all(v is not None and v <= limit for v in seen.values()):
        return entry
    if any(v is None for v in seen.values()):
        why = "the front silhouette did not show which way the feet point"
    else:
        out = max(v for v in seen.values() if v is not None)
        why = f"the feet point {out:.0f} degrees out (at most {limit:g} for this check from the front alone)"
    return not_assessed(
        "from the front view alone, a knee tracking over a turned-out foot looks like a knee pushing out, "
        f"and {why}; the two cameras in 3-D (or the footprint mat) judge the knees against the feet",
        "feet_direction", entry.get("threshold"), entry.get("unit"))
