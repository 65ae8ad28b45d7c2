"""The settings page's form, generated from the config's JSON schema (device.config.config_schema).

One field per config key, named by its key path (`cameras.front.fps`), with the schema's
description as help text, its range (min/max) and its choices (a Literal). Values are parsed back
by type and the result is checked by device.config.validate, the same check `ohsa run` makes,
before anything is saved. Rule thresholds are an open table owned by device.thresholds, so they are
edited as TOML lines (`knees_cave_in = 0.8`).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache

import tomli_w

from device.config import config_schema
from device.errors import ConfigError

# Sections on the page, in order, with a heading. (model stays in the file only.)
SECTIONS = (
    ("station", "Station"),
    ("cameras", "Cameras"),
    ("panel", "Panel pins (BCM numbers)"),
    ("rules", "Rule thresholds"),
    ("storage", "Storage"),
    ("web", "Web pages"),
    ("kiosk", "Station screen: language, sound, opening hours"),
)
THRESHOLDS = "rules.thresholds"


@lru_cache(maxsize=1)
def fields() -> tuple[dict, ...]:
    """Every leaf of the schema: {key, type, help, min, max, choices, default}, in file order."""
    schema = config_schema()
    defs = schema.get("$defs", {})

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        return node

    out = []

    def walk(node: dict, prefix: str) -> None:
        for name, prop in resolve(node).get("properties", {}).items():
            key = f"{prefix}.{name}" if prefix else name
            target = resolve(prop)
            if target.get("type") == "object" and "properties" in target:
                walk(target, key)
                continue
            kind = "table" if target.get("type") == "object" else target.get("type", "string")
            out.append({
                "key": key,
                "type": kind,  # integer | number | boolean | string | array | table
                "help": prop.get("description") or target.get("description", ""),
                "min": target.get("minimum"),
                "max": target.get("maximum"),
                "choices": target.get("enum"),
                "default": prop.get("default"),
            })

    walk(schema, "")
    return tuple(out)


def _shown() -> list[dict]:
    wanted = {s for s, _ in SECTIONS}
    return [f for f in fields() if f["key"].split(".")[0] in wanted]


def _get(config, path: str):
    for part in path.split("."):
        config = config[part]
    return config


def _set(config: dict, path: str, value) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        config = config.setdefault(part, {})
    config[parts[-1]] = value


def flatten(config) -> dict[str, str | bool]:
    """Form values (text, or bool for checkboxes) from a full config."""
    out: dict[str, str | bool] = {}
    for f in _shown():
        path = f["key"]
        value = _get(config, path)
        if path == THRESHOLDS:
            changed = _overrides_only(value)
            out[path] = tomli_w.dumps(changed) if changed else ""
        elif f["type"] == "boolean":
            out[path] = bool(value)
        elif f["type"] == "array":
            out[path] = ", ".join(str(v) for v in value)
        else:
            out[path] = str(value)
    return out


def _overrides_only(thresholds: dict) -> dict:
    """The thresholds that differ from the rules' built-in table."""
    defaults = {t["name"]: t["value"] for t in threshold_table()}
    return {k: v for k, v in (thresholds or {}).items() if defaults.get(k) != v}


def threshold_table() -> list[dict]:
    """The rules' thresholds (name, default, unit, allowed range) for the page's help."""
    from device.thresholds import THRESHOLDS as table

    return [{"name": n, "value": t.value, "unit": t.unit, "low": t.low, "high": t.high} for n, t in table.items()]


def flatten_form(form) -> dict[str, str | bool]:
    """The values as the trainer typed them (to show again next to an error)."""
    return {f["key"]: (form.get(f["key"]) == "on") if f["type"] == "boolean" else form.get(f["key"], "")
            for f in _shown()}


def parse(form) -> dict:
    """A config dict from the form, or ConfigError naming the key path of the first bad value.

    Only the types are parsed here; ranges and everything else are device.config.validate's.
    """
    config: dict = {}
    for f in _shown():
        path, kind = f["key"], f["type"]
        raw = form.get(path)
        if kind == "boolean":
            _set(config, path, raw == "on")
            continue
        if raw is None:
            continue  # not on the form: the file's value stays the default
        raw = raw.strip()
        if kind == "table":
            try:
                value = tomllib.loads(raw) if raw else {}
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{path}: write one 'name = number' per line ({e})") from None
        elif kind == "array":
            value = [v for v in raw.replace(",", " ").split() if v]
        elif kind == "integer":
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{path}: expected a whole number, got {raw!r}") from None
        elif kind == "number":
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{path}: expected a number, got {raw!r}") from None
        else:
            value = raw
        _set(config, path, value)
    return config


def sections(values: dict) -> list[dict]:
    """Fields grouped for the template: key path, label, input type, range, help, current value."""
    out = []
    for section, heading in SECTIONS:
        group = []
        for f in _shown():
            if f["key"].split(".")[0] != section:
                continue
            kind = {"table": "thresholds", "boolean": "checkbox", "integer": "number",
                    "number": "number"}.get(f["type"], "text")
            group.append({
                "key": f["key"],
                "label": f["key"].split(".", 1)[1].replace(".", " / ").replace("_", " "),
                "kind": kind,
                "step": "1" if f["type"] == "integer" else "any",
                "min": f["min"],
                "max": f["max"],
                "choices": f["choices"],
                "help": f["help"],
                "value": values.get(f["key"], ""),
            })
        out.append({"id": section, "heading": heading, "fields": group})
    return out
