"""The fleet's outbox: rows written in the store's own transactions (device/fleet/outbox.py)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from device.fleet import messages, outbox
from device.store import Store
from device.vocabulary import COMPENSATION_IDS


def _result() -> dict:
    return {"format": "ohsa-result/1", "reps": 5,
            "compensations": {c: {"status": "absent"} for c in COMPENSATION_IDS}}


JPEG = b"\xff\xd8\xff" + b"x" * 100


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "a.db", outbox=True) as s:
        yield s


def _rows(store) -> list[dict]:
    return store.outbox_pending(limit=1000)


def _as_message(row: dict, station: str = "s1") -> dict:
    """The row as the publisher sends it, checked by the receiver's parse."""
    if row["kind"] == "assessment":
        msg = messages.assessment(station, row["item_id"], row["revision"], row["at"], row["body"])
    else:
        b = row["body"]
        msg = messages.alert(station, row["item_id"], b["kind"], b["assessment_id"], row["at"], b["text"], b["member"])
    return messages.parse(messages.topic_of(msg), messages.encode(msg))


def test_without_the_fleet_nothing_is_queued(tmp_path):
    with Store(tmp_path / "a.db") as s:
        aid = s.save_assessment(_result(), None, {"front": JPEG}, member="1001")
        s.set_notes(aid, "n")
        s.add_event("pain", assessment_id=aid)
        s.soft_delete(aid)
        assert s.outbox_pending() == [] and s.outbox_status()["queued"] == 0


def test_every_change_is_one_more_revision_of_the_assessment(store):
    aid = store.save_assessment(_result(), None, {"front": JPEG}, member="1001", label="Al")
    store.set_notes(aid, "knees", by="owner")
    store.override_finding(aid, "head_down", "present", "seen", by="owner")
    store.set_plan(aid, {"format": "plan", "items": [1]}, by="owner")
    store.set_label(aid, "Al B", by="owner")
    store.set_pain(aid, True)
    store.link_member(aid, "1002", by="owner")
    store.set_notes(aid, "knees", by="owner")  # no change: no message
    store.soft_delete(aid)
    store.restore(aid)
    rows = _rows(store)
    assert [r["revision"] for r in rows] == list(range(1, 10))
    assert all(r["item_id"] == aid and r["kind"] == "assessment" for r in rows)
    msgs = [_as_message(r) for r in rows]
    first, last = msgs[0]["assessment"], msgs[-1]["assessment"]
    assert first["member"] == {"number": "1001", "name": ""} and first["notes"] == "" and first["plan"] is None
    assert msgs[1]["assessment"]["notes"] == "knees"
    assert msgs[2]["assessment"]["result"]["compensations"]["head_down"]["status"] == "present"
    assert msgs[2]["assessment"]["overrides"]["head_down"]["note"] == "seen"
    assert msgs[3]["assessment"]["plan"] == {"format": "plan", "items": [1]}
    assert msgs[4]["assessment"]["label"] == "Al B" and msgs[5]["assessment"]["pain"] is True
    assert msgs[6]["assessment"]["member"]["number"] == "1002"
    assert msgs[7]["deleted"] is True and "assessment" not in msgs[7]
    assert last == {**msgs[6]["assessment"]} and msgs[8]["deleted"] is False
    # the record is the trainer's view of the stored assessment
    got = store.get(aid)
    assert last["result"] == got["result"] and last["plan"] == got["plan"] and last["label"] == got["label"]


def test_deleting_for_good_forgets_the_rows_and_tells_the_fleet(store):
    keep = store.save_assessment(_result(), None, {}, label="Keep")
    gone = store.save_assessment(_result(), None, {}, label="Gone")
    store.set_notes(gone, "private words")
    store.add_event("referral", assessment_id=gone, detail="hurt")
    assert store.delete(gone)
    rows = _rows(store)
    assert [(r["item_id"], r["revision"], r["body"]) for r in rows] == [(keep, 1, rows[0]["body"]), (gone, 3, None)]
    wal = Path(str(store.path) + "-wal")
    raw = Path(store.path).read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"private words" not in raw  # secure_delete: the forgotten payload is gone from the file


def test_erasing_a_member_forgets_their_alerts_and_assessments(store):
    aid = store.save_assessment(_result(), None, {}, member="2002")
    store.add_event("pain", member_number="2002", detail="during the set")
    other = store.save_assessment(_result(), None, {}, member="3003")
    store.add_event("pain", member_number="3003", detail="other person")
    alerts = [r for r in _rows(store) if r["kind"] == "alert"]
    assert [a["body"]["member"]["number"] for a in alerts] == ["2002", "3003"]
    assert _as_message(alerts[0])["member"] == {"number": "2002", "name": ""}
    member = store.member_by_number("2002")
    store.erase_member(member["id"], by="owner")
    rows = _rows(store)
    assert [(r["kind"], r["item_id"], r["revision"]) for r in rows] == [
        ("assessment", other, 1), ("alert", alerts[1]["item_id"], 0), ("assessment", aid, 2)]
    assert rows[-1]["body"] is None


def test_retention_forgets_without_telling(store):
    now = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
    old = store.save_assessment(_result(), None, {}, created_at=now - dt.timedelta(days=40))
    new = store.save_assessment(_result(), None, {}, created_at=now)
    binned = store.save_assessment(_result(), None, {}, created_at=now)
    store.soft_delete(binned, now=now - dt.timedelta(days=10))
    assert store.apply_retention(30, now=now) == 2
    assert [(r["item_id"], r["revision"]) for r in _rows(store)] == [(new, 1)]
    assert old not in [r["item_id"] for r in _rows(store)]


def test_pending_in_batches_mark_sent_and_status(store):
    ids = [store.save_assessment(_result(), None, {}) for _ in range(5)]
    assert store.outbox_status()["queued"] == 5 and store.outbox_status()["last_sent_at"] is None
    batch = store.outbox_pending(limit=2)
    assert [r["item_id"] for r in batch] == ids[:2]
    assert [r["item_id"] for r in store.outbox_pending(limit=2, after=batch[-1]["seq"])] == ids[2:4]
    t = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)
    assert store.outbox_sent([batch[0]["seq"], batch[1]["seq"], batch[1]["seq"]], now=t) == 2
    st = store.outbox_status()
    assert st["queued"] == 3 and st["last_sent_at"] == "2026-11-30T12:00:00.000000Z"
    assert [r["item_id"] for r in store.outbox_pending()] == ids[2:]
    # sent rows are kept a day, then pruned; the last-sent time stays
    later = t + dt.timedelta(seconds=outbox.KEEP_SENT_S + 1)
    store.outbox_sent([store.outbox_pending()[0]["seq"]], now=later)
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL").fetchone()[0] == 1
    assert store.outbox_status()["last_sent_at"].startswith("2026-12-01")


def test_a_failure_after_the_insert_leaves_neither_row(store, monkeypatch):
    before = store.save_assessment(_result(), None, {})

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error (injected)")
    monkeypatch.setattr(outbox, "add_assessment", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.save_assessment(_result(), None, {"front": JPEG}, label="lost")
    with pytest.raises(sqlite3.OperationalError):
        store.set_notes(before, "lost too")
    monkeypatch.undo()
    assert store.count() == 1 and store.get(before)["notes"] == ""
    assert [(r["item_id"], r["revision"]) for r in _rows(store)] == [(before, 1)]
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT fleet_revision FROM assessments").fetchall() == [(1,)]


WRITER = textwrap.dedent("""
    import sys
    from device.store import Store
    from device.vocabulary import COMPENSATION_IDS

    store = Store(sys.argv[1], outbox=True)
    result = {"format": "ohsa-result/1", "reps": 5,
              "compensations": {c: {"status": "absent"} for c in COMPENSATION_IDS}}
    i = 0
    while True:
        aid = store.save_assessment(result, None, {"front": b"\\xff\\xd8\\xff" + bytes(30000)}, label=f"K{i}")
        store.set_notes(aid, f"n{i}")
        if i % 2:
            store.add_event("pain", assessment_id=aid, detail=f"p{i}")
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
        i += 1
""")


def test_kill_9_while_writing_leaves_outbox_and_assessments_consistent(tmp_path):
    path = tmp_path / "crash.db"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env)
        for _ in range(5 + 7 * round_):  # let it get well into its loop, then kill it mid-write
            assert proc.stdout.readline(), "writer died"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Store(path, outbox=True) as s:
            assert s.integrity_check()
        with sqlite3.connect(path) as db:
            revs = dict(db.execute("SELECT id, fleet_revision FROM assessments"))
            rows = db.execute("SELECT item_id, revision FROM outbox WHERE kind = 'assessment' ORDER BY seq").fetchall()
            notes = dict(db.execute("SELECT id, notes FROM assessments"))
            alerts = db.execute("SELECT json_extract(body, '$.assessment_id') FROM outbox WHERE kind = 'alert'").fetchall()
            events = db.execute("SELECT assessment_id FROM events").fetchall()
        assert revs, "nothing was written"
        for aid, rev in revs.items():  # every committed change has its row, and no row lacks its change
            assert [r for i, r in rows if i == aid] == list(range(1, rev + 1))
            assert rev == (2 if notes[aid] else 1)
        assert {i for i, _ in rows} == set(revs)
        assert sorted(alerts) == sorted(events)


def test_a_renamed_member_and_an_orphaned_retest_are_news_too(store):
    mine = store.save_assessment(_result(), None, {}, member="4004")
    theirs = store.save_assessment(_result(), None, {}, member="5005", parent_id=mine, kind="heels_raised")
    member = store.member_by_number("4004")
    store.set_member_name(member["id"], "Dana", by="owner")
    rows = _rows(store)
    assert [(r["item_id"], r["revision"]) for r in rows] == [(mine, 1), (theirs, 1), (mine, 2)]
    assert rows[-1]["body"]["member"] == {"number": "4004", "name": "Dana"}
    store.erase_member(member["id"], by="owner")
    rows = _rows(store)
    assert [(r["item_id"], r["revision"], r["body"] is None) for r in rows] == [
        (theirs, 1, False), (mine, 3, True), (theirs, 2, False)]
    assert rows[-1]["body"]["parent_id"] is None


def test_sets_today_counts_from_the_gyms_midnight_not_utcs(store, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Etc/GMT-2")  # UTC+2, like a gym in Helsinki in winter
    time.tzset()
    try:
        utc = dt.timezone.utc
        store.save_assessment(_result(), None, {}, created_at=dt.datetime(2026, 3, 1, 21, 30, tzinfo=utc))
        store.save_assessment(_result(), None, {}, created_at=dt.datetime(2026, 3, 1, 22, 30, tzinfo=utc))
        # 23:30 local on 1 March, then 00:30 local on 2 March; asked at noon local on 2 March
        assert store.sets_today(now=dt.datetime(2026, 3, 2, 10, 0, tzinfo=utc)) == 1
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
