"""The exercise library (`library.toml`): loading and checking it.

The library is data; this module only reads it and checks that it is whole: every compensation
in device/vocabulary.py has an entry with exercises in all four phases, every referenced
exercise exists and belongs to that phase, and every exercise has its name, cues,
contraindications and source.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from device.errors import InputError
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS

LIBRARY_PATH = Path(__file__).with_name("library.toml")
FORMAT = "ohsa-library/1"
PHASES = ("inhibit", "lengthen", "activate", "integrate")  # the corrective continuum, in order
RELATIONS = ("same", "opposite", "both")
EXERCISE_KEYS = ("name", "phase", "targets", "sided", "cues", "contraindications", "source")
COMPENSATION_KEYS = ("view", "overactive", "underactive", "saw", "why", "helps", "source") + PHASES


def _problem(where: str, what: str) -> InputError:
    return InputError(f"{LIBRARY_PATH.name}: {where}: {what}")


def refs(entry: dict, phase: str) -> list[tuple[str, str]]:
    """The (exercise id, side relation) references of one phase of an entry."""
    out = []
    for ref in entry.get(phase, []):
        if isinstance(ref, str):
            out.append((ref, "same"))
        else:
            out.append((ref.get("id"), ref.get("side", "same")))
    return out


def validate(lib: dict) -> dict:
    """The library if it is whole, else InputError naming the first problem."""
    if lib.get("format") != FORMAT:
        raise _problem("format", f"expected {FORMAT!r}, got {lib.get('format')!r}")
    phases = lib.get("phases", {})
    for phase in PHASES:
        p = phases.get(phase)
        if not p or not all(p.get(k) for k in ("label", "purpose", "dose", "seconds")):
            raise _problem(f"phases.{phase}", "needs label, purpose, dose and seconds")
    exercises = lib.get("exercises", {})
    for ex_id, ex in exercises.items():
        for key in EXERCISE_KEYS:
            if key not in ex or (key != "sided" and not ex[key]):
                raise _problem(f"exercises.{ex_id}", f"missing {key!r}")
        if ex["phase"] not in PHASES:
            raise _problem(f"exercises.{ex_id}", f"unknown phase {ex['phase']!r}")
        if ex["phase"] == "lengthen" and "dose" in ex:
            raise _problem(f"exercises.{ex_id}", "stretches take the phase's dose (it changes from age 65)")
        if not 1 <= len(ex["cues"]) <= 2:
            raise _problem(f"exercises.{ex_id}", "give one or two cues")
    comps = lib.get("compensations", {})
    missing = [c for c in COMPENSATION_IDS if c not in comps]
    if missing:
        raise _problem("compensations", f"no entry for {', '.join(missing)}")
    unknown = sorted(set(comps) - set(COMPENSATION_IDS))
    if unknown:
        raise _problem("compensations", f"unknown compensation {unknown[0]!r}")
    sections = {f"compensations.{c}": e for c, e in comps.items()}
    sections["general"] = lib.get("general", {})
    for where, entry in sections.items():
        keys = PHASES if where == "general" else COMPENSATION_KEYS
        for key in keys:
            if not entry.get(key):
                raise _problem(where, f"missing {key!r}")
        if where != "general" and entry["view"] != COMPENSATIONS[where.split(".")[1]].view:
            raise _problem(where, f"view {entry['view']!r} differs from device/vocabulary.py")
        for phase in PHASES:
            for ex_id, rel in refs(entry, phase):
                if ex_id not in exercises:
                    raise _problem(f"{where}.{phase}", f"unknown exercise {ex_id!r}")
                if exercises[ex_id]["phase"] != phase:
                    raise _problem(f"{where}.{phase}", f"{ex_id!r} is a {exercises[ex_id]['phase']} exercise")
                if rel not in RELATIONS:
                    raise _problem(f"{where}.{phase}", f"side must be one of {', '.join(RELATIONS)}")
    return lib


@functools.lru_cache(maxsize=4)
def load(path: str | None = None) -> dict:
    """The checked library (cached; treat it as read-only)."""
    source = Path(path) if path else LIBRARY_PATH
    try:
        lib = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{source}: exercise library not found") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{source}: not valid TOML ({e})") from None
    return validate(lib)
