"""What a trainer-edited plan (ohsa-plan/1) must look like before it is saved or shown.

The plan pages read these fields with these types; a JSON edit that breaks one (`"phases": 5`,
`"total_minutes": "abc"`, `"cues": 5`), a number that is not finite, or nesting deeper than a plan
ever has, is refused with one line naming the field. A stored plan that no longer passes is
shown as the generated plan with a warning (web/present.py), never as an error page.

    problem = plan_problem(plan)    # None, or "plan.phases[0].exercises: expected a list, got 5"
    plan = parse_plan_json(text)    # InputError for bad JSON, NaN/Infinity, depth, schema
"""

from __future__ import annotations

import json
import math

from device.errors import InputError

MAX_DEPTH = 8  # a plan nests 5 deep (plan.phases[].exercises[].reasons[].x)
MAX_TEXT = 5000
NUM = (int, float)
OPT_TEXT = (str, type(None))

# field: type, or ("list", item type or schema), or a nested schema (dict). Unknown fields may
# be there (a newer plan, a trainer's note) but must still be plain, finite JSON.
EXERCISE = {
    "id": str, "name": str, "phase": str, "member_name": str, "cue": str, "dose_text": str,
    "figure": OPT_TEXT, "side": OPT_TEXT, "side_text": OPT_TEXT, "minutes": NUM,
    "targets": ("list", str), "dose": str, "cues": ("list", str), "contraindications": ("list", str),
    "source": str, "reasons": ("list", dict), "trainer_note": str,
}
PHASE = {
    "id": str, "label": str, "technique": str, "purpose": str, "member_label": str,
    "member_purpose": str, "exercises": ("list", EXERCISE),
}
PLAN = {
    "format": str, "kind": str, "message": str, "source": str, "disclaimer": str,
    "budget_minutes": NUM, "max_exercises": int, "total_minutes": NUM,
    "findings": ("list", dict), "phases": ("list", PHASE), "left_out": ("list", dict),
    "notes": ("list", str), "glossary": ("list", dict), "schedule": dict, "retest_on": OPT_TEXT,
    "trainer_note": str, "edited_by_trainer": bool,
}


def _name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_name(x) for x in t)
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false",
            dict: "an object", list: "a list", type(None): "null"}.get(t, getattr(t, "__name__", str(t)))


def _is(value, t) -> bool:
    if isinstance(value, bool) and t is not bool and (t is int or (isinstance(t, tuple) and bool not in t)):
        return False  # true is not a number here
    return isinstance(value, t)


def _plain(value, path: str, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"{path}: nested deeper than a plan ever is"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path}: must be a finite number, got {value}"
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"{path}: text longer than {MAX_TEXT} characters"
    if isinstance(value, dict):
        for k, v in value.items():
            problem = _plain(v, f"{path}.{k}", depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for i, v in enumerate(value):
            problem = _plain(v, f"{path}[{i}]", depth + 1)
            if problem:
                return problem
    return None


def _check(value, schema, path: str) -> str | None:
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{path}: expected an object, got {json.dumps(value)[:40]}"
        for key, t in schema.items():
            if key in value:
                problem = _check(value[key], t, f"{path}.{key}")
                if problem:
                    return problem
        return None
    if isinstance(schema, tuple) and schema and schema[0] == "list":
        if not isinstance(value, list):
            return f"{path}: expected a list, got {json.dumps(value)[:40]}"
        for i, item in enumerate(value):
            problem = _check(item, schema[1], f"{path}[{i}]")
            if problem:
                return problem
        return None
    if not _is(value, schema):
        return f"{path}: expected {_name(schema)}, got {json.dumps(value)[:40]}"
    return None


def plan_problem(plan) -> str | None:
    """Why `plan` cannot be shown as a plan (one line naming the field), or None."""
    return _plain(plan, "plan", 0) or _check(plan, PLAN, "plan")


def parse_plan_json(text: str) -> dict:
    """A trainer's JSON plan edit, checked; InputError naming the problem."""
    def refuse(constant):
        raise ValueError(f"{constant} is not a number a plan can hold")

    try:
        plan = json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise InputError("plan: nested deeper than a plan ever is") from None
    except ValueError as e:
        raise InputError(f"plan: not valid JSON ({e})") from None
    if not isinstance(plan, dict):
        raise InputError("plan: expected a JSON object")
    problem = plan_problem(plan)
    if problem:
        raise InputError(problem)
    return plan
