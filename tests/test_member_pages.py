"""The member's pages in the real Chromium at the kiosk's 800x480, a tablet's 768x1024 and a phone's 390x844.

Layout rules from element boxes: the kiosk result shows headline, take-home QR code and buttons
without scrolling or overlap; the phone reaches the plan within two screen heights; nothing
scrolls sideways; chips stay on one line. The take-home QR code is read back from the rendered
page with OpenCV and holds the plan; the print of a typical result is one or two A4 pages and
carries no trainer notes; the live page speaks in words, counts once, cues each squat with a
tone unless sound is off, and offers no Start while the station is in its pain state.

With OHSA_SCREENSHOTS=docs/screens the result's screenshots at the three sizes go there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from device import config as device_config
from tests import member_site as ms
from web import member, present

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    yield from ms.browser_fixture()


@pytest.fixture
def new_context(browser):
    """browser.new_context, closed after the test even when it fails (its live streams end)."""
    made = []

    def make(**options):
        made.append(browser.new_context(**options))
        return made[-1]

    yield make
    for context in made:
        context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = ms.Site(tmp_path_factory.mktemp("member-site"))
    yield s
    s.close()


def _shot(page, name: str) -> None:
    folder = os.environ.get("OHSA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def _chips_on_one_line(page) -> None:
    """Every chip is one line high and inside the page (no word broken or cut off)."""
    chips = page.evaluate("""Array.from(document.querySelectorAll('.chip')).map(c => {
        const r = c.getBoundingClientRect(), lh = parseFloat(getComputedStyle(c).lineHeight) || 20;
        return {text: c.textContent, h: r.height, lh: lh, right: r.right, w: document.documentElement.clientWidth};
    })""")
    assert chips, "no chips on the page"
    for c in chips:
        assert c["h"] < 1.6 * c["lh"] + 6, f"chip {c['text']!r} wraps: {c}"
        assert c["right"] <= c["w"] + 0.5, f"chip {c['text']!r} runs off the page: {c}"


def _kiosk_result(new_context, site, name="typical"):
    site.station.set(state="result", assessment_id=site.ids[name], retests=["heels_raised", "hands_on_hips"])
    context = new_context(viewport=ms.KIOSK)
    page = context.new_page()
    page.goto(f"{site.url}/result/{site.ids[name]}?kiosk=1")
    page.wait_for_selector("#retest-hands_on_hips", state="visible", timeout=10_000)  # the fullest button bar
    return context, page


@pytest.mark.parametrize("name", ["typical", "retest"])
def test_kiosk_result_fits_800x480_headline_qr_and_buttons(new_context, site, name):
    context, page = _kiosk_result(new_context, site, name)
    headline = page.inner_text("#headline")
    if name == "typical":
        assert headline == "Two things to work on: knees cave in, chest leans forward"
    else:  # a re-test says what changed, on the first screen too
        assert headline == "One thing to work on: chest leans forward"
        assert "knees cave in disappeared" in page.inner_text("#comparison")
        assert ms.inside(ms.box(page, "#comparison"), ms.KIOSK)
        assert not ms.overlap(ms.box(page, "#comparison"), ms.box(page, "#actions"))
    boxes = {sel: ms.box(page, sel) for sel in ("#headline", "#qr-plan svg", "#qr svg", "#actions", "#body-map")}
    for sel, b in boxes.items():
        assert ms.inside(b, ms.KIOSK), f"{sel} is not on the first screen: {b}"
    for sel in ("#headline", "#qr-plan svg", "#qr svg", "#body-map"):
        assert not ms.overlap(boxes[sel], boxes["#actions"]), f"{sel} is under the button bar"
    assert not ms.overlap(boxes["#headline"], boxes["#qr-plan svg"])
    assert not ms.overlap(boxes["#body-map"], boxes["#qr-plan svg"])
    buttons = page.locator("#actions .button:visible, #actions button:visible")
    assert buttons.count() == 5
    for i in range(buttons.count()):
        b = buttons.nth(i).bounding_box()
        assert ms.inside(b, ms.KIOSK) and b["height"] >= 44, f"button {i} {b}"
    assert page.evaluate("window.scrollY") == 0
    # sharp on the 7-inch screen: whole pixels per module, at least 2
    modules = int(page.get_attribute("#qr-plan", "data-modules"))
    module_px = int(page.get_attribute("#qr-plan", "data-module-px"))
    assert module_px >= 3 and boxes["#qr-plan svg"]["width"] == modules * module_px
    _no_sideways_scroll(page)
    _chips_on_one_line(page)
    if name == "typical":
        _shot(page, "result-800x480.png")


@pytest.mark.parametrize("viewport,mobile", [(ms.TABLET, False), (ms.PHONE, True)], ids=["768x1024", "390x844"])
def test_result_on_tablet_and_phone(new_context, site, viewport, mobile):
    context = new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
    page = context.new_page()
    page.goto(site.share("typical"))
    page.wait_for_selector("#plan-body")
    plan_top = ms.box(page, "#plan")["y"]
    assert plan_top <= 2 * viewport["height"], f"the plan starts at {plan_top} px"
    assert ms.box(page, "#headline")["y"] < viewport["height"] / 4  # headline first
    first_exercise = ms.box(page, "#plan-body .exercise")
    assert first_exercise["y"] <= 2 * viewport["height"]
    _no_sideways_scroll(page)
    _chips_on_one_line(page)
    # the region legend reads on its own, in words, beside the figure (not colour alone)
    legend = page.inner_text("#legend")
    for words in ("Knees", "To work on", "Hips and lower back", "Partly checked", "No problem seen"):
        assert words in legend
    _shot(page, f"result-{viewport['width']}x{viewport['height']}.png")


def test_phone_live_page_has_no_sideways_scroll(new_context, site):
    site.station.set(state="recording", reps=2, countdown=None, message="Squat slowly, arms overhead: 2 of 5.")
    context = new_context(viewport=ms.PHONE, is_mobile=True)
    page = context.new_page()
    page.goto(site.url + "/")
    page.wait_for_selector("#rep-count")
    _no_sideways_scroll(page)


def _decode_qr(png: bytes) -> str:
    """The text of the QR code in a screenshot of it.

    OpenCV's detector misreads dense codes (version 16 and up) below about 4 px a module even
    in perfect images, where phone readers do not; so the screenshot is enlarged twice, pixel for
    pixel (as a phone held closer sees it), with the white page around it.
    """
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    image = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    image = cv2.copyMakeBorder(image, 48, 48, 48, 48, cv2.BORDER_CONSTANT, value=255)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None and text, "OpenCV found no readable QR code"
    return text


def test_take_home_qr_code_carries_the_plan(new_context, site):
    context, page = _kiosk_result(new_context, site)
    text = _decode_qr(page.locator("#qr-plan svg").screenshot())  # as the kiosk shows it
    record = site.store.get(site.ids["typical"])
    plan = present.plan_for(record)
    assert text == member.take_home_text(plan, record["result"])
    for ex in member.exercises(plan):  # every exercise of the plan, in the code itself
        assert ex["name"] in text
    assert "knees cave in" in text.lower() and "http" not in text  # the plan, not a link
    # the second, smaller code is the LAN link to the whole result
    link = _decode_qr(page.locator("#qr svg").screenshot())
    assert re.fullmatch(r"http://[^/]+/s/[A-Za-z0-9_-]{20,}", link), link
    assert ms.box(page, "#qr svg")["width"] < ms.box(page, "#qr-plan svg")["width"]


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


@pytest.mark.parametrize("name", ["typical", "nothing"])
def test_print_is_one_or_two_a4_pages_without_trainer_notes(new_context, site, name):
    context = new_context(viewport=ms.KIOSK)
    page = context.new_page()
    page.goto(f"{site.url}/result/{site.ids[name]}")
    page.wait_for_selector("#plan-body")
    page.emulate_media(media="print")
    printed = page.inner_text("main")
    for part in ("#headline", "#body-map", "#plan-body", "#disclaimer"):
        assert page.is_visible(part), f"{part} is not printed"
    if name == "typical":
        assert page.is_visible("#findings")
    assert ms.PRIVATE_NOTE not in printed and ms.PLAN_NOTE not in printed
    for hidden in ("#take-home", "#actions", ".stills", "header.top", "#not-checked"):
        found = page.locator(hidden)
        assert not any(found.nth(i).is_visible() for i in range(found.count())), f"{hidden} is printed"
    pdf = page.pdf(format="A4", print_background=True)
    pages = _pdf_pages(pdf)
    assert 1 <= pages <= 2, f"{name}: the print runs to {pages} pages"


def test_plan_note_shows_on_screen_but_private_notes_never(new_context, site):
    context = new_context(viewport=ms.TABLET)
    page = context.new_page()
    page.goto(site.share("typical"))
    text = page.inner_text("main")
    assert ms.PLAN_NOTE in text and ms.PRIVATE_NOTE not in text


AUDIO_SPY = """
window.__tones = 0; window.__spoken = [];
const Real = window.AudioContext;
if (Real) {
  const make = Real.prototype.createOscillator;
  Real.prototype.createOscillator = function () {
    const osc = make.call(this), start = osc.start.bind(osc);
    osc.start = function () { window.__tones += 1; return start(...arguments); };
    return osc;
  };
}
if (window.speechSynthesis) {
  window.speechSynthesis.speak = function (u) { window.__spoken.push(u.text); };
}
"""


def _live(new_context, url, viewport=ms.KIOSK):
    context = new_context(viewport=viewport)
    context.add_init_script(AUDIO_SPY)
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("#btn-cancel", state="attached")
    return context, page


def test_live_page_words_one_counter_and_a_tone_per_squat(new_context, site):
    site.station.set(state="idle", reps=0, countdown=None, assessment_id=None,
                     message="Press the button to start your squat check.")
    context, page = _live(new_context, site.url)
    assert page.inner_text("#state") == "Ready"
    assert " ".join(page.inner_text("#led-status").split()) == "Status: Ready"  # the light in words too
    site.station.set(state="positioning", message="Step back a little, please.")
    ms.wait_js(page, "document.getElementById('state').textContent === 'Find your spot'")
    site.station.set(state="recording", reps=0, message="Squat slowly, arms overhead: 0 of 5.",
                     panel={"status": "busy", "regions": {"knees": True}})
    ms.wait_js(page, "document.getElementById('state').textContent === 'Squatting'")
    for n in (1, 2, 3):
        site.station.set(reps=n, message=f"Squat slowly, arms overhead: {n} of 5.")
        ms.wait_js(page, f"document.getElementById('rep-count').textContent === '{n}'")
    ms.wait_js(page, "window.__spoken.length === 3")
    assert page.evaluate("window.__spoken") == ["1", "2", "3"]
    assert page.evaluate("window.__tones") == 3
    status = page.inner_text(".status")
    assert "3 of 5" in status and status.count("3") == 1, status  # one counter, shown once
    assert page.inner_text("#message") == "Squat slowly, arms overhead."
    assert re.search(r"\b(IDLE|POSITIONING|RECORDING|PAIN|recording)\b", page.inner_text("main")) is None
    assert "Light on" in page.inner_text("#led-knees") or page.inner_text("#led-knees i") == "!"


def test_no_start_button_while_the_station_says_pain(new_context, site):
    site.station.set(state="recording", reps=2, countdown=None, message="Squat slowly, arms overhead: 2 of 5.")
    context, page = _live(new_context, site.url)
    assert page.is_visible("#btn-pain") and not page.is_visible("#btn-start")
    page.click("#btn-pain")  # FakeStation goes to idle; the real one stays in "pain" for a while
    ms.wait_js(page, "!document.getElementById('btn-pain').disabled")  # its answer is in
    assert site.station.calls[-1] == "pain"
    site.station.set(state="pain", reps=0, countdown=None,
                     message="Please stop. Pain during a squat is a reason to see a physiotherapist or doctor.")
    ms.wait_js(page, "document.getElementById('state').textContent === 'Please stop'")
    assert not page.is_visible("#btn-start") and not page.is_visible("#btn-pain")
    # a station that says how long the wait is: the page says it in words, still no Start
    site.station.set(countdown=12)
    ms.wait_js(page, "!document.getElementById('pain-wait').hidden")
    assert page.inner_text("#pain-wait").startswith("You can start again in 12 seconds")
    assert not page.is_visible("#countdown") and not page.is_visible("#btn-start")
    site.station.set(state="idle", countdown=None, message="Press the button to start your squat check.")
    page.wait_for_selector("#btn-start", state="visible", timeout=10_000)
    assert not page.is_visible("#pain-wait")


def test_sound_off_in_the_config_means_no_tone_and_no_voice(new_context, tmp_path):
    config = device_config.validate({"kiosk": {"sound": False}})
    quiet = ms.Site(tmp_path, config=config)
    try:
        quiet.station.set(state="recording", reps=0, message="Squat slowly, arms overhead: 0 of 5.")
        context, page = _live(new_context, quiet.url)
        assert page.get_attribute("#live-script", "data-sound") == "off"
        quiet.station.set(reps=1)
        ms.wait_js(page, "document.getElementById('rep-count').textContent === '1'")
        quiet.station.set(reps=2)
        ms.wait_js(page, "document.getElementById('rep-count').textContent === '2'")
        assert page.evaluate("[window.__tones, window.__spoken.length]") == [0, 0]
    finally:
        quiet.close()
