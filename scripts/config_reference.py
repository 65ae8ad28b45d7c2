#!/usr/bin/env python3
"""The key tables of docs/config.md, generated from the config's schema (device/config.py).

    .venv/bin/python scripts/config_reference.py            # print the tables (Markdown)
    .venv/bin/python scripts/config_reference.py --write    # replace them in docs/config.md

The tables stand between the `<!-- keys: begin -->` and `<!-- keys: end -->` lines of
docs/config.md; tests/test_config.py fails when they no longer match the schema.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from device.config import DEFAULTS, config_schema  # noqa: E402

DOC = ROOT / "docs" / "config.md"
BEGIN, END = "<!-- keys: begin -->", "<!-- keys: end -->"


def _range(prop: dict) -> str:
    if "enum" in prop:
        return ", ".join(f"`{v}`" for v in prop["enum"])
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    if prop.get("type") == "boolean":
        return "true, false"
    if prop.get("maxLength") is not None:
        return f"text, at most {prop['maxLength']} characters"
    return ""


def _default(path: str) -> str:
    value = DEFAULTS
    for part in path.split("."):
        value = value[part]
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def tables() -> str:
    schema = config_schema()
    defs = schema["$defs"]

    def resolve(node):
        return defs[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node

    out = []

    def section(title: str, node: dict, prefix: str) -> None:
        rows, subs = [], []
        for name, prop in node["properties"].items():
            target = resolve(prop)
            if "properties" in target:
                subs.append((f"{prefix}.{name}", prop.get("description", ""), target))
                continue
            rows.append(f"| `{name}` | {_default(f'{prefix}.{name}')} | {_range(prop)} | {prop.get('description', '')} |")
        out.append(f"### `[{prefix}]` — {title}\n")
        out.append("| key | default | allowed | meaning |\n| --- | --- | --- | --- |")
        out.extend(rows)
        out.append("")
        for sub_prefix, sub_title, target in subs:
            section(sub_title, target, sub_prefix)

    for name, prop in schema["properties"].items():
        section(prop.get("description", ""), resolve(prop), name)
    return "\n".join(out).rstrip() + "\n"


def replaced(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{tables()}\n{END}{tail}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help=f"replace the tables in {DOC.relative_to(ROOT)}")
    args = ap.parse_args()
    if args.write:
        DOC.write_text(replaced(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(tables())
    return 0


if __name__ == "__main__":
    sys.exit(main())
