"""What a member reads on a result: the headline, the body figure's marks, plain reasons, take-home text.

    member_result(result, plan, pain=False, described=None) -> dict   # for templates/result.html

Members get short plain sentences; the technical detail (measurements, thresholds, the rules'
own `reason`) stays on the trainer's pages. A compensation that could not be checked carries a
machine-readable `reason_code` from the rules; each code has one member sentence here.
"""

from __future__ import annotations

import datetime
import logging

from device.errors import InputError
from device.plan import figure_svg, plan_text
from device.vocabulary import ABSENT, COMPENSATIONS, NOT_ASSESSED, PRESENT, REGIONS

log = logging.getLogger(__name__)

# How a region is marked on the body figure and in its legend (never by colour alone: each mark
# has a pattern, an icon and these words).
MARKS = {
    "work": {"icon": "!", "words": "To work on"},
    "fine": {"icon": "\u2713", "words": "No problem seen"},
    "partly": {"icon": "\u2713", "words": "Partly checked"},
    "unchecked": {"icon": "?", "words": "Not checked"},
}

# The body part a member recognises, per compensation (used in "could not see ... clearly").
BODY_PART = {
    "feet_turn_out": "your feet",
    "feet_turn_in": "your feet",
    "feet_flatten": "your arches",
    "heels_rise": "your heels",
    "knees_cave_in": "your knees",
    "knees_push_out": "your knees",
    "asymmetric_weight_shift": "your hips",
    "excessive_forward_lean": "your upper body",
    "low_back_arch": "your lower back",
    "low_back_round": "your lower back",
    "arms_fall_forward": "your arms",
    "head_forward": "your head",
    "head_down": "your head",
}

# reason_code (set by the rules on every not_assessed entry) -> one plain sentence.
# {camera} is "front camera" / "side camera", {part} a body part from BODY_PART.
REASONS = {
    "no_view": "The {camera} did not record, so we could not check this.",
    "camera_placement": "The {camera} was not at the right angle to check this.",
    "not_visible": "The {camera} could not see {part} clearly.",
    "no_reps": "We did not see a full, deep squat, so we could not check this.",
    "arms_not_overhead": "Your arms were not overhead, so we could not check this.",
    "no_baseline": "We did not see you stand still first, so we had nothing to compare with.",
    "cannot_measure": "This station cannot measure this. A trainer can check it by eye.",
    "silhouette_unclear": "We could not see the outline of {part} clearly. Loose clothes can cause this.",
    "retest_stance": "This re-test does not check this.",
}
REASON_FALLBACK = "We could not check this today."

# The live page: each station state (device/station/machine.py STATES) in words, the status
# light in words, and the instruction while recording (the rep count is shown once, as a number).
LIVE_WORDS = {
    "states": {
        "idle": "Ready",
        "positioning": "Find your spot",
        "countdown": "Get ready",
        "recording": "Squatting",
        "analysing": "Working out your result",
        "result": "Your result is ready",
        "cancelled": "Stopped",
        "person_left": "Stopped: you stepped away",
        "camera_offline": "Camera problem",
        "too_few_reps": "Not enough squats",
        "pain": "Please stop",
        "error": "Something went wrong",
        "shutting_down": "Shutting down",
        "not_running": "Not running",
    },
    "recording": {
        "standard": "Squat slowly, arms overhead.",
        "heels_raised": "Squat slowly, arms overhead, heels raised.",
        "hands_on_hips": "Squat slowly, hands on hips.",
    },
    "light": {"ready": "Ready", "busy": "Busy", "attention": "Needs attention", "off": "Off"},
    # in the pain state the station's `countdown` (if it gives one) is the wait before Start
    "pain_wait": "You can start again in {n} seconds, or when you have stepped off the mat.",
    "region_on": "Light on",
    "region_off": "Light off",
}

NUMBER_WORDS = ("No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten")
SIDE_WORDS = {"left": "mostly your left side", "right": "mostly your right side", "both": "both sides"}


def reason_sentence(cid: str, entry: dict) -> str:
    """The member's sentence for a compensation that was not checked."""
    template = REASONS.get(entry.get("reason_code") or "", REASON_FALLBACK)
    comp = COMPENSATIONS.get(cid)
    camera = f"{comp.view} camera" if comp else "camera"
    return template.format(camera=camera, part=BODY_PART.get(cid, "you"))


def _status(entry: dict | None) -> str:
    status = (entry or {}).get("status")
    return status if status in (PRESENT, ABSENT, NOT_ASSESSED) else NOT_ASSESSED


def headline(result: dict) -> dict:
    """{"text", "kind"}: 'Two things to work on: knees cave in, arms fall forward' and the like."""
    comps = result.get("compensations") or {}
    present = [c for c in COMPENSATIONS if _status(comps.get(c)) == PRESENT]
    checked = [c for c in COMPENSATIONS if _status(comps.get(c)) != NOT_ASSESSED]
    # what the station can never measure does not make a result "partial"
    missed = [c for c in COMPENSATIONS if _status(comps.get(c)) == NOT_ASSESSED
              and (comps.get(c) or {}).get("reason_code") != "cannot_measure"]
    if present:
        n = len(present)
        count = NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)
        labels = [COMPENSATIONS[c].label.lower() for c in present]
        shown = ", ".join(labels[:3]) + (" and more" if n > 3 else "")
        return {"kind": "work", "text": f"{count} thing{'s' if n > 1 else ''} to work on: {shown}"}
    if not checked:
        return {"kind": "unchecked", "text": "We could not check your squat this time"}
    if missed:
        return {"kind": "partly", "text": "We could only check part of your squat"}
    return {"kind": "fine", "text": "Nothing to work on today"}


def figure_regions(result: dict) -> list[dict]:
    """One mark per checkpoint region for the body figure and its legend (feet up)."""
    comps = result.get("compensations") or {}
    out = []
    for region in REGIONS:
        ids = [c for c, comp in COMPENSATIONS.items() if comp.region == region.id]
        statuses = {_status(comps.get(c)) for c in ids}
        if PRESENT in statuses:
            mark = "work"
        elif statuses == {ABSENT}:
            mark = "fine"
        elif ABSENT in statuses:
            mark = "partly"
        else:
            mark = "unchecked"
        seen = [COMPENSATIONS[c].label for c in ids if _status(comps.get(c)) == PRESENT]
        out.append({"id": region.id, "label": region.label, "mark": mark, **MARKS[mark],
                    "seen": seen})
    return out


def findings(result: dict, described: list[dict] | None = None) -> list[dict]:
    """The compensations seen, one plain sentence each (from device.plan.describe_findings)."""
    comps = result.get("compensations") or {}
    reps = result.get("reps")
    saw = {f["id"]: f.get("what_we_saw") for block in described or [] for f in block.get("findings") or []}
    out = []
    for cid, comp in COMPENSATIONS.items():
        entry = comps.get(cid) or {}
        if _status(entry) != PRESENT:
            continue
        text = saw.get(cid)
        if not text:
            flagged = entry.get("reps_flagged")
            counted = isinstance(flagged, int) and isinstance(reps, int) and reps
            often = f" on {flagged} of {reps} squats" if counted else ""
            text = f"We saw: {comp.label.lower()}{often}."
        side = entry.get("side") if comp.sided else None
        out.append({"id": cid, "label": comp.label, "region": comp.region, "text": text,
                    "side": SIDE_WORDS.get(side or "", "")})
    return out


def not_checked(result: dict) -> list[dict]:
    """What could not be checked, with the member's sentence (the technical reason is not here)."""
    comps = result.get("compensations") or {}
    return [{"id": cid, "label": comp.label, "text": reason_sentence(cid, comps.get(cid) or {})}
            for cid, comp in COMPENSATIONS.items() if _status(comps.get(cid)) == NOT_ASSESSED]


def exercises(plan: dict | None) -> list[dict]:
    """The plan's exercises in order, each with the member's name, cue, dose and picture."""
    if not plan or plan.get("kind") == "referral":
        return []
    out = []
    for phase in plan.get("phases") or []:
        for ex in phase.get("exercises") or []:
            cues = ex.get("cues") or []
            member_dose = ex.get("dose_text")
            out.append({
                "id": ex.get("id", ""),
                "name": ex.get("member_name") or ex.get("name", ""),
                "cue": ex.get("cue") or (cues[0] if cues else ""),
                "dose": member_dose or ex.get("dose") or "",
                # the member's dose already says the side ("..., left side only")
                "side_text": "" if member_dose else ex.get("side_text") or "",
                "figure_svg": ex.get("figure_svg") or _figure(ex.get("figure")),
                "phase": phase.get("member_label") or phase.get("label") or "",
                "not_for": list(ex.get("contraindications") or []),
                "trainer_note": ex.get("trainer_note") or "",
            })
    return out


def _figure(name) -> str:
    """The exercise's picture from device.plan.figure_svg ('' without one)."""
    if not name:
        return ""
    try:
        return figure_svg(name)
    except InputError:  # an exercise the library does not know costs the picture, not the page
        log.warning("no figure for exercise %r", name, exc_info=True)
        return ""


def glossary(plan: dict | None) -> list[dict]:
    """[{"term", "meaning"}] from the plan's glossary (a list of pairs or a mapping)."""
    g = (plan or {}).get("glossary") or []
    if isinstance(g, dict):
        return [{"term": k, "meaning": v} for k, v in g.items()]
    out = []
    for item in g:
        if isinstance(item, dict) and item.get("term"):
            out.append({"term": item["term"], "meaning": item.get("meaning") or item.get("text") or ""})
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out.append({"term": item[0], "meaning": item[1]})
    return out


def schedule_text(plan: dict | None) -> str:
    s = (plan or {}).get("schedule")
    if isinstance(s, dict):
        return s.get("text") or ""
    return s if isinstance(s, str) else ""


def retest_text(plan: dict | None) -> str:
    """The plan's re-test sentence, else one made from its ISO date `retest_on`, else ''."""
    schedule = (plan or {}).get("schedule")
    if isinstance(schedule, dict) and schedule.get("retest_text"):
        return schedule["retest_text"]
    on = (plan or {}).get("retest_on")
    if not on:
        return ""
    try:
        day = datetime.date.fromisoformat(str(on)[:10])
    except ValueError:
        return f"Come back for a re-test on {on}."
    return f"Come back for a re-test on {day.strftime('%a')} {day.day} {day.strftime('%B %Y')}."


def take_home_text(plan: dict | None, result: dict) -> str:
    """The plan as compact text for the take-home QR code (device.plan.plan_text)."""
    return plan_text(plan, result)


def member_result(result: dict, plan: dict | None, *, pain: bool = False,
                  described: list[dict] | None = None) -> dict:
    """Everything the member part of a result page shows, as plain data."""
    head = headline(result)
    if pain:
        head = {"kind": "pain", "text": "You told us something hurt"}
    return {
        "headline": head,
        "figure": figure_regions(result),
        "findings": findings(result, described),
        "not_checked": not_checked(result),
        "exercises": [] if pain else exercises(plan),
        "glossary": glossary(plan),
        "schedule": schedule_text(plan),
        "retest": retest_text(plan),
        "take_home": None if pain or not plan or plan.get("kind") == "referral" else take_home_text(plan, result),
    }
