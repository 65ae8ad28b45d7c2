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

from device.errors import InputError
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS, PRESENT

MAX_BYTES = 900
MAX_QR_VERSION = 25
LANGUAGES = ("en",)
DISCLAIMER_LINE = "A movement screen, not a medical check. Stop if anything hurts."
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _ascii(text: str) -> str:
    """Plain ASCII (QR byte mode without a character-set guess): dashes and quotes folded."""
    text = text.replace("\u2014", "-").replace("\u2013", "-").replace("\u2019", "'").replace("\u00b7", "-")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _short_date(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _exercises(plan: dict) -> list[dict]:
    return [ex for phase in plan.get("phases") or [] for ex in phase.get("exercises") or []]


def plan_text(plan: dict, result: dict | None = None, lang: str = "en") -> str:
    """The plan as compact plain text (see the module docstring); `result` names what we saw."""
    if lang not in LANGUAGES:
        raise InputError(f"lang: only {', '.join(LANGUAGES)} is available, got {lang!r}")
    if not isinstance(plan, dict) or "kind" not in plan:
        raise InputError("plan: not an ohsa-plan/1 (no 'kind')")
    head = ["YOUR SQUAT CHECK - HOME PLAN"]
    if plan["kind"] == "referral":
        lines = head + ["You told us something hurt.",
                        "Please see a physiotherapist or doctor before exercising this movement.",
                        "A trainer can talk your result through with you."]
        return _ascii("\n".join(lines))
    comps = (result or {}).get("compensations") or {}
    seen = [COMPENSATIONS[c].label.lower() for c in COMPENSATION_IDS
            if (comps.get(c) or {}).get("status") == PRESENT]
    found = ["Work on: " + ", ".join(seen)] if seen else ["Nothing to work on in what we checked."]
    schedule = plan.get("schedule") or {}
    minutes = plan.get("total_minutes")
    when = schedule.get("text") or ""
    timing = f"Do it {when}" + (f", about {round(minutes)} min each time" if minutes else "") + ":"
    exercises = [f"{n}. {ex.get('member_name') or ex.get('name')}: {ex.get('dose_text') or ex.get('dose') or ''}"
                 for n, ex in enumerate(_exercises(plan), 1)]
    retest = plan.get("retest_on")
    tail = ([f"Re-test on {_short_date(retest)}."] if retest
            else [schedule["retest_text"]] if schedule.get("retest_text") else [])
    tail.append(DISCLAIMER_LINE)

    def build(found_lines, ex_lines, more: int) -> str:
        extra = [f"...and {more} more: ask a trainer."] if more else []
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
