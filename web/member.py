"""What a member reads on a result: the headline, the body figure's marks, plain reasons, take-home text.

    member_result(result, plan, pain=False, described=None, lang="en") -> dict   # for templates/result.html

Every sentence here is an English msgid of the catalogue (device/locale, device.i18n), marked
with N_ where it is defined and translated where it is used, in the `lang` the page shows
(`[kiosk] language`). Members get short plain sentences; the technical detail (measurements, thresholds, the rules'
own `reason`) stays on the trainer's pages. A compensation that could not be checked carries a
machine-readable `reason_code` from the rules; each code has one member sentence here.
"""

from __future__ import annotations

import datetime
import logging
import re

from device import i18n
from device.errors import InputError
from device.i18n import N_
from device.plan import figure_svg, plan_text
from device.plan.builder import label_in_text
from device.vocabulary import ABSENT, COMPENSATIONS, NOT_ASSESSED, PRESENT, REGIONS

log = logging.getLogger(__name__)

# How a region is marked on the body figure and in its legend (never by colour alone: each mark
# has a pattern, an icon and these words).
MARKS = {
    "work": {"icon": "!", "words": N_("To work on")},
    "fine": {"icon": "\u2713", "words": N_("No problem seen")},
    "partly": {"icon": "\u2713", "words": N_("Partly checked")},
    "unchecked": {"icon": "?", "words": N_("Not checked")},
}

# The body part a member recognises, per compensation (used in "could not see ... clearly").
BODY_PART = {
    "feet_turn_out": N_("your feet"),
    "feet_turn_in": N_("your feet"),
    "feet_flatten": N_("your arches"),
    "heels_rise": N_("your heels"),
    "knees_cave_in": N_("your knees"),
    "knees_push_out": N_("your knees"),
    "asymmetric_weight_shift": N_("your hips"),
    "excessive_forward_lean": N_("your upper body"),
    "low_back_arch": N_("your lower back"),
    "low_back_round": N_("your lower back"),
    "arms_fall_forward": N_("your arms"),
    "head_forward": N_("your head"),
    "head_down": N_("your head"),
}

# reason_code (set by the rules on every not_assessed entry) -> one plain sentence.
# {camera} is "front camera" / "side camera", {part} a body part from BODY_PART.
REASONS = {
    "no_view": N_("The {camera} did not record, so we could not check this."),
    "camera_placement": N_("The {camera} was not at the right angle to check this."),
    "not_visible": N_("The {camera} could not see {part} clearly."),
    "no_reps": N_("We did not see a full, deep squat, so we could not check this."),
    "arms_not_overhead": N_("Your arms were not overhead, so we could not check this."),
    "no_baseline": N_("We did not see you stand still first, so we had nothing to compare with."),
    "cannot_measure": N_("This station cannot measure this. A trainer can check it by eye."),
    "silhouette_unclear": N_("We could not see the outline of {part} clearly. Loose clothes can cause this."),
    "retest_stance": N_("This re-test does not check this."),
    "feet_direction": N_("We could not tell whether your knees push out or simply follow your feet. "
                         "A trainer can check it by eye."),
}
REASON_FALLBACK = N_("We could not check this today.")

# The live page: each station state (device/station/machine.py STATES) in words, the status
# light in words, and the instruction while recording (the rep count is shown once, as a number).
LIVE_WORDS = {
    "states": {
        "idle": N_("Ready"),
        "positioning": N_("Find your spot"),
        "countdown": N_("Get ready"),
        "recording": N_("Squatting"),
        "analysing": N_("Working out your result"),
        "result": N_("Your result is ready"),
        "cancelled": N_("Stopped"),
        "person_left": N_("Stopped: you stepped away"),
        "camera_offline": N_("Camera problem"),
        "too_few_reps": N_("Not enough squats"),
        "pain": N_("Please stop"),
        "error": N_("Something went wrong"),
        "shutting_down": N_("Shutting down"),
        "closed": N_("Closed"),  # asleep outside the opening hours
        "finished": N_("Finished"),  # web/kiosk.py public_state: someone else's result or pain
        "not_running": N_("Not running"),
    },
    "recording": {
        "standard": N_("Squat slowly, arms overhead."),
        "heels_raised": N_("Squat slowly, arms overhead, heels raised."),
        "hands_on_hips": N_("Squat slowly, hands on hips."),
    },
    "light": {"ready": N_("Ready"), "busy": N_("Busy"), "attention": N_("Needs attention"), "off": N_("Off")},
    # in the pain state the station's `countdown` (if it gives one) is the wait before Start
    "pain_wait": N_("You can start again in {n} seconds, or when you have stepped off the mat."),
    "region_on": N_("Light on"),
    "region_off": N_("Light off"),
}

NUMBER_WORDS = (N_("No"), N_("One"), N_("Two"), N_("Three"), N_("Four"), N_("Five"), N_("Six"), N_("Seven"),
                N_("Eight"), N_("Nine"), N_("Ten"))
SIDE_WORDS = {"left": N_("mostly your left side"), "right": N_("mostly your right side"), "both": N_("both sides")}


CAMERA = {"front": N_("front camera"), "side": N_("side camera")}


def _tr(lang: str):
    return i18n.translations(lang).gettext


def translated(table, lang: str):
    """A copy of a (nested) table of N_ strings in `lang` (LIVE_WORDS for the live page's script)."""
    if isinstance(table, dict):
        return {k: translated(v, lang) for k, v in table.items()}
    return _tr(lang)(table) if isinstance(table, str) else table


def label(cid: str, lang: str = "en") -> str:
    """A compensation's label (device/vocabulary.py) in `lang`."""
    return _tr(lang)(COMPENSATIONS[cid].label)


def reason_sentence(cid: str, entry: dict, lang: str = "en") -> str:
    """The member's sentence for a compensation that was not checked."""
    _ = _tr(lang)
    template = _(REASONS.get(entry.get("reason_code") or "", REASON_FALLBACK))
    comp = COMPENSATIONS.get(cid)
    camera = _(CAMERA[comp.view]) if comp and comp.view in CAMERA else _("camera")
    return template.format(camera=camera, part=_(BODY_PART[cid]) if cid in BODY_PART else _("you"))


def _status(entry: dict | None) -> str:
    status = (entry or {}).get("status")
    return status if status in (PRESENT, ABSENT, NOT_ASSESSED) else NOT_ASSESSED


def headline(result: dict, lang: str = "en") -> dict:
    """{"text", "kind"}: 'Two things to work on: knees cave in, arms fall forward' and the like."""
    tr = i18n.translations(lang)
    _ = tr.gettext
    comps = result.get("compensations") or {}
    present = [c for c in COMPENSATIONS if _status(comps.get(c)) == PRESENT]
    checked = [c for c in COMPENSATIONS if _status(comps.get(c)) != NOT_ASSESSED]
    # what the station can never measure does not make a result "partial"
    missed = [c for c in COMPENSATIONS if _status(comps.get(c)) == NOT_ASSESSED
              and (comps.get(c) or {}).get("reason_code") != "cannot_measure"]
    if present:
        n = len(present)
        count = _(NUMBER_WORDS[n]) if n < len(NUMBER_WORDS) else i18n.format_decimal(n, lang)
        labels = [label_in_text(c, lang) for c in present]
        shown = ", ".join(labels[:3]) + (_(" and more") if n > 3 else "")
        text = tr.ngettext("%(count)s thing to work on: %(shown)s", "%(count)s things to work on: %(shown)s", n)
        return {"kind": "work", "text": text % {"count": count, "shown": shown}}
    if not checked:
        return {"kind": "unchecked", "text": _("We could not check your squat this time")}
    if missed:
        return {"kind": "partly", "text": _("We could only check part of your squat")}
    return {"kind": "fine", "text": _("Nothing to work on today")}


def figure_regions(result: dict, lang: str = "en") -> list[dict]:
    """One mark per checkpoint region for the body figure and its legend (feet up)."""
    _ = _tr(lang)
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
        seen = [label(c, lang) for c in ids if _status(comps.get(c)) == PRESENT]
        out.append({"id": region.id, "label": _(region.label), "mark": mark, "icon": MARKS[mark]["icon"],
                    "words": _(MARKS[mark]["words"]), "seen": seen})
    return out


def findings(result: dict, described: list[dict] | None = None, lang: str = "en") -> list[dict]:
    """The compensations seen, one plain sentence each (from device.plan.describe_findings)."""
    _ = _tr(lang)
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
            often = _(" on %(flagged)s of %(reps)s squats") % {"flagged": flagged, "reps": reps} if counted else ""
            text = _("We saw: %(what)s.") % {"what": label_in_text(cid, lang) + often}
        side = entry.get("side") if comp.sided else None
        out.append({"id": cid, "label": label(cid, lang), "region": comp.region, "text": text,
                    "side": _(SIDE_WORDS[side]) if side in SIDE_WORDS else ""})
    return out


def not_checked(result: dict, lang: str = "en") -> list[dict]:
    """What could not be checked, with the member's sentence (the technical reason is not here)."""
    comps = result.get("compensations") or {}
    return [{"id": cid, "label": label(cid, lang), "text": reason_sentence(cid, comps.get(cid) or {}, lang)}
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


def retest_text(plan: dict | None, lang: str = "en") -> str:
    """The plan's re-test sentence, else one made from its ISO date `retest_on`, else ''."""
    schedule = (plan or {}).get("schedule")
    if isinstance(schedule, dict) and schedule.get("retest_text"):
        return schedule["retest_text"]
    on = (plan or {}).get("retest_on")
    if not on:
        return ""
    _ = _tr(lang)
    try:
        day = datetime.date.fromisoformat(str(on)[:10])
    except ValueError:
        return _("Come back for a re-test on %(date)s.") % {"date": on}
    return _("Come back for a re-test on %(date)s.") % {"date": i18n.format_date(day, "full", lang)}


def take_home_text(plan: dict | None, result: dict, lang: str = "en") -> str:
    """The plan as compact text for the take-home QR code (device.plan.plan_text)."""
    return plan_text(plan, result, lang=lang)


def member_result(result: dict, plan: dict | None, *, pain: bool = False,
                  described: list[dict] | None = None, lang: str = "en") -> dict:
    """Everything the member part of a result page shows, as plain data, in `lang`."""
    _ = _tr(lang)
    head = headline(result, lang)
    if pain:
        head = {"kind": "pain", "text": _("You told us something hurt")}
    return {
        "headline": head,
        "figure": figure_regions(result, lang),
        "findings": findings(result, described, lang),
        "not_checked": not_checked(result, lang),
        "exercises": [] if pain else exercises(plan),
        "glossary": glossary(plan),
        "schedule": schedule_text(plan),
        "retest": retest_text(plan, lang),
        "take_home": None if pain or not plan or plan.get("kind") == "referral" else take_home_text(plan, result, lang),
    }


# --- the station's own messages (device/station/machine.py MESSAGES, positioning INSTRUCTIONS) ---
# The station words its state in English from those templates; the page says the same in the
# page's language: a message is matched against the templates, its fields (numbers; a camera's
# view; another message) are taken out and put into the template's translation. A message no
# template matches is shown as it came. Words that fill a field are translated in the context
# "station message" (e.g. "front" -> "Front" for "The {view} camera ...").
STATION_CONTEXT = "station message"
_FIELD = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _pattern(template: str) -> tuple[str, list[str]]:
    """A regex source (valid in Python and JavaScript) for the template and its field names."""
    out, fields, last = [], [], 0
    for m in _FIELD.finditer(template):
        out.append(re.escape(template[last:m.start()]))
        out.append("(.*?)")
        fields.append(m.group(1))
        last = m.end()
    out.append(re.escape(template[last:]))
    return "^" + "".join(out) + "$", fields


def station_words(lang: str, extra=()) -> list[list]:
    """[[pattern, fields, translation], ...] for the live page's script (no entries in English);
    the translation's fields are written {name}. `extra`: the web layer's own fixed messages."""
    if lang == i18n.SOURCE:
        return []
    _ = _tr(lang)
    out = []
    templates = sorted({*i18n.station_templates(lang), *extra}, key=len, reverse=True)
    for template in templates:  # longest first: the most specific match wins
        pattern, fields = _pattern(template)
        out.append([pattern, fields, _FIELD.sub(r"{\1}", _(template))])
    return out


def station_args(lang: str) -> dict[str, str]:
    """The words that fill a station message's fields, translated ({"front": "Front", ...})."""
    tr = i18n.translations(lang)
    return {w: tr.pgettext(STATION_CONTEXT, w) for w in STATION_ARG_WORDS}


# every word the station puts into a field of its messages (machine.py, positioning.py)
STATION_ARG_WORDS = ("front", "side", "front camera is", "side camera is", "front and side cameras are")


def station_message(text: str, lang: str, extra=()) -> str:
    """The station's English `text` in `lang` (as it came when no template matches)."""
    if lang == i18n.SOURCE or not text:
        return text or ""
    args = station_args(lang)
    for pattern, fields, translation in station_words(lang, extra):
        m = re.match(pattern, text, re.S)
        if m:
            values = {f: args.get(v, station_message(v, lang) if v.endswith(".") else v)
                      for f, v in zip(fields, m.groups())}
            return _FIELD.sub(lambda f: values.get(f.group(1), ""), translation)
    return text


# --- a re-test compared with its standard set (device/analysis/retest.py compare) ---------------
# The analysis stores the comparison as data (which compensations disappeared or stayed, and the
# likely origin) with an English `summary` for the trainer's pages; the member's sentence is made
# here from the data, in the page's language. The origins' words are retest.ORIGIN_LABELS, in the
# catalogue through scripts/i18n.py extract.
RETEST_WHAT = {"heels_raised": N_("heels raised"), "hands_on_hips": N_("hands on hips")}


def _join(items: list[str], lang: str) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + _tr(lang)(" and ") + items[-1]


def _quoted(cids, lang: str) -> list[str]:
    return [label_in_text(c, lang) if lang == "en" else f"\u201e{label(c, lang)}\u201c" for c in cids]


def comparison_text(comparison: dict | None, lang: str = "en") -> str:
    """'With heels raised, knees cave in disappeared: likely from ankle mobility (calves).' and the like."""
    if not isinstance(comparison, dict) or comparison.get("kind") not in RETEST_WHAT:
        return ""
    from device.analysis.retest import ORIGIN_IF_GONE, ORIGIN_LABELS

    _ = _tr(lang)
    kind = comparison["kind"]
    what = _(RETEST_WHAT[kind])
    gone = _quoted([c for c in comparison.get("disappeared") or [] if c in COMPENSATIONS], lang)
    kept = _quoted([c for c in comparison.get("persisted") or [] if c in COMPENSATIONS], lang)
    parts = []
    if gone:
        parts.append(_("With %(what)s, %(gone)s disappeared: likely from %(origin)s.") % {
            "what": what, "gone": _join(gone, lang), "origin": _(ORIGIN_LABELS[ORIGIN_IF_GONE[kind]])})
    if kept:
        text = _("%(kept)s stayed: likely from %(origin)s.") % {
            "kept": _join(kept, lang), "origin": _(ORIGIN_LABELS["hip_core"])}
        parts.append(text[0].upper() + text[1:])
    if not parts:
        parts.append(_("With %(what)s, nothing from the first set could be compared or changed.") % {"what": what})
    return " ".join(parts)
