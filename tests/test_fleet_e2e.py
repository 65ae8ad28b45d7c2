"""The whole fleet under faults: station processes (a real Store with the outbox, the real
publisher) -> a real Mosquitto with the shipped ACL -> `ohsa hub run` -> a real PostgreSQL.

While the stations save (and edit, soft-delete, raise pain alerts), the test stops and
restarts the broker, kills the hub with SIGKILL and starts it again, crashes and restarts
PostgreSQL, and kills one station with SIGKILL mid-publish and starts it again on the same
database. Each fault is timed by progress (what the hub holds, what the stations saved), never
by sleeping. Afterwards the hub must hold every assessment exactly once, checked row by row
against each station's SQLite: same ids, same last revision, same deleted state, same label,
notes and member; every alert once. The counts are printed (`-s`) for the report.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from device.fleet import messages
from hub import db
from tests.fleet_hub import ACL, HUB_PASSWORD, StationClient, hub_rows, station_password, stamp
from tests.services import Mosquitto, Postgres
from tests.waiting import wait_until

STATIONS = ("gym-a", "gym-b", "gym-c")
PER_STATION = 60
PACE_S = 0.08  # between a station's sets: ~5 s of saving per station, the faults fall inside it
ROOT = Path(__file__).resolve().parent.parent


class StationProcess:
    """tests/fleet_e2e_station.py in its own process; `saved` follows its progress."""

    def __init__(self, name: str, db_path: Path, port: int):
        self.name, self.db_path, self.port = name, db_path, port
        self.saved = 0
        self.done = threading.Event()
        self.proc: subprocess.Popen | None = None

    def start(self) -> StationProcess:
        self.done.clear()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fleet_e2e_station", str(self.db_path), str(self.port), self.name,
             station_password(self.name), str(PER_STATION), str(PACE_S)],
            stdout=subprocess.PIPE, stderr=open(self.db_path.with_suffix(".log"), "ab"), text=True, env=env, cwd=ROOT)
        threading.Thread(target=self._follow, args=(self.proc,), daemon=True).start()
        return self

    def _follow(self, proc):
        for line in proc.stdout:
            if line.startswith("saved "):
                self.saved = int(line.split()[1])
            elif line.strip() == "done":
                self.done.set()

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)

    def queued(self) -> int:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    def rows(self) -> dict[str, tuple]:
        """id -> (revision, deleted, label, notes, member) as the station holds it."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute(
                "SELECT a.id, a.fleet_revision, a.deleted_at IS NOT NULL, a.label, a.notes, m.number"
                " FROM assessments a LEFT JOIN members m ON m.id = a.member_id").fetchall()
        return {r[0]: (r[1], bool(r[2])) + ((r[3], r[4], r[5]) if not r[2] else ("", "", None)) for r in rows}

    def alert_ids(self) -> set[str]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
            return {r[0] for r in conn.execute("SELECT item_id FROM outbox WHERE kind = 'alert'")}


def _hub(dsn: str, port: int, folder: Path) -> subprocess.Popen:
    env = dict(os.environ, OHSA_HUB_DSN=dsn, OHSA_HUB_MQTT_PASSWORD=HUB_PASSWORD)
    return subprocess.Popen([sys.executable, "-m", "device", "-v", "hub", "run", "--no-web",
                             "--broker", f"mqtt://127.0.0.1:{port}", "--data-dir", str(folder / "hub-data")],
                            stdout=subprocess.DEVNULL, stderr=open(folder / "hub.log", "ab"), env=env, cwd=ROOT)


def _hub_view(dsn: str, station: str) -> dict[str, tuple] | None:
    rows = hub_rows(dsn, "SELECT id, revision, deleted, label, notes, member FROM assessments WHERE station = %s",
                    (station,))
    return None if rows is None else {r[0]: tuple(r[1:]) for r in rows}


def _compare(stations, dsn) -> dict:
    out = {"station_rows": 0, "lost": [], "extra": [], "wrong": [], "duplicated": 0, "alerts_missing": [],
           "alerts_extra": []}
    for s in stations:
        mine, hub = s.rows(), _hub_view(dsn, s.name)
        if hub is None:
            out["lost"].append((s.name, "hub unreachable"))
            continue
        out["station_rows"] += len(mine)
        out["lost"] += [(s.name, i) for i in mine.keys() - hub.keys()]
        out["extra"] += [(s.name, i) for i in hub.keys() - mine.keys()]
        out["wrong"] += [(s.name, i, mine[i], hub[i]) for i in mine.keys() & hub.keys() if mine[i] != hub[i]]
        alerts = {r[0] for r in hub_rows(dsn, "SELECT id FROM alerts WHERE station = %s", (s.name,)) or []}
        out["alerts_missing"] += sorted(s.alert_ids() - alerts)
        out["alerts_extra"] += sorted(alerts - s.alert_ids())
    dup = hub_rows(dsn, "SELECT count(*) - count(DISTINCT (station, id)) FROM assessments")
    out["duplicated"] = dup[0][0] if dup else None
    return out


def _clean(c: dict) -> bool:
    return not (c["lost"] or c["extra"] or c["wrong"] or c["duplicated"] or c["alerts_missing"] or c["alerts_extra"])


@pytest.mark.slow
def test_stations_broker_hub_postgres_under_faults(tmp_path):
    users = {"hub": HUB_PASSWORD, **{s: station_password(s) for s in STATIONS}}
    faults: list[str] = []
    with Postgres() as pg, Mosquitto(tmp_path / "broker", users, ACL) as broker:
        with db.connect(pg.dsn) as conn:
            db.migrate(conn)
        hub = _hub(pg.dsn, broker.port, tmp_path)
        stations = [StationProcess(s, tmp_path / f"{s}.db", broker.port) for s in STATIONS]
        try:
            # the hub's persistent session exists (subscribed) before any station speaks
            hello = StationClient(broker.port, STATIONS[0])
            hello.publish((messages.status_topic(STATIONS[0]),
                           messages.encode(messages.status(STATIONS[0], "offline", stamp(0), "e2e"))), retain=True)
            hello.close()
            assert wait_until(lambda: (hub_rows(pg.dsn, "SELECT count(*) FROM stations") or [(0,)])[0][0] == 1, 60), \
                (tmp_path / "hub.log").read_text()[-2000:]
            for s in stations:
                s.start()
            total = PER_STATION * len(STATIONS)

            def saved(n):
                return lambda: min(s.saved for s in stations) >= n

            def saved_more(k):
                base = [s.saved for s in stations]
                return lambda: all(s.saved >= min(b + k, PER_STATION) for s, b in zip(stations, base))

            # 1. the broker stops (clean: its queue for the hub is saved) and comes back
            assert wait_until(saved(10), 60)
            broker.stop()
            assert wait_until(saved_more(5), 60)
            broker.start()
            faults.append("broker stopped and restarted")
            # 2. the hub killed with SIGKILL, started again
            assert wait_until(saved(22), 60)
            hub.send_signal(signal.SIGKILL)
            hub.wait(20)
            assert wait_until(saved_more(5), 60)
            hub = _hub(pg.dsn, broker.port, tmp_path)
            faults.append("hub killed (SIGKILL) and restarted")
            # 3. PostgreSQL crashes (immediate stop) and comes back
            assert wait_until(saved(34), 60)
            pg.stop("immediate")
            assert wait_until(saved_more(5), 60)
            pg.start()
            faults.append("PostgreSQL crashed (immediate stop) and restarted")
            # 4. a station killed with SIGKILL while it publishes, started again on its database
            victim = stations[1]
            assert wait_until(lambda: victim.saved >= 46, 60)
            killed_with_queue = victim.queued()
            victim.kill()
            saved_at_kill = victim.saved
            victim.start()
            faults.append(f"station {victim.name} killed (SIGKILL) at {saved_at_kill} saved, "
                          f"{killed_with_queue} queued; restarted")
            assert saved_at_kill < PER_STATION, "the station had finished before the kill: nothing tested"
            # everything saved, every outbox drained, and the hub agrees row by row
            def logs():
                return {p.name: p.read_text()[-1500:] for p in tmp_path.glob("*.log")}

            for s in stations:
                assert s.done.wait(120), (f"{s.name} did not finish: {s.saved} saved", logs())
            assert wait_until(lambda: all(s.queued() == 0 for s in stations), 120), \
                ({s.name: s.queued() for s in stations}, logs())
            assert wait_until(lambda: _clean(_compare(stations, pg.dsn)), 120), (_compare(stations, pg.dsn), logs())
            result = _compare(stations, pg.dsn)
            print(f"\nfleet e2e: {len(STATIONS)} stations, {result['station_rows']} assessments in their stores; "
                  f"faults: {'; '.join(faults)}; lost {len(result['lost'])}, duplicated {result['duplicated']}, "
                  f"extra {len(result['extra'])}, different {len(result['wrong'])}, "
                  f"alerts missing {len(result['alerts_missing'])}")
            assert result["station_rows"] == total
            assert _clean(result), result
            deleted = hub_rows(pg.dsn, "SELECT count(*) FROM assessments WHERE deleted")[0][0]
            assert deleted == sum(1 for s in stations for r in s.rows().values() if r[1]) > 0
        finally:
            for s in stations:
                s.kill(signal.SIGTERM)
            if hub.poll() is None:
                hub.send_signal(signal.SIGTERM)
                hub.wait(20)
