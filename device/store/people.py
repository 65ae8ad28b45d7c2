"""The store's people: accounts, members, the audit trail, events that need a trainer.

A mixin of `Store` (device/store/store.py): every method runs on the store's one connection
under its lock (`self._write`, `self._read`), so an audit line is written in the same
transaction as the change it records. Times are the store's ISO text (`self._stamp()`).

- accounts: the owner (its password stays in the owner file, device/owner.py) and trainers
  (their own scrypt hash here). Names are unique, case-insensitive.
- members: a member number or the value of a membership card's QR code or barcode, and an
  optional display name; an assessment links to one member or none (anonymous).
- audit: who changed what and when (overrides, notes, plans, member links, accounts, erasures).
- events: pain during a set or on the result page (a referral), a finding that got worse since
  the member's last assessment; open until a trainer marks them handled.
"""

from __future__ import annotations

import json
import re

from device.errors import InputError
from device.fleet import outbox
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS

ROLES = ("owner", "trainer")
OWNER = "owner"  # the owner account's name: its password is the owner file
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")
NUMBER_RE = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces: what a card encodes
EVENT_KINDS = ("pain", "referral", "worse")
ABSENT = "absent"


def clean_number(value) -> str:
    """A member number or card value as stored, or InputError naming the problem."""
    text = str(value or "").strip()
    if not NUMBER_RE.match(text):
        raise InputError("member number: 1 to 64 letters, digits or signs without spaces, "
                         f"got {text[:70]!r}")
    return text


def _clean_name(value) -> str:
    return " ".join(str(value or "").split())[:64]


class PeopleMixin:
    """Accounts, members, audit and events (see the module docstring)."""

    # -- accounts ---------------------------------------------------------------------------

    def accounts(self) -> list[dict]:
        rows = self._read("SELECT id, name, role, created_at FROM accounts ORDER BY role = 'trainer', name")
        return [{"id": i, "name": n, "role": r, "created_at": c} for i, n, r, c in rows]

    def get_account(self, name: str) -> dict | None:
        """{"id", "name", "role", "password_hash"} (the owner's hash is None: it is in the file)."""
        rows = self._read("SELECT id, name, role, password_hash FROM accounts WHERE name = ?", (str(name),))
        if not rows:
            return None
        i, n, r, h = rows[0]
        return {"id": i, "name": n, "role": r, "password_hash": h}

    def add_account(self, name: str, password_hash: str, *, role: str = "trainer", by: str) -> int:
        name = str(name or "").strip()
        if not NAME_RE.match(name):
            raise InputError("name: 1 to 40 letters, digits, spaces, '.', '_' or '-', starting with a "
                             "letter or digit")
        if role not in ROLES or role == "owner":
            raise InputError(f"role: a new account is a trainer, got {role!r}")

        def steps(db):
            if db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise InputError(f"name: an account called {name!r} exists already")
            aid = db.execute("INSERT INTO accounts (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                             (name, role, password_hash, self._stamp())).lastrowid
            self._audit(db, by, "account added", detail=f"{name} ({role})")
            return aid

        return self._write(steps)

    def set_account_password(self, name: str, password_hash: str, *, by: str) -> None:
        def steps(db):
            n = db.execute("UPDATE accounts SET password_hash = ? WHERE name = ? AND role != 'owner'",
                           (password_hash, str(name))).rowcount
            if not n:
                raise InputError(f"account: no trainer account {name!r}")
            db.execute("DELETE FROM sessions WHERE account = ?", (self._account_key(db, name),))
            self._audit(db, by, "password changed", detail=str(name))
        self._write(steps)

    def remove_account(self, name: str, *, by: str) -> None:
        """A trainer account goes, with its sessions (the owner account stays)."""
        def steps(db):
            key = self._account_key(db, name)
            if not db.execute("DELETE FROM accounts WHERE name = ? AND role != 'owner'", (str(name),)).rowcount:
                raise InputError(f"account: no trainer account {name!r}")
            db.execute("DELETE FROM sessions WHERE account = ?", (key,))
            self._audit(db, by, "account removed", detail=str(name))
        self._write(steps)

    @staticmethod
    def _account_key(db, name: str) -> str:
        """The name sessions are kept under (as stored, whatever case was typed)."""
        row = db.execute("SELECT name FROM accounts WHERE name = ?", (str(name),)).fetchone()
        return row[0] if row else str(name)

    # -- members ----------------------------------------------------------------------------

    def _ensure_member(self, db, number: str, name: str = "") -> int:
        number, name = clean_number(number), _clean_name(name)
        row = db.execute("SELECT id, name FROM members WHERE number = ?", (number,)).fetchone()
        if row:
            if name and name != row[1]:
                db.execute("UPDATE members SET name = ? WHERE id = ?", (name, row[0]))
            return row[0]
        return db.execute("INSERT INTO members (number, name, created_at) VALUES (?, ?, ?)",
                          (number, name, self._stamp())).lastrowid

    def get_member(self, member_id: int) -> dict | None:
        rows = self._read("SELECT id, number, name, created_at FROM members WHERE id = ?", (int(member_id),))
        if not rows:
            return None
        i, num, name, created = rows[0]
        return {"id": i, "number": num, "name": name, "created_at": created}

    def member_by_number(self, number: str) -> dict | None:
        rows = self._read("SELECT id FROM members WHERE number = ?", (str(number).strip(),))
        return self.get_member(rows[0][0]) if rows else None

    def member_of(self, assessment_id: str) -> dict | None:
        rows = self._read("SELECT member_id FROM assessments WHERE id = ?", (str(assessment_id),))
        return self.get_member(rows[0][0]) if rows and rows[0][0] is not None else None

    def link_member(self, assessment_id: str, number: str | None, name: str = "", *, by: str) -> int | None:
        """Link (or re-link) an assessment to a member by number; None makes it anonymous.
        Logged in the audit with who; a finding worse than the member's last time opens an event."""
        aid = str(assessment_id)

        def steps(db):
            row = db.execute("SELECT member_id FROM assessments WHERE id = ?", (aid,)).fetchone()
            if row is None:
                from device.store.store import NotFound

                raise NotFound(f"no assessment {aid!r}")
            mid = self._ensure_member(db, number, name) if number else None
            if mid == row[0]:
                return mid
            db.execute("UPDATE assessments SET member_id = ? WHERE id = ?", (mid, aid))
            self._fleet_changed(db, aid)
            db.execute("DELETE FROM events WHERE assessment_id = ? AND kind = 'worse'", (aid,))
            old = self._member_text(db, row[0])
            new = self._member_text(db, mid)
            self._audit(db, by, "member linked" if mid else "member unlinked", aid, mid or row[0],
                        f"{old or 'anonymous'} -> {new or 'anonymous'}")
            if row[0] is not None and mid is not None:  # the old member's trail says it moved
                self._audit(db, by, "member unlinked", aid, row[0], f"{old} -> another member")
            if mid is not None:
                self._worse_event(db, aid, mid)
            return mid

        return self._write(steps)

    @staticmethod
    def _member_text(db, member_id) -> str:
        if member_id is None:
            return ""
        row = db.execute("SELECT number, name FROM members WHERE id = ?", (member_id,)).fetchone()
        return f"{row[0]}" + (f" ({row[1]})" if row and row[1] else "") if row else ""

    def set_member_name(self, member_id: int, name: str, *, by: str) -> None:
        def steps(db):
            if not db.execute("UPDATE members SET name = ? WHERE id = ?", (_clean_name(name), int(member_id))).rowcount:
                raise InputError(f"member: no member {member_id!r}")
            self._audit(db, by, "member renamed", member_id=int(member_id), detail=_clean_name(name))
            if self.outbox:  # each assessment's record names the member: the fleet hears the new name
                for (aid,) in db.execute("SELECT id FROM assessments WHERE member_id = ? AND deleted_at IS NULL",
                                         (int(member_id),)).fetchall():
                    self._fleet_changed(db, aid)
        self._write(steps)

    def members_overview(self) -> list[dict]:
        """One row per member, most recently assessed first: last assessed, how many, the open
        findings (of the last standard assessment, after overrides) and the trend against the
        one before (fewer findings: better)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT m.id, m.number, m.name, a.id, a.created_at, a.kind, a.findings, a.pain"
                " FROM members m JOIN assessments a ON a.member_id = m.id AND a.deleted_at IS NULL"
                " ORDER BY m.id, a.created_at, a.id").fetchall()
            alerts = dict(self._db.execute(
                "SELECT e.member_id, COUNT(*) FROM events e WHERE e.handled_at IS NULL"
                " AND e.member_id IS NOT NULL GROUP BY e.member_id").fetchall())
        groups: dict[int, dict] = {}
        for mid, number, name, aid, created, kind, findings, pain in rows:
            g = groups.setdefault(mid, {"id": mid, "number": number, "name": name, "count": 0,
                                        "last_at": None, "last_id": None, "standard": [], "pain": False,
                                        "alerts": alerts.get(mid, 0)})
            g["count"] += 1
            g["last_at"], g["last_id"] = created, aid
            g["pain"] = g["pain"] or bool(pain)
            if kind == "standard":
                g["standard"].append([f for f in findings.split(",") if f])
        out = []
        for g in groups.values():
            std = g.pop("standard")
            g["findings"] = std[-1] if std else []
            g["trend"] = _trend(std)
            out.append(g)
        out.sort(key=lambda g: g["last_at"] or "", reverse=True)
        return out

    def anonymous_count(self) -> int:
        return self._read("SELECT COUNT(*) FROM assessments WHERE member_id IS NULL AND deleted_at IS NULL")[0][0]

    def member_assessments(self, member_id: int, *, deleted: bool = False) -> list[dict]:
        """A member's assessments, newest first (`deleted`: also those waiting for their purge)."""
        rows = self._read(
            "SELECT id, created_at, kind, pain, reps, findings FROM assessments WHERE member_id = ?"
            + ("" if deleted else " AND deleted_at IS NULL") + " ORDER BY created_at DESC, id", (int(member_id),))
        return [{"id": i, "created_at": c, "kind": k, "pain": bool(p), "reps": r,
                 "findings": f.split(",") if f else []} for i, c, k, p, r, f in rows]

    # -- everything about one member --------------------------------------------------------

    def member_export(self, member_id: int) -> dict | None:
        """Everything stored about one member as plain data: the member, each assessment (result,
        overrides, plan, notes, track), stills as JPEG bytes, audit lines, events."""
        member = self.get_member(member_id)
        if member is None:
            return None
        out = {"member": member, "assessments": [], "stills": {}, "audit": [], "events": []}
        ids = [a["id"] for a in self.member_assessments(member_id, deleted=True)]  # still held: exported
        for aid in ids:
            record = self.get(aid, deleted=True)
            if record is None:
                continue
            record["track"] = self.get_track(aid, deleted=True)
            out["assessments"].append(record)
            for view in record["images"]:
                out["stills"][f"{aid}-{view}.jpg"] = self.get_image(aid, view, deleted=True)
        out["audit"] = self.audit_lines(member_id=member_id, assessment_ids=ids)
        out["events"] = self.events(member_id=member_id, assessment_ids=ids, open_only=False)
        return out

    def erase_member(self, member_id: int, *, by: str) -> dict:
        """Erase a member completely: their assessments (with tracks, stills, overrides, plans,
        links), audit lines and events, and the member row; `secure_delete` zeroes the pages and
        the WAL is checkpointed away. Returns a receipt (counts, time; no personal data). The
        audit keeps one line that a member was erased, by whom, without saying who."""
        mid = int(member_id)

        def steps(db):
            row = db.execute("SELECT number, name FROM members WHERE id = ?", (mid,)).fetchone()
            if row is None:
                raise InputError(f"member: no member {member_id!r}")
            ids = [r[0] for r in db.execute("SELECT id FROM assessments WHERE member_id = ?", (mid,))]
            marks = ",".join("?" * len(ids))
            counts = {"assessments": len(ids), "stills": 0, "audit_lines": 0, "events": 0}
            if ids:
                counts["stills"] = db.execute(f"SELECT COUNT(*) FROM images WHERE assessment_id IN ({marks})",
                                              ids).fetchone()[0]
                counts["audit_lines"] += db.execute(
                    f"DELETE FROM audit WHERE assessment_id IN ({marks})", ids).rowcount
                counts["events"] += db.execute(
                    f"DELETE FROM events WHERE assessment_id IN ({marks})", ids).rowcount
                orphans = [r[0] for r in db.execute(
                    f"SELECT id FROM assessments WHERE parent_id IN ({marks}) AND id NOT IN ({marks})", ids + ids)]
                db.execute(f"UPDATE assessments SET parent_id = NULL WHERE parent_id IN ({marks})", ids)
                self._fleet_deleted(db, ids)
                for orphan in orphans:  # another member's re-test of an erased assessment: no parent now
                    self._fleet_changed(db, orphan)
                db.execute(f"DELETE FROM assessments WHERE id IN ({marks})", ids)
            counts["audit_lines"] += db.execute("DELETE FROM audit WHERE member_id = ?", (mid,)).rowcount
            counts["events"] += db.execute("DELETE FROM events WHERE member_id = ?", (mid,)).rowcount
            # lines about other people that name this member (an assessment re-linked away from
            # them says "number (name) -> ..."; see _member_text)
            for word in filter(None, (f"{row[0]} ({row[1]})" if row[1] else "", row[0])):
                for table in ("audit", "events"):
                    db.execute(f"UPDATE {table} SET detail = replace(detail, ?, 'an erased member')"
                               " WHERE instr(detail, ?) > 0", (word, word))
            db.execute("DELETE FROM members WHERE id = ?", (mid,))
            outbox.forget_member(db, row[0])
            at = self._stamp()
            self._audit(db, by, "member erased",
                        detail=f"{counts['assessments']} assessment(s), {counts['stills']} still(s)")
            return dict(counts, at=at, by=by, assessment_ids=ids)

        receipt = self._write(steps)
        self._scrub()
        return receipt

    # -- audit ------------------------------------------------------------------------------

    def _audit(self, db, account: str, action: str, assessment_id: str | None = None,
               member_id: int | None = None, detail: str = "") -> None:
        db.execute("INSERT INTO audit (at, account, assessment_id, member_id, action, detail)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   (self._stamp(), str(account), assessment_id, member_id, action, str(detail)[:500]))

    def add_audit(self, account: str, action: str, assessment_id: str | None = None,
                  member_id: int | None = None, detail: str = "") -> None:
        self._write(lambda db: self._audit(db, account, action, assessment_id, member_id, detail))

    def audit_lines(self, assessment_id: str | None = None, *, member_id: int | None = None,
                    assessment_ids: list[str] | None = None, limit: int = 500) -> list[dict]:
        """Audit lines, oldest first: of one assessment, or of a member (and their assessments),
        or all of them."""
        where, params = [], []
        if assessment_id is not None:
            where.append("assessment_id = ?")
            params.append(str(assessment_id))
        if member_id is not None:
            where.append("member_id = ?")
            params.append(int(member_id))
        if assessment_ids:
            where.append(f"assessment_id IN ({','.join('?' * len(assessment_ids))})")
            params += list(assessment_ids)
        sql = ("SELECT id, at, account, assessment_id, member_id, action, detail FROM audit"
               + (" WHERE " + " OR ".join(where) if where else "") + " ORDER BY at, id LIMIT ?")
        rows = self._read(sql, (*params, int(limit)))
        return [{"id": i, "at": at, "account": acc, "assessment_id": a, "member_id": m, "action": act,
                 "detail": d} for i, at, acc, a, m, act, d in rows]

    # -- events (alerts) --------------------------------------------------------------------

    def add_event(self, kind: str, *, assessment_id: str | None = None, member_id: int | None = None,
                  member_number: str | None = None, detail: str = "") -> int:
        """An event that needs a trainer; with `member_number` the member is found or made."""
        if kind not in EVENT_KINDS:
            raise InputError(f"event kind: one of {', '.join(EVENT_KINDS)}, got {kind!r}")

        def steps(db):
            mid = member_id
            if mid is None and member_number:
                mid = self._ensure_member(db, member_number)
            if mid is None and assessment_id is not None:
                row = db.execute("SELECT member_id FROM assessments WHERE id = ?", (assessment_id,)).fetchone()
                mid = row[0] if row else None
            event = db.execute("INSERT INTO events (at, kind, assessment_id, member_id, detail) VALUES (?, ?, ?, ?, ?)",
                               (self._stamp(), kind, assessment_id, mid, str(detail)[:500])).lastrowid
            self._fleet_alert(db, kind, assessment_id, str(detail)[:500], mid)
            return event

        return self._write(steps)

    def events(self, *, open_only: bool = True, member_id: int | None = None,
               assessment_ids: list[str] | None = None, limit: int = 500) -> list[dict]:
        where, params, who = [], [], []
        if open_only:
            where.append("e.handled_at IS NULL")
        if member_id is not None:
            who.append("e.member_id = ?")
            params.append(int(member_id))
        if assessment_ids:
            who.append(f"e.assessment_id IN ({','.join('?' * len(assessment_ids))})")
            params += list(assessment_ids)
        if who:
            where.append("(" + " OR ".join(who) + ")")
        rows = self._read(
            "SELECT e.id, e.at, e.kind, e.assessment_id, e.member_id, e.detail, e.handled_at, e.handled_by,"
            " m.number, m.name FROM events e LEFT JOIN members m ON m.id = e.member_id"
            + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.at DESC, e.id DESC LIMIT ?",
            (*params, int(limit)))
        return [{"id": i, "at": at, "kind": k, "assessment_id": a, "member_id": m, "detail": d,
                 "handled_at": ha, "handled_by": hb, "member_number": num, "member_name": name}
                for i, at, k, a, m, d, ha, hb, num, name in rows]

    def handle_event(self, event_id: int, *, by: str) -> bool:
        def steps(db):
            row = db.execute("SELECT kind, assessment_id, member_id FROM events WHERE id = ? AND handled_at IS NULL",
                             (int(event_id),)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE events SET handled_at = ?, handled_by = ? WHERE id = ?",
                       (self._stamp(), str(by), int(event_id)))
            self._audit(db, by, "alert handled", row[1], row[2], row[0])
            return True
        return self._write(steps)

    def _worse_event(self, db, assessment_id: str, member_id: int) -> None:
        """A finding present now that was absent at the member's previous standard assessment."""
        row = db.execute("SELECT created_at, kind, findings FROM assessments WHERE id = ?",
                         (assessment_id,)).fetchone()
        if row is None or row[1] != "standard":
            return
        prev = db.execute(
            "SELECT id, result_json FROM assessments WHERE member_id = ? AND kind = 'standard'"
            " AND id != ? AND created_at < ? AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 1",
            (member_id, assessment_id, row[0])).fetchone()
        if prev is None:
            return
        before = _statuses(db, prev[0], prev[1])
        now = set(filter(None, row[2].split(",")))
        worse = [c for c in COMPENSATION_IDS if c in now and before.get(c) == ABSENT]
        if worse:
            words = ", ".join(COMPENSATIONS[c].label for c in worse)
            db.execute("INSERT INTO events (at, kind, assessment_id, member_id, detail) VALUES (?, 'worse', ?, ?, ?)",
                       (self._stamp(), assessment_id, member_id, f"new since {prev[0]}: {words}"))
            self._fleet_alert(db, "worse", assessment_id, f"new since {prev[0]}: {words}", member_id)


def _statuses(db, assessment_id: str, result_json: str) -> dict[str, str]:
    """Each compensation's status after the trainer's overrides."""
    comps = json.loads(result_json).get("compensations") or {}
    out = {c: (e or {}).get("status") for c, e in comps.items()}
    for cid, status in db.execute("SELECT compensation_id, status FROM overrides WHERE assessment_id = ?",
                                  (assessment_id,)):
        out[cid] = status
    return out


def _trend(findings: list[list[str]]) -> str | None:
    """'better' / 'same' / 'worse' from the number of findings, last against the one before."""
    if len(findings) < 2:
        return None
    a, b = len(findings[-2]), len(findings[-1])
    return "better" if b < a else "worse" if b > a else "same"


__all__ = ["PeopleMixin", "ROLES", "OWNER", "EVENT_KINDS", "clean_number"]
