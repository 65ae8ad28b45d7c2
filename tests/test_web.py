"""The web app through Flask's test client: kiosk, share links, trainer area, API, security."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time

import pytest

from device import config as device_config
from device import owner
from device.errors import ConfigError
from device.store import Store
from tests.web_fakes import FakeStation, sample_result, stills
from web import auth, create_app

PASSWORD = "squat-deep-2026"
PASSWORD_HASH = auth.hash_password(PASSWORD)  # once: scrypt is slow on purpose
LAN = {"REMOTE_ADDR": "192.168.1.50"}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "assessments.db")
    yield s
    s.close()


@pytest.fixture
def station():
    return FakeStation()


@pytest.fixture
def config_path(tmp_path):
    return tmp_path / "ohsa.toml"


class Clock:
    """The sessions' clock, moved by hand (no test waits for real time)."""

    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(store, station, tmp_path, config_path, clock):
    return create_app(store, station, data_dir=tmp_path, testing=True, config_path=config_path, clock=clock)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def aid(store):
    return store.save_assessment(sample_result(), None, stills(), label="MK")


def token_of(client, path="/", **kw) -> str:
    html = client.get(path, **kw).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture
def trainer(client, store):
    """A client logged in as the trainer (password set beforehand)."""
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    csrf = token_of(client, "/trainer/login")
    r = client.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 302
    client.csrf = token_of(client, "/trainer/")
    return client


# -- kiosk ----------------------------------------------------------------------------------


def test_live_page_shows_state_and_buttons_only_on_the_kiosk(client, station):
    station.set(state="recording", message="Squat down slowly.", reps=3,
                panel={"status": "busy", "regions": {"knees": True}})
    html = client.get("/").get_data(as_text=True)
    assert "Squat down slowly." in html
    assert 'id="rep-count">3<' in html
    assert 'id="led-knees"' in html and 'class="led on" id="led-knees"' in html
    assert "status-busy" in html
    assert 'id="btn-start"' in html and 'id="btn-pain"' in html
    lan = client.get("/", environ_base=LAN).get_data(as_text=True)
    assert "Squat down slowly." in lan
    assert 'id="btn-start"' not in lan
    assert 'data-enabled="no"' in lan  # no camera previews for phones


def test_live_page_without_station(store, tmp_path):
    client = create_app(store, None, data_dir=tmp_path, testing=True).test_client()
    html = client.get("/").get_data(as_text=True)
    assert "The station is not running" in html
    assert client.get("/api/status").get_json()["state"] == "not_running"
    assert client.get("/api/stats").get_json() == {"running": False}
    assert client.get("/live/preview/front.jpg").status_code == 204
    csrf = token_of(client)
    assert client.post("/live/start", headers={"X-CSRF-Token": csrf}).status_code == 503


def test_kiosk_buttons_need_csrf_and_the_kiosk_address(client, station):
    assert client.post("/live/start").status_code == 403
    assert client.post("/live/start", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert station.calls == []
    csrf = token_of(client)
    r = client.post("/live/start", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.get_json()["state"]["state"] == "countdown"
    assert client.post("/live/pain", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.post("/live/cancel", data={"csrf_token": csrf}).status_code == 200
    assert client.post("/live/retest/heels_raised", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.post("/live/retest/bogus", headers={"X-CSRF-Token": csrf}).status_code == 404
    assert station.calls == ["start", "pain", "cancel", "retest:heels_raised"]
    # a phone on the LAN with a valid token of its own still cannot press Start
    lan_csrf = token_of(client, environ_base=LAN)
    assert client.post("/live/start", headers={"X-CSRF-Token": lan_csrf}, environ_base=LAN).status_code == 403
    assert station.calls == ["start", "pain", "cancel", "retest:heels_raised"]


def test_configured_kiosk_address_may_press_start(store, station, tmp_path):
    config = device_config.validate({"web": {"kiosk_addresses": ["192.168.1.0/28"]}})
    client = create_app(store, station, config=config, data_dir=tmp_path, testing=True).test_client()
    csrf = token_of(client, environ_base={"REMOTE_ADDR": "192.168.1.7"})
    assert client.post("/live/start", headers={"X-CSRF-Token": csrf},
                       environ_base={"REMOTE_ADDR": "192.168.1.7"}).status_code == 200
    assert client.post("/live/start", headers={"X-CSRF-Token": csrf},
                       environ_base={"REMOTE_ADDR": "192.168.1.70"}).status_code == 403


def test_bad_kiosk_address_in_config_is_a_config_error(store, tmp_path):
    with pytest.raises(ConfigError, match=r"web\.kiosk_addresses"):
        device_config.validate({"web": {"kiosk_addresses": ["not-an-ip"]}})
    with pytest.raises(ConfigError, match=r"web\.kiosk_addresses"):
        create_app(store, None, config={"web": {"kiosk_addresses": ["not-an-ip"]}}, data_dir=tmp_path)


def test_preview_only_on_the_kiosk_and_only_real_views(client, station):
    assert client.get("/live/preview/front.jpg").status_code == 204  # idle: no preview
    station.preview = stills()["front"]
    r = client.get("/live/preview/side.jpg")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data[:3] == b"\xff\xd8\xff"
    assert client.get("/live/preview/front.jpg", environ_base=LAN).status_code == 403
    assert client.get("/live/preview/top.jpg").status_code == 404


def test_result_page_on_the_kiosk(client, aid, store):
    html = client.get(f"/result/{aid}?kiosk=1").get_data(as_text=True)
    for region in ("Feet and ankles", "Knees", "Hips and lower back", "Shoulders and arms", "Head and neck"):
        assert region in html
    assert "Knees cave in" in html and "4 of 5 reps" in html and "your left side" in html
    # members read plain words; the measurements and the rules' reasons are on the trainer's pages
    assert "Reps ranged" not in html and "knee/ankle width ratio" not in html
    assert "the feet are too small" not in html and "We could not check this today." in html
    assert 'class="plan"' in html and 'class="exercise"' in html and "Stretch" in html
    assert "left side only" in html.lower()
    assert "<svg" in html and 'class="segno"' in html  # the QR code, inline
    link = re.search(r'id="share-link" href="([^"]+)"', html).group(1)
    token = link.rsplit("/s/", 1)[1]
    assert store.resolve_share_token(token) == aid and len(token) >= 20
    assert 'id="done"' in html  # kiosk mode
    assert "print.css" in html
    for view in ("front", "side"):
        r = client.get(f"/result/{aid}/{view}.jpg")
        assert r.status_code == 200 and r.data == stills()[view]
    # the same link next time (no new token per page view)
    again = client.get(f"/result/{aid}").get_data(as_text=True)
    assert link in again


def test_result_page_public_url_from_config(store, station, tmp_path, aid):
    config = device_config.validate({"web": {"public_url": "http://ohsa.gym.lan:8080/"}})
    client = create_app(store, station, config=config, data_dir=tmp_path, testing=True).test_client()
    html = client.get(f"/result/{aid}").get_data(as_text=True)
    assert re.search(r'href="http://ohsa\.gym\.lan:8080/s/[A-Za-z0-9_-]+"', html)


def test_result_by_id_is_not_public(client, aid):
    assert client.get(f"/result/{aid}", environ_base=LAN).status_code == 403
    assert client.get(f"/result/{aid}/front.jpg", environ_base=LAN).status_code == 403
    assert client.get("/result/000000000000").status_code == 404


def test_pain_result_shows_a_referral_not_a_plan(client, store):
    aid = store.save_assessment(sample_result(), None, {}, pain=True)
    html = client.get(f"/result/{aid}").get_data(as_text=True)
    assert "We don't give exercises" in html or "see a" in html
    assert 'class="plan"' not in html and "Stretch" not in html


def test_share_link_opens_the_result_and_expires(client, store, aid):
    token = store.create_share_token(aid, 1)
    html = client.get(f"/s/{token}", environ_base=LAN).get_data(as_text=True)
    assert "Knees cave in" in html and "Your plan" in html
    assert f"/s/{token}/front.jpg" in html
    assert client.get(f"/s/{token}/front.jpg", environ_base=LAN).data == stills()["front"]
    api = client.get(f"/api/assessments/{aid}?token={token}", environ_base=LAN)
    assert api.status_code == 200
    body = api.get_json()
    assert body["result"]["compensations"]["knees_cave_in"]["status"] == "present"
    assert body["plan"]["format"] == "ohsa-plan/1" and "label" not in body and "notes" not in body
    other = store.save_assessment(sample_result(), None, {})
    assert client.get(f"/api/assessments/{other}?token={token}", environ_base=LAN).status_code == 401
    expired = store.create_share_token(aid, -1)
    assert client.get(f"/s/{expired}", environ_base=LAN).status_code == 404
    assert client.get(f"/s/{expired}/front.jpg", environ_base=LAN).status_code == 404
    assert client.get(f"/api/assessments/{aid}?token={expired}", environ_base=LAN).status_code == 401
    assert client.get("/s/not-a-token", environ_base=LAN).status_code == 404


# -- trainer area: access -------------------------------------------------------------------


def _sample_path(rule, aid: str) -> str:
    values = {"assessment_id": aid, "view": "front", "token": "x", "kind": "heels_raised", "filename": "style.css",
              "account_id": "2", "member_id": "1", "event_id": "1"}
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{arg}>", values[arg], path)
    return path


def test_every_route_not_marked_public_refuses_anonymous_access(app, client, aid):
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint == "static" or getattr(view, "ohsa_public", False):
            continue
        path = _sample_path(rule, aid)
        if "GET" in rule.methods:
            r = client.get(path, environ_base=LAN)
            assert r.status_code in (302, 401), (path, r.status_code)
            if r.status_code == 302:
                assert r.headers["Location"].startswith("/trainer/login")
            checked += 1
        if "POST" in rule.methods:
            csrf = token_of(client, environ_base=LAN)
            r = client.post(path, data={"csrf_token": csrf}, environ_base=LAN)
            assert r.status_code == 401, (path, r.status_code)
            checked += 1
    assert checked >= 20
    assert client.get("/api/assessments").status_code == 401
    assert client.get(f"/api/assessments/{aid}").status_code == 401


def test_every_get_route_answers_a_trainer(app, trainer, store, aid, station):
    token = store.create_share_token(aid, 1)
    store.link_member(aid, "M-1", by="owner")  # member 1
    station.preview = stills()["front"]
    queries = {"compare.compare": f"?a={aid}&b={aid}", "trainer.client": "?label=MK"}
    seen = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("api.events", "api.kiosk_events"):
            continue
        path = _sample_path(rule, aid).replace("/s/x", f"/s/{token}") + queries.get(rule.endpoint, "")
        r = trainer.get(path)
        # the password is set already; the owner's own password is on the settings page
        expected = 302 if rule.endpoint in ("trainer.setup", "people.my_account") else 200
        assert r.status_code == expected, (path, r.status_code)
        seen.add(rule.endpoint)
    assert len(seen) == 36  # every GET route but the event streams (tested on their own)


def test_public_routes_are_the_intended_ones(app):
    public = sorted(r.endpoint for r in app.url_map.iter_rules()
                    if getattr(app.view_functions[r.endpoint], "ohsa_public", False))
    assert public == sorted([
        "api.assessment", "api.events", "api.kiosk_events", "api.kiosk_status", "api.stats", "api.status", "kiosk.cancel", "kiosk.live",
        "kiosk.pain", "kiosk.preview", "kiosk.result", "kiosk.result_image", "kiosk.retest",
        "kiosk.shared", "kiosk.shared_image", "kiosk.start", "trainer.login", "trainer.setup",
        "keypad.keypad", "keypad.identify", "keypad.forget",  # the station's own screen only (web/keypad.py)
    ])


def test_every_post_route_refuses_a_missing_csrf_token(app, trainer, aid):
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        path = _sample_path(rule, aid)
        assert trainer.post(path, data={"label": "MK", "confirm": "MK"}).status_code == 403, path
        assert trainer.post(path, data={"csrf_token": "forged"}).status_code == 403, path
    assert trainer.application.extensions["ohsa"]["store"].get(aid) is not None


def test_first_run_sets_the_password_on_the_station_only(client, store, tmp_path):
    # from the gym's network nothing opens before the owner set a password on the Pi
    for path in ("/trainer/login", "/trainer/setup"):
        assert client.get(path, environ_base=LAN).status_code == 403, path
    assert client.get("/trainer/", environ_base=LAN).headers["Location"].startswith("/trainer/login")
    csrf = token_of(client, "/", environ_base=LAN)
    r = client.post("/trainer/setup", data={"password": "attacker-pass", "repeat": "attacker-pass",
                                            "csrf_token": csrf}, environ_base=LAN)
    assert r.status_code == 403 and owner.read_hash(tmp_path) is None
    # on the station itself (loopback) the first-run page sets it
    assert client.get("/trainer/login").headers["Location"].endswith("/trainer/setup")
    csrf = token_of(client, "/trainer/setup")
    r = client.post("/trainer/setup", data={"password": "short", "repeat": "short", "csrf_token": csrf})
    assert r.status_code == 400 and "at least 8" in r.get_data(as_text=True)
    r = client.post("/trainer/setup", data={"password": "long enough", "repeat": "different", "csrf_token": csrf})
    assert r.status_code == 400 and owner.read_hash(tmp_path) is None
    r = client.post("/trainer/setup", data={"password": PASSWORD, "repeat": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 302
    stored = owner.read_hash(tmp_path)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert (tmp_path / owner.FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert auth.verify_password(PASSWORD, stored) and not auth.verify_password("nope", stored)
    assert client.get("/trainer/").status_code == 200  # logged in by setting it
    # once set, setup cannot replace it
    other = client.application.test_client()
    assert other.get("/trainer/setup").status_code == 302
    csrf2 = token_of(other, "/trainer/login")
    other.post("/trainer/setup", data={"password": "attacker-pass", "repeat": "attacker-pass", "csrf_token": csrf2})
    assert owner.read_hash(tmp_path) == stored


def test_deleting_the_database_does_not_reopen_first_run(tmp_path, station):
    data = tmp_path / "data"
    owner.write_hash(data, PASSWORD_HASH)
    with Store(data / "assessments.db") as s:
        s.save_assessment(sample_result(), None, {})
    (data / "assessments.db").unlink()
    with Store(data / "assessments.db") as fresh:
        client = create_app(fresh, station, data_dir=data, testing=True).test_client()
        assert client.get("/trainer/setup").headers["Location"].endswith("/trainer/login")
        assert client.get("/trainer/login", environ_base=LAN).status_code == 200  # asks for the password
        csrf = token_of(client, "/trainer/login")
        client.post("/trainer/setup", data={"password": "taken-over", "repeat": "taken-over", "csrf_token": csrf})
        assert owner.read_hash(data) == PASSWORD_HASH


def test_a_hash_in_an_old_database_moves_to_the_owner_file(store, station, tmp_path):
    store.set_meta(auth.PASSWORD_META, PASSWORD_HASH)  # where an older release kept it
    create_app(store, station, data_dir=tmp_path, testing=True)
    assert owner.read_hash(tmp_path) == PASSWORD_HASH and store.get_meta(auth.PASSWORD_META) is None


def test_login_cookie_flags_and_logout(client, store):
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    csrf = token_of(client, "/trainer/login")
    r = client.post("/trainer/login", data={"password": "wrong", "csrf_token": csrf})
    assert r.status_code == 401
    r = client.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf, "next": "//evil.example/x"})
    assert r.status_code == 302 and r.headers["Location"] == "/trainer/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/trainer/").status_code == 200
    new_csrf = token_of(client, "/trainer/")
    assert new_csrf != csrf  # a new token after login
    assert client.post("/trainer/logout").status_code == 403  # no token
    assert client.post("/trainer/logout", data={"csrf_token": new_csrf}).status_code == 302
    assert client.get("/trainer/").status_code == 302


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example",
                                    "/\\evil.example", "/%5Cevil.example", "//evil.example/x",
                                    "https://evil.example/", "/%20/evil.example", "javascript:alert(1)"])
def test_login_goes_only_to_a_path_on_this_site(client, store, target):
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    csrf = token_of(client, "/trainer/login")
    r = client.post(f"/trainer/login?next={target}", data={"password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"] == "/trainer/", target


def test_login_keeps_a_same_site_next(client, store, aid):
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    r = client.get(f"/trainer/a/{aid}?x=1")
    assert r.headers["Location"].startswith("/trainer/login?next=")
    csrf = token_of(client, "/trainer/login")
    r = client.post(r.headers["Location"], data={"password": PASSWORD, "csrf_token": csrf})
    assert r.headers["Location"] == f"/trainer/a/{aid}?x=1"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "attacker.lan:80", "8.8.8.8", "[2001:db8::1]:8080"])
def test_unknown_host_header_is_refused(client, aid, host):
    for path in ("/", "/api/status", "/trainer/login", f"/result/{aid}", "/static/style.css", "/nowhere"):
        r = client.get(path, headers={"Host": host})
        assert r.status_code == 421, (host, path)
        assert "evil" not in r.get_data(as_text=True)


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080"])
def test_the_station_s_own_names_are_served(client, host):
    assert client.get("/", headers={"Host": host}).status_code == 200


def test_own_hostname_and_interface_address_are_served(client):
    import socket

    assert client.get("/", headers={"Host": socket.gethostname() + ":8080"}).status_code == 200
    assert client.get("/", headers={"Host": socket.gethostname() + ".local"}).status_code == 200
    from web.links import _lan_address

    address = _lan_address()
    if address[0].isdigit():  # a machine with a route; otherwise the name above covers it
        assert client.get("/", headers={"Host": f"{address}:8080"}).status_code == 200


def test_share_link_and_qr_never_use_the_request_host(store, station, tmp_path, aid):
    from web.links import _lan_address

    client = create_app(store, station, data_dir=tmp_path, testing=True).test_client()
    html = client.get(f"/result/{aid}", base_url="http://127.0.0.1:8080").get_data(as_text=True)
    link = re.search(r'href="(http://[^"]+/s/[A-Za-z0-9_-]+)"', html).group(1)
    assert link.startswith(f"http://{_lan_address()}:8080/s/")
    # a configured public_url wins; a visitor's Host never gets in (it is refused outright)
    config = device_config.validate({"web": {"public_url": "http://ohsa.gym.lan:8080/"}})
    client = create_app(store, station, config=config, data_dir=tmp_path, testing=True).test_client()
    assert client.get(f"/result/{aid}", headers={"Host": "evil.example"}).status_code == 421
    html = client.get(f"/result/{aid}", headers={"Host": "ohsa.gym.lan:8080"}).get_data(as_text=True)
    assert "http://ohsa.gym.lan:8080/s/" in html and "evil" not in html


def _concurrent_wrong_passwords(app, monkeypatch, n, post):
    """n clients on one LAN address send a wrong password at the same moment (a barrier);
    returns (status codes, how many password checks ran)."""
    checks = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda pw, stored: checks.append(1) or real(pw, stored))
    clients = []
    for _ in range(n):
        c = app.test_client()
        clients.append((c, token_of(c, "/trainer/login", environ_base=LAN)))
    barrier = threading.Barrier(n)
    codes = [None] * n

    def one(i):
        c, csrf = clients[i]
        barrier.wait()
        codes[i] = post(c, csrf).status_code

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes, len(checks)


def test_forty_concurrent_wrong_logins_get_at_most_five_checks(app, store, monkeypatch):
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    codes, checks = _concurrent_wrong_passwords(
        app, monkeypatch, 40,
        lambda c, csrf: c.post("/trainer/login", data={"password": "guess", "csrf_token": csrf}, environ_base=LAN))
    assert checks <= auth.MAX_FAILURES, checks
    assert codes.count(401) == checks and codes.count(429) == 40 - checks
    print(f"40 concurrent wrong logins: {checks} password checks, {codes.count(429)} x 429")


def test_the_change_password_form_is_rate_limited_too(app, store, monkeypatch):
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    # a stolen session (logged in from the LAN) guessing the current password, concurrently
    thief = app.test_client()
    csrf = token_of(thief, "/trainer/login", environ_base=LAN)
    thief.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf}, environ_base=LAN)
    csrf = token_of(thief, "/trainer/", environ_base=LAN)
    cookie = _cookie(thief)

    def post(c, _):
        c.set_cookie("ohsa_session", cookie)
        return c.post("/trainer/password", environ_base=LAN, data={
            "csrf_token": csrf, "current": "guess", "password": "new-password-1", "repeat": "new-password-1"})

    codes, checks = _concurrent_wrong_passwords(app, monkeypatch, 20, post)
    assert checks <= auth.MAX_FAILURES and codes.count(429) == 20 - checks, (checks, codes)
    assert owner.read_hash(store.path.parent) == PASSWORD_HASH
    # the login form shares the budget: the right password is refused for now
    r = thief.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf}, environ_base=LAN)
    assert r.status_code == 429


def test_limiter_reservations_are_atomic():
    limiter = auth.LoginLimiter(max_failures=3, window_s=60, clock=lambda: 0.0)
    assert [limiter.reserve("a") for _ in range(5)] == [0, 0, 0, 1, 1]  # 3 in flight: no more
    limiter.release("a", ok=True)  # a right password frees its slot and clears failures
    assert limiter.reserve("a") == 0
    for _ in range(3):
        limiter.release("a", ok=False)
    assert limiter.retry_after("a") == 61 and limiter.reserve("b") == 0


def test_idle_trainer_session_ends(trainer, clock):
    assert trainer.get("/trainer/").status_code == 200
    clock.t += auth.KIOSK_IDLE_S + 1  # on the station's screen (loopback): 5 min
    assert trainer.get("/trainer/").status_code == 302
    clock.t -= auth.KIOSK_IDLE_S + 1  # the session row is gone: turning the clock back does not help
    assert trainer.get("/trainer/").status_code == 302


def test_session_idle_and_absolute_timeouts_on_the_network(client, store, clock):
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    csrf = token_of(client, "/trainer/login", environ_base=LAN)
    client.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf}, environ_base=LAN)
    # busy all day: every request renews the idle time, but not the absolute limit
    steps = 0
    while steps * (auth.IDLE_S - 60) < auth.MAX_AGE_S - auth.IDLE_S:
        clock.t += auth.IDLE_S - 60
        steps += 1
        assert client.get("/trainer/", environ_base=LAN).status_code == 200, steps
    clock.t += auth.IDLE_S - 60
    assert client.get("/trainer/", environ_base=LAN).status_code == 302  # > MAX_AGE_S after login
    # a new login, then idle for longer than IDLE_S
    csrf = token_of(client, "/trainer/login", environ_base=LAN)
    client.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf}, environ_base=LAN)
    assert client.get("/trainer/", environ_base=LAN).status_code == 200
    clock.t += auth.IDLE_S + 1
    assert client.get("/trainer/", environ_base=LAN).status_code == 302


def _cookie(client) -> str:
    return client.get_cookie("ohsa_session").value


def _with_cookie(app, value):
    thief = app.test_client()
    thief.set_cookie("ohsa_session", value)
    return thief


def test_a_captured_cookie_dies_at_logout(app, trainer):
    captured = _cookie(trainer)
    assert _with_cookie(app, captured).get("/trainer/").status_code == 200
    assert trainer.post("/trainer/logout", data={"csrf_token": trainer.csrf}).status_code == 302
    assert _with_cookie(app, captured).get("/trainer/").status_code == 302
    assert _with_cookie(app, captured).get("/api/assessments").status_code == 401


def test_a_password_change_ends_every_session_of_the_account(app, trainer, store):
    other = app.test_client()  # the same trainer on a second tablet
    csrf = token_of(other, "/trainer/login", environ_base=LAN)
    other.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf}, environ_base=LAN)
    captured = _cookie(other)
    assert other.get("/trainer/", environ_base=LAN).status_code == 200
    r = trainer.post("/trainer/password", data={"csrf_token": trainer.csrf, "current": PASSWORD,
                                                "password": "new-password-1", "repeat": "new-password-1"})
    assert r.status_code == 302
    assert other.get("/trainer/", environ_base=LAN).status_code == 302
    assert _with_cookie(app, captured).get("/trainer/", environ_base=LAN).status_code == 302
    assert trainer.get("/trainer/").status_code == 200  # the browser that changed it stays in
    # a reset from the Pi's shell (`ohsa password set`) ends that one too
    owner.write_hash(store.path.parent, auth.hash_password("from-the-shell"))
    assert trainer.get("/trainer/").status_code == 302


def test_trainer_link_not_on_the_kiosk(client):
    assert 'href="/trainer/"' not in client.get("/").get_data(as_text=True)
    assert 'href="/trainer/"' in client.get("/", environ_base=LAN).get_data(as_text=True)


def test_login_rate_limit(client, store):
    owner.write_hash(store.path.parent, PASSWORD_HASH)
    csrf = token_of(client, "/trainer/login", environ_base=LAN)
    for _ in range(auth.MAX_FAILURES):
        r = client.post("/trainer/login", data={"password": "guess", "csrf_token": csrf}, environ_base=LAN)
        assert r.status_code == 401
    r = client.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf}, environ_base=LAN)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many failed logins" in r.get_data(as_text=True)
    # another address is not locked out
    other = {"REMOTE_ADDR": "192.168.1.51"}
    csrf = token_of(client, "/trainer/login", environ_base=other)
    r = client.post("/trainer/login", data={"password": PASSWORD, "csrf_token": csrf}, environ_base=other)
    assert r.status_code == 302


def test_kiosk_addresses():
    assert auth.is_kiosk("127.0.0.1", []) and auth.is_kiosk("::1", []) and auth.is_kiosk("::ffff:127.0.0.1", [])
    assert not auth.is_kiosk("192.168.1.5", []) and not auth.is_kiosk("", []) and not auth.is_kiosk("bogus", [])
    assert auth.is_kiosk("192.168.1.5", ["192.168.1.5"]) and auth.is_kiosk("10.1.2.3", ["10.0.0.0/8"])
    assert not auth.is_kiosk("10.1.2.3", ["10.0.0.0/16", "not-an-address"])


def test_limiter_window_passes():
    now = [1000.0]
    limiter = auth.LoginLimiter(max_failures=2, window_s=60, clock=lambda: now[0])
    limiter.failed("a")
    limiter.failed("a")
    assert 0 < limiter.retry_after("a") <= 61
    now[0] += 61
    assert limiter.retry_after("a") == 0


# -- trainer area: assessments --------------------------------------------------------------


def test_list_search_and_pagination(trainer, store):
    for i in range(60):
        store.save_assessment(sample_result(), None, {}, label=f"K{i:02d}")
    html = trainer.get("/trainer/").get_data(as_text=True)
    assert "(60)" in html and "Page 1 of 2" in html
    assert html.count('name="id"') == 50 and html.count(" Compare</label>") == 50  # one labelled tick per row
    html = trainer.get("/trainer/?page=2").get_data(as_text=True)
    assert html.count('name="id"') == 10
    html = trainer.get("/trainer/?q=K07").get_data(as_text=True)
    assert "(1)" in html and ">K07<" in html
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert "(60)" in trainer.get(f"/trainer/?from={today}&to={today}").get_data(as_text=True)
    assert "(0)" in trainer.get("/trainer/?from=2001-01-01&to=2001-01-02").get_data(as_text=True)
    r = trainer.get("/trainer/?from=yesterday")
    assert r.status_code == 400 and "date_from" in r.get_data(as_text=True)


@pytest.mark.parametrize("query", ["' OR 1=1 --", "%", "_", "\"; DROP TABLE assessments; --", "\\", "C0%' --"])
def test_search_with_sql_metacharacters_is_harmless(trainer, store, query):
    store.save_assessment(sample_result(), None, {}, label="MK")
    store.save_assessment(sample_result(), None, {}, label="PQ")
    r = trainer.get("/trainer/", query_string={"q": query})
    assert r.status_code == 200 and "(0)" in r.get_data(as_text=True)
    api = trainer.get("/api/assessments", query_string={"q": query}).get_json()
    assert api["total"] == 0 and api["items"] == []
    assert store.count() == 2  # the table is still there, untouched


def test_path_traversal_in_file_routes_fails(trainer, client, aid, store):
    token = store.create_share_token(aid, 1)
    attempts = [
        f"/result/{aid}/../../../../etc/passwd.jpg",
        f"/result/{aid}/..%2F..%2Fetc%2Fpasswd.jpg",
        f"/result/..%2F..%2Fetc/front.jpg",
        f"/result/{aid}/%2e%2e.jpg",
        f"/s/{token}/..%2f..%2fdevice%2fconfig.py.jpg",
        f"/s/..%2F{token}/front.jpg",
        "/live/preview/..%2F..%2Fetc%2Fpasswd.jpg",
        "/static/../device/config.py",
        "/static/..%2Fdevice%2Fconfig.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        f"/trainer/a/..%2F{aid}",
        f"/api/assessments/..%2F{aid}",
    ]
    for path in attempts:
        r = trainer.get(path)
        assert r.status_code in (400, 403, 404), (path, r.status_code)
        assert b"DEFAULTS" not in r.data and b"root:" not in r.data and b"[project]" not in r.data
    assert trainer.get("/static/style.css").status_code == 200


def test_detail_override_notes_and_label(trainer, aid, store):
    html = trainer.get(f"/trainer/a/{aid}").get_data(as_text=True)
    assert "Knees cave in" in html and 'id="plan-editor"' in html
    r = trainer.post(f"/trainer/a/{aid}/override", data={
        "csrf_token": trainer.csrf, "compensation_id": "knees_cave_in", "status": "absent",
        "note": "Knee tracking fine on video review"})
    assert r.status_code == 302
    record = store.get(aid)
    assert record["result"]["compensations"]["knees_cave_in"]["status"] == "absent"
    html = trainer.get(f"/trainer/a/{aid}").get_data(as_text=True)
    assert "Knee tracking fine on video review" in html and "measured: seen" in html
    assert "(1)" in trainer.get("/trainer/?q=MK").get_data(as_text=True)
    r = trainer.post(f"/trainer/a/{aid}/override", data={
        "csrf_token": trainer.csrf, "compensation_id": "knees_cave_in", "status": ""})
    assert store.get(aid)["overrides"] == {}
    assert trainer.post(f"/trainer/a/{aid}/override", data={
        "csrf_token": trainer.csrf, "compensation_id": "nonsense", "status": "absent"}).status_code == 400
    assert trainer.post(f"/trainer/a/{aid}/override", data={
        "csrf_token": trainer.csrf, "compensation_id": "knees_cave_in", "status": "maybe"}).status_code == 400
    r = trainer.post(f"/trainer/a/{aid}/notes", data={"csrf_token": trainer.csrf, "label": "  XY  9 ", "notes": "Tight calves"})
    assert r.status_code == 302
    assert store.get(aid)["label"] == "XY 9" and store.get(aid)["notes"] == "Tight calves"
    assert trainer.get("/trainer/a/000000000000").status_code == 404


def test_edit_plan(trainer, aid, store):
    from device.plan import build_plan

    plan = build_plan(store.get(aid)["result"])
    first = plan["phases"][0]
    keep = {f"keep:{p['id']}:{e['id']}": "on" for p in plan["phases"] for e in p["exercises"]}
    dropped = first["exercises"][0]
    del keep[f"keep:{first['id']}:{dropped['id']}"]
    noted = first["exercises"][1]
    form = dict(keep, csrf_token=trainer.csrf, action="save", trainer_note="Twice a week.",
                **{f"note:{first['id']}:{noted['id']}": "Go gently on the left."})
    assert trainer.post(f"/trainer/a/{aid}/plan", data=form).status_code == 302
    saved = store.get(aid)["plan"]
    names = [e["name"] for p in saved["phases"] for e in p["exercises"]]
    assert dropped["name"] not in names and noted["name"] in names
    assert saved["trainer_note"] == "Twice a week." and saved["edited_by_trainer"] is True
    html = trainer.get(f"/result/{aid}").get_data(as_text=True)
    assert "Go gently on the left." in html and "Twice a week." in html
    # JSON editing: invalid JSON changes nothing; valid JSON replaces
    trainer.post(f"/trainer/a/{aid}/plan", data={"csrf_token": trainer.csrf, "action": "json", "plan_json": "{not json"})
    assert store.get(aid)["plan"] == saved
    assert "not valid JSON" in trainer.get(f"/trainer/a/{aid}").get_data(as_text=True)
    trainer.post(f"/trainer/a/{aid}/plan", data={"csrf_token": trainer.csrf, "action": "json",
                                                  "plan_json": json.dumps(dict(saved, message="Edited by hand."))})
    assert store.get(aid)["plan"]["message"] == "Edited by hand."
    trainer.post(f"/trainer/a/{aid}/plan", data={"csrf_token": trainer.csrf, "action": "reset"})
    assert store.get(aid)["plan"] is None


BAD_PLAN_EDITS = [
    ({"total_minutes": "abc"}, "plan.total_minutes: expected"),
    ({"phases": 5}, "plan.phases: expected a list"),
    ("cues", "plan.phases[0].exercises[0].cues: expected a list"),
    ("nan", "NaN is not a number a plan can hold"),
    ("inf", "Infinity is not a number a plan can hold"),
    ("deep", "nested deeper than a plan ever is"),
    ("deeper than a plan", "plan.x[0][0][0][0][0][0][0][0]: nested deeper than a plan ever is"),
]


def _bad_plan_text(plan: dict, change) -> str:
    if change == "cues":
        bad = json.loads(json.dumps(plan))
        bad["phases"][0]["exercises"][0]["cues"] = 5
        return json.dumps(bad)
    if change == "nan":
        return json.dumps(plan)[:-1] + ', "total_minutes": NaN}'
    if change == "inf":
        return json.dumps(plan)[:-1] + ', "budget_minutes": Infinity}'
    if change == "deep":  # past the JSON parser's recursion limit
        return json.dumps(plan)[:-1] + ', "x": ' + "[" * 20_000 + "]" * 20_000 + "}"
    if change == "deeper than a plan":  # parses, but no plan nests like this
        return json.dumps(plan)[:-1] + ', "x": ' + "[" * 20 + "]" * 20 + "}"
    return json.dumps(dict(plan, **change))


@pytest.mark.parametrize("change, words", BAD_PLAN_EDITS)
def test_a_plan_edit_that_would_break_the_pages_is_refused(trainer, aid, store, change, words):
    from device.plan import build_plan

    plan = build_plan(store.get(aid)["result"])
    r = trainer.post(f"/trainer/a/{aid}/plan", data={"csrf_token": trainer.csrf, "action": "json",
                                                      "plan_json": _bad_plan_text(plan, change)})
    assert r.status_code == 302 and store.get(aid)["plan"] is None  # nothing saved
    assert words in trainer.get(f"/trainer/a/{aid}").get_data(as_text=True)


@pytest.mark.parametrize("change", [{"total_minutes": "abc"}, {"phases": 5}, "cues", {"phases": [{"exercises": "x"}]}])
def test_a_stored_plan_that_no_longer_fits_shows_the_generated_one(trainer, client, aid, store, change):
    from device.plan import build_plan

    plan = build_plan(store.get(aid)["result"])
    store.set_plan(aid, json.loads(_bad_plan_text(plan, change)))  # saved before validation existed
    token = store.create_share_token(aid, 1)
    shared = client.get(f"/s/{token}", environ_base=LAN)
    assert shared.status_code == 200 and plan["phases"][0]["exercises"][0]["member_name"] in shared.get_data(as_text=True)
    detail = trainer.get(f"/trainer/a/{aid}")
    assert detail.status_code == 200 and 'id="plan-warning"' in detail.get_data(as_text=True)
    assert trainer.get(f"/result/{aid}").status_code == 200
    assert trainer.get(f"/api/assessments/{aid}?token={token}").status_code == 200


def test_compare_client_progress_and_delete_client(trainer, store):
    ids = []
    for i, value in enumerate((0.71, 0.78, 0.9)):
        status = "present" if value < 0.85 else "absent"
        ids.append(store.save_assessment(sample_result(knees_cave_in={"value": value, "status": status}), None,
                                         stills() if i == 0 else {}, label="PQ"))
    store.save_assessment(sample_result(), None, {}, label="RS")
    html = trainer.get(f"/trainer/compare?a={ids[0]}&b={ids[2]}").get_data(as_text=True)
    assert 'id="compare-table"' in html and f"/result/{ids[0]}/front.jpg" in html
    html = trainer.get(f"/trainer/compare?a={ids[0]}&b=../x").get_data(as_text=True)  # one usable id: pick one more
    assert 'id="compare-reason"' in html and "choose one more" in html
    assert trainer.get(f"/trainer/compare?a={ids[0]}&b=000000000000").status_code == 404
    html = trainer.get("/trainer/client?label=pq").get_data(as_text=True)
    assert 'id="charts"' in html and "<polyline" in html
    chart = re.search(r'<svg class="chart"[^>]*aria-label="Knees cave in[^"]*".*?</svg>', html, re.S).group(0)
    assert chart.count("<circle") == 3 and chart.count('fill="#c62828"') == 2  # two seen, one not
    assert "style=" not in chart
    assert trainer.get("/trainer/client?label=nobody").status_code == 404
    r = trainer.post("/trainer/client/delete", data={"csrf_token": trainer.csrf, "label": "PQ", "confirm": "P"})
    assert store.count("PQ") == 3
    r = trainer.post("/trainer/client/delete", data={"csrf_token": trainer.csrf, "label": "PQ", "confirm": "PQ"})
    assert r.status_code == 302 and store.count("PQ") == 0 and store.count("RS") == 1
    assert all(store.get(i) is None and store.get_image(i, "front") is None for i in ids)


def test_delete_one_assessment(trainer, aid, store):
    trainer.get(f"/result/{aid}")  # makes its share link
    assert store.get_meta(f"share:{aid}")
    assert trainer.post(f"/trainer/a/{aid}/delete", data={"csrf_token": trainer.csrf, "confirm": "yes"}).status_code == 302
    assert store.get(aid) is None  # hidden at once; undo and purge: tests/test_web_trainer_day.py
    assert trainer.get(f"/result/{aid}/front.jpg").status_code == 404
    assert store.get_meta(f"share:{aid}") is None


def test_exports(trainer, store, aid):
    evil = store.save_assessment(sample_result(), None, {}, label="=HYPERLINK(\"http://x\")", notes="+1 then -2")
    r = trainer.get("/trainer/export.csv")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {row["id"] for row in rows} == {aid, evil}
    row = next(x for x in rows if x["id"] == aid)
    assert row["label"] == "MK" and row["knees_cave_in.status"] == "present" and row["knees_cave_in.value"] == "0.71"
    assert row["feet_flatten.status"] == "not_assessed" and "knees_cave_in" in row["findings"]
    bad = next(x for x in rows if x["id"] == evil)
    assert bad["label"].startswith("'=") and bad["notes"].startswith("'+")  # no formula injection
    only = list(csv.DictReader(io.StringIO(trainer.get("/trainer/export.csv?q=MK").get_data(as_text=True))))
    assert [x["id"] for x in only] == [aid]
    body = json.loads(trainer.get("/trainer/export.json").get_data(as_text=True))
    assert body["format"] == "ohsa-export/1" and len(body["assessments"]) == 2
    assert all(a["plan"]["format"] == "ohsa-plan/1" for a in body["assessments"])
    one = json.loads(trainer.get(f"/trainer/a/{aid}/export.json").get_data(as_text=True))
    assert one["id"] == aid and one["result"]["reps"] == 5 and "track" in one
    report = trainer.get(f"/trainer/a/{aid}/report").get_data(as_text=True)
    assert "print.css" in report and "Knees cave in" in report and "Stretch" in report


def test_settings_validate_and_save_atomically(trainer, config_path):
    html = trainer.get("/trainer/settings").get_data(as_text=True)
    assert 'name="cameras.front.fps"' in html and 'name="panel.button"' in html and 'name="rules.thresholds"' in html
    form = _settings_form(html)
    form.update({"csrf_token": trainer.csrf, "cameras.front.fps": "25", "panel.button": "23",
                 "web.kiosk_addresses": "192.168.1.9, 10.0.0.0/8"})
    r = trainer.post("/trainer/settings", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    saved = device_config.load(config_path)
    assert saved["cameras"]["front"]["fps"] == 25 and saved["panel"]["button"] == 23
    assert saved["web"]["kiosk_addresses"] == ["192.168.1.9", "10.0.0.0/8"]
    before = config_path.read_text()
    for key, value, words in (("cameras.front.fps", "fast", "cameras.front.fps: expected a whole number"),
                              ("panel.hold_cancel_s", "-1", "panel.hold_cancel_s"),
                              ("panel.buzzer", "23", "panel.buzzer: pin 23 is already used by panel.button"),
                              ("cameras.side.rotation", "45", "cameras.side.rotation: must be one of 0, 90, 180, 270"),
                              ("rules.thresholds", "not toml at all ===", "rules.thresholds")):
        bad = dict(form, **{key: value})
        r = trainer.post("/trainer/settings", data=bad)
        assert r.status_code == 400 and words in r.get_data(as_text=True), key
        assert config_path.read_text() == before
    html = trainer.get("/trainer/settings").get_data(as_text=True)
    assert 'name="cameras.front.fps" value="25"' in html


@pytest.mark.parametrize("key, value, line", [
    # issue 13: each of these used to be saved, then `ohsa run` exited or tracebacked
    ("web.kiosk_addresses", "garbage", "web.kiosk_addresses: &#39;garbage&#39; is not an IP address or network"),
    ("web.host", "999.1.1.1", "web.host: must be an IP address"),
    ("cameras.front.backend", "bogus", "cameras.front.backend: must be one of"),
    ("web.port", "99999", "web.port: must be between 1 and 65535, got 99999"),
    ("web.result_link_days", "3000000", "web.result_link_days: must be between 1 and 3650"),
    ("web.result_link_days", "0", "web.result_link_days: must be between 1 and 3650, got 0"),
    ("station.record_limit_s", "nan", "station.record_limit_s: must be a finite number, got nan"),
    ("station.record_limit_s", "inf", "station.record_limit_s: must be a finite number, got inf"),
])
def test_settings_page_refuses_what_would_stop_the_station(trainer, config_path, key, value, line):
    config_path.write_text('[station]\nname = "Gym"\n')
    form = dict(_settings_form(trainer.get("/trainer/settings").get_data(as_text=True)), csrf_token=trainer.csrf)
    r = trainer.post("/trainer/settings", data=dict(form, **{key: value}))
    assert r.status_code == 400 and line in r.get_data(as_text=True)
    assert config_path.read_text() == '[station]\nname = "Gym"\n'  # nothing saved
    assert device_config.load(config_path).station.name == "Gym"


def test_no_setting_becomes_a_shell_command(trainer, config_path, tmp_path, monkeypatch):
    """panel.shutdown_command used to be saved from the settings page and run on a long hold."""
    from gpiozero.pins.mock import MockFactory

    import device.panel.device as panel_device
    from device.panel.device import open_panel, pin_map
    from tests.hand_clock import HandClock

    html = trainer.get("/trainer/settings").get_data(as_text=True)
    assert "shutdown_command" not in html
    form = dict(_settings_form(html), csrf_token=trainer.csrf)
    marker = tmp_path / "pwned"
    trainer.post("/trainer/settings", data=dict(form, **{"panel.shutdown_command": f"touch {marker}"}))
    saved = config_path.read_text() if config_path.exists() else ""
    assert "shutdown_command" not in saved and "touch" not in saved, saved
    # an old file that still has one: the long hold runs the power-off fixed in code, not it
    config_path.write_text(f'[panel]\nenabled = false\nshutdown_command = "touch {marker}"\n')
    settings = device_config.load(config_path).panel
    called = []
    monkeypatch.setattr(panel_device, "poweroff", lambda: called.append("fixed power-off"))
    factory, clock = MockFactory(), HandClock()
    panel = open_panel(settings, pin_factory=factory, clock=clock)
    try:
        factory.pin(pin_map(settings)["button"]).drive_low()
        clock.advance(settings.hold_shutdown_s + 0.01)
    finally:
        panel.close()
        factory.reset()
    assert called == ["fixed power-off"] and not marker.exists()


def _settings_form(html: str) -> dict:
    form = {}
    for m in re.finditer(r'<input type="(text|number|checkbox)" name="([^"]+)"([^>]*)>', html):
        kind, name, rest = m.groups()
        if kind == "checkbox":
            if "checked" in rest:
                form[name] = "on"
        else:
            form[name] = re.search(r'value="([^"]*)"', rest).group(1)
    for m in re.finditer(r'<textarea name="(rules\.thresholds)"[^>]*>([^<]*)</textarea>', html):
        form[m.group(1)] = m.group(2)
    return form


def test_health_page(trainer):
    html = trainer.get("/trainer/health").get_data(as_text=True)
    assert "2.6 ms" in html
    assert re.search(r"Front</td>\s*<td>online", html) and re.search(r"Side</td>\s*<td><strong>offline</strong> — no frame for 3 s", html)
    assert "29.8" in html and "Disk in use" in html and "Under-voltage now" in html
    body = trainer.get("/trainer/health.json").get_json()
    assert body["stats"]["inference_ms"] == 2.6 and "disk_percent" in body["pi"]


def test_health_page_says_when_an_asleep_station_opens(trainer, station):
    station.set(state="closed", opens="2026-12-01T06:00")
    html = trainer.get("/trainer/health").get_data(as_text=True)
    assert re.search(r'id="station-state">closed \(asleep: opens 2026-12-01 06:00\)<', html)
    station.set(state="idle")  # the button woke it, still outside the hours
    html = trainer.get("/trainer/health").get_data(as_text=True)
    assert re.search(r'id="station-state">idle \(woken outside the opening hours; they start 2026-12-01 06:00\)<', html)
    station.set(opens=None)
    assert 'id="station-state">idle<' in trainer.get("/trainer/health").get_data(as_text=True)


def test_diagnostics_bundle_download(trainer):  # anonymous access: the every-route test above
    import zipfile

    r = trainer.get("/trainer/diagnostics.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert "ohsa-diagnostics-" in r.headers["Content-Disposition"]
    z = zipfile.ZipFile(io.BytesIO(r.data))
    assert {"versions.json", "config.toml", "logs.txt", "stats.json"} <= set(z.namelist())
    assert json.loads(z.read("stats.json"))["station"]["inference_ms"] == 2.6


# -- JSON API -------------------------------------------------------------------------------


def test_api_status_stats_and_assessments(trainer, client, station, store, aid):
    station.set(state="recording", reps=2)
    status = client.get("/api/status").get_json()
    assert status["state"] == "recording" and status["reps"] == 2
    stats = client.get("/api/stats").get_json()
    assert stats["running"] is True and stats["inference_ms"] == 2.6
    for i in range(3):
        store.save_assessment(sample_result(), None, {}, label=f"Z{i}")
    page = trainer.get("/api/assessments?limit=2&offset=1").get_json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["offset"] == 1
    assert trainer.get("/api/assessments?limit=abc").status_code == 400
    assert trainer.get("/api/assessments?from=nope").status_code == 400
    one = trainer.get(f"/api/assessments/{aid}").get_json()
    assert one["label"] == "MK" and one["plan"]["kind"] == "plan" and one["plan_edited"] is False
    assert trainer.get("/api/assessments/000000000000").status_code == 404


def _result_on_screen(station, aid):
    station.set(state="result", reps=5, assessment_id=aid, findings=["knees_cave_in", "excessive_forward_lean"],
                regions=["knees", "hips"], comparison={"knees_cave_in": "better"}, retests=["heels_raised"],
                referral=False, message="Your results are ready.",
                panel={"mock": True, "status": "result", "regions": {"knees": True, "hips": True, "head": False},
                       "button_pressed": False, "buzzer": False})


PRIVATE = ("knees_cave_in", "forward_lean", "knees", "hips", "comparison", "findings", "referral", "assessment_id")


def test_public_status_and_events_carry_the_state_not_the_person(client, station, aid):
    _result_on_screen(station, aid)
    for body in (client.get("/api/status", environ_base=LAN).get_data(as_text=True),
                 _read_until(iter(client.get("/api/events", buffered=False, environ_base=LAN).response), "data: "),
                 client.get("/", environ_base=LAN).get_data(as_text=True).split('id="initial-state">')[1].split("<")[0]):
        assert '"finished"' in body and aid not in body, body
        assert not any(word in body for word in PRIVATE), body
    station.set(state="pain", countdown=20, referral=True, message="Stop. Please see a professional about the pain.")
    status = client.get("/api/status", environ_base=LAN).get_json()
    assert status["state"] == "finished" and "pain" not in json.dumps(status) and "professional" not in json.dumps(status)
    station.set(state="recording", reps=3, findings=[], regions=[])
    assert client.get("/api/status", environ_base=LAN).get_json()["reps"] == 3  # the flow itself stays public


def test_kiosk_endpoint_gives_the_details_to_the_station_only(app, trainer, station, aid):
    _result_on_screen(station, aid)
    client = app.test_client()  # not logged in
    assert client.get("/api/kiosk/status", environ_base=LAN).status_code == 403
    assert client.get("/api/kiosk/events", environ_base=LAN).status_code == 403
    kiosk = client.get("/api/kiosk/status").get_json()  # loopback: the station's own screen
    assert kiosk["assessment_id"] == aid and kiosk["findings"] == ["knees_cave_in", "excessive_forward_lean"]
    assert kiosk["panel"]["regions"]["knees"] is True
    assert aid in _read_until(iter(client.get("/api/kiosk/events", buffered=False).response), aid)
    assert trainer.get("/api/kiosk/status", environ_base=LAN).get_json()["assessment_id"] == aid


def test_kiosk_scripts_read_the_kiosk_endpoint():
    from pathlib import Path

    static = Path(__file__).resolve().parent.parent / "web" / "static"
    live, result = (static / "live.js").read_text(), (static / "result.js").read_text()
    assert '"/api/kiosk"' in live and 'fetch("/api/kiosk/status"' in result
    assert 'fetch("/api/status"' not in result


def test_security_headers_and_no_external_references(client, aid):
    r = client.get(f"/result/{aid}")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["X-Frame-Options"] == "DENY"
    html = r.get_data(as_text=True)
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if u.startswith(("http:", "https:", "//"))]
    assert all("/s/" in u for u in external), external  # only the share link itself
    assert "style=" not in html  # CSP forbids inline styles


# -- server-sent events ---------------------------------------------------------------------


def _read_until(chunks, text: str, limit: int = 20) -> str:
    seen = ""
    for _ in range(limit):
        seen += next(chunks).decode() if isinstance(seen, str) else ""
        if text in seen:
            return seen
    raise AssertionError(f"{text!r} not in {seen!r}")


def test_sse_stream_sends_state_changes(client, station):
    r = client.get("/api/events", buffered=False)
    assert r.mimetype == "text/event-stream"
    chunks = iter(r.response)
    first = _read_until(chunks, "data: ")
    assert '"state":"idle"' in first
    threading.Timer(0.2, lambda: station.set(state="countdown", countdown=2)).start()
    assert '"countdown":2' in _read_until(chunks, "countdown")
    r.close()


def test_sse_streams_are_bounded_and_released(client, app):
    from web.api import MAX_STREAMS

    open_ = [client.get("/api/events", buffered=False) for _ in range(MAX_STREAMS)]
    assert all(r.status_code == 200 for r in open_)
    refused = client.get("/api/events")
    assert refused.status_code == 503  # the page falls back to polling /api/status
    for r in open_:
        r.close()
    again = client.get("/api/events", buffered=False)
    assert again.status_code == 200
    again.close()


def test_settings_threshold_overrides(trainer, config_path):
    html = trainer.get("/trainer/settings").get_data(as_text=True)
    assert "<code>knees_cave_in</code>" in html  # the table of names and built-in values
    form = dict(_settings_form(html), csrf_token=trainer.csrf)
    r = trainer.post("/trainer/settings", data=dict(form, **{"rules.thresholds": "knees_cave_in = 0.75\n"}))
    assert r.status_code == 302
    assert device_config.load(config_path)["rules"]["thresholds"]["knees_cave_in"] == 0.75
    html = trainer.get("/trainer/settings").get_data(as_text=True)
    shown = re.search(r'<textarea name="rules.thresholds"[^>]*>([^<]*)</textarea>', html).group(1)
    assert shown.strip() == "knees_cave_in = 0.75"  # only what differs from the built-in table
    for bad, words in (("no_such_threshold = 1", "rules.thresholds.no_such_threshold: unknown"),
                       ("knees_cave_in = 5", "rules.thresholds.knees_cave_in: must be between")):
        r = trainer.post("/trainer/settings", data=dict(form, **{"rules.thresholds": bad}))
        assert r.status_code == 400 and words in r.get_data(as_text=True)
    assert device_config.load(config_path)["rules"]["thresholds"]["knees_cave_in"] == 0.75


def test_change_password(trainer, store):
    data = store.path.parent
    old = owner.read_hash(data)
    trainer.post("/trainer/password", data={"csrf_token": trainer.csrf, "current": "wrong",
                                            "password": "new-password-1", "repeat": "new-password-1"})
    assert owner.read_hash(data) == old
    trainer.post("/trainer/password", data={"csrf_token": trainer.csrf, "current": PASSWORD,
                                            "password": "new-password-1", "repeat": "new-password-2"})
    assert owner.read_hash(data) == old
    r = trainer.post("/trainer/password", data={"csrf_token": trainer.csrf, "current": PASSWORD,
                                                "password": "new-password-1", "repeat": "new-password-1"})
    assert r.status_code == 302
    assert auth.verify_password("new-password-1", owner.read_hash(data))
    assert "Password changed." in trainer.get("/trainer/settings").get_data(as_text=True)


def test_retest_result_says_what_changed(trainer, store, aid):
    from device.analysis.retest import compare

    # as the analysis pipeline stores a re-test: with its comparison, made once
    result = sample_result(knees_cave_in={"status": "absent", "value": 0.95})
    result["retest"] = {"parent_id": aid, **compare(store.get(aid)["result"], result, "heels_raised")}
    retest = store.save_assessment(result, None, {}, kind="heels_raised", parent_id=aid, label="MK")
    html = trainer.get(f"/result/{retest}").get_data(as_text=True)
    assert "re-test: heels raised" in html
    comparison = re.search(r'id="comparison">([^<]+)<', html).group(1)
    assert "knees cave in disappeared" in comparison and "ankle mobility" in comparison
    assert "Chest leans forward stayed" in comparison
    detail = trainer.get(f"/trainer/a/{retest}").get_data(as_text=True)
    assert f"/trainer/compare?a={aid}&amp;b={retest}" in detail
    assert 'id="comparison"' not in trainer.get(f"/result/{aid}").get_data(as_text=True)


def test_detail_says_how_the_set_was_measured(trainer, store):
    from tests.web_fakes import sample_result

    result = sample_result()
    result["geometry"] = {"path": "3d", "calibration": "mat", "round_toward_front_deg": 21.0, "side": "left",
                          "side_distance_m": 2.2, "standing_height_m": 1.78, "feet_apart_m": 0.42}
    aid = store.save_assessment(result, None, {})
    import html as htmllib

    html = htmllib.unescape(trainer.get(f"/trainer/a/{aid}").get_data(as_text=True))
    assert ("Measured: 3-D in use (mat calibration); side camera about 21 degrees toward the front, on the "
            "person's left, 2.2 m away; person about 1.78 m tall, feet 0.42 m apart") in html
    plain = store.save_assessment(sample_result(), None, {})  # no geometry entry (an older result)
    assert 'id="measured"' not in trainer.get(f"/trainer/a/{plain}").get_data(as_text=True)
