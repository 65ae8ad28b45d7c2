"""The store's schema as an ordered list of migrations; `PRAGMA user_version` says how many ran.

Never edit a migration that has shipped: append a new one. Each migration runs in one
transaction together with the bump of `user_version`, so a power cut leaves the database at
either the old or the new version, never in between.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Callable

from device.vocabulary import PRESENT

KINDS = ("standard", "heels_raised", "hands_on_hips")



def summary(result: dict, overrides: dict[str, str] | None = None) -> tuple[int | None, str]:
    """(reps, findings) columns of a result: the ids present after overrides, comma-separated."""
    overrides = overrides or {}
    comps = result.get("compensations") or {}
    present = [
        cid for cid, entry in comps.items()
        if overrides.get(cid, (entry or {}).get("status")) == PRESENT
    ]
    reps = result.get("reps")
    return (reps if isinstance(reps, int) and not isinstance(reps, bool) else None), ",".join(present)


def _backfill_summary(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT id, result_json FROM assessments").fetchall()
    for aid, text in rows:
        reps, findings = summary(json.loads(text))
        conn.execute("UPDATE assessments SET reps = ?, findings = ? WHERE id = ?", (reps, findings, aid))


Step = str | Callable[[sqlite3.Connection], None]

# Each entry: the statements (SQL or a function of the connection) that take the schema from
# version i to i + 1.
MIGRATIONS: list[tuple[Step, ...]] = [
    # 1: assessments, their compressed keypoint tracks and annotated stills, key/value meta.
    (
        """CREATE TABLE assessments (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            label TEXT NOT NULL DEFAULT '',
            notes TEXT NOT NULL DEFAULT '',
            result_json TEXT NOT NULL,
            station_version TEXT NOT NULL DEFAULT '',
            model_sha256 TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE tracks (
            assessment_id TEXT PRIMARY KEY REFERENCES assessments(id) ON DELETE CASCADE,
            encoding TEXT NOT NULL,
            data BLOB NOT NULL
        )""",
        """CREATE TABLE images (
            assessment_id TEXT NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
            view TEXT NOT NULL,
            jpeg BLOB NOT NULL,
            PRIMARY KEY (assessment_id, view)
        )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE INDEX assessments_created ON assessments(created_at)",
    ),
    # 2: re-tests (kind, parent), the pain flag, denormalised summary columns for fast lists.
    (
        "ALTER TABLE assessments ADD COLUMN kind TEXT NOT NULL DEFAULT 'standard'",
        "ALTER TABLE assessments ADD COLUMN parent_id TEXT REFERENCES assessments(id) ON DELETE SET NULL",
        "ALTER TABLE assessments ADD COLUMN pain INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE assessments ADD COLUMN reps INTEGER",
        "ALTER TABLE assessments ADD COLUMN findings TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX assessments_label ON assessments(label COLLATE NOCASE, created_at)",
        "CREATE INDEX assessments_parent ON assessments(parent_id)",
        _backfill_summary,
    ),
    # 3: trainer overrides of findings, trainer-edited plans, expiring share links.
    (
        """CREATE TABLE overrides (
            assessment_id TEXT NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
            compensation_id TEXT NOT NULL,
            status TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (assessment_id, compensation_id)
        )""",
        """CREATE TABLE plans (
            assessment_id TEXT PRIMARY KEY REFERENCES assessments(id) ON DELETE CASCADE,
            plan_json TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE share_tokens (
            token TEXT PRIMARY KEY,
            assessment_id TEXT NOT NULL REFERENCES assessments(id) ON DELETE CASCADE,
            expires_at TEXT NOT NULL
        )""",
        "CREATE INDEX share_tokens_assessment ON share_tokens(assessment_id)",
    ),
    # 4: server-side trainer sessions (the cookie holds only an id; its SHA-256 is the key), so
    # logout, a password change and the timeouts end them for good; the old password hash in
    # meta moves to its own file (device/owner.py), done by the web app on start.
    (
        """CREATE TABLE sessions (
            id_sha256 TEXT PRIMARY KEY,
            account TEXT NOT NULL,
            credential TEXT NOT NULL,
            created_at REAL NOT NULL,
            seen_at REAL NOT NULL
        )""",
        "CREATE INDEX sessions_account ON sessions(account)",
    ),
    # 5: people. Accounts (the owner, whose password stays in the owner file, and trainers with
    # their own scrypt hash); members (a member number or a card's QR/barcode value, an optional
    # name) that assessments link to (NULL: anonymous); the audit trail of trainers' changes;
    # events that need a trainer (pain, referral, a finding worse than last time) until handled.
    (
        """CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'trainer')),
            password_hash TEXT,
            created_at TEXT NOT NULL
        )""",
        "INSERT INTO accounts (name, role, password_hash, created_at)"
        " VALUES ('owner', 'owner', NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        """CREATE TABLE members (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""",
        "ALTER TABLE assessments ADD COLUMN member_id INTEGER REFERENCES members(id) ON DELETE SET NULL",
        "CREATE INDEX assessments_member ON assessments(member_id, created_at)",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            account TEXT NOT NULL,
            assessment_id TEXT,
            member_id INTEGER,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX audit_assessment ON audit(assessment_id, at)",
        "CREATE INDEX audit_member ON audit(member_id, at)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pain', 'referral', 'worse')),
            assessment_id TEXT REFERENCES assessments(id) ON DELETE CASCADE,
            member_id INTEGER REFERENCES members(id) ON DELETE CASCADE,
            detail TEXT NOT NULL DEFAULT '',
            handled_at TEXT,
            handled_by TEXT
        )""",
        "CREATE INDEX events_open ON events(handled_at, at)",
    ),
    # 6: deletion that can be undone (`deleted_at` set; purged for good after the undo period),
    # and the sets the station cut short (and why) for the owner's page.
    (
        "ALTER TABLE assessments ADD COLUMN deleted_at TEXT",
        "CREATE INDEX assessments_deleted ON assessments(deleted_at)",
        """CREATE TABLE stopped_sets (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
        "CREATE INDEX stopped_sets_at ON stopped_sets(at)",
    ),
    # 7: the fleet's outbox (device/fleet/outbox.py): messages for the MQTT broker written in the
    # same transaction as the change they tell of, sent in `seq` order and marked on PUBACK; each
    # assessment's revision (how many changes the fleet has been told of; 0 with the fleet off).
    (
        "ALTER TABLE assessments ADD COLUMN fleet_revision INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('assessment', 'alert')),
            item_id TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 0,
            at TEXT NOT NULL,
            body TEXT NOT NULL,
            sent_at TEXT
        )""",
        "CREATE INDEX outbox_unsent ON outbox(sent_at, seq)",
        "CREATE INDEX outbox_item ON outbox(item_id)",
    ),
]

VERSION = len(MIGRATIONS)
