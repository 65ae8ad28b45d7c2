"""The SQLite store of assessments: results, compressed keypoint tracks, annotated stills.

One connection, opened with `check_same_thread=False` and guarded by one lock, serves every
thread (Waitress workers, the station loop): the writes are tiny and a Pi has few cores, so a
single serialised connection is simpler than a pool and fast enough (see docs/performance.md).
WAL with `synchronous=FULL`: a commit is on the card before `save_assessment` returns, and a
killed process leaves the file readable with every committed row intact. `secure_delete` is on
and deletions checkpoint the WAL away, so deleted data is gone from the files (overwritten with
zeros), not just unlinked; `vacuum()` gives the space back when wanted (not needed for privacy).

No video is ever stored: only the result, the keypoint track and at most one JPEG still per view.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import math
import secrets
import sqlite3
import threading
import time
import uuid
import zlib
from pathlib import Path

import device
from device.errors import InputError
from device.fleet import outbox
from device.store.people import PeopleMixin
from device.store.schema import KINDS, MIGRATIONS, summary
from device.store.sessions import SessionsMixin
from device.vocabulary import COMPENSATION_IDS, FORMAT_RESULT, PRESENT, STATUSES, VIEWS

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 2_000_000  # a downscaled still is ~50-150 KB; anything this big is a mistake
TRACK_ENCODING = "zlib+json"
UNDO_DAYS = 7  # a deleted assessment can be restored this long, then it is purged for good


class NotFound(InputError, KeyError):
    """No assessment with that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    """The one timestamp format in the store: ISO 8601, UTC, microseconds, 'Z' (sorts as text)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bound(value, name: str, end: bool) -> str | None:
    """A date filter as an ISO bound; a plain date is a whole day (date_to includes it)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"{name}: not a date (YYYY-MM-DD), got {value!r}") from None
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        day = value + dt.timedelta(days=1) if end else value
        return iso(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc))
    raise InputError(f"{name}: expected a date, got {type(value).__name__}")


def _like_pattern(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Store(PeopleMixin, SessionsMixin):
    """Assessments in one SQLite file. Safe to share between threads; `close()` when done.

    Accounts, members, the audit trail and alerts: device/store/people.py. With `outbox` (the
    `[fleet]` section enabled), every change the fleet hears of also writes its outbox row in the
    same transaction (device/fleet/outbox.py); without it the store works as it always did.
    """

    def __init__(self, path: str | Path, *, outbox: bool = False):
        self.path = Path(path)
        self.outbox = bool(outbox)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA busy_timeout = 10000")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("%s: journal mode is %s, not WAL", self.path, mode)
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as e:
            self._close_quietly()
            raise InputError(f"{self.path}: not a usable assessment database ({e})") from None
        except BaseException:
            self._close_quietly()
            raise

    # -- schema ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        with self._lock:
            return self._db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        with self._lock:
            current = self._db.execute("PRAGMA user_version").fetchone()[0]
            if current > len(MIGRATIONS):
                raise InputError(
                    f"{self.path}: database schema version {current} is newer than this "
                    f"station knows ({len(MIGRATIONS)}); update the station software"
                )
            for number in range(current, len(MIGRATIONS)):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for step in MIGRATIONS[number]:
                        if callable(step):
                            step(self._db)
                        else:
                            self._db.execute(step)
                    self._db.execute(f"PRAGMA user_version = {number + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                log.info("%s: schema migrated to version %d", self.path, number + 1)

    def _write(self, sql_steps):
        """Run `sql_steps(db)` in one IMMEDIATE transaction under the lock; return its value."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = sql_steps(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return out

    def _stamp(self) -> str:
        return iso(utc_now())

    def _read(self, sql: str, params=()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- saving ---------------------------------------------------------------------------

    def save_assessment(
        self,
        result: dict,
        track: dict | None,
        images: dict[str, bytes],
        *,
        label: str = "",
        notes: str = "",
        kind: str = "standard",
        parent_id: str | None = None,
        pain: bool = False,
        station_version: str = device.__version__,
        model_sha256: str = "",
        created_at: dt.datetime | None = None,
        member: str | None = None,
    ) -> str:
        """Store one assessment; returns its new id (12 hex digits).

        `result` is an `ohsa-result/1`; `track` an `ohsa-keypoints/1` dict (or an object with
        `to_json()`), stored compressed; `images` maps a view to one JPEG still. `member` is the
        member number (or card value) the person identified with, None when anonymous.
        """
        if not isinstance(result, dict) or result.get("format") != FORMAT_RESULT:
            tag = result.get("format") if isinstance(result, dict) else type(result).__name__
            raise InputError(f"result: not an {FORMAT_RESULT} result (format tag {tag!r})")
        if not isinstance(result.get("compensations"), dict):
            raise InputError("result: 'compensations' must be an object")
        if kind not in KINDS:
            raise InputError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
        images = dict(images or {})
        for view, jpeg in images.items():
            if view not in VIEWS:
                raise InputError(f"images: unknown view {view!r}; views are {', '.join(VIEWS)}")
            if not isinstance(jpeg, (bytes, bytearray)) or not bytes(jpeg[:3]) == b"\xff\xd8\xff":
                raise InputError(f"images[{view!r}]: not JPEG bytes")
            if len(jpeg) > MAX_IMAGE_BYTES:
                raise InputError(f"images[{view!r}]: {len(jpeg)} bytes, more than {MAX_IMAGE_BYTES}")
        if track is not None and hasattr(track, "to_json"):
            track = track.to_json()
        if track is not None and not isinstance(track, dict):
            raise InputError(f"track: expected an ohsa-keypoints/1 object, got {type(track).__name__}")
        try:
            result_json = json.dumps(_finite(result), separators=(",", ":"), allow_nan=False,
                                     default=_plain)
            track_blob = (
                zlib.compress(json.dumps(track, separators=(",", ":"), default=_plain)
                              .encode("utf-8"), 4)
                if track is not None else None
            )
        except (TypeError, ValueError) as e:
            raise InputError(f"result or track: cannot be stored as JSON ({e})") from None
        reps, findings = summary(result)
        created = iso(created_at or utc_now())
        label = _clean_label(label)

        def steps(db):
            if parent_id is not None and not db.execute(
                "SELECT 1 FROM assessments WHERE id = ?", (parent_id,)
            ).fetchone():
                raise NotFound(f"parent_id: no assessment {parent_id!r}")
            while True:
                aid = uuid.uuid4().hex[:12]
                if not db.execute("SELECT 1 FROM assessments WHERE id = ?", (aid,)).fetchone():
                    break
            mid = self._ensure_member(db, member) if member else None
            db.execute(
                "INSERT INTO assessments (id, created_at, label, notes, result_json, station_version,"
                " model_sha256, kind, parent_id, pain, reps, findings, member_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (aid, created, label, str(notes), result_json, str(station_version),
                 str(model_sha256 or ""), kind, parent_id, int(bool(pain)), reps, findings, mid),
            )
            if track_blob is not None:
                db.execute(
                    "INSERT INTO tracks (assessment_id, encoding, data) VALUES (?, ?, ?)",
                    (aid, TRACK_ENCODING, track_blob),
                )
            for view, jpeg in images.items():
                db.execute(
                    "INSERT INTO images (assessment_id, view, jpeg) VALUES (?, ?, ?)",
                    (aid, view, bytes(jpeg)),
                )
            self._fleet_changed(db, aid)
            if mid is not None:
                self._worse_event(db, aid, mid)
            return aid

        aid = self._write(steps)
        log.info("assessment %s saved (%s, %d image(s))", aid, kind, len(images))
        return aid

    # -- reading --------------------------------------------------------------------------

    def get(self, assessment_id: str, *, deleted: bool = False) -> dict | None:
        """One assessment with trainer overrides applied (originals kept), or None (also when
        it is deleted and waiting to be purged, unless `deleted`)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, created_at, label, notes, kind, parent_id, pain, result_json,"
                " station_version, model_sha256, member_id FROM assessments WHERE id = ?"
                + ("" if deleted else " AND deleted_at IS NULL"),
                (str(assessment_id),),
            ).fetchone()
            if row is None:
                return None
            overrides = {
                cid: {"status": status, "note": note, "at": at}
                for cid, status, note, at in self._db.execute(
                    "SELECT compensation_id, status, note, created_at FROM overrides"
                    " WHERE assessment_id = ? ORDER BY compensation_id",
                    (row[0],),
                )
            }
            plan_row = self._db.execute(
                "SELECT plan_json FROM plans WHERE assessment_id = ?", (row[0],)
            ).fetchone()
            views = [
                v for (v,) in self._db.execute(
                    "SELECT view FROM images WHERE assessment_id = ? ORDER BY view", (row[0],)
                )
            ]
            retests = [
                r for (r,) in self._db.execute(
                    "SELECT id FROM assessments WHERE parent_id = ? AND deleted_at IS NULL"
                    " ORDER BY created_at", (row[0],)
                )
            ]
            has_track = self._db.execute(
                "SELECT 1 FROM tracks WHERE assessment_id = ?", (row[0],)
            ).fetchone() is not None
        aid, created, label, notes, kind, parent, pain, result_json, station_v, model_sha, mid = row
        original = json.loads(result_json)
        return {
            "id": aid,
            "created_at": created,
            "label": label,
            "notes": notes,
            "kind": kind,
            "parent_id": parent,
            "retests": retests,
            "pain": bool(pain),
            "result": apply_overrides(original, overrides),
            "result_original": original,
            "overrides": overrides,
            "plan": json.loads(plan_row[0]) if plan_row else None,
            "versions": {"station": station_v, "model_sha256": model_sha},
            "images": views,
            "has_track": has_track,
            "member": self.get_member(mid) if mid is not None else None,
        }

    def get_track(self, assessment_id: str, *, deleted: bool = False) -> dict | None:
        rows = self._read(
            "SELECT t.encoding, t.data FROM tracks t JOIN assessments a ON a.id = t.assessment_id"
            " WHERE t.assessment_id = ?" + ("" if deleted else " AND a.deleted_at IS NULL"), (str(assessment_id),)
        )
        if not rows:
            return None
        encoding, blob = rows[0]
        if encoding != TRACK_ENCODING:
            raise InputError(f"track of {assessment_id}: unknown encoding {encoding!r}")
        return json.loads(zlib.decompress(blob).decode("utf-8"))

    def get_image(self, assessment_id: str, view: str, *, deleted: bool = False) -> bytes | None:
        rows = self._read(
            "SELECT i.jpeg FROM images i JOIN assessments a ON a.id = i.assessment_id"
            " WHERE i.assessment_id = ? AND i.view = ?" + ("" if deleted else " AND a.deleted_at IS NULL"),
            (str(assessment_id), str(view)),
        )
        return bytes(rows[0][0]) if rows else None

    def _filters(self, search: str, date_from, date_to) -> tuple[str, list]:
        where, params = ["deleted_at IS NULL"], []
        search = (search or "").strip()
        if search:
            pattern = _like_pattern(search)
            where.append("(label LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')")
            params += [pattern, pattern]
        lo, hi = _bound(date_from, "date_from", False), _bound(date_to, "date_to", True)
        if lo:
            where.append("created_at >= ?")
            params.append(lo)
        if hi:
            where.append("created_at < ?" if _is_day(date_to) else "created_at <= ?")
            params.append(hi)
        return " WHERE " + " AND ".join(where), params

    def list(self, search: str = "", date_from=None, date_to=None, limit: int = 50,
             offset: int = 0) -> list[dict]:
        """Newest first: summaries (no result body) matching the client label or id search."""
        where, params = self._filters(search, date_from, date_to)
        limit = max(0, min(int(limit), 10_000))
        offset = max(0, int(offset))
        rows = self._read(
            "SELECT id, created_at, label, notes, kind, parent_id, pain, reps, findings,"
            " EXISTS(SELECT 1 FROM plans p WHERE p.assessment_id = a.id),"
            " EXISTS(SELECT 1 FROM overrides o WHERE o.assessment_id = a.id)"
            f" FROM assessments a{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [
            {
                "id": r[0], "created_at": r[1], "label": r[2], "notes": r[3], "kind": r[4],
                "parent_id": r[5], "pain": bool(r[6]), "reps": r[7],
                "findings": r[8].split(",") if r[8] else [],
                "plan_edited": bool(r[9]), "overridden": bool(r[10]),
            }
            for r in rows
        ]

    def count(self, search: str = "", date_from=None, date_to=None) -> int:
        where, params = self._filters(search, date_from, date_to)
        return self._read(f"SELECT COUNT(*) FROM assessments{where}", params)[0][0]

    def client_history(self, label: str) -> list[dict]:
        """A client's assessments, oldest first, with the key measurements for progress plots."""
        label = _clean_label(label)
        if not label:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created_at, kind, pain, reps, result_json FROM assessments"
                " WHERE label = ? COLLATE NOCASE AND deleted_at IS NULL ORDER BY created_at, id",
                (label,),
            ).fetchall()
            overrides: dict[str, dict] = {}
            for aid, cid, status in self._db.execute(
                "SELECT o.assessment_id, o.compensation_id, o.status FROM overrides o"
                " JOIN assessments a ON a.id = o.assessment_id"
                " WHERE a.label = ? COLLATE NOCASE AND a.deleted_at IS NULL",
                (label,),
            ):
                overrides.setdefault(aid, {})[cid] = status
        out = []
        for aid, created, kind, pain, reps, text in rows:
            comps = json.loads(text).get("compensations", {})
            ov = overrides.get(aid, {})
            out.append({
                "id": aid, "created_at": created, "kind": kind, "pain": bool(pain), "reps": reps,
                "measurements": {
                    cid: {
                        "status": ov.get(cid, (comps.get(cid) or {}).get("status")),
                        "value": (comps.get(cid) or {}).get("value"),
                        "unit": (comps.get(cid) or {}).get("unit"),
                        "confidence": (comps.get(cid) or {}).get("confidence"),
                    }
                    for cid in COMPENSATION_IDS
                },
                "findings": [cid for cid in COMPENSATION_IDS
                             if ov.get(cid, (comps.get(cid) or {}).get("status")) == PRESENT],
            })
        return out

    # -- trainer edits --------------------------------------------------------------------

    def _update(self, assessment_id: str, sql: str, params: tuple, audit: tuple | None = None) -> None:
        """One UPDATE of an assessment; `audit` = (who, action, detail) logs it (same transaction)."""
        def steps(db):
            if audit is not None:
                column = sql.split("SET ", 1)[1].split(" =", 1)[0]
                old = db.execute(f"SELECT {column} FROM assessments WHERE id = ?", (str(assessment_id),)).fetchone()
                if old is not None and old[0] == params[0]:
                    return  # nothing changed: nothing to log
            if db.execute(sql, params).rowcount == 0:
                raise NotFound(f"no assessment {assessment_id!r}")
            self._fleet_changed(db, str(assessment_id))
            if audit is not None:
                who, action, detail = audit
                self._audit(db, who, action, str(assessment_id), None, detail)
        self._write(steps)

    def set_notes(self, assessment_id: str, notes: str, *, by: str | None = None) -> None:
        self._update(assessment_id, "UPDATE assessments SET notes = ? WHERE id = ?",
                     (str(notes), str(assessment_id)),
                     (by, "note", str(notes)[:200]) if by else None)

    def set_label(self, assessment_id: str, label: str, *, by: str | None = None) -> None:
        self._update(assessment_id, "UPDATE assessments SET label = ? WHERE id = ?",
                     (_clean_label(label), str(assessment_id)),
                     (by, "label", _clean_label(label)) if by else None)

    def set_pain(self, assessment_id: str, pain: bool = True) -> None:
        """Record a pain report on a stored assessment (its plan becomes a referral)."""
        self._update(assessment_id, "UPDATE assessments SET pain = ? WHERE id = ?",
                     (int(bool(pain)), str(assessment_id)))

    def override_finding(self, assessment_id: str, compensation_id: str, status: str | None,
                         note: str = "", *, by: str | None = None) -> None:
        """A trainer's verdict on one finding; `status=None` removes the override."""
        if compensation_id not in COMPENSATION_IDS:
            raise InputError(f"compensation_id: unknown {compensation_id!r}")
        if status is not None and status not in STATUSES:
            raise InputError(f"status: must be one of {', '.join(STATUSES)}, got {status!r}")
        aid = str(assessment_id)

        def steps(db):
            row = db.execute("SELECT result_json FROM assessments WHERE id = ?", (aid,)).fetchone()
            if row is None:
                raise NotFound(f"no assessment {aid!r}")
            if status is None:
                db.execute("DELETE FROM overrides WHERE assessment_id = ? AND compensation_id = ?",
                           (aid, compensation_id))
            else:
                db.execute(
                    "INSERT INTO overrides (assessment_id, compensation_id, status, note, created_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (assessment_id, compensation_id)"
                    " DO UPDATE SET status = excluded.status, note = excluded.note,"
                    " created_at = excluded.created_at",
                    (aid, compensation_id, status, str(note), iso(utc_now())),
                )
            ov = dict(db.execute(
                "SELECT compensation_id, status FROM overrides WHERE assessment_id = ?", (aid,)
            ).fetchall())
            _, findings = summary(json.loads(row[0]), ov)
            db.execute("UPDATE assessments SET findings = ? WHERE id = ?", (findings, aid))
            self._fleet_changed(db, aid)
            if by:
                self._audit(db, by, "override", aid, None,
                            f"{compensation_id}: {status or 'back to measured'}" + (f" ({note})" if note else ""))

        self._write(steps)

    def set_plan(self, assessment_id: str, plan: dict | None, *, by: str | None = None) -> None:
        """Store a trainer-edited plan (a dict as `build_plan` gives); None goes back to generated."""
        aid = str(assessment_id)
        if plan is not None and not isinstance(plan, dict):
            raise InputError(f"plan: expected an object, got {type(plan).__name__}")
        text = json.dumps(plan, separators=(",", ":"), allow_nan=False) if plan is not None else None

        def steps(db):
            if not db.execute("SELECT 1 FROM assessments WHERE id = ?", (aid,)).fetchone():
                raise NotFound(f"no assessment {aid!r}")
            if text is None:
                db.execute("DELETE FROM plans WHERE assessment_id = ?", (aid,))
            else:
                db.execute(
                    "INSERT INTO plans (assessment_id, plan_json, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (assessment_id) DO UPDATE SET plan_json = excluded.plan_json,"
                    " updated_at = excluded.updated_at",
                    (aid, text, iso(utc_now())),
                )
            self._fleet_changed(db, aid)
            if by:
                self._audit(db, by, "plan", aid, None, "back to the generated plan" if text is None else "edited")

        self._write(steps)

    # -- deleting -------------------------------------------------------------------------

    def _scrub(self) -> None:
        """Push deleted data out of the WAL file once secure_delete has zeroed it in the pages.

        With `secure_delete` on, SQLite overwrites deleted rows (and freed pages) with zeros;
        the old page images still sit in the WAL until a checkpoint copies the zeroed pages
        back and TRUNCATE empties the WAL. A reader in another process can hold the
        checkpoint back, so it is retried for a moment and a failure is logged, not hidden.
        """
        for attempt in range(20):
            with self._lock:
                busy, wal_pages, done = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy and wal_pages in (0, done, -1):
                return
            time.sleep(0.1)
        log.warning("%s: deleted data may stay in the WAL file until the next checkpoint "
                    "(another process is reading the database)", self.path)

    def vacuum(self) -> None:
        """Rebuild the file to give the space of deleted assessments back to the SD card."""
        with self._lock:
            self._db.execute("VACUUM")
        self._scrub()

    def delete(self, assessment_id: str) -> bool:
        """Delete one assessment with its track, images, overrides, plan and links."""
        aid = str(assessment_id)

        def steps(db):
            self._fleet_deleted(db, [aid])
            return db.execute("DELETE FROM assessments WHERE id = ?", (aid,)).rowcount
        n = self._write(steps)
        if n:
            self._scrub()
            log.info("assessment %s deleted", assessment_id)
        return bool(n)

    def delete_client(self, label: str) -> int:
        """Really delete every assessment of one client label; returns how many."""
        label = _clean_label(label)
        if not label:
            raise InputError("label: give the client's label to delete (it is empty)")
        def steps(db):
            self._fleet_deleted(db, [r[0] for r in db.execute(
                "SELECT id FROM assessments WHERE label = ? COLLATE NOCASE", (label,))])
            return db.execute("DELETE FROM assessments WHERE label = ? COLLATE NOCASE", (label,)).rowcount
        n = self._write(steps)
        if n:
            self._scrub()
            log.info("deleted %d assessment(s) of one client", n)
        return n

    def soft_delete(self, assessment_id: str, now: dt.datetime | None = None) -> bool:
        """Mark one assessment deleted: hidden everywhere, kept `UNDO_DAYS` for `restore`,
        then purged (securely) by `apply_retention`. Its re-tests go with it."""
        at = iso(now or utc_now())
        aid = str(assessment_id)
        def steps(db):
            ids = [r[0] for r in db.execute(
                "UPDATE assessments SET deleted_at = ? WHERE (id = ? OR parent_id = ?) AND deleted_at IS NULL"
                " RETURNING id", (at, aid, aid))]
            for one in ids:
                self._fleet_changed(db, one)
            return len(ids)
        n = self._write(steps)
        if n:
            log.info("assessment %s deleted (undo possible for %d days)", aid, UNDO_DAYS)
        return bool(n)

    def restore(self, assessment_id: str) -> bool:
        """Undo `soft_delete` (with the re-tests deleted together with it)."""
        aid = str(assessment_id)

        def steps(db):
            row = db.execute("SELECT deleted_at FROM assessments WHERE id = ? AND deleted_at IS NOT NULL",
                             (aid,)).fetchone()
            if row is None:
                return 0
            ids = [r[0] for r in db.execute(
                "UPDATE assessments SET deleted_at = NULL WHERE (id = ? OR parent_id = ?) AND deleted_at = ?"
                " RETURNING id", (aid, aid, row[0]))]
            for one in ids:
                self._fleet_changed(db, one)
            return len(ids)
        n = self._write(steps)
        if n:
            log.info("assessment %s restored", aid)
        return bool(n)

    def list_deleted(self) -> list[dict]:
        """Deleted assessments still waiting for their purge, most recently deleted first."""
        rows = self._read(
            "SELECT id, created_at, label, kind, reps, findings, deleted_at FROM assessments"
            " WHERE deleted_at IS NOT NULL ORDER BY deleted_at DESC, id")
        return [{"id": r[0], "created_at": r[1], "label": r[2], "kind": r[3], "reps": r[4],
                 "findings": r[5].split(",") if r[5] else [], "deleted_at": r[6]} for r in rows]

    def purge_deleted(self, now: dt.datetime | None = None, undo_days: float = None) -> int:
        """Delete for good (secure_delete) what was deleted more than `undo_days` ago."""
        days = UNDO_DAYS if undo_days is None else undo_days
        cutoff = iso((now or utc_now()) - dt.timedelta(days=days))
        def steps(db):  # the fleet heard of the deletion when it was made: only the outbox forgets
            self._fleet_forget(db, "deleted_at IS NOT NULL AND deleted_at <= ?", (cutoff,))
            return db.execute("DELETE FROM assessments WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                              (cutoff,)).rowcount
        n = self._write(steps)
        if n:
            self._scrub()
            log.info("purged %d deleted assessment(s) after the %g-day undo period", n, days)
        return n

    def results_since(self, since: dt.datetime, limit: int = 5000) -> list[dict]:
        """Results (as measured, no overrides) of the assessments made since `since`, not deleted,
        oldest first: {"created_at", "kind", "result"} for the owner's page."""
        rows = self._read(
            "SELECT created_at, kind, result_json FROM assessments WHERE created_at >= ?"
            " AND deleted_at IS NULL ORDER BY created_at LIMIT ?", (iso(since), int(limit)))
        return [{"created_at": c, "kind": k, "result": json.loads(r)} for c, k, r in rows]

    # -- sets cut short -------------------------------------------------------------------

    def add_stopped_set(self, reason: str, now: dt.datetime | None = None) -> None:
        """A set the station cut short, with its stopped state (person_left, pain, ...)."""
        at = iso(now or utc_now())
        self._write(lambda db: db.execute("INSERT INTO stopped_sets (at, reason) VALUES (?, ?)",
                                          (at, str(reason)[:64])))

    def stopped_sets(self, since: dt.datetime | None = None) -> list[dict]:
        """The sets cut short since `since` (all when None), oldest first: {"at", "reason"}."""
        rows = self._read("SELECT at, reason FROM stopped_sets WHERE at >= ? ORDER BY at, id",
                          (iso(since) if since is not None else "",))
        return [{"at": a, "reason": r} for a, r in rows]

    def apply_retention(self, days: int, now: dt.datetime | None = None) -> int:
        """Delete assessments older than `days` (0 or less keeps everything) and purge what was
        deleted more than `UNDO_DAYS` ago; returns how many assessments went. Audit lines, alerts
        and the record of sets cut short older than `days` go too, and so does a member with
        nothing left."""
        now = now or utc_now()
        purged = self.purge_deleted(now)
        expired_links = iso(now)
        if days <= 0:
            n = 0
        else:
            cutoff = iso(now - dt.timedelta(days=days))

            def steps(db):  # the station's retention, not the chain's: the hub keeps its copies
                self._fleet_forget(db, "created_at < ?", (cutoff,))
                gone = db.execute("DELETE FROM assessments WHERE created_at < ?", (cutoff,)).rowcount
                old = db.execute("DELETE FROM audit WHERE at < ?", (cutoff,)).rowcount
                old += db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
                old += db.execute("DELETE FROM stopped_sets WHERE at < ?", (cutoff,)).rowcount
                old += db.execute(
                    "DELETE FROM members WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM assessments a"
                    " WHERE a.member_id = members.id) AND NOT EXISTS (SELECT 1 FROM events e"
                    " WHERE e.member_id = members.id)", (cutoff,)).rowcount
                return gone, old
            n, old = self._write(steps)
            if old and not n:
                self._scrub()
        self._write(lambda db: db.execute(
            "DELETE FROM share_tokens WHERE expires_at <= ?", (expired_links,)))
        if n:
            self._scrub()
            log.info("retention: deleted %d assessment(s) older than %d days", n, days)
        return n + purged

    # -- the fleet's outbox (device/fleet/outbox.py) ---------------------------------------

    def _fleet_record(self, db, aid: str) -> dict | None:
        """The assessment as the fleet sees it (messages.ASSESSMENT_FIELDS); None once deleted."""
        row = db.execute(
            "SELECT a.created_at, a.label, a.notes, a.kind, a.parent_id, a.pain, a.result_json,"
            " a.station_version, a.model_sha256, a.deleted_at, m.number, m.name FROM assessments a"
            " LEFT JOIN members m ON m.id = a.member_id WHERE a.id = ?", (aid,)).fetchone()
        if row is None or row[9] is not None:
            return None
        created, label, notes, kind, parent, pain, text, station_v, model_sha, _, number, name = row
        overrides = {cid: {"status": st, "note": note, "at": at} for cid, st, note, at in db.execute(
            "SELECT compensation_id, status, note, created_at FROM overrides WHERE assessment_id = ?"
            " ORDER BY compensation_id", (aid,))}
        plan = db.execute("SELECT plan_json FROM plans WHERE assessment_id = ?", (aid,)).fetchone()
        return {"created_at": created, "label": label,
                "member": {"number": number, "name": name} if number is not None else None,
                "kind": kind, "parent_id": parent, "pain": bool(pain), "notes": notes,
                "result": apply_overrides(json.loads(text), overrides), "overrides": overrides,
                "plan": json.loads(plan[0]) if plan else None, "station_version": station_v,
                "model_sha256": model_sha}

    def _fleet_changed(self, db, aid: str) -> None:
        """In a write transaction: the assessment changed (or was soft-deleted or restored)."""
        if not self.outbox:
            return
        revision = outbox.next_revision(db, aid)
        if revision is not None:
            outbox.add_assessment(db, aid, revision, self._stamp(), self._fleet_record(db, aid))

    def _fleet_deleted(self, db, ids: list[str]) -> None:
        """In a write transaction, before the rows go for good: forget their outbox rows (sent
        or not; also with the fleet off now: it may have been on) and tell the fleet."""
        for aid in ids:
            revision = outbox.next_revision(db, aid) if self.outbox else None
            outbox.forget(db, [aid])
            if revision is not None:
                outbox.add_assessment(db, aid, revision, self._stamp(), None)

    def _fleet_forget(self, db, where: str, params: tuple) -> None:
        """The outbox rows of the assessments about to be purged go with them (always: the
        fleet may have been on before)."""
        outbox.forget(db, [r[0] for r in db.execute(f"SELECT id FROM assessments WHERE {where}", params)])

    def _fleet_alert(self, db, kind: str, aid: str | None, text: str, member_id: int | None) -> None:
        if not self.outbox:
            return
        row = db.execute("SELECT number, name FROM members WHERE id = ?", (member_id,)).fetchone() \
            if member_id is not None else None
        outbox.add_alert(db, kind, aid, self._stamp(), text,
                         {"number": row[0], "name": row[1]} if row else None)

    def outbox_queue_all(self, batch: int = 200) -> int:
        """Queue every stored assessment once more (a fleet joined after they were saved, or a
        new hub): each at its next revision, `batch` per transaction so a running station's
        writes wait only briefly. Returns how many were queued."""
        if not self.outbox:
            raise InputError("the store was opened without its outbox (fleet off)")
        queued, after = 0, ""
        while True:
            ids = [r[0] for r in self._read(
                "SELECT id FROM assessments WHERE deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?",
                (after, int(batch)))]
            if not ids:
                return queued

            def steps(db, ids=ids):
                for aid in ids:
                    self._fleet_changed(db, aid)

            self._write(steps)
            queued += len(ids)
            after = ids[-1]

    def outbox_pending(self, limit: int = outbox.BATCH, after: int = 0) -> list[dict]:
        """The oldest unsent outbox rows after seq `after` (see device/fleet/outbox.py)."""
        with self._lock:
            return outbox.pending(self._db, limit, after)

    def outbox_sent(self, seqs: list[int], now: dt.datetime | None = None) -> int:
        """Mark outbox rows sent (on their PUBACK)."""
        now = now or utc_now()
        prune = iso(now - dt.timedelta(seconds=outbox.KEEP_SENT_S))
        return self._write(lambda db: outbox.mark_sent(db, list(seqs), iso(now), prune))

    def outbox_status(self) -> dict:
        """{"queued", "oldest_queued_at", "last_sent_at"}."""
        with self._lock:
            return outbox.status(self._db)

    def sets_today(self, now: dt.datetime | None = None) -> int:
        """Assessments saved since the gym's midnight (the station's local time zone), not
        deleted, for the fleet's health message."""
        local = (now or utc_now()).astimezone()
        start = iso(local.replace(hour=0, minute=0, second=0, microsecond=0))
        return self._read("SELECT COUNT(*) FROM assessments WHERE created_at >= ? AND deleted_at IS NULL",
                          (start,))[0][0]

    # -- share links ----------------------------------------------------------------------

    def create_share_token(self, assessment_id: str, days: float) -> str:
        """An unguessable token that opens one result without login until it expires."""
        aid = str(assessment_id)
        token = secrets.token_urlsafe(16)
        expires = iso(utc_now() + dt.timedelta(days=float(days)))

        def steps(db):
            if not db.execute("SELECT 1 FROM assessments WHERE id = ?", (aid,)).fetchone():
                raise NotFound(f"no assessment {aid!r}")
            db.execute("INSERT INTO share_tokens (token, assessment_id, expires_at) VALUES (?, ?, ?)",
                       (token, aid, expires))
        self._write(steps)
        return token

    def resolve_share_token(self, token: str) -> str | None:
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        rows = self._read(
            "SELECT assessment_id FROM share_tokens WHERE token = ? AND expires_at > ?",
            (token, iso(utc_now())),
        )
        return rows[0][0] if rows else None

    # -- trainer sessions (device/store/sessions.py) -------------------------------------------

    def _session_write(self, sql: str, params) -> int:
        return self._write(lambda db: db.execute(sql, params).rowcount)

    def _session_read(self, sql: str, params) -> list[tuple]:
        return self._read(sql, params)

    # -- meta, health ---------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (str(key),))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str | None) -> None:
        """Set a station-wide value (password hash, secret key); None removes it."""
        if value is None:
            self._write(lambda db: db.execute("DELETE FROM meta WHERE key = ?", (str(key),)))
        else:
            self._write(lambda db: db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(key), str(value))))

    def integrity_check(self) -> bool:
        """True when SQLite finds the file sound and no row points at a missing parent."""
        try:
            with self._lock:
                ok = self._db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                fk = self._db.execute("PRAGMA foreign_key_check").fetchall()
        except sqlite3.DatabaseError as e:
            log.error("%s: integrity check could not run (%s)", self.path, e)
            return False
        if not ok or fk:
            log.error("%s: integrity check failed (foreign key problems: %d)", self.path, len(fk))
        return ok and not fk

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    def _close_quietly(self) -> None:
        db, self._db = getattr(self, "_db", None), None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _plain(value):
    """JSON for numpy scalars and arrays that slipped into a result or track."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite(value):
    """The result with NaN and infinities as null (strict JSON; 'not measured')."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "tolist"):
        return _finite(value.tolist())
    return value


def _clean_label(label) -> str:
    return " ".join(str(label or "").split())[:64]


def _is_day(value) -> bool:
    if isinstance(value, str):
        return len(value) == 10
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def apply_overrides(result: dict, overrides: dict[str, dict]) -> dict:
    """A copy of `result` with trainer verdicts in place; each changed entry keeps its original."""
    out = copy.deepcopy(result)
    comps = out.setdefault("compensations", {})
    for cid, ov in overrides.items():
        entry = comps.setdefault(cid, {"status": None})
        entry["original_status"] = entry.get("status")
        entry["status"] = ov["status"]
        entry["override"] = {"note": ov.get("note", ""), "at": ov.get("at")}
    return out
