#!/usr/bin/env python3
"""The message catalogue of the member's words (docs/i18n.md).

    .venv/bin/python scripts/i18n.py extract   # templates and code -> device/locale/messages.pot,
                                               # then each language's messages.po updated from it
    .venv/bin/python scripts/i18n.py check     # every message translated in every language (exit 1 if not)

The compensation and region labels live in device/vocabulary.py (shared with the rules and the
trainer's pages, so not marked there); extract adds them to the template as well.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.messages.pofile import read_po, write_po  # noqa: E402

from device import i18n  # noqa: E402
from device.vocabulary import COMPENSATIONS, REGIONS  # noqa: E402

POT = i18n.LOCALE_DIR / "messages.pot"
CFG = i18n.LOCALE_DIR / "babel.cfg"


def pybabel(*args: str) -> None:
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "pybabel"), "-q", *args], check=True, cwd=ROOT)


def extract() -> None:
    pybabel("extract", "-F", str(CFG), "-k", "N_", "--no-location", "--sort-output",
            "--project", "ohsa-station", "-o", str(POT), ".")
    with POT.open("rb") as f:
        pot = read_po(f)
    for comp in COMPENSATIONS.values():
        pot.add(comp.label, auto_comments=["device/vocabulary.py: a compensation's label"])
    for region in REGIONS:
        pot.add(region.label, auto_comments=["device/vocabulary.py: a region's label"])
    with POT.open("wb") as f:
        write_po(f, pot, sort_output=True, omit_header=False)
    for lang in i18n.LANGUAGES:
        if lang != i18n.SOURCE:
            po = i18n.catalogue_path(lang)
            if po.exists():
                pybabel("update", "-i", str(POT), "-d", str(i18n.LOCALE_DIR), "-l", lang, "--no-fuzzy-matching")
            else:
                pybabel("init", "-i", str(POT), "-d", str(i18n.LOCALE_DIR), "-l", lang)


def problems(lang: str) -> list[str]:
    """Untranslated, fuzzy or placeholder-changing messages of one language's catalogue."""
    with i18n.catalogue_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang)
    out = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strs = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strs):
            out.append(f"{lang}: not translated: {ids[0]!r}")
            continue
        for problem in message.check(catalog):
            out.append(f"{lang}: {ids[0]!r}: {problem}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("extract", "check"))
    args = parser.parse_args()
    if args.command == "extract":
        extract()
        return 0
    found = [p for lang in i18n.LANGUAGES if lang != i18n.SOURCE for p in problems(lang)]
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
