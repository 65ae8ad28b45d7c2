"""The hub's pages in a real browser: headless Chromium (apt) driven by Playwright, Waitress
serving the hub's app over a real PostgreSQL with two stations' assessments. A trainer is sent
to the login, logs in, filters the list by station, opens a member's history across stations and
the stations page; no request leaves the hub, and the page's CSP holds (no console errors)."""

from __future__ import annotations

import pytest

from device import owner
from device.fleet import messages
from hub import db, ingest
from hub.app import create_app
from hub.store import HubStore
from tests.fleet_hub import assessment, parsed, record, stamp
from tests.services import Postgres
from tests.test_browser import _only_local, _record, _shots, browser  # noqa: F401
from web.server import serve

pytestmark = pytest.mark.browser
PASSWORD = "browser-hub-pass"


@pytest.fixture
def hub_site(tmp_path):
    with Postgres() as pg:
        with db.connect(pg.dsn) as conn:
            db.migrate(conn)
            for i in range(6):
                station = "gym-north" if i % 2 else "gym-south"
                rec = record(i, label=f"client {i}", member="2001" if i < 3 else None, name="Kim L", minutes=i * 60)
                ingest.apply(conn, *parsed(assessment(station, f"b{i:02d}", 1, rec)))
            for station in ("gym-north", "gym-south"):
                m = messages.status(station, "online", stamp(500), "1.0")
                ingest.apply(conn, m, messages.topic_of(m))
        owner.write_hash(tmp_path, owner.hash_password(PASSWORD))
        store = HubStore(pg.dsn)
        server = serve(create_app(store, data_dir=tmp_path), "127.0.0.1", 0)
        yield server
        server.stop()
        store.close()


def test_trainer_logs_in_filters_by_station_and_follows_a_member(browser, hub_site, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    urls = _record(context, hub_site)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(hub_site.url + "/stations")
    assert "/login" in page.url  # no session: the login first
    page.fill("#password", PASSWORD)
    page.click("#login")
    assert page.url.endswith("/stations")
    assert page.locator("#stations tbody tr").count() == 2
    page.goto(hub_site.url + "/assessments")
    assert page.locator("#assessments tbody tr").count() == 6
    page.select_option("#station", "gym-north")
    page.click("#search")
    stations = page.locator("#assessments td.station").all_inner_texts()
    assert stations == ["gym-north"] * 3
    page.goto(hub_site.url + "/assessments")
    page.locator("#assessments a", has_text="Kim L").first.click()
    assert "/members/2001" in page.url
    assert set(page.locator("#history td.station").all_inner_texts()) == {"gym-north", "gym-south"}
    page.screenshot(path=str(_shots(tmp_path) / "hub-member.png"), full_page=True)
    page.click("#logout")
    page.goto(hub_site.url + "/assessments")
    assert "/login" in page.url
    _only_local(urls, hub_site)
    assert errors == []
    context.close()
