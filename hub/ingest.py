"""One parsed fleet message (device.fleet.messages.parse) applied to PostgreSQL in one transaction.

Every write is idempotent, so a message delivered twice, or replayed after a crash, changes
nothing the second time:
- assessment: an upsert keyed (station, id) that only wins when its revision is higher than the
  stored one (older or equal revisions are ignored: duplicates and out-of-order replays are
  harmless); a deletion keeps a tombstone (the id, the revision, no data, no stills) so that an
  older revision arriving later cannot bring the assessment back;
- alert: inserted once per (station, id);
- status / health: the station's row, kept only when newer than what is stored;
- every message: the station's last message time and topic.

`apply(conn, message, topic)` returns what happened ("stored", "ignored", ...) for logs and tests.
It runs in one transaction of its own, or in a savepoint when the caller has a transaction open
(the subscriber commits a batch at once), and raises psycopg's errors untouched (the subscriber
retries OperationalError, and gives up on a message the database refuses as data).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging

import psycopg
from psycopg.types.json import Jsonb

from device.store.schema import summary

log = logging.getLogger(__name__)

STORED, IGNORED, DELETED = "stored", "ignored", "deleted"


def when(value) -> dt.datetime | None:
    """An ISO 8601 timestamp from a message as an aware datetime (UTC when it names no zone)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _member(value) -> tuple[str | None, str]:
    """(number, name) of the message's `member` ({"number", "name"} or None: anonymous)."""
    if not isinstance(value, dict) or not value.get("number"):
        return None, ""
    return str(value["number"]), str(value.get("name") or "")


def apply(conn: psycopg.Connection, message: dict, topic: str = "") -> str:
    kind = message["type"]
    station = message["station"]
    sent = when(message.get("at")) or dt.datetime.now(dt.timezone.utc)
    with conn.transaction():
        conn.execute(
            "INSERT INTO stations (station, last_message_at, last_topic, messages) VALUES (%s, now(), %s, 1)"
            " ON CONFLICT (station) DO UPDATE SET last_message_at = now(),"
            " last_topic = excluded.last_topic, messages = stations.messages + 1",
            (station, topic[:200]),
        )
        if kind == "assessment":
            return _assessment(conn, message, station, sent)
        if kind == "alert":
            cur = conn.execute(
                "INSERT INTO alerts (station, id, kind, assessment_id, at, text) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (station, id) DO NOTHING",
                (station, str(message["id"]), str(message.get("kind") or ""),
                 message.get("assessment_id"), sent, str(message.get("text") or "")),
            )
            return STORED if cur.rowcount else IGNORED
        if kind == "status":
            cur = conn.execute(
                "UPDATE stations SET state = %s, state_at = %s, version = %s"
                " WHERE station = %s AND (state_at IS NULL OR state_at <= %s)",
                (str(message.get("state") or "unknown"), sent, str(message.get("version") or ""),
                 station, sent),
            )
            return STORED if cur.rowcount else IGNORED
        if kind == "health":
            health = {k: v for k, v in message.items() if k not in ("format", "type", "station", "at")}
            cur = conn.execute(
                "UPDATE stations SET health = %s, health_at = %s"
                " WHERE station = %s AND (health_at IS NULL OR health_at <= %s)",
                (Jsonb(health), sent, station, sent),
            )
            return STORED if cur.rowcount else IGNORED
        log.info("message of type %r from %s ignored", kind, station)
        return IGNORED


def _assessment(conn, message: dict, station: str, sent: dt.datetime) -> str:
    aid, revision = str(message["id"]), int(message["revision"])
    if message.get("deleted"):
        cur = conn.execute(
            "INSERT INTO assessments (station, id, revision, deleted, sent_at) VALUES (%s, %s, %s, TRUE, %s)"
            " ON CONFLICT (station, id) DO UPDATE SET revision = excluded.revision, deleted = TRUE,"
            " sent_at = excluded.sent_at, received_at = now(), created_at = NULL, label = '', member = NULL, member_name = '',"
            " parent_id = NULL, pain = FALSE, notes = '', reps = NULL, findings = '{}', result = NULL,"
            " overrides = NULL, plan = NULL"
            " WHERE assessments.revision < excluded.revision",
            (station, aid, revision, sent),
        )
        if cur.rowcount:
            conn.execute("DELETE FROM images WHERE station = %s AND id = %s", (station, aid))
            return DELETED
        return IGNORED
    a = message.get("assessment") or {}
    result = a.get("result") or {}
    reps, findings = summary(result)
    number, name = _member(a.get("member"))
    cur = conn.execute(
        "INSERT INTO assessments (station, id, revision, deleted, sent_at, created_at, label, member, member_name, kind,"
        " parent_id, pain, notes, reps, findings, result, overrides, plan, station_version, model_sha256)"
        " VALUES (%s, %s, %s, FALSE, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (station, id) DO UPDATE SET revision = excluded.revision, deleted = FALSE,"
        " sent_at = excluded.sent_at, received_at = now(), created_at = excluded.created_at,"
        " label = excluded.label, member = excluded.member, member_name = excluded.member_name, kind = excluded.kind,"
        " parent_id = excluded.parent_id, pain = excluded.pain, notes = excluded.notes,"
        " reps = excluded.reps, findings = excluded.findings, result = excluded.result,"
        " overrides = excluded.overrides, plan = excluded.plan,"
        " station_version = excluded.station_version, model_sha256 = excluded.model_sha256"
        " WHERE assessments.revision < excluded.revision",
        (station, aid, revision, sent, when(a.get("created_at")) or sent, str(a.get("label") or ""),
         number, name, str(a.get("kind") or "standard"), a.get("parent_id"),
         bool(a.get("pain")), str(a.get("notes") or ""), reps, findings.split(",") if findings else [],
         Jsonb(result), Jsonb(a.get("overrides") or {}), Jsonb(a.get("plan")) if a.get("plan") is not None else None,
         str(a.get("station_version") or ""), str(a.get("model_sha256") or "")),
    )
    if not cur.rowcount:
        return IGNORED
    images = message.get("images") or {}
    if images:
        conn.execute("DELETE FROM images WHERE station = %s AND id = %s", (station, aid))
        for view, text in images.items():
            try:
                jpeg = base64.b64decode(text, validate=True)
            except (binascii.Error, TypeError, ValueError):
                log.warning("assessment %s/%s: the %s still is not base64; left out", station, aid, view)
                continue
            conn.execute("INSERT INTO images (station, id, view, jpeg) VALUES (%s, %s, %s, %s)",
                         (station, aid, str(view), jpeg))
    return STORED


