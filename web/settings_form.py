"""The settings page's form: one field per config key (device.config.DEFAULTS), parsed back.

Field names are key paths (`cameras.front.fps`). Rule thresholds are an open table owned by
device.thresholds, so they are edited as TOML lines (`knees_cave_in = 0.8`) and checked by
device.config.validate like the rest.
"""

from __future__ import annotations

import tomllib

import tomli_w

from device.config import DEFAULTS, OPEN_SECTIONS
from device.errors import ConfigError

# Sections on the page, in order, with a heading. (model and web stay in the file only.)
SECTIONS = (
    ("station", "Station"),
    ("cameras", "Cameras"),
    ("panel", "Panel pins (BCM numbers)"),
    ("rules", "Rule thresholds"),
    ("storage", "Storage"),
    ("web", "Web pages"),
)
THRESHOLDS = "rules.thresholds"


def _leaves(default: dict, prefix: str = ""):
    for key, value in default.items():
        path = f"{prefix}.{key}" if prefix else key
        if path in OPEN_SECTIONS:
            yield path, value
        elif isinstance(value, dict):
            yield from _leaves(value, path)
        else:
            yield path, value


def _get(config: dict, path: str):
    for part in path.split("."):
        config = config[part]
    return config


def _set(config: dict, path: str, value) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        config = config.setdefault(part, {})
    config[parts[-1]] = value


def _shown(path: str) -> bool:
    return path.split(".")[0] in {s for s, _ in SECTIONS}


def flatten(config: dict) -> dict[str, str | bool]:
    """Form values (text, or bool for checkboxes) from a full config."""
    out: dict[str, str | bool] = {}
    for path, default in _leaves(DEFAULTS):
        if not _shown(path):
            continue
        value = _get(config, path)
        if path == THRESHOLDS:
            changed = _overrides_only(value)
            out[path] = tomli_w.dumps(changed) if changed else ""
        elif isinstance(default, bool):
            out[path] = bool(value)
        elif isinstance(default, list):
            out[path] = ", ".join(str(v) for v in value)
        else:
            out[path] = str(value)
    return out


def _overrides_only(thresholds: dict) -> dict:
    """The thresholds that differ from the rules' built-in table (the config holds all of them)."""
    defaults = {t["name"]: t["value"] for t in threshold_table()}
    return {k: v for k, v in (thresholds or {}).items() if defaults.get(k) != v}


def threshold_table() -> list[dict]:
    """The rules' thresholds (name, default, unit, allowed range) for the page's help."""
    try:
        from device.thresholds import THRESHOLDS as table
    except ImportError:
        return []
    return [{"name": n, "value": t.value, "unit": t.unit, "low": t.low, "high": t.high} for n, t in table.items()]


def flatten_form(form) -> dict[str, str | bool]:
    """The values as the trainer typed them (to show again next to an error)."""
    out: dict[str, str | bool] = {}
    for path, default in _leaves(DEFAULTS):
        if _shown(path):
            out[path] = (form.get(path) == "on") if isinstance(default, bool) else form.get(path, "")
    return out


def parse(form) -> dict:
    """A config dict from the form, or ConfigError naming the key path of the first bad value."""
    config: dict = {}
    for path, default in _leaves(DEFAULTS):
        if not _shown(path):
            continue
        raw = form.get(path)
        if isinstance(default, bool):
            _set(config, path, raw == "on")
            continue
        if raw is None:
            continue  # not on the form: the file's value stays the default
        raw = raw.strip()
        if path == THRESHOLDS:
            try:
                value = tomllib.loads(raw) if raw else {}
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{path}: write one 'name = number' per line ({e})") from None
        elif isinstance(default, list):
            value = [v for v in raw.replace(",", " ").split() if v]
        elif isinstance(default, int):
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{path}: expected a whole number, got {raw!r}") from None
        elif isinstance(default, float):
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{path}: expected a number, got {raw!r}") from None
        else:
            value = raw
        _set(config, path, value)
    return config


def sections(values: dict) -> list[dict]:
    """Fields grouped for the template: key path, label, input type, current value."""
    out = []
    for section, heading in SECTIONS:
        fields = []
        for path, default in _leaves(DEFAULTS):
            if path.split(".")[0] != section:
                continue
            kind = ("thresholds" if path == THRESHOLDS else "checkbox" if isinstance(default, bool)
                    else "number" if isinstance(default, (int, float)) else "text")
            step = "1" if isinstance(default, int) and not isinstance(default, bool) else "any"
            fields.append({
                "key": path,
                "label": path.split(".", 1)[1].replace(".", " / ").replace("_", " "),
                "kind": kind,
                "step": step,
                "value": values.get(path, ""),
            })
        out.append({"id": section, "heading": heading, "fields": fields})
    return out
