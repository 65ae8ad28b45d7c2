"""Languages of what a member reads: the message catalogue (gettext through Babel) and its loader.

    LANGUAGES                        # ("en", "de"): English, the source, and German, complete
    tr = translations("de")          # gettext translations of the catalogue for one language
    tr.gettext("Ready")              # -> "Bereit"
    N_("Ready")                      # marks a string for the catalogue without translating it

The catalogue is one file per language, device/locale/<lang>/LC_MESSAGES/messages.po (the
trainer's and the engineer's words stay English and are not in it). It is compiled in memory
when first used (babel.messages), so there is no .mo file to commit or to forget to rebuild:
the .po is the one home of every translation. `scripts/i18n.sh` extracts and updates it.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from pathlib import Path
from typing import Literal, get_args

log = logging.getLogger(__name__)

Language = Literal["en", "de"]
LANGUAGES: tuple[str, ...] = get_args(Language)
SOURCE = "en"  # the msgids are English
LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark `message` for extraction; it is translated where it is shown."""
    return message


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str):
    """The parsed messages.po of `lang` (babel.messages.Catalog); read-only."""
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


STATION_COMMENT = "device/station: the station's message"  # marks them in the catalogue


def station_templates(lang: str) -> list[str]:
    """The station's English message templates as the catalogue of `lang` holds them (added by
    scripts/i18n.py extract from device/station), longest first."""
    if lang == SOURCE or lang not in LANGUAGES:
        return []
    found = [m.id for m in catalogue(lang) if m.id and any(c.startswith(STATION_COMMENT) for c in m.auto_comments)]
    return sorted(found, key=len, reverse=True)


@functools.lru_cache(maxsize=len(LANGUAGES) + 1)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of `lang` (English, or a language without a catalogue: the msgids as they are)."""
    if lang == SOURCE or lang not in LANGUAGES:
        if lang not in LANGUAGES:
            log.warning("no language %r: English is shown (known: %s)", lang, ", ".join(LANGUAGES))
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo

    buf = io.BytesIO()
    write_mo(buf, catalogue(lang), use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def gettext_for(lang: str):
    """(gettext, ngettext) of one language: `_ , n_ = gettext_for(lang)`."""
    tr = translations(lang)
    return tr.gettext, tr.ngettext


# Babel's locale per language: British English (the texts say "practise"), German.
LOCALES = {"en": "en_GB", "de": "de_DE"}


def locale_of(lang: str) -> str:
    return LOCALES.get(lang, LOCALES[SOURCE])


def format_date(day, form: str = "long", lang: str = SOURCE) -> str:
    """A date in the language's format: "28 December 2026", "28. Dezember 2026"."""
    from babel.dates import format_date as babel_date
    return babel_date(day, format=form, locale=locale_of(lang))


def format_datetime(moment, form: str = "medium", lang: str = SOURCE) -> str:
    from babel.dates import format_datetime as babel_datetime
    return babel_datetime(moment, format=form, locale=locale_of(lang))


def format_decimal(number, lang: str = SOURCE, digits: str | None = None) -> str:
    """A number in the language's format: 1,234.5 or 1.234,5."""
    from babel.numbers import format_decimal as babel_decimal
    return babel_decimal(number, format=digits, locale=locale_of(lang))
