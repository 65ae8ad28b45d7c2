"""The hub's PostgreSQL side on a real private cluster: migrations, idempotent ingest by
revision, deletions, alerts once, station status, and the read API the pages use."""

from __future__ import annotations

import base64

import psycopg
import pytest

from device.errors import InputError
from device.fleet import messages
from tests.fleet_hub import assessment, parsed, record, stamp
from hub import db, ingest
from hub.store import HubStore


@pytest.fixture
def dsn(cluster, request):
    return cluster.database("t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:50])


@pytest.fixture
def conn(dsn):
    c = db.connect(dsn)
    db.migrate(c)
    yield c
    c.close()


def _rows(conn, sql, params=()):
    with conn.transaction():
        return conn.execute(sql, params).fetchall()


def test_migrations_from_empty_and_again(dsn):
    with db.connect(dsn) as c:
        assert db.version(c) == 0
        assert db.migrate(c) == (0, len(db.MIGRATIONS))
        tables = {r[0] for r in _rows(c, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"stations", "assessments", "images", "alerts", "sessions", "meta", "schema_version"} <= tables
        assert db.migrate(c) == (len(db.MIGRATIONS), len(db.MIGRATIONS))  # a re-run changes nothing
        assert _rows(c, "SELECT count(*) FROM schema_version") == [(1,)]


def test_a_newer_schema_is_refused(dsn):
    with db.connect(dsn) as c:
        db.migrate(c)
        with c.transaction():
            c.execute("UPDATE schema_version SET version = 99")
        with pytest.raises(InputError, match="newer than this hub"):
            db.migrate(c)


def test_a_refused_connection_is_one_clear_error(cluster):
    with pytest.raises(InputError, match=r"PostgreSQL \(127.0.0.1:1/"):
        db.connect("host=127.0.0.1 port=1 dbname=x connect_timeout=1")


def test_same_message_twice_is_stored_once(conn):
    msg, topic = parsed(assessment("gym-1", "a1", 1, record(1, label="Anna", member="1042", name="Anna B")))
    assert ingest.apply(conn, msg, topic) == ingest.STORED
    assert ingest.apply(conn, msg, topic) == ingest.IGNORED
    rows = _rows(conn, "SELECT station, id, revision, label, member, member_name, reps FROM assessments")
    assert rows == [("gym-1", "a1", 1, "Anna", "1042", "Anna B", msg["assessment"]["result"]["reps"])]
    assert _rows(conn, "SELECT messages FROM stations") == [(2,)]


def test_older_revision_after_newer_is_ignored(conn):
    new, topic = parsed(assessment("gym-1", "a1", 3, record(1, notes="third")))
    old, _ = parsed(assessment("gym-1", "a1", 2, record(1, notes="second")))
    assert ingest.apply(conn, new, topic) == ingest.STORED
    assert ingest.apply(conn, old, topic) == ingest.IGNORED
    assert _rows(conn, "SELECT revision, notes FROM assessments") == [(3, "third")]
    newer, _ = parsed(assessment("gym-1", "a1", 4, record(1, notes="fourth")))
    assert ingest.apply(conn, newer, topic) == ingest.STORED
    assert _rows(conn, "SELECT revision, notes FROM assessments") == [(4, "fourth")]


def test_same_id_on_two_stations_is_two_assessments(conn):
    for station in ("gym-1", "gym-2"):
        ingest.apply(conn, *parsed(assessment(station, "a1", 1, record(2))))
    assert _rows(conn, "SELECT station FROM assessments ORDER BY station") == [("gym-1",), ("gym-2",)]


def test_deleted_leaves_a_tombstone_an_older_revision_cannot_undo(conn):
    jpeg = base64.b64encode(b"\xff\xd8fake-jpeg\xff\xd9").decode()
    ingest.apply(conn, *parsed(assessment("gym-1", "a1", 1, record(3, label="Ben"), images={"front": jpeg})))
    assert _rows(conn, "SELECT view, jpeg FROM images") == [("front", b"\xff\xd8fake-jpeg\xff\xd9")]
    assert ingest.apply(conn, *parsed(assessment("gym-1", "a1", 2, deleted=True))) == ingest.DELETED
    assert ingest.apply(conn, *parsed(assessment("gym-1", "a1", 1, record(3, label="Ben")))) == ingest.IGNORED
    assert _rows(conn, "SELECT revision, deleted, label, result FROM assessments") == [(2, True, "", None)]
    assert _rows(conn, "SELECT count(*) FROM images") == [(0,)]
    assert HubStore(conn.info.dsn).count() == 0


def test_alert_stored_once_and_status_kept_newest(conn):
    alert = messages.alert("gym-1", "p1", "pain", "a1", stamp(5), "pain reported")
    topic = messages.topic_of(alert)
    assert ingest.apply(conn, messages.parse(topic, messages.encode(alert)), topic) == ingest.STORED
    assert ingest.apply(conn, messages.parse(topic, messages.encode(alert)), topic) == ingest.IGNORED
    online = messages.status("gym-1", "online", stamp(10), "1.0")
    offline_old = messages.status("gym-1", "offline", stamp(1), "1.0")
    for m in (online, offline_old):
        ingest.apply(conn, m, messages.topic_of(m))
    health = messages.health("gym-1", stamp(11), 7, {"front": "ok", "side": "missing"}, 3600)
    ingest.apply(conn, health, messages.topic_of(health))
    (station,) = HubStore(conn.info.dsn).stations()
    assert station["state"] == "online"  # the older "offline" came late and lost
    assert station["health"]["sets_today"] == 7 and station["health"]["cameras"]["side"] == "missing"
    assert station["last_topic"] == "ohsa/gym-1/health"
    assert [a["id"] for a in HubStore(conn.info.dsn).alerts()] == ["p1"]


def test_a_failed_transaction_leaves_nothing(conn):
    """The station row is written first in the same transaction: a refused assessment rolls it
    back too (a constraint added here makes the database refuse the row)."""
    msg, topic = parsed(assessment("gym-1", "a1", 1, record(4)))
    with conn.transaction():
        conn.execute("ALTER TABLE assessments ADD CONSTRAINT short_kind CHECK (length(kind) < 3)")
    with pytest.raises(psycopg.errors.CheckViolation):
        ingest.apply(conn, msg, topic)
    assert _rows(conn, "SELECT count(*) FROM stations") == [(0,)]
    assert _rows(conn, "SELECT count(*) FROM assessments") == [(0,)]


def test_store_filters_pages_and_history_across_stations(conn):
    for i in range(30):
        station = f"gym-{i % 3}"
        member = "1042" if i % 5 == 0 else None
        rec = record(i, label="Anna" if member else f"guest {i}", member=member, name="Anna B" if member else "",
                     minutes=i * 60 * 24)  # one a day from 30 Nov
        ingest.apply(conn, *parsed(assessment(station, f"a{i:02d}", 1, rec)))
    store = HubStore(conn.info.dsn)
    assert store.count() == 30
    assert store.count(station="gym-1") == 10
    page = store.list(limit=7, offset=7)
    assert [r["id"] for r in page] == [f"a{i:02d}" for i in range(22, 15, -1)]  # newest first
    assert {r["station"] for r in store.list(station="gym-2", limit=100)} == {"gym-2"}
    assert store.count(search="anna") == 6 and store.count(search="1042") == 6
    assert store.count(search="%") == 0  # a wildcard is a character
    assert store.count(date_from="2026-12-01", date_to="2026-12-02") == 2
    assert store.count(cap=10) == 11 and store.count(cap=100) == 30  # "more than 10"; exact below the cap
    with pytest.raises(InputError, match="from: expected a date"):
        store.count(date_from="yesterday")
    history = store.client_history("1042")
    assert [h["id"] for h in history] == ["a00", "a05", "a10", "a15", "a20", "a25"]
    assert {h["station"] for h in history} == {"gym-0", "gym-1", "gym-2"}
    assert set(history[0]["measurements"]) >= {"knees_cave_in", "heels_rise"}
    one = store.get("gym-0", "a00")
    assert one["result"]["format"] == "ohsa-result/1" and one["member_name"] == "Anna B"
    assert store.get("gym-1", "a00") is None
    assert store.member_name("1042") == "Anna B"
    store.close()
