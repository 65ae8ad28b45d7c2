"""The fleet's outbox in the station's SQLite (store and forward).

The store calls these inside its own write transactions (`Store._write` steps), so a change to an
assessment and the message telling the fleet of it commit together or not at all: a power cut or
a kill -9 at any moment leaves both or neither. The publisher (device/fleet/publisher.py) reads
unsent rows in `seq` order, a batch at a time, and marks each sent on its PUBACK; a row sent but
not yet marked when the station dies is sent again after the restart, a duplicate the receiver
drops by its revision (device/fleet/messages.py).

A row's `body` is the message without the station id (the publisher adds it, from `[fleet]`):
an assessment's record as of that revision (None once deleted), or an alert's kind, assessment
and text. Deleting an assessment for good also forgets its rows (sent or not): the member's data
leaves the outbox with the assessment. Sent rows are kept `KEEP_SENT_S` for `ohsa fleet status`,
then pruned.

Plain functions of a sqlite3 connection: no paho, no store import (foundations at the bottom).
"""

from __future__ import annotations

import json
import sqlite3
import uuid

KEEP_SENT_S = 24 * 3600
BATCH = 20  # rows read (and kept in memory) at a time by the publisher


def next_revision(db: sqlite3.Connection, assessment_id: str) -> int | None:
    """Count one more change of the assessment; its new revision (None when there is no such row)."""
    row = db.execute("UPDATE assessments SET fleet_revision = fleet_revision + 1 WHERE id = ?"
                     " RETURNING fleet_revision", (assessment_id,)).fetchone()
    return row[0] if row else None


def add_assessment(db: sqlite3.Connection, assessment_id: str, revision: int, at: str,
                   record: dict | None) -> int:
    """Queue the assessment's state at `revision` (`record` None: deleted). Returns the row's seq."""
    body = json.dumps(record, separators=(",", ":"), allow_nan=False)
    return db.execute("INSERT INTO outbox (kind, item_id, revision, at, body) VALUES ('assessment', ?, ?, ?, ?)",
                      (assessment_id, int(revision), at, body)).lastrowid


def add_alert(db: sqlite3.Connection, kind: str, assessment_id: str | None, at: str, text: str,
              member: dict | None = None) -> str:
    """Queue an alert (pain, referral, worse); returns its id, stable across re-sends."""
    alert_id = uuid.uuid4().hex[:16]
    body = json.dumps({"kind": kind, "assessment_id": assessment_id, "text": text, "member": member},
                      separators=(",", ":"))
    db.execute("INSERT INTO outbox (kind, item_id, revision, at, body) VALUES ('alert', ?, 0, ?, ?)",
               (alert_id, at, body))
    return alert_id


def forget(db: sqlite3.Connection, assessment_ids: list[str]) -> int:
    """Drop every row about these assessments and their alerts (before they are deleted for good)."""
    n = 0
    for aid in assessment_ids:
        n += db.execute("DELETE FROM outbox WHERE kind = 'assessment' AND item_id = ?", (aid,)).rowcount
        n += db.execute("DELETE FROM outbox WHERE kind = 'alert' AND json_extract(body, '$.assessment_id') = ?",
                        (aid,)).rowcount
    return n


def forget_member(db: sqlite3.Connection, number: str) -> int:
    """Drop the alerts that name this member (erasure; their assessments go through `forget`)."""
    return db.execute("DELETE FROM outbox WHERE kind = 'alert' AND json_extract(body, '$.member.number') = ?",
                      (number,)).rowcount


def pending(db: sqlite3.Connection, limit: int = BATCH, after: int = 0) -> list[dict]:
    """The oldest unsent rows after seq `after`, in order: {"seq", "kind", "item_id", "revision", "at", "body"}."""
    rows = db.execute(
        "SELECT seq, kind, item_id, revision, at, body FROM outbox WHERE sent_at IS NULL AND seq > ?"
        " ORDER BY seq LIMIT ?", (int(after), int(limit))).fetchall()
    return [{"seq": s, "kind": k, "item_id": i, "revision": r, "at": a, "body": json.loads(b)}
            for s, k, i, r, a, b in rows]


def mark_sent(db: sqlite3.Connection, seqs: list[int], at: str, prune_before: str) -> int:
    """Mark rows sent (their PUBACK came); prune rows sent before `prune_before`."""
    n = 0
    for seq in seqs:
        n += db.execute("UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL", (at, int(seq))).rowcount
    if n:
        db.execute("INSERT INTO meta (key, value) VALUES ('fleet.last_sent_at', ?)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (at,))
    db.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (prune_before,))
    return n


def status(db: sqlite3.Connection) -> dict:
    """{"queued": unsent rows, "oldest_queued_at", "last_sent_at"} (None where there is none)."""
    queued, oldest = db.execute("SELECT COUNT(*), MIN(at) FROM outbox WHERE sent_at IS NULL").fetchone()
    last = db.execute("SELECT value FROM meta WHERE key = 'fleet.last_sent_at'").fetchone()
    last = last[0] if last else None
    return {"queued": queued, "oldest_queued_at": oldest, "last_sent_at": last}
