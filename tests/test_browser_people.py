"""The trainer's and the owner's day with people, in real Chromium on a tablet (768x1024):
the owner adds a second trainer account, the trainer handles a pain alert and links an
assessment to a member (the audit line shows who), cannot reach the owner's pages; the owner
exports one member's everything and erases them (checked in the database file itself).
The member-grouped list's screenshot goes to docs/screens/trainer-list.png when
OHSA_SCREENSHOTS is set (else the test's temp folder)."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from device import owner
from device.station.analysis import Analyser
from device.store import Store
from tests.test_browser import ARGS, CHROMIUM, _only_local, _record, _shots, browser  # noqa: F401
from tests.web_fakes import FakeStation, sample_result, stills
from web import auth, create_app
from web.server import serve

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}
OWNER_PASSWORD = "owner-pass-2026"
SAM_PASSWORD = "sam-trainer-2026"


@pytest.fixture
def day(tmp_path):
    """A store as a gym has it after some weeks: members with several assessments, one
    anonymous, a pain report during a set waiting for a trainer."""
    store = Store(tmp_path / "assessments.db")
    owner.write_hash(tmp_path, auth.hash_password(OWNER_PASSWORD))
    t0 = dt.datetime(2026, 10, 5, 9, 30, tzinfo=dt.timezone.utc)
    better = dict(excessive_forward_lean={"status": "absent"})
    plan = [  # (member, days after t0, result changes)
        ("M-10023", 0, {}), ("M-10023", 14, better), ("M-10023", 28, dict(better, knees_cave_in={"status": "absent"})),
        ("M-20417", 3, better), ("M-20417", 24, {"heels_rise": {"status": "present"}}),
        ("M-31337", 30, {}), (None, 31, {}),
    ]
    ids = {}
    for number, days, changes in plan:
        ids.setdefault(number, []).append(store.save_assessment(
            sample_result(**changes), None, stills(), member=number, created_at=t0 + dt.timedelta(days=days, hours=days % 5)))
    store.set_member_name(store.member_by_number("M-10023")["id"], "Ana Weber", by="owner")
    store.set_member_name(store.member_by_number("M-20417")["id"], "Tom Reyes", by="owner")
    # "Stop, it hurts" during a set: the station's own hook records it (nothing of the set is saved)
    Analyser({"rules": {"thresholds": {}}, "storage": {}}, store).pain_during_set(
        {"during": "recording", "kind": "standard", "member": "M-31337", "reps": 2})
    server = serve(create_app(store, FakeStation(), data_dir=tmp_path, config_path=tmp_path / "ohsa.toml"),
                   "127.0.0.1", 0)
    yield server, store, ids
    server.stop()
    store.close()


def _login(page, server, name, password):
    page.goto(server.url + "/trainer/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url("**/trainer/")


def test_accounts_alerts_members_export_and_erase_on_a_tablet(browser, day, tmp_path):  # noqa: F811
    server, store, ids = day
    shots = _shots(tmp_path)

    # the owner adds a second trainer account
    owner_ctx = browser.new_context(viewport=TABLET, accept_downloads=True)
    urls = _record(owner_ctx, server)
    page = owner_ctx.new_page()
    _login(page, server, "", OWNER_PASSWORD)
    page.click("header a[href='/trainer/accounts']")
    page.fill("#account-name", "Sam")
    page.fill("#account-password", SAM_PASSWORD)
    page.fill("#account-repeat", SAM_PASSWORD)
    page.click("#add-trainer")
    page.wait_for_selector("text=Trainer account Sam added")
    assert store.get_account("sam")["role"] == "trainer"

    # Sam, on another tablet: the pain alert, handled
    sam_ctx = browser.new_context(viewport=TABLET)
    urls += _record(sam_ctx, server)
    sam = sam_ctx.new_page()
    _login(sam, server, "Sam", SAM_PASSWORD)
    assert sam.inner_text("#nav-alerts").split() == ["Alerts", "2"]  # the pain report and a worse finding
    sam.click("#nav-alerts")
    row = sam.locator("#alerts tr.alert-pain")
    assert "Pain reported during a set" in row.inner_text() and "M-31337" in row.inner_text()
    assert "no result saved" in row.inner_text()
    row.locator("button.handle").click()
    sam.wait_for_selector("#handled")
    assert "handled by Sam" in sam.inner_text("#handled")
    assert sam.locator("#alerts tr.alert-pain").count() == 0
    (pain,) = [e for e in store.events(open_only=False) if e["kind"] == "pain"]
    assert pain["handled_by"] == "Sam"

    # Sam cannot reach the owner's pages
    response = sam.goto(server.url + "/trainer/settings")
    assert response.status == 403 and "Only the owner" in sam.inner_text("main")
    assert sam.goto(server.url + "/trainer/accounts").status == 403
    assert sam.locator("header a[href='/trainer/settings']").count() == 0

    # Sam links the anonymous assessment to a member; the change shows with who made it
    anon = ids[None][0]
    sam.goto(server.url + f"/trainer/a/{anon}")
    assert sam.is_visible("#member-none")
    sam.fill("#member-number", "M-31337")
    sam.click("#link-member")
    sam.wait_for_selector("#member-link")
    assert "M-31337" in sam.inner_text("#member-link")
    audit = sam.inner_text("#audit")
    assert "Sam" in audit and "member linked" in audit and "anonymous -> M-31337" in audit
    assert store.audit_lines(anon)[-1]["account"] == "Sam"

    # the list grouped by member, on the tablet
    sam.click("header a[href='/trainer/members']")
    sam.wait_for_selector("#members")
    rows = sam.locator("#members tbody tr")
    assert rows.count() == 3
    text = sam.inner_text("#members")
    assert "Ana Weber" in text and "▼ better" in text and "▲ worse" in text
    sam.screenshot(path=str(shots / "trainer-list.png"))
    wide = sam.evaluate("""Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 768).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8).join(' ')""")
    assert sam.evaluate("document.documentElement.scrollWidth") <= TABLET["width"], wide
    sam_ctx.close()

    # the owner exports everything about Ana, then erases her
    mid = store.member_by_number("M-10023")["id"]
    page.goto(server.url + f"/trainer/members/{mid}")
    with page.expect_download() as info:
        page.click("#export-member")
    z = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    body = json.loads(z.read("member.json"))
    assert body["member"]["name"] == "Ana Weber" and len(body["assessments"]) == 3
    assert len([n for n in z.namelist() if n.endswith(".jpg")]) == 6
    assert any(a["action"] == "member renamed" for a in body["audit"])

    page.fill("#erase-confirm", "M-1002")  # a typo: nothing happens
    page.click("#erase-member")
    page.wait_for_selector("text=nothing was erased")
    assert store.member_by_number("M-10023") is not None
    page.fill("#erase-confirm", "M-10023")
    page.click("#erase-member")
    page.wait_for_selector("#receipt")
    receipt = page.inner_text("#receipt")
    assert "M-10023" in receipt and "3 assessment(s)" in receipt and "6 still image(s)" in receipt
    # in the database itself: nothing of Ana's
    db = sqlite3.connect(store.path)
    try:
        assert db.execute("SELECT COUNT(*) FROM members WHERE number = 'M-10023'").fetchone() == (0,)
        marks = ",".join("?" * len(ids["M-10023"]))
        for table, column in (("assessments", "id"), ("images", "assessment_id"), ("audit", "assessment_id"),
                              ("events", "assessment_id")):
            assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} IN ({marks})",
                              ids["M-10023"]).fetchone() == (0,), table
        assert db.execute("SELECT COUNT(*) FROM audit WHERE member_id = ?", (mid,)).fetchone() == (0,)
    finally:
        db.close()
    raw = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.name.startswith("assessments.db"))
    assert b"Ana Weber" not in raw and b"M-10023" not in raw
    _only_local(urls, server)
    owner_ctx.close()


KIOSK = {"width": 800, "height": 480}


def test_kiosk_idle_says_what_it_keeps_and_a_member_identifies_on_the_keypad(browser, tmp_path):  # noqa: F811
    from tests.test_browser import _wait

    store = Store(tmp_path / "assessments.db")
    station = FakeStation()
    app = create_app(store, station, data_dir=tmp_path, config_path=tmp_path / "ohsa.toml",
                     config={"storage": {"retention_days": 180}, "kiosk": {"privacy_contact": "the front desk"}})
    server = serve(app, "127.0.0.1", 0)
    shots = _shots(tmp_path)
    try:
        context = browser.new_context(viewport=KIOSK)
        urls = _record(context, server)
        page = context.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#btn-start")
        privacy = page.inner_text("#privacy")
        assert "films you" in privacy and "no video" in privacy and "180 days" in privacy and "the front desk" in privacy
        assert page.is_visible("#member-ask") and page.is_visible("#btn-member")
        page.screenshot(path=str(shots / "kiosk-idle-800x480.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= KIOSK["width"]
        assert page.evaluate("document.documentElement.scrollHeight") <= KIOSK["height"]  # all of it, no scrolling

        page.click("#btn-member")
        page.wait_for_url("**/live/member")
        for key in "4711":
            page.click(f"#key-{key}")
        page.click("#key-back")
        page.click("#key-1")
        assert page.input_value("#member-number") == "4711"
        page.screenshot(path=str(shots / "kiosk-keypad-800x480.png"))
        page.click("#key-ok")
        page.wait_for_url(server.url + "/")
        assert station.calls == ["identify:keypad:4711"]
        assert page.inner_text("#member-hint") == "•711" and not page.is_visible("#member-ask")

        # the set starts: the notice and the member box give way; back at idle they return
        station.set(state="recording", reps=1, message="Squat slowly, arms overhead: 1 of 5.")
        _wait(page, "document.getElementById('privacy').hidden && document.getElementById('identify').hidden")
        station.set(state="idle", reps=0, member=None, member_how=None, message="Press the button to start your squat check.")
        _wait(page, "!document.getElementById('privacy').hidden && !document.getElementById('member-ask').hidden")

        # "Not me" after a card was read by the camera
        station.set(member="••337", member_how="card")
        _wait(page, "document.getElementById('member-hint').textContent === '••337'")
        page.click("#member-forget")
        page.wait_for_url(server.url + "/")
        assert station.calls[-1] == "forget" and page.is_visible("#member-ask")
        _only_local(urls, server)
        context.close()
    finally:
        server.stop()
    # in German, the idle screen still fits the 7-inch screen without scrolling
    app = create_app(store, FakeStation(), data_dir=tmp_path, config_path=tmp_path / "ohsa.toml",
                     config={"storage": {"retention_days": 180}, "kiosk": {"language": "de"}})
    server = serve(app, "127.0.0.1", 0)
    try:
        context = browser.new_context(viewport=KIOSK)
        page = context.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#btn-start")
        assert "180 Tage lang" in page.inner_text("#privacy") and "jemanden vom Team" in page.inner_text("#privacy")
        assert page.inner_text("#btn-member") == "Mitgliedsnummer"
        page.screenshot(path=str(shots / "kiosk-idle-800x480-de.png"))
        assert page.evaluate("document.documentElement.scrollHeight") <= KIOSK["height"]
        assert page.evaluate("document.documentElement.scrollWidth") <= KIOSK["width"]
        context.close()
    finally:
        server.stop()
        store.close()


def test_a_card_shown_to_the_replayed_front_camera_shows_on_the_kiosk(browser, tmp_path, movenet):  # noqa: F811
    """The running station (real MoveNet, replayed cameras): a QR code held up to the front
    camera identifies the person, the kiosk page in Chromium says so, and the set's pain report
    reaches the alerts with the member."""
    from device import config as cfg
    from device.camera import DualCapture
    from device.station.runtime import StationRuntime
    from tests.test_browser import _wait
    from tests.test_identify import FRONT, SIDE, CardSource, _frames, qr_rgb
    from tests.waiting import wait_until

    config = cfg.validate({"station": {"target_reps": 5, "min_reps": 2, "countdown_s": 1, "positioning_hold_s": 0.0,
                                       "record_limit_s": 60.0, "person_lost_s": 5.0, "message_idle_s": 60.0},
                           "panel": {"hold_cancel_s": 0.3, "hold_shutdown_s": 5.0},
                           "cameras": {"front": {"offline_after_s": 5.0}, "side": {"offline_after_s": 5.0}}})
    sources = {"front": CardSource("front", _frames(FRONT, 10)), "side": CardSource("side", _frames(SIDE, 10))}
    rt = StationRuntime(config, tmp_path / "data", capture=DualCapture(sources, offline_after_s=5.0),
                        movenet=movenet, shutdown_action=lambda: None).open()
    server = serve(create_app(rt.store, rt, config=config, data_dir=tmp_path / "data",
                              config_path=tmp_path / "ohsa.toml"), "127.0.0.1", 0)
    try:
        assert wait_until(lambda: all(c["status"] == "online" for c in rt.capture.status().values()), 20)
        context = browser.new_context(viewport=KIOSK)
        page = context.new_page()
        page.goto(server.url + "/")
        page.wait_for_selector("#btn-member")
        assert not page.is_visible("#member-known")
        sources["front"].card = qr_rgb("GYM-31337", scale=4)
        _wait(page, "document.getElementById('member-hint').textContent === '\u2022\u2022\u2022\u2022\u2022337'", 20)
        assert page.is_visible("#member-known") and not page.is_visible("#btn-member")
        sources["front"].card = None
        page.click("#btn-start")
        _wait(page, "['countdown', 'recording'].indexOf(document.getElementById('state').dataset.state) >= 0", 30)
        page.click("#btn-pain")
        assert wait_until(lambda: rt.store.events(), 10)
        (event,) = rt.store.events()
        assert event["kind"] == "pain" and event["member_number"] == "GYM-31337"
        context.close()
    finally:
        server.stop()
        rt.close()
