"""The trainer's and the owner's day in a real browser on a tablet (768x1024): compare, progress,
delete and undo (checked in the database), settings applied and rolled back.

Headless Chromium from apt driven by Playwright, Waitress serving the app over a real SQLite
store. Screenshots go to OHSA_SCREENSHOTS when set (docs/screens/ holds the committed ones), else
to the test's temp folder.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest

from device import config as device_config
from device import owner
from device.store import Store
from tests.hand_clock import HandClock
from tests.test_browser import ARGS, CHROMIUM, _only_local, _record, _shots, browser  # noqa: F401
from tests.test_web_trainer_day import Restarts
from tests.web_fakes import FakeStation, sample_result, stills
from web import auth, create_app
from web.server import serve

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}
PASSWORD = "owner-pass-2026"
T0 = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.timezone.utc)


@pytest.fixture
def day(tmp_path):
    store = Store(tmp_path / "assessments.db")
    owner.write_hash(tmp_path, auth.hash_password(PASSWORD))
    ids = []
    for i, (knees, lean) in enumerate(((0.70, 36.0), (0.76, 31.0), (0.79, 27.0), (0.86, 22.0))):
        result = sample_result(knees_cave_in={"value": knees, "status": "present" if knees < 0.8 else "absent"},
                               excessive_forward_lean={"value": lean, "status": "present" if lean > 20 else "absent"})
        ids.append(store.save_assessment(result, None, stills(), label="PQ",
                                         created_at=T0 + dt.timedelta(days=7 * i, hours=i)))
    retest = sample_result(knees_cave_in={"value": 0.95, "status": "absent"})
    store.save_assessment(retest, None, {}, label="PQ", kind="heels_raised", parent_id=ids[1],
                          created_at=T0 + dt.timedelta(days=7, hours=1, minutes=3))
    station = FakeStation()
    config_path = tmp_path / "ohsa.toml"
    app = create_app(store, station, data_dir=tmp_path, config_path=config_path)
    restart_clock = HandClock(0.0)
    restarts = Restarts(station, config_path)
    app.extensions["ohsa"].update(restart=restarts, restart_clock=restart_clock, sleep=restart_clock.advance,
                                  restart_timeout_s=20.0)
    server = serve(app, "127.0.0.1", 0)
    yield server, store, ids, config_path, restarts, tmp_path
    server.stop()
    store.close()


def _login(browser, server):
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(server.url + "/trainer/")
    page.wait_for_url(re.compile(r".*/trainer/login\?next=.*"))
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/trainer/")
    return context, page


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]


def test_compare_and_progress_on_a_tablet(browser, day, tmp_path):
    server, store, ids, *_ = day
    shots = _shots(tmp_path)
    context, page = _login(browser, server)
    urls = _record(context, server)
    # nothing chosen: a page that helps
    page.click("#compare")  # nothing ticked
    page.wait_for_url(re.compile(r".*/trainer/compare.*"))
    assert "Choose two assessments to compare" in page.inner_text("#compare-reason")
    # two large labelled ticks: the whole card is the target
    page.goto(server.url + "/trainer/")
    box = page.locator(f"label:has(#cmp-{ids[0]})").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 90  # a finger-sized control with its word
    page.click(f"label:has(#cmp-{ids[3]})")
    page.click(f"label:has(#cmp-{ids[0]})")
    page.click("#compare")
    page.wait_for_selector("#compare-table")
    knees = page.inner_text("#row-knees_cave_in")
    assert "0.70" in knees and "0.86" in knees and "better" in knees and "higher is better" in knees
    lean = page.inner_text("#row-excessive_forward_lean")
    assert "36.0" in lean and "22.0" in lean and "better" in lean and "lower is better" in lean
    page.evaluate("Array.from(document.images).forEach(i => i.loading = 'eager')")
    imgs = page.locator("#stills-front img")
    assert imgs.count() == 2
    left, right = imgs.nth(0).bounding_box(), imgs.nth(1).bounding_box()
    assert abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"] + left["width"] - 1  # side by side
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "compare-768.png"))  # the tablet's screen, as a trainer sees it

    page.goto(server.url + "/trainer/client?label=PQ")
    page.wait_for_selector("#chart-knees_cave_in svg")
    svg = page.locator("#chart-knees_cave_in svg").bounding_box()
    assert svg["width"] >= 650  # full tablet width, not 320 px
    fig = page.inner_text("#chart-knees_cave_in")
    assert "higher is better" in fig and "threshold 0.8" in fig
    assert page.locator("#chart-knees_cave_in .retest").count() == 1
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "progress-768.png"))
    _only_local(urls, server)
    context.close()


def _deleted_at(store, aid):
    with sqlite3.connect(store.path) as db:
        row = db.execute("SELECT deleted_at FROM assessments WHERE id = ?", (aid,)).fetchone()
    return row


def test_delete_asks_and_undo_restores(browser, day):
    server, store, ids, *_ = day
    aid = ids[2]
    context, page = _login(browser, server)
    page.goto(f"{server.url}/trainer/a/{aid}")
    page.click("#delete")
    page.wait_for_url(f"**/trainer/a/{aid}/delete")
    assert _deleted_at(store, aid) == (None,)  # the first click only asks
    page.click("#keep")
    page.wait_for_url(f"**/trainer/a/{aid}")
    page.click("#delete")
    page.click("#confirm-delete")
    page.wait_for_url(re.compile(r".*/trainer/deleted\?just=.*"))
    assert _deleted_at(store, aid)[0] is not None
    assert "You can undo this for 7 days" in page.inner_text("main")
    page.goto(server.url + "/trainer/")
    assert page.locator(f"#cmp-{aid}").count() == 0
    page.goto(server.url + "/trainer/deleted")
    page.click(f"#undo-{aid}")
    page.wait_for_url(f"**/trainer/a/{aid}")
    assert "Assessment restored." in page.inner_text("main")
    assert _deleted_at(store, aid) == (None,)
    context.close()


def test_settings_applied_then_rolled_back(browser, day):
    server, store, ids, config_path, restarts, tmp_path = day
    context, page = _login(browser, server)
    page.goto(server.url + "/trainer/settings")
    assert "Reps in one set" in page.inner_text("#section-station")
    page.fill("input[name='station.target_reps']", "6")
    page.click("#apply-settings")
    page.wait_for_url("**/trainer/settings?outcome=applied")
    assert "the station restarted and is up" in page.inner_text("main")
    assert device_config.load(config_path).station.target_reps == 6
    good = config_path.read_text()

    page.fill("input[name='station.target_reps']", "7")
    page.fill("input[name='cameras.front.backend']", "replay")
    page.fill("input[name='cameras.front.source']", str(Path(tmp_path) / "missing.mp4"))
    page.click("#apply-settings")
    page.wait_for_url("**/trainer/settings?outcome=rolled_back")
    assert "previous settings are back" in page.inner_text("main")
    assert config_path.read_text() == good
    assert page.input_value("input[name='station.target_reps']") == "6"
    assert [c.station.target_reps for c in restarts.configs] == [6, 7, 6]
    context.close()
