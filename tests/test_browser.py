"""A real browser on the real server: headless Chromium from apt, driven by Playwright.

Waitress serves the app on 127.0.0.1 (a free port) over a temporary store holding one finished
assessment. The kiosk page follows the station to the result and shows its plan; a trainer sets
the password, opens the assessment and exports CSV. Every request the pages make is recorded:
none may leave the station. Screenshots at 800x480 (the 7-inch kiosk) go to OHSA_SCREENSHOTS
when set (for a person to look at), else to the test's temp folder.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from device.store import Store
from tests.web_fakes import FakeStation, sample_result, stills
from web import create_app
from web.server import serve

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
KIOSK = {"width": 800, "height": 480}


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def site(tmp_path):
    store = Store(tmp_path / "assessments.db")
    aid = store.save_assessment(sample_result(), None, stills(), label="MK", station_version="test")
    station = FakeStation()
    server = serve(create_app(store, station, data_dir=tmp_path, config_path=tmp_path / "ohsa.toml"), "127.0.0.1", 0)
    yield server, station, store, aid
    server.stop()
    store.close()


def _shots(tmp_path) -> Path:
    folder = Path(os.environ.get("OHSA_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wait(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression (page.wait_for_function evaluates strings, which the CSP forbids)."""
    end = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < end, f"timed out waiting for {expression}"
        time.sleep(0.05)


def _record(context, server) -> list[str]:
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    return urls


def _only_local(urls: list[str], server) -> None:
    assert urls, "no requests recorded"
    outside = [u for u in urls if not (u.startswith(server.url + "/") or u.startswith("data:"))]
    assert outside == [], f"requests left the station: {outside}"


def test_kiosk_follows_the_station_to_the_result_with_its_plan(browser, site, tmp_path):
    server, station, store, aid = site
    shots = _shots(tmp_path)
    context = browser.new_context(viewport=KIOSK)
    urls = _record(context, server)
    page = context.new_page()
    page.goto(server.url + "/")
    page.wait_for_selector("#btn-start")
    assert page.inner_text("#message").startswith("Step onto the mat")

    page.click("#btn-start")  # a real POST with the page's CSRF token, from loopback
    _wait(page, "document.getElementById('state').dataset.state === 'countdown'")
    assert page.inner_text("#state") == "Get ready"  # the state in words
    assert station.calls == ["start"]
    assert page.is_visible("#countdown") and page.is_visible("#btn-pain")
    station.set(state="recording", countdown=None, reps=3, message="Squat slowly, arms overhead: 3 of 5.",
                panel={"status": "busy", "regions": {"knees": True}})
    _wait(page, "document.getElementById('rep-count').textContent === '3'")
    assert "on" in page.get_attribute("#led-knees", "class")
    page.screenshot(path=str(shots / "kiosk-live-800x480.png"))

    # the set is analysed and stored: the station says "result" and the page follows (SSE)
    station.set(state="result", reps=5, assessment_id=aid, message="Your result is ready.",
                panel={"status": "ready", "regions": {"knees": True, "hips_low_back": True}})
    page.wait_for_url(f"**/result/{aid}?kiosk=1")
    page.wait_for_selector("#plan-body")
    text = page.inner_text("main")
    assert "Knees cave in" in text and "4 of 5 reps" in text
    assert "Stretch" in page.inner_text("#plan-body") and "left side only" in page.inner_text("#plan-body").lower()
    assert page.query_selector("#qr-plan svg") is not None and page.query_selector("#qr svg") is not None
    page.evaluate("Array.from(document.images).forEach(i => i.loading = 'eager')")
    _wait(page, "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert page.evaluate("document.documentElement.scrollWidth") <= KIOSK["width"]  # no sideways scroll
    page.screenshot(path=str(shots / "kiosk-result-800x480.png"))
    page.screenshot(path=str(shots / "kiosk-result-full.png"), full_page=True)
    _only_local(urls, server)

    # the station offers a re-test: its button appears, and pressing it starts one
    assert not page.is_visible("#retest-heels_raised")
    station.set(retests=["heels_raised", "hands_on_hips"])
    page.wait_for_selector("#retest-heels_raised", state="visible", timeout=10_000)
    page.click("#retest-heels_raised")
    page.wait_for_url(server.url + "/", timeout=10_000)  # back to the live page for the set
    assert station.calls == ["start", "retest:heels_raised"]

    # a result shown again after "Done" does not pull the live page back to it
    station.set(state="result", assessment_id=aid, retests=[])
    page.goto(server.url + "/")
    page.wait_for_selector("#btn-start")
    time.sleep(1.0)
    assert page.url == server.url + "/"

    # "It hurt" on the result reports pain to the station (which then shows its referral)
    page.goto(f"{server.url}/result/{aid}?kiosk=1")
    page.click("#report-pain")
    page.wait_for_url(server.url + "/", timeout=10_000)
    assert station.calls[-1] == "pain"

    # on the result, the station moves on by itself: the kiosk goes back to the live page
    station.set(state="result", assessment_id=aid)
    page.goto(f"{server.url}/result/{aid}?kiosk=1")
    station.set(state="idle", assessment_id=None, reps=0, message="Press the button to start your squat check.")
    page.wait_for_url(server.url + "/", timeout=10_000)
    context.close()


def test_live_page_polls_when_no_event_stream_is_free(browser, site):
    server, station, _, _ = site
    from web.api import MAX_STREAMS

    held = []
    for _ in range(MAX_STREAMS):  # other screens hold every stream
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/api/events")
        assert conn.getresponse().status == 200
        held.append(conn)
    context = browser.new_context(viewport=KIOSK)
    page = context.new_page()
    page.goto(server.url + "/")
    station.set(state="positioning", message="Step back a little, please.")
    _wait(page, "document.getElementById('message').textContent === 'Step back a little, please.'")
    context.close()
    for conn in held:
        conn.close()


def test_phone_opens_the_result_through_its_share_link(browser, site, tmp_path):
    server, _, store, aid = site
    token = store.create_share_token(aid, 1)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    urls = _record(context, server)
    page = context.new_page()
    page.goto(f"{server.url}/s/{token}")
    page.wait_for_selector("#plan-body")
    assert "Knees cave in" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(_shots(tmp_path) / "phone-result.png"), full_page=True)
    _only_local(urls, server)
    context.close()


def test_trainer_sets_password_opens_assessment_and_exports_csv(browser, site, tmp_path):
    server, _, store, aid = site
    context = browser.new_context(viewport={"width": 1024, "height": 768}, accept_downloads=True)
    urls = _record(context, server)
    page = context.new_page()
    page.goto(server.url + "/trainer/")
    page.wait_for_url("**/trainer/setup")
    page.fill("#password", "trainer-pass-1")
    page.fill("#repeat", "trainer-pass-1")
    page.click("#set-password")
    page.wait_for_url("**/trainer/")
    page.click(f"a[href='/trainer/a/{aid}']")
    page.wait_for_url(f"**/trainer/a/{aid}")
    assert "Knees cave in" in page.inner_text("main")
    cookie = next(c for c in context.cookies() if c["name"] == "ohsa_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.select_option("#override-id", "knees_cave_in")
    page.select_option("#override-status", "absent")
    page.fill("#override-note", "Checked on video")
    page.click("#override")
    page.wait_for_selector("text=Checked on video")
    assert store.get(aid)["overrides"]["knees_cave_in"]["status"] == "absent"

    page.goto(server.url + "/trainer/")
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename == "assessments.csv"
    body = Path(download.path()).read_text(encoding="utf-8")
    assert body.startswith("id,created_at,label") and aid in body and ",MK," in body

    # log out, then the list needs the password again
    page.click("header button.link")
    page.wait_for_url("**/trainer/login")
    page.goto(server.url + "/trainer/")
    page.wait_for_url(re.compile(r".*/trainer/login\?next=%2Ftrainer%2F$|.*/trainer/login\?next=/trainer/$"))
    page.fill("#password", "trainer-pass-1")
    page.click("#login")
    page.wait_for_url("**/trainer/")
    _only_local(urls, server)
    context.close()
