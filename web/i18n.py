"""The member pages in the gym's language: gettext in the templates, the locale's dates and numbers.

    i18n.install(app)         # from web.kiosk's blueprint: jinja2.ext.i18n with the catalogue
    i18n.lang()               # the language of this request's member pages: [kiosk] language
    {{ _("Squats: %(n)s of %(total)s", n=3, total=5) }}    # in a template (new-style gettext)
    {{ record.created_at | member_when }}                   # 30 November 2026, 14:05 / 30. November 2026, 14:05

Every member-facing word in the templates goes through `_()` (or `{% trans %}`); the catalogue is
device/locale/<lang>/LC_MESSAGES/messages.po (device.i18n). The trainer's pages stay English:
their templates do not call `_()`. tests/test_i18n.py fails on member template text outside it.
"""

from __future__ import annotations

import datetime

from flask import Flask, has_app_context

from device import i18n
from device.i18n import N_
from web.access import ctx

# The titles web/__init__.py gives message.html (error pages a member may see, e.g. an expired
# share link), here so that the catalogue has them; message.html translates what it is given.
ERROR_TITLES = (N_("That did not work"), N_("Login needed"), N_("Not allowed here"), N_("Not found"),
                N_("Not allowed"), N_("Too large"), N_("Please wait"))
# speechSynthesis voices per language (BCP 47), for the spoken count
SPEECH = {"en": "en-GB", "de": "de-DE"}


def lang() -> str:
    """[kiosk] language of the running app's config ("en" outside an app)."""
    if not has_app_context():
        return i18n.SOURCE
    config = ctx()["config"]
    try:
        value = config["kiosk"]["language"]
    except (KeyError, TypeError):
        return i18n.SOURCE
    return value if value in i18n.LANGUAGES else i18n.SOURCE


def gettext(message: str) -> str:
    """`message` in this request's language (templates: jinja2 formats and escapes `%(name)s`)."""
    return i18n.translations(lang()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.translations(lang()).ngettext(singular, plural, n)


def local_moment(value) -> datetime.datetime | None:
    """A stored timestamp (ISO text or epoch seconds) as a naive local datetime; None when it is
    not one."""
    try:
        if isinstance(value, (int, float)):
            return datetime.datetime.fromtimestamp(value)
        moment = datetime.datetime.fromisoformat(str(value))
    except (ValueError, OSError, OverflowError):
        return None
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment


def trainer_when(value) -> str:
    """A stored timestamp (ISO text or epoch seconds) as local 'YYYY-MM-DD HH:MM' (the trainer's
    pages, the hub's)."""
    if value is None or value == "":
        return ""
    moment = local_moment(value)
    return str(value) if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def member_when(value) -> str:
    """A stored timestamp as the locale's date and time (the member's pages)."""
    if value is None or value == "":
        return ""
    moment = local_moment(value)
    if moment is None:
        return str(value)
    return f"{i18n.format_date(moment.date(), 'long', lang())}, {moment:%H:%M}"


def number(value) -> str:
    return i18n.format_decimal(value, lang())


def install(app: Flask) -> None:
    """jinja2's i18n extension with this app's catalogue, the locale filters and globals."""
    env = app.jinja_env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    # tr(text): a text given to a template (message.html's title), translated and escaped as usual
    env.globals.update(page_lang=lang, tr=gettext, speech_lang=lambda: SPEECH.get(lang(), SPEECH["en"]))
    env.filters["member_when"] = member_when
    env.filters["number"] = number
