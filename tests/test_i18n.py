"""Languages: every member-facing word comes from the catalogue, the German catalogue and exercise
texts are complete, every member page renders in both languages, opening hours."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from jinja2 import Environment
from jinja2.ext import i18n as i18n_ext

from device import config as device_config
from device import hours, i18n
from device.errors import ConfigError
from device.plan import build_plan, plan_text
from device.plan import library as libmod
from device.plan.words import check_member_text, member_texts
from device.paths import REPO_ROOT
from tests import member_site as ms
from web import member

TEMPLATES = REPO_ROOT / "web" / "templates"
MEMBER_TEMPLATES = ("base.html", "live.html", "result.html", "message.html", "_result.html", "identify.html")
# _result.html's trainer macros come before this line; base.html's trainer nav is marked
MEMBER_PART = "{# ---- member pieces"
TRAINER_BLOCK = re.compile(r"\{# trainer: English #\}.*?\{# /trainer #\}", re.S)


def bare_text(source: str) -> list[str]:
    """Template text outside tags, {{ }}, {% %} and comments that has letters in it."""
    env = Environment(extensions=[i18n_ext])
    # the text a browser would show: data tokens joined, each Jinja part a placeholder, then
    # the markup (tags, whose attributes may hold Jinja parts) and entities removed
    joined = "".join(value if kind == "data" else "\x00" for _, kind, value in env.lex(source))
    text = re.sub(r"<[^>]*>", "\x00", joined)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    return [t.strip() for t in text.split("\x00") if re.search(r"[A-Za-z]{2,}", t)]


def member_source(name: str) -> str:
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    if name == "_result.html":
        source = source[source.index(MEMBER_PART):]
    source = re.sub(r"\{% block (body_class|main_class) %\}.*?\{% endblock %\}", "", source)  # class names
    return TRAINER_BLOCK.sub("", source)


@pytest.mark.parametrize("name", MEMBER_TEMPLATES)
def test_member_templates_have_no_text_outside_the_catalogue(name):
    source = member_source(name)
    assert bare_text(source) == [], f"{name}: text outside _() / {{% trans %}}"
    # words in attributes a person reads or hears (alt, aria-label, title) go through _() too
    for attr in re.findall(r'(?:alt|aria-label|title)="([^"{]*)"', source):
        assert not re.search(r"[A-Za-z]{2,}", attr), f"{name}: attribute text {attr!r}"


def test_the_bypass_check_catches_bare_text():
    assert bare_text('<p class="x">Hello there</p>{{ _("ok") }}') == ["Hello there"]
    assert bare_text('<p>{{ _("Hello there") }}</p>') == []


def test_catalogue_is_complete_and_placeholders_match():
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "i18n.py"), "check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_every_member_message_in_the_code_is_in_the_catalogue():
    """The N_ tables of web/member.py and every label: each msgid has a German translation."""
    de = i18n.translations("de")
    tables = [member.MARKS[k]["words"] for k in member.MARKS] + list(member.BODY_PART.values()) \
        + list(member.REASONS.values()) + [member.REASON_FALLBACK] + list(member.NUMBER_WORDS) \
        + list(member.SIDE_WORDS.values()) + list(member.CAMERA.values())
    words = member.translated(member.LIVE_WORDS, "en")
    tables += [w for group in words.values() for w in (group.values() if isinstance(group, dict) else [group])]
    from device.vocabulary import COMPENSATIONS, REGIONS
    tables += [c.label for c in COMPENSATIONS.values()] + [r.label for r in REGIONS]
    missing = [m for m in tables if de.gettext(m) == m and m not in ("Start", "Station", "Trainer", "Link")]
    assert missing == []


def test_german_exercise_texts_cover_the_library_and_read_plainly():
    de = libmod.load_for("de")
    en = libmod.load()
    for ex_id, ex in de["exercises"].items():
        assert ex["member_name"] != en["exercises"][ex_id]["member_name"] or ex["member_name"] == "Bridge"
        assert ex["name"] == en["exercises"][ex_id]["name"]  # the trainer's name stays English
    result = ms.typical_result()
    plan = build_plan(result, assessed_on="2026-11-30", lang="de")
    texts = member_texts(plan)
    assert texts and all("Your plan" not in t for t in texts)
    for text in texts:
        assert check_member_text(text, lang="de") == [], text
    assert "28. Dezember 2026" in plan["schedule"]["retest_text"]


def test_every_german_member_text_of_the_library_reads_plainly():
    de = libmod.member_texts_of(libmod.load_for("de"))
    texts = [v for section in ("phases", "exercises", "compensations") for entry in de[section].values()
             for value in entry.values() for v in (value if isinstance(value, list) else [value])]
    texts += [de["general"]["message"]] + [g["meaning"] for g in de["glossary"]]
    assert len(texts) > 200
    problems = [p for t in texts for p in check_member_text(t, lang="de")]
    assert problems == []
    assert check_member_text("Dehne die Adduktoren mit der Faszienrolle.", lang="de") == [
        "jargon 'Adduktor' in: 'Dehne die Adduktoren mit der Faszienrolle.'",
        "jargon 'Faszie' in: 'Dehne die Adduktoren mit der Faszienrolle.'"]


def test_the_take_home_text_in_german_is_plain_ascii():
    result = ms.typical_result()
    text = plan_text(build_plan(result, assessed_on="2026-11-30", lang="de"), result, lang="de")
    assert text.isascii() and text.startswith("DEIN KNIEBEUGEN-TEST")
    assert "Knie knicken nach innen" in text and "Nachtest am 28.12.2026." in text
    assert "Kraeftigen" in text or "Gewoelbe" in text or "Fuesse" in text or "Hueft" in text \
        or "ae" in text  # umlauts spelled out, not dropped


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.parametrize("lang, words", [
    ("en", ("Ready", "What we saw", "Your plan", "Take your plan home", "30 November 2026")),
    ("de", ("Bereit", "Was wir gesehen haben", "Dein Plan", "Nimm deinen Plan mit", "30. November 2026",
            "Mit erhöhten Fersen verschwunden: „Knie knicken nach innen“")),
])
def test_every_member_page_renders_in_each_language(tmp_path, lang, words):
    site = ms.Site(tmp_path, device_config.validate({"kiosk": {"language": lang}}))
    try:
        pages = {"live": _get(site.url + "/")}
        for name, aid in site.ids.items():
            pages[name] = _get(f"{site.url}/result/{aid}?kiosk=1")
        pages["share"] = _get(site.share("typical"))
        pages["expired"] = _get(site.url + "/s/no-such-token")
    finally:
        site.close()
    assert pages["expired"][0] == 404
    assert all(status == 200 for name, (status, _) in pages.items() if name != "expired"), \
        {n: s for n, (s, _) in pages.items()}
    joined = "\n".join(body for _, body in pages.values())
    for w in words:
        assert w in joined, (lang, w)
    for name, (_, body) in pages.items():
        assert f'<html lang="{lang}">' in body, name
    if lang == "de":
        for english in ("What we saw", "Your plan", "Squats:", "Take your plan home", "Skip it if you have",
                        "We could not", "Not checked", "To work on", "disappeared", "likely from"):
            assert english not in joined, english


def test_language_is_a_checked_setting():
    assert device_config.validate({"kiosk": {"language": "de"}}).kiosk.language == "de"
    with pytest.raises(ConfigError, match="kiosk.language"):
        device_config.validate({"kiosk": {"language": "fr"}})
    with pytest.raises(ConfigError, match="kiosk.opening_hours"):
        device_config.validate({"kiosk": {"opening_hours": "mon-fri 6-22"}})


# --- opening hours ------------------------------------------------------------------------------
MON = dt.datetime(2026, 11, 30)  # a Monday


@pytest.mark.parametrize("text, when, expected", [
    ("", MON, True),
    ("mon-fri 06:00-22:00", MON.replace(hour=5, minute=59), False),
    ("mon-fri 06:00-22:00", MON.replace(hour=6), True),
    ("mon-fri 06:00-22:00", MON.replace(hour=22), False),
    ("mon-fri 06:00-22:00; sat,sun 08:00-20:00", MON + dt.timedelta(days=5, hours=9), True),
    ("mon-fri 06:00-22:00", MON + dt.timedelta(days=5, hours=9), False),
    ("fri 18:00-02:00", MON + dt.timedelta(days=5, hours=1), True),  # Saturday 01:00
    ("sun 20:00-02:00", MON + dt.timedelta(hours=1), True),  # past the week's end into Monday
    ("daily 00:00-24:00", MON + dt.timedelta(days=3, hours=23, minutes=59), True),
    ("mon 06:00-12:00 14:00-20:00", MON.replace(hour=13), False),
])
def test_is_open(text, when, expected):
    assert hours.is_open(when, text) is expected


def test_next_change():
    text = "mon-fri 06:00-22:00"
    assert hours.next_change(MON.replace(hour=3), text) == MON.replace(hour=6)
    assert hours.next_change(MON.replace(hour=7, second=30), text) == MON.replace(hour=22)
    friday_night = MON + dt.timedelta(days=4, hours=23)
    assert hours.next_change(friday_night, text) == MON + dt.timedelta(days=7, hours=6)
    assert hours.next_change(MON, "") is None


@pytest.mark.parametrize("bad", ["mon", "monday 06:00-22:00", "mon 6:00-22:00", "mon 24:30-25:00"])
def test_bad_hours_name_the_problem(bad):
    with pytest.raises(ValueError):
        hours.parse(bad)


def test_asleep_the_live_page_says_closed_and_when_it_opens(tmp_path):
    """Others on the network (not the station's own screen, which goes black) read when it opens."""
    site = ms.Site(tmp_path, device_config.validate({"kiosk": {"language": "de"}}))
    try:
        site.station.set(state="closed", opens="2026-12-01T06:00", message="Closed. Press the button to wake the station.")
        app = site.server.app
        html = app.test_client().get("/", environ_base={"REMOTE_ADDR": "192.168.1.50"}).get_data(as_text=True)
        assert 'class="live-page is-closed"' in html and "is-asleep" not in html
        assert "Geschlossen" in html and "Wieder geöffnet am 1. Dezember 2026" in html
        mine = app.test_client().get("/").get_data(as_text=True)  # the station's own screen
        assert "is-asleep" in mine
        site.station.set(state="idle", opens=None)
        assert "is-closed" not in app.test_client().get("/").get_data(as_text=True)
    finally:
        site.close()


def test_the_station_messages_in_german():
    """Every template of the station's messages matches its own English wording and comes out German."""
    from device.station import machine, positioning
    msg = member.station_message
    assert msg(machine.MESSAGES["countdown"].format(n=3), "de") == \
        "Still halten: Start in 3. Dann langsam in die Kniebeuge, Arme über dem Kopf."
    assert msg(positioning.instruction("not_whole", "side"), "de") == \
        "Geh etwas zurück, damit dich die Seitenkamera von Kopf bis Fuß sieht."
    why = positioning.instruction("no_person")
    stopped = machine.MESSAGES["timed_out"].format(seconds=90.0, why=why)
    assert msg(stopped, "de") == ("Der Durchgang wurde gestoppt: 90 Sekunden lang war niemand in der Startposition "
                                  "(Stell dich auf die Fußabdrücke auf der Matte.). Drück den Knopf, um neu zu starten.")
    assert msg("Something the station never says.", "de") == "Something the station never says."
    assert msg(machine.MESSAGES["idle"], "en") == machine.MESSAGES["idle"]
    de = i18n.translations("de")
    templates = i18n.station_templates("de")
    assert set(templates) == set(machine.MESSAGES.values()) | set(positioning.INSTRUCTIONS.values()) \
        | {machine.READY_TEXT}  # scripts/i18n.py extract has run since the station's words changed
    for template in templates:
        assert de.gettext(template) != template, template
        filled = template.replace("{seconds:.0f}", "{seconds}").format(
            views="front camera is", reason="x", n=3, reps=2, target=5, view="front", seconds=9, why="y",
            s="s", min=3)
        assert msg(filled, "de") != filled, filled
