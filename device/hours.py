"""Opening hours: when the station is open to members (the `[kiosk] opening_hours` setting).

    hours = parse("mon-fri 06:00-22:00; sat,sun 08:00-20:00")   # ValueError naming the problem
    is_open(now, hours) -> bool                                   # pure: `now` is a naive local datetime
    next_change(now, hours) -> datetime | None                    # when it next opens or closes

An empty text means always open. Entries are separated by ";": days (mon..sun, a range "mon-fri",
a list "sat,sun" or "daily"), then one or more time ranges "HH:MM-HH:MM". An end at or before the
start runs past midnight into the next day ("fri 18:00-02:00"); "24:00" is the end of a day.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
WEEK_MIN = 7 * 24 * 60


class Span(NamedTuple):
    """Open from `start` to `end`, minutes since Monday 00:00 (end may pass the week's end)."""
    start: int
    end: int


def _days(text: str) -> list[int]:
    if text == "daily":
        return list(range(7))
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"unknown day range {part!r} (days: {', '.join(DAYS)})")
            i, j = DAYS.index(a), DAYS.index(b)
            out += [d % 7 for d in range(i, i + ((j - i) % 7) + 1)]
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise ValueError(f"unknown day {part!r} (days: {', '.join(DAYS)}, or daily)")
    return out


def parse(text: str) -> tuple[Span, ...]:
    """The spans of an opening-hours text; () for always open. ValueError names the bad part."""
    spans: list[Span] = []
    for entry in (e.strip().lower() for e in (text or "").split(";")):
        if not entry:
            continue
        fields = entry.split()
        if len(fields) < 2:
            raise ValueError(f"{entry!r}: give the days, then times like 06:00-22:00")
        days = _days(fields[0])
        for times in fields[1:]:
            m = _TIME.match(times)
            if not m:
                raise ValueError(f"{times!r}: times are HH:MM-HH:MM, e.g. 06:00-22:00")
            h1, m1, h2, m2 = map(int, m.groups())
            if (h1 == 24 and m1) or (h2 == 24 and m2) or h1 == 24:
                raise ValueError(f"{times!r}: 24:00 only as an end")
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if end <= start:
                end += 24 * 60  # past midnight
            spans += [Span(d * 1440 + start, d * 1440 + end) for d in days]
    return tuple(sorted(spans))


def _minute_of_week(now: dt.datetime) -> int:
    return now.weekday() * 1440 + now.hour * 60 + now.minute


def is_open(now: dt.datetime, hours: str | tuple[Span, ...]) -> bool:
    """Whether the station is open at `now` (local time); always open without hours."""
    spans = parse(hours) if isinstance(hours, str) else hours
    if not spans:
        return True
    t = _minute_of_week(now)
    # a span that runs past Sunday midnight also covers the start of the week
    return any(s.start <= t < s.end or s.start <= t + WEEK_MIN < s.end for s in spans)


def next_change(now: dt.datetime, hours: str | tuple[Span, ...]) -> dt.datetime | None:
    """The next minute at which is_open changes (None when always open or never open)."""
    spans = parse(hours) if isinstance(hours, str) else hours
    if not spans:
        return None
    base = now.replace(second=0, microsecond=0)
    state = is_open(base, spans)
    t = _minute_of_week(base)
    edges = sorted({e % WEEK_MIN for s in spans for e in (s.start, s.end)})
    for step in sorted(((e - t) % WEEK_MIN) or WEEK_MIN for e in edges):
        moment = base + dt.timedelta(minutes=step)
        if is_open(moment, spans) != state:
            return moment
    return None
