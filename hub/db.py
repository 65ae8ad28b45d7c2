"""The hub's PostgreSQL: one connection per user of it, the schema as ordered migrations.

`schema_version` holds one row, the number of migrations that ran. Each migration runs in one
transaction together with the bump of that number (PostgreSQL's DDL is transactional), so a
crash leaves the database at the old or the new version, never in between. Never edit a
migration that has shipped: append a new one. Two hubs starting at once are serialised by an
advisory lock.
"""

from __future__ import annotations

import logging

import psycopg

from device.errors import InputError

log = logging.getLogger(__name__)

_LOCK_KEY = 0x0A5A_4B0B  # pg_advisory_xact_lock key of the migrations

# What the trainers' search looks in (one text per assessment), indexed by trigrams so that
# "contains" stays fast at millions of rows (hub/store.py searches exactly this expression).
SEARCH_TEXT = "(label || ' ' || id || ' ' || coalesce(member, '') || ' ' || member_name)"

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: stations (status, health, last message), assessments keyed (station, id) with the
    # highest revision seen (a deleted one stays as a tombstone without data), their stills,
    # alerts once per (station, id), the pages' sessions and key/value meta.
    (
        """CREATE TABLE stations (
            station TEXT PRIMARY KEY,
            state TEXT NOT NULL DEFAULT 'unknown',
            state_at TIMESTAMPTZ,
            version TEXT NOT NULL DEFAULT '',
            health JSONB,
            health_at TIMESTAMPTZ,
            last_message_at TIMESTAMPTZ NOT NULL,
            last_topic TEXT NOT NULL DEFAULT '',
            messages BIGINT NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE assessments (
            station TEXT NOT NULL,
            id TEXT NOT NULL,
            revision INTEGER NOT NULL,
            deleted BOOLEAN NOT NULL DEFAULT FALSE,
            sent_at TIMESTAMPTZ NOT NULL,
            received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            created_at TIMESTAMPTZ,
            label TEXT NOT NULL DEFAULT '',
            member TEXT,
            member_name TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'standard',
            parent_id TEXT,
            pain BOOLEAN NOT NULL DEFAULT FALSE,
            notes TEXT NOT NULL DEFAULT '',
            reps INTEGER,
            findings TEXT[] NOT NULL DEFAULT '{}',
            result JSONB,
            overrides JSONB,
            plan JSONB,
            station_version TEXT NOT NULL DEFAULT '',
            model_sha256 TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (station, id)
        )""",
        "CREATE INDEX assessments_created ON assessments (created_at DESC, station, id) WHERE NOT deleted",
        "CREATE INDEX assessments_member ON assessments (member, created_at) WHERE NOT deleted",
        "CREATE INDEX assessments_label ON assessments (lower(label), created_at) WHERE NOT deleted",
        """CREATE TABLE images (
            station TEXT NOT NULL,
            id TEXT NOT NULL,
            view TEXT NOT NULL,
            jpeg BYTEA NOT NULL,
            PRIMARY KEY (station, id, view),
            FOREIGN KEY (station, id) REFERENCES assessments (station, id) ON DELETE CASCADE
        )""",
        """CREATE TABLE alerts (
            station TEXT NOT NULL,
            id TEXT NOT NULL,
            kind TEXT NOT NULL,
            assessment_id TEXT,
            at TIMESTAMPTZ NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (station, id)
        )""",
        "CREATE INDEX alerts_at ON alerts (at DESC)",
        """CREATE TABLE sessions (
            id_sha256 TEXT PRIMARY KEY,
            account TEXT NOT NULL,
            credential TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            seen_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 2: the search by trigrams (pg_trgm ships with PostgreSQL and is a trusted extension: the
    # database's owner may create it): 670 -> a few ms for a search in 100,000 assessments.
    (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        f"CREATE INDEX assessments_search ON assessments USING gin ({SEARCH_TEXT} gin_trgm_ops) WHERE NOT deleted",
    ),
    # 3: the chain's trainers, each with a login of their own (`ohsa hub account`); the owner's
    # password stays in the hub's data directory, as on a station.
    (
        """CREATE TABLE accounts (
            id SERIAL PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL DEFAULT 'trainer' CHECK (role = 'trainer'),
            password_hash TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
    ),
]


def connect(dsn: str, *, autocommit: bool = False, timeout_s: float = 5.0) -> psycopg.Connection:
    """A connection to the hub's database; `InputError` naming the DSN's host when refused."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=max(1, int(timeout_s)))
    except psycopg.OperationalError as e:
        raise InputError(f"PostgreSQL ({_where(dsn)}): {str(e).strip().splitlines()[-1]}") from None
    except psycopg.ProgrammingError as e:  # a malformed DSN
        raise InputError(f"--dsn: {e}") from None


def _where(dsn: str) -> str:
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "bad DSN"
    return f"{info.get('host', 'local socket')}:{info.get('port', 5432)}/{info.get('dbname', '?')}"


def version(conn: psycopg.Connection) -> int:
    """How many migrations ran (0 on an empty database)."""
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    return row[0] if row else 0


def migrate(conn: psycopg.Connection) -> tuple[int, int]:
    """Run the migrations not yet run, each in its own transaction: (before, after)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        if conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
    before = version(conn)
    if before > len(MIGRATIONS):
        raise InputError(f"the hub's database is at schema {before}, newer than this hub "
                         f"({len(MIGRATIONS)}): upgrade the hub")
    current = before
    while current < len(MIGRATIONS):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            current = conn.execute("SELECT version FROM schema_version FOR UPDATE").fetchone()[0]
            if current >= len(MIGRATIONS):
                break
            for statement in MIGRATIONS[current]:
                conn.execute(statement)
            conn.execute("UPDATE schema_version SET version = %s", (current + 1,))
            log.info("hub schema migrated to version %d", current + 1)
        current += 1
    return before, version(conn)
