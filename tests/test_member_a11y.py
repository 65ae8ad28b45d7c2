"""Member pages checked with axe-core (vendored, tests/vendor/axe-core) in the real Chromium, and
their words: short sentences, no jargon, no engineer's reasons.

axe runs on every member page (live in several states, the result on the kiosk, a tablet and a
phone, a pain result, a result with nothing to work on, an error page); no violation rated
serious or critical may remain. The words check is device.plan.words.check_member_text (at most
20 words a sentence, none of its jargon) plus the engineering words of the station.
"""

from __future__ import annotations

import re

import pytest

from device.plan.words import check_member_text
from tests import member_site as ms
from web import member

pytestmark = pytest.mark.browser

# besides device.plan.words.JARGON: what the rules and the station call things
ENGINEERING = ("ratio", "silhouette", "contour", "reason_code", "deg", "IDLE", "POSITIONING", "PAIN",
               "RECORDING", "degrees off square")


@pytest.fixture(scope="module")
def browser():
    yield from ms.browser_fixture()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = ms.Site(tmp_path_factory.mktemp("member-a11y"))
    yield s
    s.close()


def _axe(browser, url: str, viewport: dict, *, mobile: bool = False, ready: str = "main",
         spoil: str | None = None) -> list[dict]:
    """Serious and critical axe violations of the page at `url` ([] when clean)."""
    context = browser.new_context(viewport=viewport, is_mobile=mobile, bypass_csp=True)  # to inject axe
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(ready)
        if spoil:
            page.evaluate(spoil)
        page.add_script_tag(path=str(ms.AXE))
        found = page.evaluate("""() => axe.run(document, {resultTypes: ['violations']}).then(r =>
            r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))""")
    finally:
        context.close()
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_axe_is_the_vendored_release():
    head = ms.AXE.read_text(encoding="utf-8")[:40]
    assert head.startswith("/*! axe v4."), head
    assert (ms.AXE.parent / "LICENSE").is_file()


def test_axe_finds_a_planted_fault(browser, site):
    """The harness works: a button without a name, planted in a good page, is reported."""
    found = _axe(browser, site.share("typical"), ms.PHONE, ready="#headline", spoil="""() =>
        document.querySelector('main').insertAdjacentHTML('beforeend', '<button id="bad"></button>')""")
    assert "button-name" in {v["id"] for v in found}


@pytest.mark.parametrize("state", [
    dict(state="idle", reps=0, countdown=None, message="Press the button to start your squat check."),
    dict(state="countdown", reps=0, countdown=3, message="Hold still: starting in 3."),
    dict(state="recording", reps=3, countdown=None, message="Squat slowly, arms overhead: 3 of 5.",
         panel={"status": "busy", "regions": {"knees": True}}),
    dict(state="pain", reps=0, countdown=20, message="Please stop. A trainer can help you."),
], ids=lambda s: s["state"])
def test_live_page_has_no_serious_violation(browser, site, state):
    site.station.set(**state)
    assert _axe(browser, site.url + "/", ms.KIOSK, ready="#state") == []


@pytest.mark.parametrize("name,size", [("typical", "kiosk"), ("typical", "tablet"), ("typical", "phone"),
                                       ("nothing", "phone"), ("pain", "tablet")])
def test_result_pages_have_no_serious_violation(browser, site, name, size):
    viewport = {"kiosk": ms.KIOSK, "tablet": ms.TABLET, "phone": ms.PHONE}[size]
    if size == "kiosk":
        site.station.set(state="result", assessment_id=site.ids[name], retests=["heels_raised"])
        url = f"{site.url}/result/{site.ids[name]}?kiosk=1"
    else:
        url = site.share(name)
    assert _axe(browser, url, viewport, mobile=size == "phone", ready="#headline") == []


def test_error_page_has_no_serious_violation(browser, site):
    assert _axe(browser, site.url + "/s/not-a-token", ms.PHONE, mobile=True) == []


# -- words ------------------------------------------------------------------------------------


def _problems(text: str) -> list[str]:
    """device.plan.words.check_member_text, plus the pages' own engineering words."""
    out = list(check_member_text(text))
    for term in ENGINEERING:
        if re.search(rf"\b{re.escape(term)}\b", text, flags=0 if term.isupper() else re.IGNORECASE):
            out.append(f"engineering word: {term}")
    return out


def test_every_reason_code_has_a_short_plain_sentence():
    from device.verdict import REASON_CODES as codes

    assert set(member.REASONS) == set(codes)  # every code the rules can give has a member sentence
    sentences = {member.reason_sentence(cid, {"status": "not_assessed", "reason_code": code})
                 for cid in ms.UNCHECKED for code in codes}
    for s in sentences:
        assert "{" not in s and _problems(s) == [], s
    side = member.reason_sentence("low_back_round", {"reason_code": "not_visible"})
    assert side == "The side camera could not see your lower back clearly."
    assert member.reason_sentence("feet_turn_out", {"reason_code": "no_view"}).startswith("The front camera")
    unknown = member.reason_sentence("head_down", {"reason_code": "something_new", "reason": "x > 3 deg"})
    assert unknown == member.REASON_FALLBACK


def test_headlines():
    from tests.web_fakes import sample_result

    assert member.headline(ms.typical_result())["text"] == \
        "Two things to work on: knees cave in, chest leans forward"
    assert member.headline(sample_result(knees_cave_in={"status": "absent"}))["text"] == \
        "One thing to work on: chest leans forward"
    fine = sample_result(knees_cave_in={"status": "absent"}, excessive_forward_lean={"status": "absent"},
                         feet_flatten={"reason_code": "cannot_measure"})
    assert member.headline(fine) == {"kind": "fine", "text": "Nothing to work on today"}
    partly = dict(fine, compensations=dict(fine["compensations"], head_down={
        "status": "not_assessed", "reason_code": "camera_placement"}))
    assert member.headline(partly)["text"] == "We could only check part of your squat"
    none = sample_result(**{c: {"status": "not_assessed", "reason_code": "no_view"} for c in ms.UNCHECKED})
    none["compensations"] = {c: {"status": "not_assessed", "reason_code": "no_view"} for c in none["compensations"]}
    assert member.headline(none)["text"] == "We could not check your squat this time"
    many = sample_result(**{c: {"status": "present"} for c in ("feet_turn_out", "heels_rise", "head_down",
                                                                "arms_fall_forward")})
    assert member.headline(many)["text"] == "Six things to work on: feet turn out, heels rise, knees cave in and more"


def test_member_page_words_are_plain_and_engineers_reasons_stay_out(browser, site):
    context = browser.new_context(viewport=ms.TABLET)
    try:
        page = context.new_page()
        page.goto(site.share("typical"))
        page.click("#not-checked summary")  # open the "could not check" list too
        text = page.inner_text("main")
    finally:
        context.close()
    for technical in (e["reason"] for e in ms.UNCHECKED.values()):
        assert technical not in text
    assert "The side camera was not at the right angle to check this." in text
    assert "We could not see the outline of your lower back clearly." in text
    assert _problems(text) == []
