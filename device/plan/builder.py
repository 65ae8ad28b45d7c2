"""The corrective plan: findings of one result -> one short session in continuum order.

    build_plan(result, pain=False, age=None, side_aware=True) -> dict   # format ohsa-plan/1

How a plan is made:
- Only findings with status `present` count; the most important first (severity, share of
  reps flagged, confidence, then feet-up body order).
- Each finding's first exercise of every phase is its core; cores are taken whole (release,
  stretch, activate, integrate together) while they fit the time budget, then the findings'
  further exercises one by one. Whatever does not fit is listed under `left_out` and said in
  `notes` — the plan never silently drops a finding.
- The same exercise wanted by two findings appears once and lists both reasons; its sides are
  merged (left + right = both).
- Times are estimates at the low end of each dose (one set, one hold), per side for one-sided
  exercises; the budget is the library's `budget_minutes`.
- Sides are the person's own left and right. A sided finding (knees cave in on the left) gets
  its one-sided exercises on that side only; a weight shift uses the library's "same" and
  "opposite" relations (shift to the left: release the left inner thigh, strengthen the left
  side of the hip and the right inner thigh).
- A pain report gives a referral message and no exercises at all.
"""

from __future__ import annotations

from device.errors import InputError
from device.plan import library as libmod
from device.plan.library import PHASES
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS, PRESENT, NOT_ASSESSED

FORMAT_PLAN = "ohsa-plan/1"
SEVERITY_RANK = {"marked": 3, "moderate": 2, "mild": 1}
OLDER_ADULT_AGE = 65

REFERRAL_MESSAGE = (
    "You told us something hurt during the squat. We don't give exercises when movement is "
    "painful. Please see a qualified professional, such as a physiotherapist or doctor, before "
    "starting corrective exercise. A trainer here can talk your result through with you."
)
DISCLAIMER = (
    "This plan comes from a movement screen, not a medical assessment. Stop any exercise that "
    "causes pain and ask a qualified trainer or health professional. Skip an exercise if one of "
    "its \"not for\" notes applies to you."
)
OTHER = {"left": "right", "right": "left"}


def _side_of(finding_side, relation: str, sided_exercise: bool, side_aware: bool) -> str | None:
    if not sided_exercise:
        return None
    if not side_aware or relation == "both" or finding_side not in ("left", "right"):
        return "both"
    return finding_side if relation == "same" else OTHER[finding_side]


def _merge_sides(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if a == b else "both"


def _side_text(side: str | None) -> str:
    return {"left": "Left side only", "right": "Right side only", "both": "Both sides"}.get(side, "")


def _priority(cid: str, entry: dict, reps: int) -> tuple:
    flagged = entry.get("reps_flagged")
    share = flagged / reps if isinstance(flagged, (int, float)) and reps else 0.0
    conf = entry.get("confidence")
    conf = conf if isinstance(conf, (int, float)) else 0.5
    return (SEVERITY_RANK.get(entry.get("severity"), 1), share, conf, -COMPENSATION_IDS.index(cid))


def _check_args(result, age) -> None:
    if not isinstance(result, dict) or not isinstance(result.get("compensations"), dict):
        raise InputError("result: not an ohsa-result/1 (no 'compensations' object)")
    if age is not None and (isinstance(age, bool) or not isinstance(age, (int, float)) or not 0 < age < 130):
        raise InputError(f"age: expected years between 1 and 129, got {age!r}")


def build_plan(result: dict, *, pain: bool = False, age: int | None = None,
               side_aware: bool = True) -> dict:
    """A plan (`ohsa-plan/1`) for one `ohsa-result/1`; see the module docstring."""
    _check_args(result, age)
    lib = libmod.load()
    base = {"format": FORMAT_PLAN, "source": lib["edition"], "disclaimer": DISCLAIMER,
            "budget_minutes": lib["budget_minutes"], "findings": [], "phases": [],
            "left_out": [], "notes": [], "total_minutes": 0.0}
    if pain:
        return {**base, "kind": "referral", "message": REFERRAL_MESSAGE, "disclaimer": ""}

    comps = result["compensations"]
    reps = result.get("reps") if isinstance(result.get("reps"), int) else 0
    present = [c for c in COMPENSATION_IDS if (comps.get(c) or {}).get("status") == PRESENT]
    present.sort(key=lambda c: _priority(c, comps[c], reps), reverse=True)
    older = age is not None and age >= OLDER_ADULT_AGE
    budget_s = lib["budget_minutes"] * 60

    def seconds(ex_id: str, side: str | None) -> float:
        ex = lib["exercises"][ex_id]
        phase = lib["phases"][ex["phase"]]
        per_side = ex.get("seconds") or (phase["seconds_65"] if older and "seconds_65" in phase
                                         else phase["seconds"])
        return per_side * (2 if side == "both" else 1)

    chosen: dict[str, dict] = {}  # exercise id -> {"side", "reasons"}

    def cost_of(items) -> float:
        """Extra seconds if `items` [(ex_id, side, cid, finding side)] were added."""
        sides = {k: v["side"] for k, v in chosen.items()}
        extra = 0.0
        for ex_id, side, _, _ in items:
            if ex_id in sides:
                merged = _merge_sides(sides[ex_id], side)
                extra += seconds(ex_id, merged) - seconds(ex_id, sides[ex_id])
                sides[ex_id] = merged
            else:
                extra += seconds(ex_id, side)
                sides[ex_id] = side
        return extra

    def add(items) -> None:
        for ex_id, side, cid, fside in items:
            if ex_id in chosen:
                chosen[ex_id]["side"] = _merge_sides(chosen[ex_id]["side"], side)
            else:
                chosen[ex_id] = {"side": side, "reasons": []}
            slot = chosen[ex_id]
            if not any(r["compensation"] == cid for r in slot["reasons"]):
                slot["reasons"].append({"compensation": cid, "label": COMPENSATIONS[cid].label,
                                        "side": fside})

    def wanted(cid: str, phase: str) -> list:
        fside = comps[cid].get("side") if COMPENSATIONS[cid].sided else None
        fside = fside if side_aware else None
        return [
            (ex_id, _side_of(fside, rel, lib["exercises"][ex_id]["sided"], side_aware), cid, fside)
            for ex_id, rel in libmod.refs(lib["compensations"][cid], phase)
        ]

    total = 0.0
    left_out: list = []
    uncovered: list[str] = []
    # 1. each finding's core: the first exercise of every phase, taken whole
    for cid in present:
        core = [wanted(cid, phase)[0] for phase in PHASES]
        extra = cost_of(core)
        if total + extra <= budget_s:
            add(core)
            total += extra
        else:
            uncovered.append(cid)
            left_out += core
    # 2. further exercises, most important finding first, phase by phase
    depth = max((len(wanted(c, p)) for c in present for p in PHASES), default=0)
    for rank in range(1, depth):
        for cid in present:
            if cid in uncovered:
                continue
            for phase in PHASES:
                items = wanted(cid, phase)[rank:rank + 1]
                if not items:
                    continue
                extra = cost_of(items)
                if total + extra <= budget_s:
                    add(items)
                    total += extra
                else:
                    left_out += items

    kind, message = "plan", ""
    if not present:
        kind, message = "general", lib["general"]["message"]
        for phase in PHASES:
            for ex_id, _ in libmod.refs(lib["general"], phase):
                side = "both" if lib["exercises"][ex_id]["sided"] else None
                chosen[ex_id] = {"side": side, "reasons": []}
                total += seconds(ex_id, side)
    else:
        labels = [COMPENSATIONS[c].label.lower() for c in present if c not in uncovered]
        message = "Your plan works on: " + "; ".join(labels) + "." if labels else ""

    notes = []
    dropped = _left_out(left_out, chosen, lib)
    extras = [d["name"] for d in dropped if set(d["reasons"]) - set(uncovered)]
    if extras:
        notes.append(f"To keep the session to about {lib['budget_minutes']} minutes we left out: "
                     f"{', '.join(extras)}. Add them once this plan feels easy, or ask a trainer "
                     "to swap them in.")
    for cid in uncovered:
        notes.append(f"{COMPENSATIONS[cid].label} is not in today's plan (it did not fit the time); "
                     "it comes next once the others improve — ask a trainer.")
    skipped = [COMPENSATIONS[c].label.lower() for c in COMPENSATION_IDS
               if (comps.get(c) or {}).get("status") == NOT_ASSESSED]
    if skipped:
        notes.append("We could not check: " + ", ".join(skipped) + ". The plan does not cover them.")
    if older:
        notes.append(f"Stretches are held 60 s (recommended from age {OLDER_ADULT_AGE}).")

    return {
        **base,
        "kind": kind,
        "message": message,
        "findings": [_finding(c, comps[c], lib) for c in present if c not in uncovered],
        "phases": _phases(chosen, lib, older, seconds),
        "left_out": dropped,
        "notes": notes,
        "total_minutes": round(total / 60, 1),
    }


def _finding(cid: str, entry: dict, lib: dict) -> dict:
    data = lib["compensations"][cid]
    return {"id": cid, "label": COMPENSATIONS[cid].label,
            "side": entry.get("side") if COMPENSATIONS[cid].sided else None,
            "severity": entry.get("severity"), "view": data["view"],
            "overactive": list(data["overactive"]), "underactive": list(data["underactive"])}


def _left_out(items, chosen: dict, lib: dict) -> list[dict]:
    out: dict[str, dict] = {}
    for ex_id, side, cid, fside in items:
        if ex_id in chosen:
            continue
        slot = out.setdefault(ex_id, {"id": ex_id, "name": lib["exercises"][ex_id]["name"],
                                      "phase": lib["exercises"][ex_id]["phase"], "reasons": []})
        if cid not in slot["reasons"]:
            slot["reasons"].append(cid)
    return list(out.values())


def _phases(chosen: dict, lib: dict, older: bool, seconds) -> list[dict]:
    region_order = {c: i for i, c in enumerate(COMPENSATION_IDS)}
    phases = []
    for phase in PHASES:
        info = lib["phases"][phase]
        ids = [e for e in chosen if lib["exercises"][e]["phase"] == phase]
        # feet-up body order, by the first finding that asked for the exercise
        ids.sort(key=lambda e: min((region_order[r["compensation"]] for r in chosen[e]["reasons"]),
                                   default=0))
        exercises = []
        for ex_id in ids:
            ex = lib["exercises"][ex_id]
            side = chosen[ex_id]["side"]
            exercises.append({
                "id": ex_id, "name": ex["name"], "phase": phase, "targets": list(ex["targets"]),
                "dose": ex.get("dose") or (info.get("dose_65") if older and info.get("dose_65")
                                           else info["dose"]),
                "cues": list(ex["cues"]), "contraindications": list(ex["contraindications"]),
                "source": ex["source"], "side": side, "side_text": _side_text(side),
                "reasons": chosen[ex_id]["reasons"],
                "minutes": round(seconds(ex_id, side) / 60, 1),
            })
        if exercises:
            phases.append({"id": phase, "label": info["label"], "technique": info["technique"],
                           "purpose": info["purpose"], "exercises": exercises})
    return phases
