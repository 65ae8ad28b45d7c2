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
    return validate(_toml(source, str(source), "exercise library not found"))


def _toml(path: Path, name: str, missing: str) -> dict:
    """A TOML file of the library, or InputError naming it (`missing` when it is not there)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{name}: {missing}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{name}: not valid TOML ({e})") from None


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


# --- member texts per language ------------------------------------------------------------------
# library.<lang>.toml holds, for one language, exactly the member keys below of library.toml
# (plain words a member reads); everything else (names, cues and doses for trainers, muscles,
# sources, figures, numbers) is shared and stays in library.toml.
TEXTS_FORMAT = "ohsa-library-texts/1"
MEMBER_KEYS = {
    "phases": ("member_label", "member_purpose", "dose_text", "dose_text_65"),
    "exercises": ("member_name", "cue", "dose_text", "contraindications"),
    "compensations": ("saw", "why", "helps"),
}


def texts_path(lang: str) -> Path:
    return LIBRARY_PATH.with_name(f"library.{lang}.toml")


def member_texts_of(lib: dict) -> dict:
    """The member keys of a library (or of a texts file) as {section: {id: {key: value}}}."""
    out: dict = {}
    for section, keys in MEMBER_KEYS.items():
        out[section] = {i: {k: e[k] for k in keys if k in e} for i, e in lib.get(section, {}).items()}
    out["general"] = {"message": lib.get("general", {}).get("message")}
    out["glossary"] = [{k: g.get(k) for k in ("term", "meaning", "words")} for g in lib.get("glossary", [])]
    return out


def _check_texts(texts: dict, english: dict, where: str) -> None:
    """The texts file has each member key the English library has, and nothing else."""
    if texts.get("format") != TEXTS_FORMAT:
        raise InputError(f"{where}: format: expected {TEXTS_FORMAT!r}, got {texts.get('format')!r}")
    mine, theirs = member_texts_of(texts), member_texts_of(english)
    for section in MEMBER_KEYS:
        for item_id, entry in theirs[section].items():
            got = mine[section].get(item_id)
            if got is None:
                raise InputError(f"{where}: {section}.{item_id}: missing")
            if set(got) != set(entry):
                raise InputError(f"{where}: {section}.{item_id}: keys {sorted(got)}, expected {sorted(entry)}")
            for key, value in got.items():
                if type(value) is not type(entry[key]) or not value:
                    raise InputError(f"{where}: {section}.{item_id}.{key}: expected a non-empty {type(entry[key]).__name__}")
        extra = sorted(set(mine[section]) - set(theirs[section]))
        if extra:
            raise InputError(f"{where}: {section}.{extra[0]}: not in {LIBRARY_PATH.name}")
    if not mine["general"]["message"]:
        raise InputError(f"{where}: general.message: missing")
    if len(mine["glossary"]) != len(theirs["glossary"]) or not all(all(g.values()) for g in mine["glossary"]):
        raise InputError(f"{where}: glossary: {len(theirs['glossary'])} entries with term, meaning and words expected")


@functools.lru_cache(maxsize=8)
def load_for(lang: str = "en") -> dict:
    """The library with its member texts in `lang` (library.<lang>.toml); "en" is load() itself."""
    lib = load()
    if lang == "en":
        return lib
    path = texts_path(lang)
    texts = _toml(path, path.name, f"no exercise texts for language {lang!r}")
    _check_texts(texts, lib, path.name)
    out = {**lib}
    for section, keys in MEMBER_KEYS.items():
        out[section] = {i: {**e, **{k: texts[section][i][k] for k in keys if k in e}}
                        for i, e in lib[section].items()}
    out["general"] = {**lib["general"], "message": texts["general"]["message"]}
    out["glossary"] = [dict(g) for g in texts["glossary"]]
    out["language"] = lang
    return out
