"""Re-tests that point at the origin of a compensation (NASM's overhead squat progressions).

After a standard set the person may do a set with heels raised on a wedge and a set with hands
on hips. A compensation that was present and disappears:

- with heels raised -> it comes from limited ankle mobility (tight calves);
- with hands on hips -> it comes from the shoulders (tight latissimus dorsi / pectorals);
- and one that stays in the re-test points at the hips and core (lumbo-pelvic-hip complex).

Only compensations assessed in both sets (present or absent) are compared; "arms fall forward"
cannot be judged with hands on hips.
"""

from __future__ import annotations

from device.vocabulary import ABSENT, COMPENSATIONS, PRESENT

KINDS = ("heels_raised", "hands_on_hips")  # besides "standard"
ORIGIN_IF_GONE = {"heels_raised": "ankle_mobility", "hands_on_hips": "shoulder"}
ORIGIN_LABELS = {
    "ankle_mobility": "ankle mobility (calves)",
    "shoulder": "shoulders (lats and chest)",
    "hip_core": "hips and core",
}
NOT_COMPARABLE = {"hands_on_hips": {"arms_fall_forward"}}  # see analysis.ARMS_OVERHEAD_ONLY
STANCE = {"heels_raised": "heels_raised", "hands_on_hips": "hands_on_hips"}


def compare(base: dict, retest: dict, kind: str) -> dict:
    """Which of the base set's compensations disappear, persist or appear in the re-test."""
    if kind not in KINDS:
        raise ValueError(f"re-test kind must be one of {', '.join(KINDS)}, got {kind!r}")
    b, r = base["compensations"], retest["compensations"]
    out = {"kind": kind, "disappeared": [], "persisted": [], "appeared": [], "not_comparable": []}
    for cid in COMPENSATIONS:
        sb, sr = b[cid]["status"], r[cid]["status"]
        if cid in NOT_COMPARABLE.get(kind, ()) or sb not in (PRESENT, ABSENT) or sr not in (PRESENT, ABSENT):
            if sb == PRESENT:
                out["not_comparable"].append(cid)
            continue
        if sb == PRESENT and sr == ABSENT:
            out["disappeared"].append(cid)
        elif sb == PRESENT and sr == PRESENT:
            out["persisted"].append(cid)
        elif sb == ABSENT and sr == PRESENT:
            out["appeared"].append(cid)
    out["origin"] = {cid: ORIGIN_IF_GONE[kind] for cid in out["disappeared"]}
    out["origin"].update({cid: "hip_core" for cid in out["persisted"]})
    out["summary"] = summary(out)
    return out


def summary(comparison: dict) -> str:
    """The comparison in a sentence or two for the result page."""
    kind = comparison["kind"]
    what = "heels raised" if kind == "heels_raised" else "hands on hips"
    parts = []
    gone = [COMPENSATIONS[c].label.lower() for c in comparison["disappeared"]]
    kept = [COMPENSATIONS[c].label.lower() for c in comparison["persisted"]]
    if gone:
        parts.append(
            f"With {what}, {_join(gone)} disappeared: likely from "
            f"{ORIGIN_LABELS[ORIGIN_IF_GONE[kind]]}."
        )
    if kept:
        parts.append(f"{_join(kept).capitalize()} stayed: likely from {ORIGIN_LABELS['hip_core']}.")
    if not parts:
        parts.append(f"With {what}, nothing from the first set could be compared or changed.")
    return " ".join(parts)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
