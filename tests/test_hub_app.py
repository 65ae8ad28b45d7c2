"""The hub's pages with Flask's test client over a real PostgreSQL: login required everywhere
(as on a station: password file, session, CSRF, rate limit), a station column and filter,
one member's history across stations, every station's alerts, the stations' health."""

from __future__ import annotations

import re

import pytest

from device import owner
from device.fleet import messages
from hub import db, ingest
from hub.app import create_app
from hub.store import HubStore
from tests.fleet_hub import assessment, parsed, record, stamp
from tests.hand_clock import HandClock

PASSWORD = "hub-owner-pass"


@pytest.fixture(scope="module")
def filled(cluster):
    """Three stations, 12 assessments (member 1042 at all three), alerts, status and health."""
    dsn = cluster.database("hub_app")
    with db.connect(dsn) as conn:
        db.migrate(conn)
        for i in range(12):
            station = f"gym-{i % 3}"
            member = "1042" if i % 4 == 0 or i == 5 else None
            rec = record(i, label=f"client {i}", member=member, name="Anna B" if member else "", minutes=i * 90)
            ingest.apply(conn, *parsed(assessment(station, f"a{i:02d}", 1, rec)))
        for station, state in (("gym-0", "online"), ("gym-1", "offline"), ("gym-2", "online")):
            m = messages.status(station, state, stamp(100), "1.0")
            ingest.apply(conn, m, messages.topic_of(m))
        h = messages.health("gym-0", stamp(101), 4, {"front": "ok", "side": "missing"}, 7200)
        ingest.apply(conn, h, messages.topic_of(h))
        for station, aid in (("gym-1", "a01"), ("gym-2", "a05")):
            a = messages.alert(station, f"pain-{aid}", "pain", aid, stamp(5), f"pain at {station}")
            ingest.apply(conn, a, messages.topic_of(a))
    return dsn


@pytest.fixture
def client(filled, tmp_path):
    owner.write_hash(tmp_path, owner.hash_password(PASSWORD))
    store = HubStore(filled)
    app = create_app(store, data_dir=tmp_path, testing=True, clock=HandClock(1_800_000_000.0))
    yield app.test_client()
    store.close()


def _csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def _login(client, password=PASSWORD):
    return client.post("/login", data={"csrf_token": _csrf(client), "password": password})


@pytest.mark.parametrize("path", ["/assessments", "/assessments/gym-0/a00", "/members/1042", "/alerts",
                                  "/stations", "/api/assessments", "/api/stations"])
def test_every_page_needs_a_login(client, path):
    response = client.get(path)
    if path.startswith("/api/"):
        assert response.status_code == 401 and response.get_json() == {"error": "login required"}
    else:
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_wrong_password_refused_then_rate_limited(client):
    assert _login(client, "not-the-password").status_code == 401
    for _ in range(4):
        _login(client, "still-wrong")
    assert _login(client, PASSWORD).status_code == 429  # even the right one, for a while
    assert client.get("/assessments").status_code == 302


def test_post_without_csrf_is_refused(client):
    assert client.post("/login", data={"password": PASSWORD}).status_code == 403


def test_no_password_set_means_no_way_in(filled, tmp_path):
    store = HubStore(filled)
    app = create_app(store, data_dir=tmp_path / "empty", testing=True)
    response = app.test_client().get("/login")
    assert response.status_code == 403 and "ohsa hub password set" in response.get_data(as_text=True)
    store.close()


def test_an_unknown_host_is_refused(client):
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 421


def test_the_public_name_behind_a_proxy_is_accepted(filled, tmp_path):
    owner.write_hash(tmp_path, owner.hash_password(PASSWORD))
    store = HubStore(filled)
    app = create_app(store, data_dir=tmp_path, testing=True, public_url="https://hub.chain.example")
    c = app.test_client()
    assert c.get("/login", headers={"Host": "hub.chain.example"}).status_code == 200
    assert c.get("/login", headers={"Host": "other.example"}).status_code == 421
    store.close()


def test_list_has_a_station_column_and_filter(client):
    assert _login(client).status_code == 302
    page = client.get("/assessments").get_data(as_text=True)
    assert "Assessments <span class=\"muted\">(12)</span>" in page
    assert page.count('<td class="station">') == 12
    assert {"gym-0", "gym-1", "gym-2"} <= set(re.findall(r'<td class="station">([^<]+)</td>', page))
    one = client.get("/assessments?station=gym-1").get_data(as_text=True)
    assert set(re.findall(r'<td class="station">([^<]+)</td>', one)) == {"gym-1"}
    assert "(4)" in one
    data = client.get("/api/assessments?station=gym-2&limit=2").get_json()
    assert data["total"] == 4 and len(data["items"]) == 2 and data["items"][0]["id"] == "a11"
    assert client.get("/api/assessments?from=never").status_code == 400
    detail = client.get("/assessments/gym-2/a05").get_data(as_text=True)
    assert 'id="station">gym-2<' in detail and "Anna B" in detail
    assert client.get("/assessments/gym-0/a05").status_code == 404


def test_member_history_across_stations(client):
    _login(client)
    page = client.get("/members/1042").get_data(as_text=True)
    assert "4 assessments at 3 stations: gym-0, gym-1, gym-2" in page
    history = client.get("/api/members/1042").get_json()["history"]
    assert [(h["station"], h["id"]) for h in history] == [("gym-0", "a00"), ("gym-1", "a04"),
                                                          ("gym-2", "a05"), ("gym-2", "a08")]


def test_alerts_from_every_station_and_stations_health(client):
    _login(client)
    page = client.get("/alerts").get_data(as_text=True)
    assert "pain at gym-1" in page and "pain at gym-2" in page
    assert "pain at gym-1" not in client.get("/alerts?station=gym-2").get_data(as_text=True)
    stations = client.get("/stations").get_data(as_text=True)
    row0 = re.search(r'<tr id="station-gym-0">(.*?)</tr>', stations, re.S).group(1)
    assert "online" in row0 and "side: missing" in row0 and "<td>4</td>" in row0
    row1 = re.search(r'<tr id="station-gym-1">(.*?)</tr>', stations, re.S).group(1)
    assert "offline" in row1
    # the hand clock is years after the messages: every station is marked silent
    assert stations.count("<strong>silent</strong>") == 3


def test_logout_ends_the_session(client):
    _login(client)
    assert client.get("/assessments").status_code == 200
    client.post("/logout", data={"csrf_token": _csrf(client, "/assessments")})
    assert client.get("/assessments").status_code == 302


def test_a_long_list_counts_only_so_far(client, monkeypatch):
    import hub.app

    monkeypatch.setattr(hub.app, "COUNT_CAP", 5)
    _login(client)
    page = client.get("/assessments").get_data(as_text=True)
    assert "more than 5: narrow by station, search or dates" in page and "Page 1 of 1+" in page
    assert client.get("/api/assessments").get_json()["more"] is True
    assert "(4)" in client.get("/assessments?station=gym-1").get_data(as_text=True)


@pytest.fixture
def own_logging():
    """`ohsa` in-process sets up logging on this test's captured stderr: put the handlers back."""
    import logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], root.level = saved


def test_hub_password_command(tmp_path, capsys, monkeypatch, own_logging):
    import io

    from device.cli import main

    d = str(tmp_path / "hub-data")
    assert main(["hub", "password", "status", "--data-dir", d]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["hub", "password", "set", "--data-dir", d]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-hub-password\n"))
    assert main(["hub", "password", "set", "--data-dir", d]) == 0
    assert owner.verify_password("a-good-hub-password", owner.read_hash(d))
    assert main(["hub", "password", "generate", "--if-unset", "--data-dir", d]) == 0
    assert "set already" in capsys.readouterr().out
    assert owner.verify_password("a-good-hub-password", owner.read_hash(d))  # kept


def test_database_down_is_a_503_then_the_pages_come_back(cluster, client):
    _login(client)
    assert client.get("/assessments").status_code == 200
    cluster.stop("fast")
    try:
        down = client.get("/assessments")
        assert down.status_code == 503 and "cannot be reached" in down.get_data(as_text=True)
        assert client.get("/api/stations").status_code == 503
    finally:
        cluster.start()
    assert client.get("/assessments").status_code == 200  # the same session: it was in PostgreSQL


def test_each_trainer_has_a_login_of_their_own(filled, client, capsys, monkeypatch, own_logging):
    import io

    from device.cli import main

    def account(*argv, stdin=""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(["hub", "account", *argv, "--dsn", filled])

    def login(name, password):
        return client.post("/login", data={"csrf_token": _csrf(client), "name": name, "password": password})

    assert account("set", "Mia K", stdin="mias-first-pass\n") == 0
    assert "trainer 'Mia K' added" in capsys.readouterr().out
    assert account("list") == 0 and "Mia K\ttrainer" in capsys.readouterr().out
    assert login("Mia K", "not-her-password").status_code == 401
    assert login("Mia K", "mias-first-pass").status_code == 302
    assert client.get("/assessments").status_code == 200
    # a new password ends her sessions; the old one no longer opens the pages
    assert account("set", "Mia K", stdin="mias-second-pass\n") == 0
    assert client.get("/assessments").status_code == 302
    assert login("Mia K", "mias-first-pass").status_code == 401
    assert login("Mia K", "mias-second-pass").status_code == 302
    # removed: her session ends and she cannot log in again
    assert account("remove", "Mia K") == 0
    assert client.get("/assessments").status_code == 302
    assert login("Mia K", "mias-second-pass").status_code == 401
    # bad input: one line, exit 2, nothing changed
    capsys.readouterr()
    assert account("set", "owner", stdin="some-long-pass\n") == 2
    assert account("set", "../x", stdin="some-long-pass\n") == 2
    assert account("set", "Tom", stdin="short\n") == 2
    assert account("remove", "Nobody") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and "no trainer account 'Nobody'" in err[-1] and "Traceback" not in "".join(err)
    assert account("list") == 0 and "no trainer accounts" in capsys.readouterr().out
