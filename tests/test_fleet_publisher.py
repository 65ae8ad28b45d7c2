"""The station's publisher against a real Mosquitto with the shipped ACL (hub/mosquitto/acl)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from device.fleet import messages
from device.fleet.publisher import Publisher
from device.store import Store
from device.vocabulary import COMPENSATION_IDS
from tests.fleet_station import USERS, Listener, broker, make_ca
from tests.waiting import wait_until

RESULT = {"format": "ohsa-result/1", "reps": 5, "compensations": {c: {"status": "absent"} for c in COMPENSATION_IDS}}
JPEG = b"\xff\xd8\xff" + b"j" * 500


def health():
    return {"sets_today": 3, "cameras": {"front": "ok", "side": "missing"}, "uptime_s": 42}


def settings(port, station="s1", **kw):
    return {"enabled": True, "host": "127.0.0.1", "port": port, "tls": False, "station_id": station,
            "password": USERS.get(station, "nope"), **kw}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "station.db", outbox=True) as s:
        yield s


def _pub(store, settings_, **kw):
    return Publisher(settings_, store, health=health, version="0.1.0", backoff_max_s=0.5, **kw).start()


def _parsed(listener, prefix):
    return [messages.parse(t, p) for t, p, _ in listener.on(prefix)]


def test_status_health_assessments_and_alerts_arrive_in_order(mqtt_broker, store):
    hub = Listener(mqtt_broker.port).wait_subscribed()
    a = store.save_assessment(RESULT, None, {"front": JPEG}, member="1001")
    store.set_notes(a, "first")
    b = store.save_assessment(RESULT, None, {})
    store.add_event("pain", assessment_id=b, detail="it hurts")
    pub = _pub(store, settings(mqtt_broker.port))
    try:
        assert wait_until(lambda: store.outbox_status()["queued"] == 0, 10)
        assert wait_until(lambda: len(hub.on("ohsa/s1/assessment/")) == 3 and hub.on("ohsa/s1/alert/"), 10)
        got = [(m["id"], m["revision"]) for m in _parsed(hub, "ohsa/s1/assessment/")]
        assert got == [(a, 1), (a, 2), (b, 1)]  # the outbox's order
        last = _parsed(hub, f"ohsa/s1/assessment/{a}")[-1]
        assert last["assessment"]["notes"] == "first" and last["assessment"]["member"]["number"] == "1001"
        assert last["images"] == {}  # no stills unless send_stills
        alert = _parsed(hub, "ohsa/s1/alert/")[0]
        assert alert["kind"] == "pain" and alert["assessment_id"] == b and alert["text"] == "it hurts"
        assert wait_until(lambda: _parsed(hub, "ohsa/s1/health"), 5)
        assert _parsed(hub, "ohsa/s1/health")[-1]["sets_today"] == 3
        assert _parsed(hub, "ohsa/s1/status")[-1]["state"] == "online"
        state = pub.state()
        assert state["connected"] and state["queued"] == 0 and state["last_sent_at"]
        # a change made while connected goes out at once (within the idle poll)
        store.set_label(b, "later")
        assert wait_until(lambda: len(hub.on("ohsa/s1/assessment/")) == 4, 5)
    finally:
        assert pub.close(5)
    assert wait_until(lambda: _parsed(hub, "ohsa/s1/status")[-1]["state"] == "offline", 5)
    late = Listener(mqtt_broker.port).wait_subscribed()  # retained: a newcomer sees the state
    try:
        assert wait_until(lambda: late.on("ohsa/s1/status") and late.on("ohsa/s1/health"), 5)
        topic, payload, retained = late.on("ohsa/s1/status")[0]
        assert retained and messages.parse(topic, payload)["state"] == "offline"
        assert not late.on("ohsa/s1/assessment/")  # assessments are not retained
    finally:
        late.close()
        hub.close()


def test_stills_only_when_the_owner_enables_them(mqtt_broker, store):
    hub = Listener(mqtt_broker.port).wait_subscribed()
    a = store.save_assessment(RESULT, None, {"front": JPEG, "side": JPEG + b"s"})
    pub = _pub(store, settings(mqtt_broker.port, send_stills=True))
    try:
        assert wait_until(lambda: hub.on(f"ohsa/s1/assessment/{a}"), 10)
        msg = _parsed(hub, f"ohsa/s1/assessment/{a}")[0]
        import base64
        assert base64.b64decode(msg["images"]["front"]) == JPEG
        assert base64.b64decode(msg["images"]["side"]) == JPEG + b"s"
    finally:
        pub.close(5)
        hub.close()


def test_a_broker_down_for_a_while_loses_nothing(tmp_path, store):
    b = broker(tmp_path / "broker").start()
    hub = Listener(b.port, clean=False, client_id="test-hub").wait_subscribed()  # persistent, as the hub's
    pub = _pub(store, settings(b.port))
    try:
        first = store.save_assessment(RESULT, None, {})
        assert wait_until(lambda: hub.on(f"ohsa/s1/assessment/{first}"), 10)
        b.stop()  # a clean stop: the broker keeps the hub's session and its queue
        assert wait_until(lambda: not pub.connected, 10)
        down = [store.save_assessment(RESULT, None, {}, label=f"D{i}") for i in range(30)]
        store.set_notes(down[0], "while down")
        assert store.outbox_status()["queued"] == 31
        assert pub.state()["problem"]  # the health page says why
        b.start()
        assert wait_until(lambda: store.outbox_status()["queued"] == 0, 20)
        want = {(i, 1) for i in down} | {(down[0], 2)}
        assert wait_until(lambda: want <= {(m["id"], m["revision"]) for m in _parsed(hub, "ohsa/s1/assessment/")}, 20)
    finally:
        pub.close(5)
        hub.close()
        b.stop()


STATION = textwrap.dedent("""
    import logging, sys
    from device.fleet.publisher import Publisher
    from device.store import Store
    from device.vocabulary import COMPENSATION_IDS

    store = Store(sys.argv[1], outbox=True)
    settings = {"enabled": True, "host": "127.0.0.1", "port": int(sys.argv[2]), "tls": False,
                "station_id": "s2", "password": "pw-s2"}
    Publisher(settings, store, health=lambda: {}, version="0.1.0").start()
    result = {"format": "ohsa-result/1", "reps": 5,
              "compensations": {c: {"status": "absent"} for c in COMPENSATION_IDS}}
    i = 0
    while True:
        aid = store.save_assessment(result, None, {}, label=f"K{i}")
        if i % 2:
            store.set_notes(aid, f"n{i}")
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
        i += 1
""")


def test_a_station_killed_mid_publish_loses_nothing_and_duplicates_are_harmless(mqtt_broker, tmp_path):
    path = tmp_path / "s2.db"
    hub = Listener(mqtt_broker.port).wait_subscribed()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen([sys.executable, "-c", STATION, str(path), str(mqtt_broker.port)],
                            stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline(), "station died"
        # kill it while it is publishing: the hub has some of its messages, not all
        assert wait_until(lambda: len(hub.on("ohsa/s2/assessment/")) >= 20, 20)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    with Store(path, outbox=True) as store:
        queued = store.outbox_status()["queued"]
        pub = _pub(store, settings(mqtt_broker.port, station="s2"))  # the station starts again
        try:
            assert wait_until(lambda: store.outbox_status()["queued"] == 0, 20)
            with store._lock:
                final = dict(store._db.execute("SELECT id, fleet_revision FROM assessments"))
                notes = dict(store._db.execute("SELECT id, notes FROM assessments"))
            assert wait_until(lambda: {m["id"] for m in _parsed(hub, "ohsa/s2/assessment/")} >= set(final), 10)
        finally:
            pub.close(5)
    got = _parsed(hub, "ohsa/s2/assessment/")
    # what a hub keeps: per id, the highest revision seen (lower or equal ones are ignored)
    kept: dict[str, dict] = {}
    for m in got:
        if m["revision"] > kept.get(m["id"], {"revision": 0})["revision"]:
            kept[m["id"]] = m
    assert {i: m["revision"] for i, m in kept.items()} == final  # 0 lost, each at its last revision
    for i, m in kept.items():  # and with the content the station holds
        assert m["assessment"]["notes"] == notes[i]
    # duplicates (sent, not marked when killed) carry the same revision and the same content
    seen: dict[tuple, dict] = {}
    for m in got:
        key = (m["id"], m["revision"])
        if key in seen:
            assert seen[key]["assessment"] == m["assessment"]
        seen[key] = m
    hub.close()
    assert queued > 0  # the kill left rows unsent: the restart really had to send them


def test_anonymous_and_wrong_passwords_are_refused(mqtt_broker, store, caplog):
    anon = Listener(mqtt_broker.port, user="")
    wrong = Listener(mqtt_broker.port, user="intruder")
    try:
        assert wait_until(lambda: anon.refused and wrong.refused, 10)
        assert "authori" in anon.refused.lower() and "authori" in wrong.refused.lower()
    finally:
        anon.close()
        wrong.close()
    caplog.set_level(logging.INFO, logger="device.fleet")
    pub = _pub(store, settings(mqtt_broker.port, password="wrong"))
    try:
        store.save_assessment(RESULT, None, {})
        assert wait_until(lambda: pub.state()["problem"] and "refused" in pub.state()["problem"], 10)
        assert not pub.connected and store.outbox_status()["queued"] == 1  # kept for later
        assert wait_until(lambda: sum("refused" in r.getMessage() for r in caplog.records) >= 1, 5)
    finally:
        assert pub.close(5)
    lines = [r for r in caplog.records if "refused" in r.getMessage() and r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]  # one clear line, not one per retry


def test_a_station_cannot_publish_under_another_station(mqtt_broker):
    hub = Listener(mqtt_broker.port).wait_subscribed()
    ha = Listener(mqtt_broker.port, user="homeassistant", topics=("homeassistant/#",)).wait_subscribed()
    acks: dict[int, object] = {}
    s1 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    s1.username_pw_set("s1", USERS["s1"])
    s1.on_publish = lambda c, u, mid, rc, props: acks.__setitem__(mid, rc)
    s1.connect("127.0.0.1", mqtt_broker.port)
    s1.loop_start()
    try:
        forged = messages.status("s2", "offline", "t", "v")
        denied = [s1.publish("ohsa/s2/status", messages.encode(forged), qos=1).mid,
                  s1.publish("ohsa/s2/assessment/abc", b"{}", qos=1).mid,
                  s1.publish("homeassistant/sensor/ohsa_s2/x/config", b"{}", qos=1).mid]
        ok = s1.publish("ohsa/s1/status", messages.encode(messages.status("s1", "online", "t", "v")), qos=1).mid
        ok_ha = s1.publish("homeassistant/sensor/ohsa_s1/x/config", b"{}", qos=1).mid
        assert wait_until(lambda: all(m in acks for m in denied + [ok, ok_ha]), 10)
        assert all(acks[m].value == 135 for m in denied)  # MQTT 5: "Not authorized"
        assert not acks[ok].is_failure
        assert wait_until(lambda: hub.on("ohsa/s1/status") and ha.on("homeassistant/sensor/ohsa_s1/"), 5)
        # (s2's own retained status from an earlier test may be there; the forged one is not)
        assert messages.encode(forged) not in [p for _, p, _ in hub.on("ohsa/s2/status")]
        assert not hub.on("ohsa/s2/assessment/abc") and not ha.on("homeassistant/sensor/ohsa_s2/x/")
    finally:
        s1.loop_stop()
        s1.disconnect()
        hub.close()
        ha.close()


def test_tls_with_the_gyms_ca_and_a_wrong_ca_refused(mqtt_broker, store, certs, tmp_path):
    hub = Listener(mqtt_broker.port).wait_subscribed()
    a = store.save_assessment(RESULT, None, {})
    pub = _pub(store, settings(mqtt_broker.tls_port, tls=True, ca_file=str(certs["ca.crt"])))
    try:
        assert wait_until(lambda: pub.connected and store.outbox_status()["queued"] == 0, 10)
        assert wait_until(lambda: hub.on(f"ohsa/s1/assessment/{a}"), 5)
    finally:
        pub.close(5)
    other = make_ca(tmp_path / "other", "other")
    store.set_notes(a, "x")
    pub = _pub(store, settings(mqtt_broker.tls_port, tls=True, ca_file=str(other["ca.crt"])))
    try:
        assert wait_until(lambda: pub.state()["problem"] and "TLS" in pub.state()["problem"], 10)
        assert not pub.connected and store.outbox_status()["queued"] == 1
        assert "not trusted" in pub.state()["problem"] and "ca_file" in pub.state()["problem"]
    finally:
        pub.close(5)
        hub.close()


def test_a_client_certificate_when_the_broker_wants_one(mqtt_broker, store, certs):
    a = store.save_assessment(RESULT, None, {})
    tls = dict(tls=True, ca_file=str(certs["ca.crt"]))
    pub = _pub(store, settings(mqtt_broker.cert_port, **tls))  # no client certificate: refused
    try:
        assert wait_until(lambda: pub.state()["problem"], 10)
        assert "client certificate" in pub.state()["problem"]
        assert not pub.connected and store.outbox_status()["queued"] == 1
    finally:
        pub.close(5)
    hub = Listener(mqtt_broker.port).wait_subscribed()
    pub = _pub(store, settings(mqtt_broker.cert_port, cert_file=str(certs["client.crt"]),
                               key_file=str(certs["client.key"]), **tls))
    try:
        assert wait_until(lambda: pub.connected and store.outbox_status()["queued"] == 0, 10)
        assert wait_until(lambda: hub.on(f"ohsa/s1/assessment/{a}"), 5)
    finally:
        pub.close(5)
        hub.close()


def test_an_unreachable_or_misconfigured_broker_never_blocks_the_station(tmp_path, store, caplog):
    from tests.services import free_port

    caplog.set_level(logging.INFO, logger="device.fleet")
    pub = _pub(store, settings(free_port()))  # nothing listens there
    try:
        assert wait_until(lambda: pub.state()["problem"] and "unreachable" in pub.state()["problem"], 10)
        for i in range(5):
            store.save_assessment(RESULT, None, {})
        assert store.outbox_status()["queued"] == 5
    finally:
        assert pub.close(5)
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    caplog.clear()
    pub = _pub(store, settings(1883, password="", password_file=str(tmp_path / "missing")))
    try:
        assert wait_until(lambda: pub.state()["problem"] and "password_file" in pub.state()["problem"], 5)
        assert wait_until(lambda: not pub._thread.is_alive(), 5)  # the link stays off
    finally:
        assert pub.close(5)
    assert [r.levelname for r in caplog.records if "password_file" in r.getMessage()] == ["ERROR"]


def test_discovery_configs_are_published_retained(mqtt_broker, store):
    pub = _pub(store, settings(mqtt_broker.port, discovery_prefix="homeassistant"))
    try:
        assert wait_until(lambda: pub.connected, 10)
        ha = Listener(mqtt_broker.port, user="homeassistant", topics=("homeassistant/#", "ohsa/+/health")).wait_subscribed()
        try:
            mine = lambda: [m for m in ha.on("homeassistant/") if "/ohsa_s1/" in m[0]]  # noqa: E731
            assert wait_until(lambda: len(mine()) == 5 and ha.on("ohsa/s1/health"), 5)
            configs = {t: (json.loads(p), r) for t, p, r in mine()}
            assert all(r for _, r in configs.values())  # retained: HA finds them whenever it starts
            online = configs["homeassistant/binary_sensor/ohsa_s1/online/config"][0]
            assert online["state_topic"] == "ohsa/s1/status" and online["device_class"] == "connectivity"
            sets = configs["homeassistant/sensor/ohsa_s1/sets_today/config"][0]
            assert sets["state_topic"] == "ohsa/s1/health"
            assert sets["availability"][0]["topic"] == "ohsa/s1/status"
        finally:
            ha.close()
    finally:
        pub.close(5)


KILLED_AT_THE_ACK = textwrap.dedent("""
    import os, signal, sys
    from device.fleet.publisher import Publisher
    from device.store import Store
    from device.vocabulary import COMPENSATION_IDS

    store = Store(sys.argv[1], outbox=True)
    result = {"format": "ohsa-result/1", "reps": 5,
              "compensations": {c: {"status": "absent"} for c in COMPENSATION_IDS}}
    for i in range(10):
        store.save_assessment(result, None, {}, label=f"K{i}")
    # the worst moment: the broker has acknowledged, the row is not marked yet
    store.outbox_sent = lambda seqs, now=None: os.kill(os.getpid(), signal.SIGKILL)
    settings = {"enabled": True, "host": "127.0.0.1", "port": int(sys.argv[2]), "tls": False,
                "station_id": "s2", "password": "pw-s2"}
    Publisher(settings, store, health=lambda: {}, version="0.1.0").start()
    signal.pause()
""")


def test_killed_between_the_ack_and_the_mark_the_resend_is_a_harmless_duplicate(mqtt_broker, tmp_path):
    path = tmp_path / "s2.db"
    hub = Listener(mqtt_broker.port, topics=("ohsa/s2/assessment/#",)).wait_subscribed()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run([sys.executable, "-c", KILLED_AT_THE_ACK, str(path), str(mqtt_broker.port)],
                          env=env, timeout=60, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Store(path, outbox=True) as store:
        assert len({r["item_id"] for r in store.outbox_pending(limit=100)}) == 10  # nothing marked sent
        pub = _pub(store, settings(mqtt_broker.port, station="s2"))  # the station starts again
        try:
            assert wait_until(lambda: store.outbox_status()["queued"] == 0, 10)
        finally:
            pub.close(5)
    # the broker had acknowledged at least one message before the kill: it arrives twice
    assert wait_until(lambda: len(hub.on("ohsa/s2/assessment/")) > 10, 5)
    got = _parsed(hub, "ohsa/s2/assessment/")
    assert len({m["id"] for m in got}) == 10
    first: dict[str, dict] = {}
    for m in got:  # every copy carries the revision and the content of the first: harmless
        f = first.setdefault(m["id"], m)
        assert (m["revision"], m["assessment"]) == (f["revision"], f["assessment"])
    hub.close()
