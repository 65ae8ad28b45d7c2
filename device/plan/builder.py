"""The corrective plan: findings of one result -> one short session in continuum order.

    build_plan(result, pain=False, age=None, side_aware=True, assessed_on=None) -> dict   # ohsa-plan/1

How a plan is made (the numbers are the library's: `max_exercises`, `max_per_finding`,
`budget_minutes`, `pick_order`, `[schedule]`):
- Only findings with status `present` count; the most important first (severity, share of
  reps flagged, confidence, then feet-up body order).
- A first plan a member can follow alone: at most 6 exercises and 15 minutes, and at most 4
  (one per phase) for any one finding. Exercises are picked phase by phase in the library's
  `pick_order` (stretch, strengthen, practise, release), each phase for every finding in order
  of importance, while they fit. Every other exercise of those findings is kept for a trainer
  under `left_out`; a note tells the member that a trainer has more. A finding that got no
  exercise at all is said in `notes` — the plan never silently drops a finding.
- The same exercise wanted by two findings appears once and lists both reasons; its sides are
  merged (left + right = both).
- Times are estimates for the member's dose (`dose_text`), per side for one-sided exercises.
- Sides are the person's own left and right. A sided finding (knees cave in on the left) gets
  its one-sided exercises on that side only; a weight shift uses the library's "same" and
  "opposite" relations (shift to the left: release the left inner thigh, strengthen the left
  side of the hip and the right inner thigh).
- A pain report gives a referral message and no exercises at all.
- The schedule ("3 times a week for 4 weeks") and the re-test date (`assessed_on` + the
  schedule's weeks; the caller passes the assessment's date — nothing here reads the clock).
- Member-facing fields are plain words (device/plan/words.py checks them); the technical ones
  (`name`, `dose`, `cues`, `targets`, phase `label`/`technique`) stay for the trainer's pages.
"""

from __future__ import annotations

import copy
import datetime as dt
import re

from device import i18n
from device.errors import InputError
from device.i18n import N_
from device.plan import library as libmod
from device.plan import words
from device.plan.library import PHASES
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS, PRESENT, NOT_ASSESSED

FORMAT_PLAN = "ohsa-plan/1"
SEVERITY_RANK = {"marked": 3, "moderate": 2, "mild": 1}
OLDER_ADULT_AGE = 65

REFERRAL_MESSAGE = N_(
    "You told us something hurt during the squat. We don't give exercises when movement is "
    "painful. Please see a qualified professional, such as a physiotherapist or doctor, before "
    "starting corrective exercise. A trainer here can talk your result through with you."
)
DISCLAIMER = N_(
    "This plan comes from a movement screen, not a medical check. Stop any exercise that "
    "hurts and ask a qualified trainer or health professional. Skip an exercise if one of its "
    "\"not for\" notes applies to you."
)
OTHER = {"left": "right", "right": "left"}
SIDE_TEXT = {"left": N_("Left side only"), "right": N_("Right side only"), "both": N_("Both sides")}
DOSE_SIDE = {"both": N_(", each side"), "left": N_(", left side only"), "right": N_(", right side only")}


def label_in_text(cid: str, lang: str = "en") -> str:
    """A compensation's label inside a sentence: "knees cave in" (German keeps its capitals)."""
    label = i18n.translations(lang).gettext(COMPENSATIONS[cid].label)
    return label.lower() if lang == "en" else label


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


def _side_text(side: str | None, lang: str = "en") -> str:
    return i18n.translations(lang).gettext(SIDE_TEXT[side]) if side in SIDE_TEXT else ""


def dose_text(ex: dict, phase: dict, side: str | None, older: bool, lang: str = "en") -> str:
    """The dose in plain words: "Hold 30 seconds, each side", "10 slow repeats, 2 rounds"."""
    text = ex.get("dose_text") or (phase.get("dose_text_65") if older and phase.get("dose_text_65")
                                   else phase["dose_text"])
    return text + (i18n.translations(lang).gettext(DOSE_SIDE[side]) if side in DOSE_SIDE else "")


def assessment_date(value) -> dt.date:
    """A date from a date, a datetime or an ISO 8601 text (the store's `created_at`)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise InputError(f"assessed_on: expected a date (YYYY-MM-DD), got {value!r}")


def long_date(day: dt.date, lang: str = "en") -> str:
    """The locale's long date: 28 December 2026, 28. Dezember 2026 (Babel, CLDR)."""
    return i18n.format_date(day, "long", lang)


def schedule_of(lib: dict, assessed_on, lang: str = "en") -> tuple[dict, str | None]:
    """The plan's `schedule` and `retest_on` (ISO date, or None without an assessment date)."""
    _ = i18n.translations(lang).gettext
    per_week, weeks = lib["schedule"]["per_week"], lib["schedule"]["weeks"]
    schedule = {"per_week": per_week, "weeks": weeks, "retest_after_days": 7 * weeks,
                "text": _("%(per_week)s times a week for %(weeks)s weeks") % {"per_week": per_week, "weeks": weeks},
                "retest_text": ""}
    if assessed_on is None:
        schedule["retest_text"] = _("Come back for a re-test in %(weeks)s weeks.") % {"weeks": weeks}
        return schedule, None
    retest = assessment_date(assessed_on) + dt.timedelta(days=7 * weeks)
    schedule["retest_text"] = _("Come back for a re-test on %(date)s.") % {"date": long_date(retest, lang)}
    return schedule, retest.isoformat()


def glossary_for(plan: dict, lib: dict) -> list[dict]:
    """The library's glossary terms whose words appear in the plan's member-facing text."""
    text = "\n".join(words.member_texts(plan)).lower()
    out = []
    for item in lib.get("glossary", []):
        if any(re.search(r"(?<![\w-])" + re.escape(w.lower()) + r"(?![\w-])", text) for w in item["words"]):
            out.append({"term": item["term"], "meaning": item["meaning"]})
    return out


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
               side_aware: bool = True, assessed_on=None, lang: str = "en") -> dict:
    """A plan (`ohsa-plan/1`) for one `ohsa-result/1`; see the module docstring.

    `assessed_on` (a date, datetime or ISO text: the assessment's `created_at`) sets `retest_on`;
    without it `retest_on` is None and the schedule says "in 4 weeks". `lang` (device.i18n.LANGUAGES)
    is the language of the member-facing keys; the trainer's keys stay English.
    """
    _check_args(result, age)
    if lang not in i18n.LANGUAGES:
        raise InputError(f"lang: one of {', '.join(i18n.LANGUAGES)}, got {lang!r}")
    lib = libmod.load_for(lang)
    _, ngettext = i18n.gettext_for(lang)
    if assessed_on is not None:
        assessment_date(assessed_on)  # a bad date is an error even for a referral
    base = {"format": FORMAT_PLAN, "source": lib["edition"], "disclaimer": _(DISCLAIMER), "language": lang,
            "budget_minutes": lib["budget_minutes"], "max_exercises": lib["max_exercises"],
            "findings": [], "phases": [], "left_out": [], "notes": [], "total_minutes": 0.0,
            "schedule": None, "retest_on": None, "glossary": []}
    if pain:
        return {**base, "kind": "referral", "message": _(REFERRAL_MESSAGE), "disclaimer": ""}

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
    per_finding: dict[str, int] = {c: 0 for c in present}

    def wanted(cid: str, phase: str) -> list:
        fside = comps[cid].get("side") if COMPENSATIONS[cid].sided else None
        fside = fside if side_aware else None
        return [
            (ex_id, _side_of(fside, rel, lib["exercises"][ex_id]["sided"], side_aware), cid, fside)
            for ex_id, rel in libmod.refs(lib["compensations"][cid], phase)
        ]

    def add(ex_id, side, cid, fside) -> None:
        if ex_id in chosen:
            chosen[ex_id]["side"] = _merge_sides(chosen[ex_id]["side"], side)
        else:
            chosen[ex_id] = {"side": side, "reasons": []}
        reasons = chosen[ex_id]["reasons"]
        if not any(r["compensation"] == cid for r in reasons):
            reasons.append({"compensation": cid, "label": COMPENSATIONS[cid].label, "side": fside})
            per_finding[cid] += 1

    total = 0.0
    # each finding's first exercise of a phase, phases in pick order, findings by importance
    for phase in lib["pick_order"]:
        for cid in present:
            items = wanted(cid, phase)[:1]
            if not items or per_finding[cid] >= lib["max_per_finding"]:
                continue
            ex_id, side, _cid, _fside = items[0]
            if ex_id in chosen:
                merged = _merge_sides(chosen[ex_id]["side"], side)
                extra = seconds(ex_id, merged) - seconds(ex_id, chosen[ex_id]["side"])
            else:
                if len(chosen) >= lib["max_exercises"]:
                    continue
                extra = seconds(ex_id, side)
            if total + extra <= budget_s:
                add(*items[0])
                total += extra
    uncovered = [c for c in present if per_finding[c] == 0]
    left_out = [item for cid in present for phase in PHASES for item in wanted(cid, phase)]

    kind, message = "plan", ""
    if not present:
        kind, message = "general", lib["general"]["message"]
        for phase in PHASES:
            for ex_id, _rel in libmod.refs(lib["general"], phase):
                side = "both" if lib["exercises"][ex_id]["sided"] else None
                chosen[ex_id] = {"side": side, "reasons": []}
                total += seconds(ex_id, side)
    else:
        labels = [label_in_text(c, lang) for c in present if c not in uncovered]
        message = _("Your plan works on: %(labels)s.") % {"labels": "; ".join(labels)} if labels else ""

    notes = []
    dropped = _left_out(left_out, chosen, lib, older, seconds, lang)
    if dropped:
        n = len(dropped)
        notes.append(ngettext("A trainer can add %(n)s more exercise for what we saw, once this plan feels easy.",
                              "A trainer can add %(n)s more exercises for what we saw, once this plan feels easy.",
                              n) % {"n": n})
    if 0 < len(uncovered) <= 2:
        labels = _(" and ").join(f"\"{label_in_text(c, lang)}\"" for c in uncovered)
        notes.append(ngettext("To keep it short, this plan leaves out %(labels)s. A trainer can add it.",
                              "To keep it short, this plan leaves out %(labels)s. A trainer can add them.",
                              len(uncovered)) % {"labels": labels})
    elif uncovered:
        notes.append(_("To keep it short, this plan leaves out %(n)s of the things we saw. "
                       "A trainer can add them.") % {"n": len(uncovered)})
    skipped = [c for c in COMPENSATION_IDS if (comps.get(c) or {}).get("status") == NOT_ASSESSED]
    if skipped:
        notes.append(_("We could not check %(n)s of the %(total)s things we look for. "
                       "This plan does not cover those.") % {"n": len(skipped), "total": len(COMPENSATION_IDS)})
    if older:
        notes.append(_("Stretches are held 60 seconds (advised from age %(age)s).") % {"age": OLDER_ADULT_AGE})

    schedule, retest_on = schedule_of(lib, assessed_on, lang)
    plan = {
        **base,
        "kind": kind,
        "message": message,
        "findings": [_finding(c, comps[c], lib) for c in present if c not in uncovered],
        "phases": _phases(chosen, lib, older, seconds, lang),
        "left_out": dropped,
        "notes": notes,
        "total_minutes": round(total / 60, 1),
        "schedule": schedule,
        "retest_on": retest_on,
    }
    plan["glossary"] = glossary_for(plan, lib)
    return plan


def _exercise(ex_id: str, side: str | None, lib: dict, older: bool, seconds, lang: str = "en") -> dict:
    """The fields every exercise entry has, in `phases` and in `left_out`."""
    ex = lib["exercises"][ex_id]
    info = lib["phases"][ex["phase"]]
    return {
        "id": ex_id, "name": ex["name"], "phase": ex["phase"], "member_name": ex["member_name"],
        "cue": ex["cue"], "dose_text": dose_text(ex, info, side, older, lang), "figure": ex_id,
        "side": side, "side_text": _side_text(side, lang), "minutes": round(seconds(ex_id, side) / 60, 1),
    }


def _finding(cid: str, entry: dict, lib: dict) -> dict:
    data = lib["compensations"][cid]
    return {"id": cid, "label": COMPENSATIONS[cid].label,
            "side": entry.get("side") if COMPENSATIONS[cid].sided else None,
            "severity": entry.get("severity"), "view": data["view"],
            "overactive": list(data["overactive"]), "underactive": list(data["underactive"])}


def _left_out(items, chosen: dict, lib: dict, older: bool, seconds, lang: str = "en") -> list[dict]:
    """The findings' exercises not in the member's plan, for a trainer to add (sides merged)."""
    out: dict[str, dict] = {}
    for ex_id, side, cid, fside in items:
        if ex_id in chosen:
            continue
        slot = out.get(ex_id)
        if slot is None:
            slot = out[ex_id] = {**_exercise(ex_id, side, lib, older, seconds, lang), "reasons": []}
        elif slot["side"] != _merge_sides(slot["side"], side):
            merged = _merge_sides(slot["side"], side)
            slot.update({k: v for k, v in _exercise(ex_id, merged, lib, older, seconds, lang).items()})
        if cid not in slot["reasons"]:
            slot["reasons"].append(cid)
    return list(out.values())


def _phases(chosen: dict, lib: dict, older: bool, seconds, lang: str = "en") -> list[dict]:
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
                **_exercise(ex_id, side, lib, older, seconds, lang),
                "targets": list(ex["targets"]),
                "dose": ex.get("dose") or (info.get("dose_65") if older and info.get("dose_65")
                                           else info["dose"]),
                "cues": list(ex["cues"]), "contraindications": list(ex["contraindications"]),
                "source": ex["source"], "reasons": chosen[ex_id]["reasons"],
            })
        if exercises:
            phases.append({"id": phase, "label": info["label"], "technique": info["technique"],
                           "purpose": info["purpose"], "member_label": info["member_label"],
                           "member_purpose": info["member_purpose"], "exercises": exercises})
    return phases


def with_member_fields(plan: dict, assessed_on=None, lang: str = "en") -> dict:
    """A copy of a stored plan with the member-facing keys filled in where they are missing.

    Plans saved before these keys existed (or edited by a trainer as JSON) keep every key they
    have; exercises the library knows gain `member_name`, `cue`, `dose_text` and `figure`,
    phases their `member_label` and `member_purpose`, the plan its `schedule`, `retest_on` and
    `glossary`. A referral is returned as it is. In another `lang`, a member text that is still
    the English library's (not written by a trainer) is replaced by that language's.
    """
    if not isinstance(plan, dict):
        raise InputError("plan: expected an ohsa-plan/1 object")
    out = copy.deepcopy(plan)
    if out.get("kind") == "referral":
        return out
    lib = libmod.load_for(lang)
    english = libmod.load()
    older = any(e.get("dose") == lib["phases"]["lengthen"].get("dose_65") for p in out.get("phases") or []
                for e in p.get("exercises") or [] if e.get("phase") == "lengthen")
    for phase in out.get("phases") or []:
        info = lib["phases"].get(phase.get("id"), {})
        for key in ("member_label", "member_purpose"):
            if lang != "en" and info and phase.get(key) == english["phases"][phase["id"]].get(key):
                phase[key] = info[key]
            phase.setdefault(key, info.get(key, phase.get("label", "")))
        for ex in phase.get("exercises") or []:
            known = lib["exercises"].get(ex.get("id"))
            if known is None:
                continue
            if lang != "en":
                was = english["exercises"][ex["id"]]
                for key in ("member_name", "cue", "contraindications"):
                    if ex.get(key) == was.get(key):
                        ex[key] = known[key]
                if ex.get("dose_text") in {dose_text(was, english["phases"][was["phase"]], ex.get("side"), o)
                                           for o in (False, True)}:
                    del ex["dose_text"]
            ex.setdefault("member_name", known["member_name"])
            ex.setdefault("cue", known["cue"])
            ex.setdefault("figure", ex["id"])
            ex.setdefault("dose_text", dose_text(known, lib["phases"][known["phase"]], ex.get("side"), older, lang))
    if out.get("schedule") is None or "retest_on" not in out:
        out["schedule"], out["retest_on"] = schedule_of(lib, assessed_on, lang)
    elif lang != "en" and isinstance(out["schedule"], dict):
        was = schedule_of(english, assessed_on)[0]  # still the generated English: say it in `lang`
        mine = schedule_of(lib, assessed_on, lang)[0]
        for key in ("text", "retest_text"):
            if out["schedule"].get(key) == was[key]:
                out["schedule"][key] = mine[key]
    if lang != "en" and out.get("disclaimer") == DISCLAIMER:
        out["disclaimer"] = i18n.translations(lang).gettext(DISCLAIMER)
    if "glossary" not in out:
        out["glossary"] = glossary_for(out, lib)
    return out


def retold(stored: dict, result: dict, lang: str, *, pain: bool = False, assessed_on=None) -> dict:
    """A stored (trainer-edited) plan's generated sentences — message, notes, disclaimer — in
    `lang`: each one still as build_plan wrote it in English is replaced by what build_plan
    writes in `lang` for the same result; the trainer's own words stay as written."""
    out = copy.deepcopy(stored)
    if lang == "en":
        return out
    english = build_plan(result, pain=pain, assessed_on=assessed_on)
    mine = build_plan(result, pain=pain, assessed_on=assessed_on, lang=lang)
    pairs = dict(zip(english["notes"], mine["notes"]))
    pairs.update({english["message"]: mine["message"], english["disclaimer"]: mine["disclaimer"]})
    pairs.pop("", None)
    out["notes"] = [pairs.get(n, n) for n in out.get("notes") or []]
    for key in ("message", "disclaimer"):
        if out.get(key) in pairs:
            out[key] = pairs[out[key]]
    return out
