"""The base of every config section: a strict pydantic model that also reads like a dict.

Each part of the station declares the settings it owns as a `Section` (fields with a default, a
range and a description); `device.config.Config` composes them. A section is checked when it is
built and again on every assignment, and any problem is one `ConfigError` line naming the key:

    class PanelSettings(Section):
        button: int = Field(17, ge=0, le=27, description="BCM pin of the button")

    PanelSettings.of({"button": 99})   -> ConfigError("button: must be between 0 and 27, got 99")
    settings.button = 99               -> the same ConfigError (assignments are checked too)
    settings.button              # new code reads attributes
    settings["button"]           # older code's dict-style reads still work (and `.get`, `in`)

Strict types: no "80" for a number, no 1 for true/false, no 15.0 for a whole number; NaN and
infinities are refused everywhere. `error_line(e, prefix)` turns pydantic's errors into the one
line the command line, the settings page and safe mode show.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from device.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False)

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as e:
            raise ConfigError(error_line(e, type(self))) from None

    @classmethod
    def of(cls, value: Section | dict | None, where: str = ""):
        """`value` if it already is one, else a section built from a (partial) dict."""
        if isinstance(value, cls):
            return value
        try:
            return cls.model_validate(value or {})
        except ValidationError as e:
            raise ConfigError(error_line(e, cls, where)) from None

    # -- dict-style reads for code written before the sections were typed --------------------
    def __getitem__(self, key: str):
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        if key not in type(self).model_fields:
            raise ConfigError(f"{key}: unknown key (known: {', '.join(type(self).model_fields)})")
        setattr(self, key, value)

    def __contains__(self, key) -> bool:
        return key in type(self).model_fields

    def get(self, key: str, default=None):
        return getattr(self, key) if key in type(self).model_fields else default

    def keys(self):
        return type(self).model_fields.keys()

    def items(self):
        return [(k, getattr(self, k)) for k in type(self).model_fields]


def invalid(key: str, message: str) -> PydanticCustomError:
    """An error for a section's own checks: `key` is the field it is about ("" for the section)."""
    return PydanticCustomError("ohsa", "{message}", {"key": key, "message": message})


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(model: type[BaseModel] | None, loc: tuple):
    """The FieldInfo at `loc` under `model` (None when the path leaves the models)."""
    info = None
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        ann = info.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return info


def _model_at(model: type[BaseModel] | None, loc: tuple):
    for part in loc:
        info = _field(model, (part,))
        ann = info.annotation if info else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def _bounds(info) -> tuple[float | None, float | None]:
    low = high = None
    for m in getattr(info, "metadata", ()):
        low = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else low
        low = getattr(m, "gt", None) if getattr(m, "gt", None) is not None else low
        high = getattr(m, "le", None) if getattr(m, "le", None) is not None else high
        high = getattr(m, "lt", None) if getattr(m, "lt", None) is not None else high
    return low, high


def error_line(e: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """pydantic's first error as one line: `web.port: must be between 1 and 65535, got 99999`."""
    err = e.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if isinstance(p, str))  # list indexes: the list's key
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "ohsa" and ctx.get("key"):
        loc = loc + (ctx["key"],)
    path = ".".join(p for p in ((prefix,) if prefix else ()) + loc)
    info = _field(model, loc)
    if kind == "ohsa":
        text = ctx["message"]
    elif kind == "ohsa_owned":  # the owner's message names its own key path
        return ctx["message"]
    elif kind == "extra_forbidden":
        known = _model_at(model, loc[:-1])
        text = "unknown key" + (f" (known: {', '.join(known.model_fields)})" if known else "")
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bounds(info)
        if low is not None and high is not None:
            text = f"must be between {low:g} and {high:g}, got {_show(value)}"
        elif low is not None:
            text = f"must be at least {low:g}, got {_show(value)}"
        else:
            text = f"must be at most {high:g}, got {_show(value)}"
    elif kind == "finite_number" or (isinstance(value, float) and not math.isfinite(value)):
        text = f"must be a finite number, got {_show(value)}"
    elif kind == "bool_type":
        text = f"expected true or false, got {_show(value)}"
    elif kind in ("int_type", "int_from_float", "int_parsing"):
        text = f"expected a whole number, got {_show(value)}"
    elif kind in ("float_type", "float_parsing"):
        text = f"expected a number, got {_show(value)}"
    elif kind in ("string_type", "string_too_long", "string_too_short"):
        limit = ctx.get("max_length")
        text = (f"at most {limit} characters, got {len(value)}" if kind == "string_too_long"
                else f"expected a string, got {_show(value)}")
    elif kind in ("list_type", "too_long"):
        text = (f"at most {ctx.get('max_length')} entries" if kind == "too_long"
                else f"expected a list, got {_show(value)}")
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        text = f"expected a table, got {_show(value)}"
    elif kind == "literal_error":
        text = f"must be one of {ctx.get('expected', '?').replace(' or ', ', ')}, got {_show(value)}"
    elif kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
    else:
        text = f"{err['msg'][0].lower()}{err['msg'][1:]}, got {_show(value)}"
    return f"{path}: {text}" if path else text
