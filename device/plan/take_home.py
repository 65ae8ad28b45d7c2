"""The plan as compact plain text for a take-home QR code: readable on any phone, no network.

    text = plan_text(plan, result)          # ASCII, at most MAX_BYTES bytes
    segno.make(text, error="m")             # the page draws it (version <= MAX_QR_VERSION)

What goes in: what we saw (from the result), each exercise's plain name and dose, the
schedule, the re-test date, a one-line disclaimer. No trainer's notes, no muscle names. The
text stays within `MAX_BYTES` so that a QR code at error correction M (15 % of the code may be
damaged) stays at version 25 or less, scannable printed or on a screen at about 4 cm; if a
plan would not fit, the findings line goes first, then exercises from the end, and the text
says a trainer has the rest.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from device import i18n
from device.errors import InputError
from device.i18n import LANGUAGES, N_
from device.plan.builder import label_in_text
from device.vocabulary import COMPENSATION_IDS, PRESENT

MAX_BYTES = 900
MAX_QR_VERSION = 25
DISCLAIMER_LINE = N_("A movement screen, not a medical check. Stop if anything hurts.")
# German letters spelled the way German does without them (a phone shows "Fuesse", not "Fusse")
FOLD = {"\u00e4": "ae", "\u00f6": "oe", "\u00fc": "ue", "\u00c4": "Ae", "\u00d6": "Oe", "\u00dc": "Ue",
        "\u00df": "ss", "\u2014": "-", "\u2013": "-", "\u2019": "'", "\u00b7": "-", "\u201e": '"', "\u201c": '"'}


def _ascii(text: str) -> str:
    """Plain ASCII (QR byte mode without a character-set guess): umlauts, dashes, quotes folded."""
    text = "".join(FOLD.get(c, c) for c in text)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _short_date(iso: str, lang: str = "en") -> str:
    return i18n.format_date(dt.date.fromisoformat(iso), "medium", lang)


def _exercises(plan: dict) -> list[dict]:
    return [ex for phase in plan.get("phases") or [] for ex in phase.get("exercises") or []]


def plan_text(plan: dict, result: dict | None = None, lang: str = "en") -> str:
    """The plan as compact plain text (see the module docstring); `result` names what we saw."""
    if lang not in LANGUAGES:
        raise InputError(f"lang: one of {', '.join(LANGUAGES)}, got {lang!r}")
    if not isinstance(plan, dict) or "kind" not in plan:
        raise InputError("plan: not an ohsa-plan/1 (no 'kind')")
    _ = i18n.translations(lang).gettext
    head = [_("YOUR SQUAT CHECK - HOME PLAN")]
    if plan["kind"] == "referral":
        lines = head + [_("You told us something hurt."),
                        _("Please see a physiotherapist or doctor before exercising this movement."),
                        _("A trainer can talk your result through with you.")]
        return _ascii("\n".join(lines))
    comps = (result or {}).get("compensations") or {}
    seen = [label_in_text(c, lang) for c in COMPENSATION_IDS if (comps.get(c) or {}).get("status") == PRESENT]
    found = ([_("Work on: %(labels)s") % {"labels": ", ".join(seen)}] if seen
             else [_("Nothing to work on in what we checked.")])
    schedule = plan.get("schedule") or {}
    minutes = plan.get("total_minutes")
    when = schedule.get("text") or ""
    timing = (_("Do it %(when)s, about %(minutes)s min each time:") % {"when": when, "minutes": round(minutes)}
              if minutes else _("Do it %(when)s:") % {"when": when})
    exercises = [f"{n}. {ex.get('member_name') or ex.get('name')}: {ex.get('dose_text') or ex.get('dose') or ''}"
                 for n, ex in enumerate(_exercises(plan), 1)]
    retest = plan.get("retest_on")
    tail = ([_("Re-test on %(date)s.") % {"date": _short_date(retest, lang)}] if retest
            else [schedule["retest_text"]] if schedule.get("retest_text") else [])
    tail.append(_(DISCLAIMER_LINE))

    def build(found_lines, ex_lines, more: int) -> str:
        extra = [_("...and %(n)s more: ask a trainer.") % {"n": more}] if more else []
        return _ascii("\n".join(head + found_lines + [timing] + ex_lines + extra + tail))

    text = build(found, exercises, 0)
    if len(text.encode()) > MAX_BYTES:
        found = []
    kept = list(exercises)
    text = build(found, kept, 0)
    while len(text.encode()) > MAX_BYTES and kept:
        kept.pop()
        text = build(found, kept, len(exercises) - len(kept))
    return text
