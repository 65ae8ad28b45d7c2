"""The member pages in both languages in the real Chromium at the kiosk's 800x480: the result's
first screen (headline, codes, buttons) fits without overlap or sideways scroll and its chips stay
on one line in German too (longer words); the live page says the station's messages and speaks
the count in the page's language; outside the opening hours it shows the closed screen until the
panel's button wakes the station."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device import config as device_config
from tests import member_site as ms
from tests.test_member_pages import AUDIO_SPY, _chips_on_one_line, _no_sideways_scroll

pytestmark = pytest.mark.browser

HEADLINES = {
    "en": {"typical": "Two things to work on: knees cave in, chest leans forward",
           "retest": "One thing to work on: chest leans forward"},
    "de": {"typical": "Zwei Sachen zum Üben: Knie knicken nach innen, Oberkörper neigt sich vor",
           "retest": "Eine Sache zum Üben: Oberkörper neigt sich vor"},
}


LANG_SPY = """
if (window.speechSynthesis) {
  const said = window.speechSynthesis.speak;
  window.speechSynthesis.speak = function (u) { window.__spokenLang = u.lang; return said.call(this, u); };
}
"""


@pytest.fixture(scope="module")
def browser():
    yield from ms.browser_fixture()


@pytest.fixture(scope="module", params=["en", "de"])
def site(request, tmp_path_factory):
    s = ms.Site(tmp_path_factory.mktemp(f"site-{request.param}"),
                device_config.validate({"kiosk": {"language": request.param}}))
    s.lang = request.param
    yield s
    s.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=ms.KIOSK)
    context.add_init_script(AUDIO_SPY + LANG_SPY)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("name", ["typical", "retest", "nothing", "pain"])
def test_kiosk_result_fits_800x480_in_each_language(site, page, name):
    site.station.set(state="result", assessment_id=site.ids[name], retests=["heels_raised", "hands_on_hips"])
    page.goto(f"{site.url}/result/{site.ids[name]}?kiosk=1")
    page.wait_for_selector("#retest-hands_on_hips", state="visible", timeout=10_000)
    assert page.get_attribute("html", "lang") == site.lang
    if name in HEADLINES[site.lang]:
        assert page.inner_text("#headline") == HEADLINES[site.lang][name]
    first = ["#headline", "#actions", "#body-map"] + (["#qr-plan svg", "#qr svg"] if name != "pain" else [])
    if name == "retest":  # what changed against the first set, on the first screen too
        first.append("#comparison")
    boxes = {sel: ms.box(page, sel) for sel in first}
    for sel, b in boxes.items():
        assert ms.inside(b, ms.KIOSK), f"{site.lang} {name}: {sel} is not on the first screen: {b}"
        if sel != "#actions":
            assert not ms.overlap(b, boxes["#actions"]), f"{site.lang} {name}: {sel} is under the button bar"
    if name != "pain":
        assert not ms.overlap(boxes["#headline"], boxes["#qr-plan svg"])
        assert not ms.overlap(boxes["#body-map"], boxes["#qr-plan svg"])
    buttons = page.locator("#actions .button:visible, #actions button:visible")
    for i in range(buttons.count()):
        b = buttons.nth(i).bounding_box()
        assert ms.inside(b, ms.KIOSK) and b["height"] >= 44, f"{site.lang} {name}: button {i} {b}"
        width = buttons.nth(i).evaluate("b => [b.scrollWidth, b.clientWidth]")
        assert width[0] <= width[1], f"{site.lang} {name}: the text of button {i} is cut off: {width}"
    _no_sideways_scroll(page)
    _chips_on_one_line(page)
    if name == "typical" and os.environ.get("OHSA_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["OHSA_SCREENSHOTS"]) / f"result-800x480-{site.lang}.png"))


def test_live_page_in_each_language(site, page):
    site.station.set(state="idle", reps=0, countdown=None, assessment_id=None,
                     message="Press the button to start your squat check.")
    page.goto(site.url + "/")
    page.wait_for_selector("#btn-cancel", state="attached")
    de = site.lang == "de"
    assert page.inner_text("#state") == ("Bereit" if de else "Ready")
    assert page.inner_text("#message") == ("Drück den Knopf, um deinen Kniebeugen-Test zu starten." if de
                                           else "Press the button to start your squat check.")
    site.station.set(state="positioning", message="Step back a little so the side camera sees you from head to feet.")
    want = ("Geh etwas zurück, damit dich die Seitenkamera von Kopf bis Fuß sieht." if de
            else "Step back a little so the side camera sees you from head to feet.")
    ms.wait_js(page, f"document.getElementById('message').textContent === {want!r}")
    site.station.set(state="recording", reps=0, message="Squat slowly, arms overhead: 0 of 5.")
    ms.wait_js(page, "document.getElementById('state').dataset.state === 'recording'")
    site.station.set(reps=1, message="Squat slowly, arms overhead: 1 of 5.")
    ms.wait_js(page, "window.__spoken.length === 1")
    assert page.evaluate("window.__spokenLang") == ("de-DE" if de else "en-GB")
    assert " ".join(page.inner_text("#reps").split()) == ("Kniebeugen: 1 von 5" if de else "Squats: 1 of 5")
    for sel in ("#state", "#message", "#reps", "#controls"):
        assert ms.inside(ms.box(page, sel), ms.KIOSK), sel
    _no_sideways_scroll(page)
    # the station's own screen: a long press opens no menu
    assert page.evaluate("""(() => { const e = new MouseEvent('contextmenu', {bubbles: true, cancelable: true});
        document.body.dispatchEvent(e); return e.defaultPrevented; })()""")
    site.station.set(state="idle", reps=0, message="Press the button to start your squat check.")


def test_asleep_the_screen_is_black_until_the_button_wakes_the_station(browser, tmp_path):
    """Outside the opening hours the station sleeps (state "closed"): its own screen shows nothing
    at all; the button wakes it (the state machine decides; the page follows its live state)."""
    site = ms.Site(tmp_path, device_config.validate({"kiosk": {"language": "de"}}))
    site.station.set(state="closed", opens="2026-12-01T06:00", message="Closed. Press the button to wake the station.")
    context = browser.new_context(viewport=ms.KIOSK)
    try:
        page = context.new_page()
        page.goto(site.url + "/")
        page.wait_for_selector("body.is-asleep", state="attached")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"
        visible = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => {
            const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 &&
            getComputedStyle(e).visibility !== 'hidden' && !['SCRIPT', 'STYLE', 'MAIN'].includes(e.tagName); })
            .map(e => e.tagName + '#' + e.id)""")
        assert visible == [], visible  # a black screen: no text, no button, no light
        site.station.set(state="idle", opens="2026-12-01T06:00", message="Press the button to start your squat check.")
        page.wait_for_selector("#btn-start", state="visible")  # woken: the live page again
        assert not page.evaluate("document.body.classList.contains('is-closed')")
        assert page.inner_text("#state") == "Bereit"
        site.station.set(state="closed")  # asleep again: dark again
        page.wait_for_selector("body.is-asleep", state="attached")
    finally:
        context.close()
        site.close()
