"""The exercise library (`library.toml`): loading and checking it.

The library is data; this module only reads it and checks that it is whole: every compensation
in device/vocabulary.py has an entry with exercises in all four phases, every referenced
exercise exists and belongs to that phase, and every exercise has its name, cues,
contraindications and source (for trainers), its member name and cue (plain words, for members)
and a figure (key poses drawn by device/plan/figures.py).

    figure_svg("glute_bridge")   # the exercise's picture as an inline SVG string
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from device.errors import InputError
from device.plan import figures
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS

LIBRARY_PATH = Path(__file__).with_name("library.toml")
FORMAT = "ohsa-library/1"
PHASES = ("inhibit", "lengthen", "activate", "integrate")  # the corrective continuum, in order
RELATIONS = ("same", "opposite", "both")
EXERCISE_KEYS = ("name", "phase", "targets", "sided", "cues", "contraindications", "source",
                 "member_name", "cue", "figure")
PHASE_KEYS = ("label", "purpose", "dose", "seconds", "member_label", "member_purpose", "dose_text")
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
        if not p or not all(p.get(k) for k in PHASE_KEYS):
            raise _problem(f"phases.{phase}", f"needs {', '.join(PHASE_KEYS)}")
    for key in ("budget_minutes", "max_exercises", "max_per_finding"):
        if not isinstance(lib.get(key), int) or lib[key] < 1:
            raise _problem(key, "expected a whole number of at least 1")
    if sorted(lib.get("pick_order", [])) != sorted(PHASES):
        raise _problem("pick_order", f"must list the phases {', '.join(PHASES)} once each")
    schedule = lib.get("schedule", {})
    for key in ("per_week", "weeks"):
        if not isinstance(schedule.get(key), int) or schedule[key] < 1:
            raise _problem(f"schedule.{key}", "expected a whole number of at least 1")
    for n, item in enumerate(lib.get("glossary", [])):
        if not (item.get("term") and item.get("meaning") and item.get("words")):
            raise _problem(f"glossary[{n}]", "needs term, meaning and words")
    bases = lib.get("figure_poses", {})
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
        try:
            figures.check(ex["figure"], bases)
        except (ValueError, KeyError, TypeError) as e:
            raise _problem(f"exercises.{ex_id}.figure", str(e)) from None
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


@functools.lru_cache(maxsize=128)
def figure_svg(exercise_id: str) -> str:
    """The picture of one exercise (its `figure` in an `ohsa-plan/1`) as an inline SVG string."""
    lib = load()
    ex = lib["exercises"].get(exercise_id)
    if ex is None:
        raise InputError(f"figure: unknown exercise {exercise_id!r}")
    return figures.render(ex["figure"], lib["figure_poses"], figure_title(ex))


def figure_title(ex: dict) -> str:
    """The figure's text alternative, in plain words."""
    return f"{ex['member_name']}: drawing of the start and end positions"
