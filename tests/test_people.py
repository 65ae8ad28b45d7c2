"""People in the store and the trainer area: accounts and roles, members, audit, alerts, a
member's export and erasure (checked in the database file itself)."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile

import pytest

from device import owner
from device.errors import InputError
from device.store import Store
from device.store.schema import MIGRATIONS
from tests.web_fakes import FakeStation, sample_result, stills
from web import auth, create_app

OWNER_PASSWORD = "squat-deep-2026"
OWNER_HASH = auth.hash_password(OWNER_PASSWORD)
TRAINER_PASSWORD = "lunge-long-2026"
LAN = {"REMOTE_ADDR": "192.168.1.50"}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "assessments.db")
    yield s
    s.close()


def _rows(path, sql, params=()):
    """Straight from the file, on a connection of its own (not the store's)."""
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


# -- store --------------------------------------------------------------------------------


def test_migration_from_version_4_keeps_assessments_and_makes_the_owner_account(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for steps in MIGRATIONS[:4]:
        for step in steps:
            step(db) if callable(step) else db.execute(step)
    db.execute("PRAGMA user_version = 4")
    db.execute("INSERT INTO assessments (id, created_at, result_json) VALUES ('a1', '2026-01-01T00:00:00.000000Z', ?)",
               (json.dumps(sample_result()),))
    db.close()
    with Store(path) as s:
        assert s.version == len(MIGRATIONS)
        assert [(a["name"], a["role"]) for a in s.accounts()] == [("owner", "owner")]
        record = s.get("a1")
        assert record["member"] is None  # anonymous until someone links it
        assert s.anonymous_count() == 1


def test_accounts_unique_names_and_roles(store):
    store.add_account("Sam", "scrypt$x", by="owner")
    with pytest.raises(InputError, match="exists already"):
        store.add_account("sam", "scrypt$y", by="owner")
    with pytest.raises(InputError, match="trainer"):
        store.add_account("Boss", "scrypt$y", role="owner", by="owner")
    with pytest.raises(InputError, match="name"):
        store.add_account("<script>", "scrypt$y", by="owner")
    assert store.get_account("SAM")["role"] == "trainer"
    with pytest.raises(InputError):
        store.remove_account("owner", by="owner")
    store.remove_account("sam", by="owner")
    assert store.get_account("Sam") is None
    lines = [(a["account"], a["action"], a["detail"]) for a in store.audit_lines()]
    assert lines == [("owner", "account added", "Sam (trainer)"), ("owner", "account removed", "sam")]


def test_every_change_to_a_result_plan_or_member_is_in_the_audit_table(store):
    aid = store.save_assessment(sample_result(), None, stills())
    store.override_finding(aid, "knees_cave_in", "absent", "tracked badly", by="sam")
    store.set_notes(aid, "knees fine on video", by="sam")
    store.set_notes(aid, "knees fine on video", by="sam")  # no change: no line
    store.set_plan(aid, {"format": "ohsa-plan/1", "phases": []}, by="owner")
    store.link_member(aid, "M-100", "Ana", by="sam")
    store.link_member(aid, "M-200", by="owner")
    rows = _rows(store.path, "SELECT account, assessment_id, action, detail, at FROM audit ORDER BY id")
    assert [(r[0], r[2]) for r in rows] == [
        ("sam", "override"), ("sam", "note"), ("owner", "plan"), ("sam", "member linked"),
        ("owner", "member linked"), ("owner", "member unlinked")]
    assert all(r[1] == aid for r in rows)
    assert rows[0][3] == "knees_cave_in: absent (tracked badly)"
    assert rows[4][3] == "M-100 (Ana) -> M-200"
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", r[4]) for r in rows)
    # the first member keeps a line saying the assessment moved away
    m100 = store.member_by_number("M-100")
    assert [a["action"] for a in store.audit_lines(member_id=m100["id"])] == ["member linked", "member unlinked"]


def test_members_overview_groups_with_trend_and_a_worse_alert(store):
    import datetime as dt

    t0 = dt.datetime(2026, 3, 1, 10, tzinfo=dt.timezone.utc)
    store.save_assessment(sample_result(), None, {}, member="M-1", created_at=t0)
    better = sample_result(excessive_forward_lean={"status": "absent"})
    store.save_assessment(better, None, {}, member="M-1", created_at=t0 + dt.timedelta(days=7))
    worse = sample_result(heels_rise={"status": "present"})
    store.save_assessment(worse, None, {}, member="M-2", created_at=t0)
    last = store.save_assessment(sample_result(heels_rise={"status": "present"}, feet_turn_out={"status": "present"}),
                                 None, {}, member="M-2", created_at=t0 + dt.timedelta(days=1))
    store.save_assessment(sample_result(), None, {}, created_at=t0)  # anonymous
    groups = {g["number"]: g for g in store.members_overview()}
    assert groups["M-1"]["count"] == 2 and groups["M-1"]["trend"] == "better"
    assert groups["M-1"]["findings"] == ["knees_cave_in"]
    assert groups["M-2"]["trend"] == "worse" and groups["M-2"]["last_id"] == last
    assert store.anonymous_count() == 1
    alerts = store.events()
    assert [(e["kind"], e["member_number"], e["assessment_id"]) for e in alerts] == [("worse", "M-2", last)]
    assert "Feet turn out" in alerts[0]["detail"] and "Heels" not in alerts[0]["detail"]
    assert store.handle_event(alerts[0]["id"], by="sam")
    assert not store.handle_event(alerts[0]["id"], by="sam")  # once
    assert store.events() == []
    done = store.events(open_only=False)[0]
    assert done["handled_by"] == "sam" and done["handled_at"]


def test_bad_member_numbers_are_refused(store):
    aid = store.save_assessment(sample_result(), None, {})
    for bad in ("", "with space", "x" * 65, "tab\there"):
        with pytest.raises(InputError, match="member number"):
            store.link_member(aid, bad or "\x00", by="sam")
    with pytest.raises(InputError, match="member number"):
        store.save_assessment(sample_result(), None, {}, member="two words")


def test_erase_leaves_nothing_of_the_member_in_the_database_file(store, tmp_path):
    aid = store.save_assessment(sample_result(), {"format": "ohsa-keypoints/1", "views": {}}, stills(),
                                member="CARD-7781", notes="Ana's left knee")
    retest = store.save_assessment(sample_result(), None, stills(), member="CARD-7781", kind="heels_raised",
                                   parent_id=aid)
    store.override_finding(aid, "knees_cave_in", "absent", "ZEBRA-NOTE", by="sam")
    store.set_plan(aid, {"format": "ohsa-plan/1", "phases": [], "trainer_note": "ZEBRA-PLAN"}, by="sam")
    store.set_member_name(store.member_by_number("CARD-7781")["id"], "Ana Quokka", by="sam")
    store.add_event("pain", member_number="CARD-7781", detail="during a set")
    store.create_share_token(aid, 1)
    other = store.save_assessment(sample_result(), None, stills(), member="CARD-1111")
    moved = store.save_assessment(sample_result(), None, {}, member="CARD-7781")
    store.link_member(moved, "CARD-1111", by="sam")  # re-linked away: its audit line names both
    mid = store.member_by_number("CARD-7781")["id"]

    receipt = store.erase_member(mid, by="owner")
    assert receipt["assessments"] == 2 and receipt["stills"] == 4 and receipt["events"] == 1
    assert receipt["audit_lines"] >= 3
    assert sorted(receipt["assessment_ids"]) == sorted([aid, retest])
    for table, column in (("assessments", "id"), ("tracks", "assessment_id"), ("images", "assessment_id"),
                          ("overrides", "assessment_id"), ("plans", "assessment_id"),
                          ("share_tokens", "assessment_id"), ("audit", "assessment_id"), ("events", "assessment_id")):
        assert _rows(store.path, f"SELECT COUNT(*) FROM {table} WHERE {column} IN (?, ?)", (aid, retest)) == [(0,)], table
    assert _rows(store.path, "SELECT COUNT(*) FROM members WHERE id = ?", (mid,)) == [(0,)]
    assert _rows(store.path, "SELECT COUNT(*) FROM audit WHERE member_id = ?", (mid,)) == [(0,)]
    assert _rows(store.path, "SELECT COUNT(*) FROM events WHERE member_id = ?", (mid,)) == [(0,)]
    # the one line left says a member was erased, not who
    assert _rows(store.path, "SELECT account, action, member_id, assessment_id FROM audit WHERE action = 'member erased'") \
        == [("owner", "member erased", None, None)]
    # and none of their words are left anywhere in the files (secure_delete, WAL checkpointed)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("assessments.db"))
    for secret in (b"CARD-7781", b"Ana Quokka", b"ZEBRA-NOTE", b"ZEBRA-PLAN", b"Ana's left knee", aid.encode()):
        assert secret not in raw, secret
    assert store.get(other) is not None and store.member_by_number("CARD-1111") is not None
    assert store.get(moved) is not None
    assert [a["detail"] for a in store.audit_lines(moved)] == ["an erased member -> CARD-1111"]
    assert store.integrity_check()


# -- web ----------------------------------------------------------------------------------


@pytest.fixture
def app(store, tmp_path):
    owner.write_hash(tmp_path, OWNER_HASH)
    return create_app(store, FakeStation(), data_dir=tmp_path, testing=True, config_path=tmp_path / "ohsa.toml")


def _csrf(client, path="/trainer/login", **kw) -> str:
    html = client.get(path, **kw).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _login(app, name, password, **kw):
    c = app.test_client()
    r = c.post("/trainer/login", data={"name": name, "password": password, "csrf_token": _csrf(c, **kw)}, **kw)
    c.status = r.status_code
    if r.status_code == 302:
        c.csrf = _csrf(c, "/trainer/", **kw)
    return c


@pytest.fixture
def owner_client(app):
    c = _login(app, "", OWNER_PASSWORD)  # an empty name is the owner, as before accounts
    assert c.status == 302
    return c


@pytest.fixture
def trainer_client(app, owner_client):
    r = owner_client.post("/trainer/accounts", data={"name": "Sam", "password": TRAINER_PASSWORD,
                                                      "repeat": TRAINER_PASSWORD, "csrf_token": owner_client.csrf})
    assert r.status_code == 302
    c = _login(app, "sam", TRAINER_PASSWORD)
    assert c.status == 302
    return c


OWNER_ONLY_GET = ["/trainer/settings", "/trainer/accounts", "/trainer/export.csv", "/trainer/export.json",
                  "/trainer/members/1/export.zip"]
OWNER_ONLY_POST = ["/trainer/settings", "/trainer/accounts", "/trainer/accounts/1/remove", "/trainer/password",
                   "/trainer/a/{aid}/delete", "/trainer/client/delete", "/trainer/members/1/erase"]


def test_a_trainer_account_cannot_reach_owner_routes(app, trainer_client, owner_client, store):
    aid = store.save_assessment(sample_result(), None, stills(), member="M-1", label="MK")
    for path in OWNER_ONLY_GET:
        assert trainer_client.get(path).status_code == 403, path
        assert owner_client.get(path).status_code == 200, path
    for path in OWNER_ONLY_POST:
        r = trainer_client.post(path.format(aid=aid), data={"csrf_token": trainer_client.csrf, "label": "MK",
                                                            "confirm": "MK", "name": "x"})
        assert r.status_code == 403, path
    assert store.get(aid) is not None and store.member_by_number("M-1") is not None
    # what a trainer does: review, notes, overrides, plans, members, alerts
    for path in ("/trainer/", f"/trainer/a/{aid}", "/trainer/members", "/trainer/members/1", "/trainer/alerts"):
        assert trainer_client.get(path).status_code == 200, path
    r = trainer_client.post(f"/trainer/a/{aid}/override", data={"csrf_token": trainer_client.csrf,
                            "compensation_id": "knees_cave_in", "status": "absent", "note": "video"})
    assert r.status_code == 302
    page = trainer_client.get(f"/trainer/a/{aid}").get_data(as_text=True)
    assert "Settings" not in page and "export-member" not in page
    assert re.search(r"<td>Sam</td><td>override</td><td>knees_cave_in: absent \(video\)</td>", page)


def test_trainer_login_is_rate_limited_and_names_are_checked(app, trainer_client):
    assert _login(app, "sam", "wrong-password", environ_base=LAN).status == 401
    assert _login(app, "nobody", TRAINER_PASSWORD, environ_base=LAN).status == 401  # unknown name
    assert _login(app, "owner", TRAINER_PASSWORD, environ_base=LAN).status == 401  # another's password
    for _ in range(2):
        _login(app, "sam", "wrong-again", environ_base=LAN)
    assert _login(app, "sam", TRAINER_PASSWORD, environ_base=LAN).status == 429  # 5 failures: the right one waits too


def test_removing_an_account_or_changing_its_password_ends_its_sessions(app, owner_client, trainer_client, store):
    assert trainer_client.get("/trainer/").status_code == 200
    sam = [a for a in store.accounts() if a["name"] == "Sam"][0]
    second = _login(app, "Sam", TRAINER_PASSWORD)
    r = second.post("/trainer/account", data={"csrf_token": second.csrf, "current": TRAINER_PASSWORD,
                                              "password": "new-long-pass", "repeat": "new-long-pass"})
    assert r.status_code == 302
    assert trainer_client.get("/trainer/").status_code == 302  # the other session ended
    assert second.get("/trainer/").status_code == 200  # this one was renewed
    assert owner_client.get("/trainer/").status_code == 200  # the owner's untouched
    r = owner_client.post(f"/trainer/accounts/{sam['id']}/remove", data={"csrf_token": owner_client.csrf})
    assert r.status_code == 302
    assert second.get("/trainer/").status_code == 302
    assert _login(app, "Sam", "new-long-pass").status == 401


def test_owner_password_change_keeps_trainer_sessions(app, owner_client, trainer_client):
    r = owner_client.post("/trainer/password", data={"csrf_token": owner_client.csrf, "current": OWNER_PASSWORD,
                                                     "password": "another-long-one", "repeat": "another-long-one"})
    assert r.status_code == 302
    assert trainer_client.get("/trainer/").status_code == 200


def test_link_a_member_from_the_detail_page_and_the_grouped_list(owner_client, store):
    aid = store.save_assessment(sample_result(), None, stills())
    r = owner_client.post(f"/trainer/a/{aid}/member", data={"csrf_token": owner_client.csrf,
                                                            "number": "M-55", "name": "Ana"})
    assert r.status_code == 302
    assert store.get(aid)["member"]["number"] == "M-55"
    page = owner_client.get("/trainer/members").get_data(as_text=True)
    assert "Ana" in page and "M-55" in page
    bad = owner_client.post(f"/trainer/a/{aid}/member", data={"csrf_token": owner_client.csrf, "number": "a b"},
                            follow_redirects=True)
    assert "member number" in bad.get_data(as_text=True)
    assert store.get(aid)["member"]["number"] == "M-55"
    owner_client.post(f"/trainer/a/{aid}/member", data={"csrf_token": owner_client.csrf, "number": ""})
    assert store.get(aid)["member"] is None


def test_member_export_is_one_zip_with_everything(owner_client, store):
    aid = store.save_assessment(sample_result(), None, stills(), member="M-9", notes="note-9")
    store.override_finding(aid, "knees_cave_in", "absent", "why", by="Sam")
    store.add_event("pain", member_number="M-9")
    mid = store.member_by_number("M-9")["id"]
    r = owner_client.get(f"/trainer/members/{mid}/export.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.data))
    body = json.loads(z.read("member.json"))
    assert body["format"] == "ohsa-member-export/1" and body["member"]["number"] == "M-9"
    (record,) = body["assessments"]
    assert record["notes"] == "note-9" and record["overrides"]["knees_cave_in"]["status"] == "absent"
    assert record["plan"]["format"] == "ohsa-plan/1"
    assert [a["action"] for a in body["audit"]][:2] == ["member linked", "override"] or \
        "override" in [a["action"] for a in body["audit"]]
    assert [e["kind"] for e in body["events"]] == ["pain"]
    assert sorted(n for n in z.namelist() if n.startswith("stills/")) == [f"stills/{aid}-front.jpg", f"stills/{aid}-side.jpg"]
    assert z.read(f"stills/{aid}-front.jpg")[:3] == b"\xff\xd8\xff"


def test_erase_needs_the_number_typed_and_gives_a_receipt(owner_client, store):
    aid = store.save_assessment(sample_result(), None, stills(), member="M-3")
    mid = store.member_by_number("M-3")["id"]
    r = owner_client.post(f"/trainer/members/{mid}/erase", data={"csrf_token": owner_client.csrf, "confirm": "M-"})
    assert r.status_code == 302 and store.get(aid) is not None
    r = owner_client.post(f"/trainer/members/{mid}/erase", data={"csrf_token": owner_client.csrf, "confirm": "M-3"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Receipt" in page and "M-3" in page and "2 still" in page
    assert store.get(aid) is None
    assert _rows(store.path, "SELECT COUNT(*) FROM members") == [(0,)]
    assert owner_client.get(f"/trainer/members/{mid}").status_code == 404


def test_retention_takes_old_audit_lines_alerts_and_members_with_nothing_left(store):
    import datetime as dt

    from device.store import store as store_module

    old = store.save_assessment(sample_result(), None, {}, member="M-OLD",
                                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    store.override_finding(old, "knees_cave_in", "absent", "x", by="sam")
    store.add_event("pain", member_number="M-OLD")
    new = store.save_assessment(sample_result(), None, {}, member="M-NEW")
    today = store_module.utc_now()
    assert store.apply_retention(30, now=today + dt.timedelta(days=10)) == 1  # only the January one
    assert store.get(old) is None and store.get(new) is not None
    assert store.member_by_number("M-OLD") is not None  # its alert (from today) still stands
    assert store.apply_retention(30, now=today + dt.timedelta(days=40)) == 1
    assert _rows(store.path, "SELECT COUNT(*) FROM members") == [(0,)]
    assert _rows(store.path, "SELECT COUNT(*) FROM audit") == [(0,)]
    assert _rows(store.path, "SELECT COUNT(*) FROM events") == [(0,)]


def test_the_identified_member_is_not_in_the_public_state(store, tmp_path):
    station = FakeStation()
    station.set(state="positioning", member="••337", member_how="card")
    app = create_app(store, station, data_dir=tmp_path, testing=True, config_path=tmp_path / "ohsa.toml")
    c = app.test_client()
    public = c.get("/api/status", environ_base=LAN).get_json()
    assert public["state"] == "positioning" and "member" not in public and "member_how" not in public
    assert c.get("/api/kiosk/status").get_json()["member"] == "••337"  # the station's own screen


# -- the kiosk: keypad and what the idle screen says ---------------------------------------


@pytest.fixture
def kiosk(store, tmp_path):
    station = FakeStation()
    app = create_app(store, station, data_dir=tmp_path, testing=True, config_path=tmp_path / "ohsa.toml",
                     config={"storage": {"retention_days": 90}, "kiosk": {"privacy_contact": "the front desk"}})
    return app.test_client(), station


def test_the_keypad_identifies_on_the_station_s_screen_only(kiosk):
    c, station = kiosk
    assert c.get("/live/member").status_code == 200
    assert c.get("/live/member", environ_base=LAN).status_code == 403
    csrf = _csrf(c, "/live/member")
    assert c.post("/live/member", data={"csrf_token": csrf, "number": "4711"}, environ_base=LAN).status_code == 403
    r = c.post("/live/member", data={"csrf_token": csrf, "number": "4711"})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert station.calls == ["identify:keypad:4711"]
    page = c.get("/").get_data(as_text=True)
    assert '<strong id="member-hint">•711</strong>' in page and "4711" not in page
    r = c.post("/live/member", data={"csrf_token": csrf, "number": "47 11"})
    assert r.status_code == 400 and "not a member number" in r.get_data(as_text=True)
    station.set(state="recording")
    r = c.post("/live/member", data={"csrf_token": csrf, "number": "4711"})
    assert r.status_code == 400 and "only before the set" in r.get_data(as_text=True)
    station.set(state="idle")
    assert c.post("/live/member/forget", data={"csrf_token": csrf}).status_code == 302
    assert station.state()["member"] is None


def test_the_idle_screen_says_what_the_station_keeps_and_whom_to_ask(kiosk, store, tmp_path):
    c, station = kiosk
    page = c.get("/").get_data(as_text=True)
    privacy = re.search(r'<p class="privacy" id="privacy" >(.*?)</p>', page, re.S).group(1)
    assert "films you" in privacy and "keeps no video" in privacy and "worst squat, for 90 days" in privacy
    assert "ask the front desk" in privacy
    station.set(state="recording")
    assert re.search(r'<p class="privacy" id="privacy" hidden>', c.get("/").get_data(as_text=True))
    # in German, and with nothing to delete by age, as configured
    app = create_app(store, FakeStation(), data_dir=tmp_path, testing=True, config_path=tmp_path / "ohsa.toml",
                     config={"storage": {"retention_days": 0}, "kiosk": {"language": "de"}})
    page = app.test_client().get("/").get_data(as_text=True)
    assert "kein Video" in page and "bis jemand vom Team sie löscht" in page and "frag jemanden vom Team" in page
