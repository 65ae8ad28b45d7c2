"""The hub's subscriber through a real Mosquitto into a real PostgreSQL: end to end, messages
held unacknowledged while PostgreSQL is down and delivered again, a refused message not
blocking the rest, and `ohsa hub run` killed with SIGKILL mid-stream: no loss, no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from device.errors import InputError
from device.fleet import messages
from hub import db
from hub.subscriber import Broker, Subscriber
from tests.fleet_hub import (ACL, HUB_PASSWORD, StationClient, assessment, broker_users, hub_count,
                             hub_rows, record, stamp)
from tests.services import Mosquitto
from tests.waiting import wait_until

STATIONS = ("gym-1", "gym-2")


@pytest.fixture
def dsn(cluster, request):
    d = cluster.database("t_" + request.node.name.lower()[:50])
    with db.connect(d) as conn:
        db.migrate(conn)
    return d


@pytest.fixture
def broker(tmp_path):
    with Mosquitto(tmp_path / "broker", broker_users(STATIONS), ACL) as b:
        yield b


class Running:
    """A Subscriber with its ingest thread."""

    def __init__(self, dsn, port, client_id="ohsa-hub-test"):
        self.stop = threading.Event()
        self.sub = Subscriber(dsn, Broker(port=port, password=HUB_PASSWORD), client_id=client_id).start()
        self.thread = threading.Thread(target=self.sub.run, args=(self.stop,), daemon=True)
        self.thread.start()
        assert self.sub.connected.wait(20), "the hub did not connect to the broker"

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.sub.close()


def _send(client, first, n, station="gym-1"):
    for i in range(first, first + n):
        client.publish(assessment(station, f"a{i:04d}", 1, record(i, label=f"client {i}")))


def test_end_to_end_through_a_real_broker(dsn, broker):
    hub = Running(dsn, broker.port)
    try:
        clients = {s: StationClient(broker.port, s) for s in STATIONS}
        for s, c in clients.items():
            c.publish((messages.status_topic(s), messages.encode(messages.status(s, "online", stamp(0), "1.0"))),
                      retain=True)
            _send(c, 0, 15, s)
        clients["gym-2"].publish(assessment("gym-2", "a0003", 2, record(3, notes="edited")))
        clients["gym-2"].publish(assessment("gym-2", "a0004", 2, deleted=True))
        alert = messages.alert("gym-1", "pain-1", "pain", "a0001", stamp(1), "pain")
        clients["gym-1"].publish((messages.topic_of(alert), messages.encode(alert)))
        assert wait_until(lambda: hub_count(dsn) == 29 and hub_rows(dsn, "SELECT count(*) FROM alerts")[0][0] == 1, 30)
        assert hub_rows(dsn, "SELECT revision, notes FROM assessments WHERE station = 'gym-2' AND id = 'a0003'") == [(2, "edited")]
        assert hub_rows(dsn, "SELECT station, state FROM stations ORDER BY station") == [("gym-1", "online"), ("gym-2", "online")]
        assert hub.sub.counts.stored + hub.sub.counts.deleted == 35  # 2 status, 30, edit, deletion, alert
        for c in clients.values():
            c.close()
    finally:
        hub.close()


def test_the_hub_over_tls_with_the_chains_ca(dsn, tmp_path):
    from tests.fleet_station import make_ca
    from tests.services import free_port

    ca = make_ca(tmp_path / "ca")
    tls_port = free_port()
    extra = (f"listener {tls_port} 127.0.0.1\ncafile {ca['ca.crt']}\ncertfile {ca['server.crt']}\n"
             f"keyfile {ca['server.key']}\n")
    with Mosquitto(tmp_path / "broker", broker_users(STATIONS), ACL, extra_conf=extra) as b:
        broker_url = f"mqtts://127.0.0.1:{tls_port}"
        sub = Subscriber(dsn, Broker.from_url(broker_url, password=HUB_PASSWORD, ca_file=str(ca["ca.crt"])),
                         client_id="ohsa-hub-tls").start()
        stop = threading.Event()
        worker = threading.Thread(target=sub.run, args=(stop,), daemon=True)
        worker.start()
        try:
            assert sub.broker.tls and sub.broker.port == tls_port
            assert wait_until(sub.subscribed.is_set, 20)
            c = StationClient(b.port, "gym-1")
            _send(c, 0, 3)
            assert wait_until(lambda: hub_count(dsn) == 3, 20)
            c.close()
        finally:
            stop.set()
            worker.join(10)
            sub.close()


def test_a_rebuilt_hub_is_caught_up_by_the_stations_resend(cluster, dsn, broker, tmp_path):
    """A real station Store and publisher; the hub's database is lost and rebuilt empty (a new
    session); `ohsa fleet resend`'s store call queues the station's history again: every
    assessment once, at its new revision."""
    import random

    from device.fleet.publisher import Publisher
    from device.store import Store
    from device.store.demo import demo_result

    hub = Running(dsn, broker.port)
    settings = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "tls": False, "station_id": "gym-2",
                "password": "pw-gym-2", "discovery": False}
    with Store(tmp_path / "station.db", outbox=True) as store:
        pub = Publisher(settings, store, health=lambda: {"sets_today": 0, "cameras": {}, "uptime_s": 0},
                        version="t", backoff_max_s=0.5).start()
        try:
            ids = [store.save_assessment(demo_result(random.Random(i)), None, {}, label=f"c{i}") for i in range(10)]
            pub.nudge()
            assert wait_until(lambda: hub_count(dsn) == 10, 30)
            hub.close()
            rebuilt = cluster.database("t_rebuilt_hub")
            with db.connect(rebuilt) as conn:
                db.migrate(conn)
            hub = Running(rebuilt, broker.port, client_id="ohsa-hub-rebuilt")
            assert hub_count(rebuilt) == 0
            assert store.outbox_queue_all() == 10
            pub.nudge()
            assert wait_until(lambda: hub_count(rebuilt) == 10, 30)
            rows = hub_rows(rebuilt)
            assert sorted(r[1] for r in rows) == sorted(ids) and {r[2] for r in rows} == {2}
        finally:
            pub.close(5)
            hub.close()


def test_broker_urls():
    assert Broker.from_url("mqtt://hub.example").port == 1883
    assert (Broker.from_url("mqtts://hub.example").port, Broker.from_url("mqtts://hub.example").tls) == (8883, True)
    assert Broker.from_url("10.0.0.5:1884").port == 1884
    for bad in ("http://x", "mqtt://", "mqtt://x:99999"):
        with pytest.raises(InputError, match="--broker"):
            Broker.from_url(bad)


def test_a_foreign_station_in_the_payload_is_refused_and_does_not_block(dsn, broker):
    hub = Running(dsn, broker.port)
    try:
        c = StationClient(broker.port, "gym-1")
        topic, payload = assessment("gym-2", "x1", 1, record(1))
        c.publish((topic.replace("gym-2", "gym-1"), payload))  # its own topic, another's payload
        _send(c, 0, 3)
        assert wait_until(lambda: hub_count(dsn) == 3, 20)
        assert hub.sub.counts.rejected == 1
        assert hub_rows(dsn, "SELECT count(*) FROM assessments WHERE station = 'gym-2'") == [(0,)]
        c.close()
    finally:
        hub.close()


def test_a_message_the_database_refuses_is_skipped_the_rest_of_its_batch_stored(dsn, broker):
    with db.connect(dsn) as conn, conn.transaction():
        conn.execute("ALTER TABLE assessments ADD CONSTRAINT no_poison CHECK (label <> 'poison')")
    hub = Running(dsn, broker.port)
    try:
        c = StationClient(broker.port, "gym-1")
        for i in range(30):
            c.publish(assessment("gym-1", f"a{i:04d}", 1, record(i, label="poison" if i % 10 == 3 else f"c{i}")))
        assert wait_until(lambda: hub_count(dsn) == 27 and hub.sub.counts.rejected == 3, 20), hub.sub.counts
        _send(c, 100, 2)  # and the stream goes on
        assert wait_until(lambda: hub_count(dsn) == 29, 20)
        c.close()
    finally:
        hub.close()


def test_while_the_hub_is_away_the_broker_queues_assessments_not_every_health(dsn, broker):
    hub = Running(dsn, broker.port)  # the session and its subscriptions exist
    hub.close()
    c = StationClient(broker.port, "gym-1")
    for minute in range(40):
        h = messages.health("gym-1", stamp(minute), minute, {"front": "ok", "side": "ok"}, minute * 60)
        c.publish((messages.topic_of(h), messages.encode(h)), retain=True)
    _send(c, 0, 5)
    hub = Running(dsn, broker.port)
    try:
        assert wait_until(lambda: hub_count(dsn) == 5 and hub.sub.counts.stored >= 6, 20)
        assert hub_rows(dsn, "SELECT health->>'sets_today' FROM stations") == [("39",)]  # the latest
        assert hub.sub.counts.stored + hub.sub.counts.ignored == 6  # 5 assessments, 1 health: not 40
    finally:
        hub.close()
        c.close()


def test_postgres_down_messages_stay_unacknowledged_and_come_again(cluster, dsn, broker):
    """PostgreSQL stops mid-stream; the hub retries without acknowledging, is then stopped
    itself; a new hub process (same client id, same session) gets every message again."""
    hub = Running(dsn, broker.port)
    c = StationClient(broker.port, "gym-1")
    try:
        _send(c, 0, 20)
        assert wait_until(lambda: hub_count(dsn) == 20, 30)
        cluster.stop("fast")
        _send(c, 20, 20)  # the broker has them; the hub cannot store them
        assert wait_until(lambda: hub.sub.counts.db_retries >= 2, 30)
        assert hub.sub.counts.stored == 20
    finally:
        hub.close()  # gone without acknowledging what it holds
    cluster.start()
    assert hub_count(dsn) == 20
    hub = Running(dsn, broker.port)
    try:
        assert wait_until(lambda: hub_count(dsn) == 40, 30), hub_count(dsn)
        rows = hub_rows(dsn)
        assert [r[1] for r in rows] == [f"a{i:04d}" for i in range(40)]  # each once, none lost
    finally:
        hub.close()
        c.close()


def test_postgres_restart_while_the_hub_keeps_running(cluster, dsn, broker):
    hub = Running(dsn, broker.port)
    c = StationClient(broker.port, "gym-1")
    try:
        _send(c, 0, 10)
        assert wait_until(lambda: hub_count(dsn) == 10, 30)
        cluster.stop("immediate")  # a crash of PostgreSQL
        _send(c, 10, 30)
        assert wait_until(lambda: hub.sub.counts.db_retries >= 1, 30)
        cluster.start()
        assert wait_until(lambda: hub_count(dsn) == 40, 60), hub_count(dsn)
        assert len(hub_rows(dsn)) == 40
    finally:
        hub.close()
        c.close()


def test_hub_started_while_postgres_is_down_waits_for_it(cluster, dsn, broker, tmp_path):
    cluster.stop("fast")
    hub = _hub_process(dsn, broker.port, tmp_path)
    try:
        assert wait_until(lambda: "retrying" in (tmp_path / "hub.log").read_text(), 30)
        assert hub.poll() is None  # waiting, not exited
        cluster.start()
        c = StationClient(broker.port, "gym-1")
        c.publish((messages.status_topic("gym-1"),
                   messages.encode(messages.status("gym-1", "online", stamp(0), "1.0"))), retain=True)
        assert wait_until(lambda: hub_rows(dsn, "SELECT state FROM stations") == [("online",)], 60), \
            (tmp_path / "hub.log").read_text()[-2000:]
        c.close()
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(20)


def test_a_missing_database_is_one_clear_error(cluster, broker, tmp_path):
    dsn = cluster.dsn.replace("dbname=ohsa_hub", "dbname=no_such_db")
    hub = _hub_process(dsn, broker.port, tmp_path)
    assert hub.wait(60) == 2  # a bad input (device.errors.InputError)
    lines = (tmp_path / "hub.log").read_text().strip().splitlines()
    assert lines[-1].startswith("ohsa: PostgreSQL (127.0.0.1:") and "no_such_db" in lines[-1]
    assert "Traceback" not in (tmp_path / "hub.log").read_text()


def _hub_process(dsn, port, tmp_path):
    env = dict(os.environ, OHSA_HUB_DSN=dsn, OHSA_HUB_MQTT_PASSWORD=HUB_PASSWORD, PYTHONUNBUFFERED="1")
    log = open(tmp_path / "hub.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "device", "-v", "hub", "run", "--broker", f"mqtt://127.0.0.1:{port}",
         "--port", "0", "--host", "127.0.0.1", "--data-dir", str(tmp_path / "hub-data")],
        stdout=log, stderr=log, env=env)


def test_hub_killed_mid_stream_loses_nothing_and_duplicates_nothing(dsn, broker, tmp_path):
    total = 300
    hub = _hub_process(dsn, broker.port, tmp_path)
    publishers = []
    try:
        def publish(station):
            c = StationClient(broker.port, station)
            _send(c, 0, total // 2, station)
            c.close()

        # the hub's session exists (and subscribes) once a first message went through it
        hello = StationClient(broker.port, "gym-1")
        hello.publish((messages.status_topic("gym-1"),
                       messages.encode(messages.status("gym-1", "online", stamp(0), "1.0"))), retain=True)
        assert wait_until(lambda: hub_rows(dsn, "SELECT count(*) FROM stations") == [(1,)], 60), \
            (tmp_path / "hub.log").read_text()[-2000:]
        hello.close()
        publishers = [threading.Thread(target=publish, args=(s,)) for s in STATIONS]
        for t in publishers:
            t.start()
        assert wait_until(lambda: hub_count(dsn) >= 40, 60), (tmp_path / "hub.log").read_text()[-2000:]
        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        at_kill = hub_count(dsn)
        assert at_kill < total, "the stream had ended before the kill: nothing tested"
        for t in publishers:
            t.join(60)
        hub = _hub_process(dsn, broker.port, tmp_path)
        assert wait_until(lambda: hub_count(dsn) == total, 90), (hub_count(dsn), (tmp_path / "hub.log").read_text()[-2000:])
        rows = hub_rows(dsn)
        assert len(rows) == total and len(set(rows)) == total
        assert sorted(r[:2] for r in rows) == sorted((s, f"a{i:04d}") for s in STATIONS for i in range(total // 2))
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(20) == 0  # a clean stop
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait(10)
        for t in publishers:
            t.join(10)
