#!/usr/bin/env python3
"""Benchmark of the fleet: stations -> Mosquitto -> hub -> PostgreSQL, and the hub's pages.

    .venv/bin/python scripts/bench_fleet.py [--stations 20] [--per-station 500] [--rows 100000] [--json]
    .venv/bin/python scripts/bench_fleet.py --quick      # 4 x 50 and 5,000 rows: the CI test's run

Starts a private Mosquitto and PostgreSQL (tests/services.py: the Debian packages; PostgreSQL with
fsync on, as in production) and the hub as
its own process (`ohsa hub run --no-web`), then:
1. ingest: N simulated stations (one MQTT connection and thread each, the station's own message
   builders, QoS 1, each publish waiting for its PUBACK as the station's publisher does) send
   their assessments as fast as the broker takes them; the rate is assessments stored per second
   at the hub, and the delay is saved-on-station (the message's `at`) -> committed at the hub
   (`received_at`), p50/p99. A second, paced run (each station one assessment every
   `--pace` seconds) gives the delay when the hub is not saturated.
2. reads: PostgreSQL filled to `--rows` assessments (bulk insert of the same rows the hub writes),
   then the pages timed through the hub's Flask app: the list (first page, a station's, a
   search, a late page) and one member's history across stations; median and worst of 10, ms.
Every assessment sent is checked to be stored exactly once. Prints a table (or --json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt  # noqa: E402
import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from device.fleet import messages  # noqa: E402
from device.plan import build_plan  # noqa: E402
from device.store.demo import demo_result  # noqa: E402
from device.store.schema import summary  # noqa: E402
from hub import db  # noqa: E402
from tests.fleet_hub import ACL, HUB_PASSWORD, broker_users, station_password  # noqa: E402
from tests.services import Mosquitto, Postgres  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

PAGE_LIMIT_MS = 300.0


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))]


def record(rng: random.Random, i: int, member: str | None) -> dict:
    result = demo_result(rng)
    return {"created_at": now_iso(), "label": f"client {i}",
            "member": {"number": member, "name": f"Member {member}"} if member else None,
            "kind": "standard", "parent_id": None, "pain": False, "notes": "", "result": result,
            "overrides": {}, "plan": build_plan(result), "station_version": "bench", "model_sha256": "0" * 64}


class Station(threading.Thread):
    """One simulated station: its own MQTT user and connection, QoS 1, one publish in flight."""

    def __init__(self, port: int, name: str, count: int, pace_s: float, prefix_id: str):
        super().__init__(daemon=True)
        self.name_, self.count, self.pace_s, self.prefix_id = name, count, pace_s, prefix_id
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{name}")
        self.client.username_pw_set(name, station_password(name))
        self.client.connect("127.0.0.1", port, keepalive=60)
        self.client.loop_start()
        self.rng = random.Random(name)
        self.sent = 0
        self.error: str | None = None

    def run(self):
        try:
            next_at = time.monotonic()
            for i in range(self.count):
                if self.pace_s:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += self.pace_s
                member = f"m{self.rng.randrange(200)}" if i % 2 else None
                msg = messages.assessment(self.name_, f"{self.prefix_id}{i:05d}", 1, now_iso(),
                                          record(self.rng, i, member))
                info = self.client.publish(messages.topic_of(msg), messages.encode(msg), qos=1)
                info.wait_for_publish(60)
                if not info.is_published():
                    raise RuntimeError("no PUBACK in 60 s")
                self.sent += 1
        except Exception as e:  # reported in the figures, never hidden
            self.error = f"{self.name_}: {e}"
        finally:
            self.client.disconnect()
            self.client.loop_stop()


def hub_process(dsn: str, port: int, folder: Path) -> subprocess.Popen:
    env = dict(os.environ, OHSA_HUB_DSN=dsn, OHSA_HUB_MQTT_PASSWORD=HUB_PASSWORD)
    log = open(folder / "hub.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "device", "-v", "hub", "run", "--no-web",
                             "--broker", f"mqtt://127.0.0.1:{port}", "--data-dir", str(folder / "hub-data")],
                            stdout=log, stderr=log, env=env)


def count(dsn: str, where: str = "TRUE") -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM assessments WHERE {where}").fetchone()[0]


def stations_seen(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM stations").fetchone()[0]


def ingest_run(dsn, broker, names, per_station, pace_s, tag) -> dict:
    before = count(dsn)
    stations = [Station(broker.port, n, per_station, pace_s, tag) for n in names]
    start = time.monotonic()
    for s in stations:
        s.start()
    total = len(names) * per_station
    done = wait_until(lambda: count(dsn) - before >= total or any(s.error for s in stations),
                      timeout=max(120.0, total * 0.2), step=0.05)
    elapsed = time.monotonic() - start
    for s in stations:
        s.join(30)
    errors = [s.error for s in stations if s.error]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT station, id, extract(epoch FROM received_at - sent_at) FROM assessments WHERE id LIKE %s",
            (tag + "%",)).fetchall()
    delays = [float(r[2]) * 1000 for r in rows]
    stored = len({(r[0], r[1]) for r in rows})
    return {"stations": len(names), "per_station": per_station, "pace_s": pace_s, "sent": sum(s.sent for s in stations),
            "stored": stored, "complete": bool(done) and stored == total, "errors": errors,
            "seconds": round(elapsed, 2), "rate_per_s": round(stored / elapsed, 1) if elapsed else None,
            "delay_ms_p50": round(pct(delays, 50), 1), "delay_ms_p99": round(pct(delays, 99), 1),
            "delay_ms_max": round(max(delays), 1) if delays else None}


def bulk_fill(dsn: str, rows: int, stations: int, members: int, seed: int = 0) -> dict:
    """Fill to `rows` assessments, the same columns the hub writes (COPY, a few template results)."""
    rng = random.Random(seed)
    templates = []
    for k in range(50):
        result = demo_result(random.Random(k))
        reps, findings = summary(result)
        templates.append((Jsonb(result), Jsonb(build_plan(result)), reps, findings.split(",") if findings else []))
    have = count(dsn)
    base = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    t = time.monotonic()
    with psycopg.connect(dsn) as conn:
        with conn.cursor().copy(
                "COPY assessments (station, id, revision, sent_at, created_at, label, member, member_name,"
                " kind, reps, findings, result, overrides, plan, station_version) FROM STDIN") as copy:
            copy.set_types(["text", "text", "int4", "timestamptz", "timestamptz", "text", "text", "text",
                            "text", "int4", "text[]", "jsonb", "jsonb", "jsonb", "text"])
            for i in range(have, rows):
                created = base + dt.timedelta(seconds=rng.randrange(0, 365 * 86400))
                member = f"m{rng.randrange(members)}" if rng.random() < 0.7 else None
                result, plan, reps, findings = templates[i % len(templates)]
                copy.write_row((f"gym-{i % stations:03d}", f"fill{i:07d}", 1, created, created, f"client {i % 5000}",
                                member, f"Member {member}" if member else "", "standard", reps, findings,
                                result, Jsonb({}), plan, "bench"))
        conn.execute("ANALYZE assessments")
        size = conn.execute("SELECT pg_total_relation_size('assessments')").fetchone()[0]
    return {"rows": rows, "fill_s": round(time.monotonic() - t, 1), "table_bytes": size,
            "bytes_per_assessment": round(size / max(1, rows))}


def page_times(dsn: str, folder: Path, member: str, repeat: int = 10) -> dict:
    from device import owner
    from hub.app import create_app
    from hub.store import HubStore

    owner.write_hash(folder, owner.hash_password("bench-password"))
    store = HubStore(dsn)
    app = create_app(store, data_dir=folder, testing=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    assert client.post("/login", data={"csrf_token": csrf, "password": "bench-password"}).status_code == 302
    total = store.count()
    urls = {
        "list_first_page": "/assessments",
        "list_one_station": "/assessments?station=gym-007",
        "list_search": "/assessments?q=client+4242",
        "list_dates": "/assessments?from=2025-03-01&to=2025-03-31",
        "list_page_100": "/assessments?page=100",
        "member_history": f"/members/{member}",
        "api_list_json": "/api/assessments?limit=50",
    }
    out = {}
    for name, url in urls.items():
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        out[name] = {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}
    history = len(store.client_history(member))
    store.close()
    return {"total": total, "member_history_rows": history, "pages": out,
            "under_limit": all(v["p50_ms"] < PAGE_LIMIT_MS for v in out.values())}


def message_size() -> int:
    rng = random.Random(7)
    msg = messages.assessment("gym-001", "a" * 12, 1, now_iso(), record(rng, 1, "1042"))
    return len(messages.encode(msg))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stations", type=int, default=20)
    ap.add_argument("--per-station", type=int, default=500)
    ap.add_argument("--rows", type=int, default=100_000, help="assessments in PostgreSQL for the page timings")
    ap.add_argument("--pace", type=float, default=0.5, help="seconds between a station's assessments in the paced run")
    ap.add_argument("--paced-per-station", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="4 stations x 50, 5,000 rows (CI)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.stations, args.per_station, args.rows, args.paced_per_station = 4, 50, 5_000, 5
    names = [f"gym-{i:03d}" for i in range(args.stations)]
    figures: dict = {"machine": {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
                     "message_bytes": message_size()}
    with tempfile.TemporaryDirectory(prefix="ohsa-bench-fleet-") as tmp:
        folder = Path(tmp)
        with Postgres(durable=True) as pg, Mosquitto(folder / "broker", broker_users(names), ACL) as broker:
            with db.connect(pg.dsn) as conn:
                db.migrate(conn)
            hub = hub_process(pg.dsn, broker.port, folder)
            try:
                # the hub's session exists once it has subscribed: a retained status reaches it
                hello = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-hello")
                hello.username_pw_set(names[0], station_password(names[0]))
                hello.connect("127.0.0.1", broker.port)
                hello.loop_start()
                status = messages.status(names[0], "online", now_iso(), "bench")
                hello.publish(messages.topic_of(status), messages.encode(status), qos=1, retain=True).wait_for_publish(30)
                hello.disconnect()
                hello.loop_stop()
                if not wait_until(lambda: stations_seen(pg.dsn) == 1, 60):
                    raise SystemExit("bench_fleet: the hub stored nothing: " + (folder / "hub.log").read_text()[-1500:])
                figures["burst"] = ingest_run(pg.dsn, broker, names, args.per_station, 0.0, "b")
                figures["paced"] = ingest_run(pg.dsn, broker, names, args.paced_per_station, args.pace, "p")
            finally:
                hub.send_signal(signal.SIGTERM)
                hub.wait(30)
            figures["fill"] = bulk_fill(pg.dsn, args.rows, stations=max(20, args.stations), members=args.rows // 20)
            figures["reads"] = page_times(pg.dsn, folder, member="m42")
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        b, p, r = figures["burst"], figures["paced"], figures["reads"]
        print(f"message: {figures['message_bytes']} bytes (result + plan, no stills)")
        print(f"burst: {b['stations']} stations x {b['per_station']}: {b['stored']}/{b['stations'] * b['per_station']} "
              f"stored once in {b['seconds']} s = {b['rate_per_s']}/s; delay p50 {b['delay_ms_p50']} ms, "
              f"p99 {b['delay_ms_p99']} ms")
        print(f"paced: {p['stations']} stations, one per {p['pace_s']} s each: delay p50 {p['delay_ms_p50']} ms, "
              f"p99 {p['delay_ms_p99']} ms")
        print(f"reads with {r['total']} assessments ({figures['fill']['bytes_per_assessment']} bytes each in PostgreSQL):")
        for name, v in r["pages"].items():
            print(f"  {name:18s} p50 {v['p50_ms']:7.1f} ms  max {v['max_ms']:7.1f} ms")
    ok = figures["burst"]["complete"] and figures["paced"]["complete"] and figures["reads"]["under_limit"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
