#!/usr/bin/env python3
"""The message catalogue of the member's words (docs/i18n.md).

    .venv/bin/python scripts/i18n.py extract   # templates and code -> a template (.pot, not kept:
                                               # the .po files are the one home), each .po updated
    .venv/bin/python scripts/i18n.py check     # every message of the code in every catalogue, translated
                                               # (exit 1 and one line per problem if not)

The compensation and region labels live in device/vocabulary.py and the station's messages in
device/station (shared with the rules, the trainer's pages and the log, so not marked there);
extract adds them to the template as well.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.messages.pofile import read_po, write_po  # noqa: E402

from device import i18n  # noqa: E402
from device.vocabulary import COMPENSATIONS, REGIONS  # noqa: E402

CFG = i18n.LOCALE_DIR / "babel.cfg"


def pybabel(*args: str) -> None:
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "pybabel"), "-q", *args], check=True, cwd=ROOT)


def extract(pot_path: Path, update: bool = True) -> set:
    """The template from the code and templates (and the labels and station messages); with
    `update`, each language's catalogue updated from it. Returns the template's msgids."""
    pybabel("extract", "-F", str(CFG), "-k", "N_", "--no-location", "--sort-output",
            "--project", "ohsa-station", "-o", str(pot_path), ".")
    with pot_path.open("rb") as f:
        pot = read_po(f)
    for comp in COMPENSATIONS.values():
        pot.add(comp.label, auto_comments=["device/vocabulary.py: a compensation's label"])
    for region in REGIONS:
        pot.add(region.label, auto_comments=["device/vocabulary.py: a region's label"])
    from device.station import machine, positioning
    from web import member
    station = set(machine.MESSAGES.values()) | set(positioning.INSTRUCTIONS.values()) | {machine.READY_TEXT}
    for template in sorted(station):
        pot.add(template, auto_comments=[i18n.STATION_COMMENT + " (web/member.py station_message)"],
                flags=["python-brace-format"])
    from device.analysis.retest import ORIGIN_LABELS
    for origin in ORIGIN_LABELS.values():
        pot.add(origin, auto_comments=["device/analysis/retest.py: a re-test's likely origin"])
    for word in member.STATION_ARG_WORDS:
        pot.add(word, context=member.STATION_CONTEXT, auto_comments=["fills a field of a station message"])
    with pot_path.open("wb") as f:
        write_po(f, pot, sort_output=True, omit_header=False)
    if not update:
        return {(m.id, m.context) for m in pot if m.id}
    for lang in i18n.LANGUAGES:
        if lang != i18n.SOURCE:
            po = i18n.catalogue_path(lang)
            if po.exists():
                pybabel("update", "-i", str(pot_path), "-d", str(i18n.LOCALE_DIR), "-l", lang, "--no-fuzzy-matching")
            else:
                pybabel("init", "-i", str(pot_path), "-d", str(i18n.LOCALE_DIR), "-l", lang)
    return {(m.id, m.context) for m in pot if m.id}


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
    with tempfile.TemporaryDirectory() as tmp:  # what the code says now
        wanted = extract(Path(tmp) / "messages.pot", update=args.command == "extract")
    if args.command == "extract":
        return 0
    found = []
    for lang in i18n.LANGUAGES:
        if lang == i18n.SOURCE:
            continue
        with i18n.catalogue_path(lang).open("rb") as f:
            have = {(m.id, m.context) for m in read_po(f) if m.id}
        found += [f"{lang}: not in the catalogue (run scripts/i18n.py extract): {i[0]!r}" for i in sorted(wanted - have, key=str)]
        found += problems(lang)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
