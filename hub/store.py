"""What the hub's pages read from PostgreSQL, as plain dicts (timestamps as ISO text, UTC).

    store = HubStore(dsn)
    store.list(station="gym-1", search="anna", date_from="2026-11-01", limit=50, offset=0)
    store.count(...same filters...); store.get("gym-1", "a1b2c3"); store.client_history("1042")
    store.alerts(); store.stations()

Also the session and account calls `web.auth` makes (get_account, create_session, ...), so the
hub's login is the station's: the owner password in the hub's data directory (`ohsa hub
password set`), server-side sessions in PostgreSQL. Connections come from a small pool: a
request takes one, gives it back, and a broken one is dropped (PostgreSQL restarted).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import psycopg

from device.errors import InputError
from device.store.people import NAME_RE, OWNER
from device.store.sessions import SessionsMixin
from device.vocabulary import COMPENSATION_IDS, PRESENT
from hub import db

MAX_LIMIT = 1000
_SUMMARY = ("station, id, created_at, label, member, member_name, kind, parent_id, pain, notes,"
            " reps, findings, revision, received_at")


class Unavailable(Exception):
    """PostgreSQL cannot be reached now (the pages answer 503 and try again next request)."""


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(value, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{name}: expected a date YYYY-MM-DD, got {str(value)[:40]!r}") from None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _summary(row) -> dict:
    (station, aid, created, label, member, member_name, kind, parent, pain, notes, reps, findings,
     revision, received) = row
    return {"station": station, "id": aid, "created_at": iso(created), "label": label,
            "member": member, "member_name": member_name, "kind": kind, "parent_id": parent,
            "pain": pain, "notes": notes, "reps": reps, "findings": list(findings or []),
            "revision": revision, "received_at": iso(received)}


class HubStore(SessionsMixin):
    def __init__(self, dsn: str, pool_size: int = 8):
        self.dsn = dsn
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._pool_size = pool_size

    @contextlib.contextmanager
    def _conn(self):
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            try:
                conn = db.connect(self.dsn, autocommit=True)
            except InputError as e:
                raise Unavailable(str(e)) from None
        try:
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            conn.close()  # PostgreSQL went away: the next request connects afresh
            self.close()  # ... and so do the idle connections, gone with it
            raise Unavailable(str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__) from None
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()

    def _rows(self, sql: str, params=()) -> list[tuple]:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def _exec(self, sql: str, params=()) -> int:
        with self._conn() as conn:
            return conn.execute(sql, params).rowcount

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- assessments ----------------------------------------------------------------------------

    def _filters(self, station, search, date_from, date_to) -> tuple[str, list]:
        where, params = ["NOT deleted"], []
        if station:
            where.append("station = %s")
            params.append(str(station))
        search = (search or "").strip()
        if search:
            pattern = _like(search)
            where.append(f"{db.SEARCH_TEXT} ILIKE %s")
            params.append(pattern)
        lo, hi = _day(date_from, "from"), _day(date_to, "to")
        if lo:
            where.append("created_at >= %s")
            params.append(dt.datetime.combine(lo, dt.time(), dt.timezone.utc))
        if hi:
            where.append("created_at < %s")
            params.append(dt.datetime.combine(hi + dt.timedelta(days=1), dt.time(), dt.timezone.utc))
        return " WHERE " + " AND ".join(where), params

    def list(self, station: str | None = None, search: str = "", date_from=None, date_to=None,
             limit: int = 50, offset: int = 0) -> list[dict]:
        """Newest first, every station (or one): summaries without the result body."""
        where, params = self._filters(station, search, date_from, date_to)
        limit = max(0, min(int(limit), MAX_LIMIT))
        rows = self._rows(f"SELECT {_SUMMARY} FROM assessments{where}"
                          " ORDER BY created_at DESC, station, id LIMIT %s OFFSET %s",
                          (*params, limit, max(0, int(offset))))
        return [_summary(r) for r in rows]

    def count(self, station: str | None = None, search: str = "", date_from=None, date_to=None,
              cap: int | None = None) -> int:
        """How many match; with `cap`, counting stops after cap + 1 (a page says "more than
        cap"): an exact count of millions of rows takes seconds, a capped one milliseconds."""
        where, params = self._filters(station, search, date_from, date_to)
        if cap is None:
            return self._rows(f"SELECT count(*) FROM assessments{where}", params)[0][0]
        return self._rows(f"SELECT count(*) FROM (SELECT 1 FROM assessments{where} LIMIT %s) AS m",
                          (*params, int(cap) + 1))[0][0]

    def get(self, station: str, assessment_id: str) -> dict | None:
        """The whole record (result as the station's trainer sees it, overrides, plan), or None."""
        rows = self._rows(f"SELECT {_SUMMARY}, result, overrides, plan, station_version, model_sha256,"
                          " sent_at, (SELECT array_agg(view ORDER BY view) FROM images i"
                          "  WHERE i.station = a.station AND i.id = a.id)"
                          " FROM assessments a WHERE station = %s AND id = %s AND NOT deleted",
                          (str(station), str(assessment_id)))
        if not rows:
            return None
        row = rows[0]
        out = _summary(row[:14])
        out.update(result=row[14], overrides=row[15] or {}, plan=row[16], station_version=row[17],
                   model_sha256=row[18], sent_at=iso(row[19]), images=list(row[20] or []))
        return out

    def get_image(self, station: str, assessment_id: str, view: str) -> bytes | None:
        rows = self._rows("SELECT jpeg FROM images WHERE station = %s AND id = %s AND view = %s",
                          (str(station), str(assessment_id), str(view)))
        return bytes(rows[0][0]) if rows else None

    def client_history(self, member: str) -> list[dict]:
        """One member's assessments from every station, oldest first, with the measurements."""
        member = (member or "").strip()
        if not member:
            return []
        rows = self._rows("SELECT station, id, created_at, kind, pain, reps, result FROM assessments"
                          " WHERE member = %s AND NOT deleted ORDER BY created_at, station, id",
                          (member,))
        out = []
        for station, aid, created, kind, pain, reps, result in rows:
            comps = (result or {}).get("compensations") or {}
            out.append({
                "station": station, "id": aid, "created_at": iso(created), "kind": kind,
                "pain": pain, "reps": reps,
                "measurements": {cid: {k: (comps.get(cid) or {}).get(k)
                                       for k in ("status", "value", "unit", "confidence")}
                                 for cid in COMPENSATION_IDS},
                "findings": [cid for cid in COMPENSATION_IDS
                             if (comps.get(cid) or {}).get("status") == PRESENT],
            })
        return out

    def member_name(self, member: str) -> str:
        rows = self._rows("SELECT member_name FROM assessments WHERE member = %s AND NOT deleted"
                          " AND member_name <> '' ORDER BY created_at DESC LIMIT 1", (str(member),))
        return rows[0][0] if rows else ""

    # -- alerts, stations -----------------------------------------------------------------------

    def alerts(self, station: str | None = None, limit: int = 200) -> list[dict]:
        where, params = ("WHERE station = %s", [station]) if station else ("", [])
        rows = self._rows(f"SELECT station, id, kind, assessment_id, at, text, received_at FROM alerts {where}"
                          " ORDER BY at DESC, station, id LIMIT %s", (*params, max(1, min(int(limit), MAX_LIMIT))))
        return [{"station": s, "id": i, "kind": k, "assessment_id": a, "at": iso(at), "text": t,
                 "received_at": iso(r)} for s, i, k, a, at, t, r in rows]

    def stations(self) -> list[dict]:
        """Every station that ever spoke: state, health, last message, assessments held."""
        rows = self._rows(
            "SELECT s.station, s.state, s.state_at, s.version, s.health, s.health_at, s.last_message_at,"
            " s.last_topic, s.messages,"
            " (SELECT count(*) FROM assessments a WHERE a.station = s.station AND NOT a.deleted)"
            " FROM stations s ORDER BY s.station")
        return [{"station": st, "state": state, "state_at": iso(state_at), "version": version,
                 "health": health or {}, "health_at": iso(health_at), "last_message_at": iso(last),
                 "last_topic": topic, "messages": n, "assessments": count}
                for st, state, state_at, version, health, health_at, last, topic, n, count in rows]

    def station_ids(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT station FROM stations ORDER BY station")]

    # -- what web.auth needs --------------------------------------------------------------------

    def get_account(self, name: str) -> dict | None:
        """The owner (password in the hub's data directory, web.auth reads it) or a trainer."""
        if name == OWNER:
            return {"id": 0, "name": OWNER, "role": "owner", "password_hash": None}
        rows = self._rows("SELECT id, name, password_hash FROM accounts WHERE name = %s", (str(name),))
        return {"id": rows[0][0], "name": rows[0][1], "role": "trainer", "password_hash": rows[0][2]} if rows else None

    def accounts(self) -> list[dict]:
        return [{"name": n, "role": "trainer", "created_at": iso(c)}
                for n, c in self._rows("SELECT name, created_at FROM accounts ORDER BY name")]

    def set_trainer(self, name: str, password_hash: str) -> bool:
        """Add a trainer's account, or give it a new password (its sessions end). True: added."""
        name = str(name or "").strip()
        if not NAME_RE.match(name) or name == OWNER:
            raise InputError("name: 1 to 40 letters, digits, spaces, '.', '_' or '-', starting with a "
                             f"letter or digit, not {OWNER!r}")
        with self._conn() as conn, conn.transaction():
            added = conn.execute(
                "INSERT INTO accounts (name, password_hash) VALUES (%s, %s) ON CONFLICT (name)"
                " DO UPDATE SET password_hash = EXCLUDED.password_hash RETURNING (xmax = 0)",
                (name, password_hash)).fetchone()[0]
            conn.execute("DELETE FROM sessions WHERE account = %s", (name,))
        return bool(added)

    def remove_trainer(self, name: str) -> None:
        """A trainer's account goes, with its sessions."""
        with self._conn() as conn, conn.transaction():
            gone = conn.execute("DELETE FROM accounts WHERE name = %s", (str(name),)).rowcount
            conn.execute("DELETE FROM sessions WHERE account = %s", (str(name),))
        if not gone:
            raise InputError(f"account: no trainer account {name!r} on the hub")

    # trainer sessions: device/store/sessions.py, in PostgreSQL's placeholders
    MARK = "%s"

    def _session_write(self, sql: str, params) -> int:
        return self._exec(sql, params)

    def _session_read(self, sql: str, params) -> list[tuple]:
        return self._rows(sql, params)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = %s", (str(key),))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT INTO meta (key, value) VALUES (%s, %s)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(key), str(value)))
