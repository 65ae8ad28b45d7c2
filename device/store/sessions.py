"""Trainer sessions in a store's `sessions` table: the calls web/auth.py makes, written once for
the station's SQLite (device/store/store.py) and the hub's PostgreSQL (hub/store.py).

A store mixes this in and gives `_session_write(sql, params) -> rowcount` and
`_session_read(sql, params) -> rows`; the SQL is written with `?` and `MARK` says the driver's
placeholder (`%s` for psycopg).
"""

from __future__ import annotations


class SessionsMixin:
    MARK = "?"

    def _q(self, sql: str) -> str:
        return sql if self.MARK == "?" else sql.replace("?", self.MARK)

    def create_session(self, id_sha256: str, account: str, credential: str, now: float) -> None:
        self._session_write(self._q(
            "INSERT INTO sessions (id_sha256, account, credential, created_at, seen_at) VALUES (?, ?, ?, ?, ?)"),
            (str(id_sha256), account, credential, float(now), float(now)))

    def get_session(self, id_sha256: str) -> dict | None:
        """{"account", "credential", "created_at", "seen_at"} or None."""
        rows = self._session_read(self._q(
            "SELECT account, credential, created_at, seen_at FROM sessions WHERE id_sha256 = ?"), (str(id_sha256),))
        if not rows:
            return None
        account, credential, created, seen = rows[0]
        return {"account": account, "credential": credential, "created_at": created, "seen_at": seen}

    def touch_session(self, id_sha256: str, now: float) -> None:
        self._session_write(self._q("UPDATE sessions SET seen_at = ? WHERE id_sha256 = ?"),
                            (float(now), str(id_sha256)))

    def end_session(self, id_sha256: str) -> None:
        self._session_write(self._q("DELETE FROM sessions WHERE id_sha256 = ?"), (str(id_sha256),))

    def end_sessions(self, account: str | None = None, *, seen_before: float | None = None,
                     created_before: float | None = None) -> int:
        """End every session of `account` (all accounts when None), or only the stale ones."""
        where, params, stale = [], [], []
        if account is not None:
            where.append("account = ?")
            params.append(account)
        if seen_before is not None:
            stale.append("seen_at < ?")
            params.append(float(seen_before))
        if created_before is not None:
            stale.append("created_at < ?")
            params.append(float(created_before))
        if stale:
            where.append("(" + " OR ".join(stale) + ")")
        return self._session_write(self._q("DELETE FROM sessions" + (" WHERE " + " AND ".join(where) if where else "")),
                                   params)
