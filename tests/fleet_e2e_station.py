"""One station process for the end-to-end fleet test: a real Store with the outbox on and the
real publisher, replaying a fixed list of results into it as walk-up sets would.

    python -m tests.fleet_e2e_station DB PORT STATION PASSWORD N PACE_S

Saves assessments until the store holds N (a restarted station continues where it was), with
the changes a trainer makes on the way: every 4th gets notes, every 6th a member (so one member
appears at several stations), every 9th is soft-deleted, every 10th a pain alert. Prints
`saved <n>` after each save, `done` once all N are saved, then keeps the link up until SIGTERM.
"""

from __future__ import annotations

import random
import signal
import sys
import threading

from device.fleet.publisher import Publisher
from device.store import Store
from device.store.demo import demo_result


def main(db: str, port: str, station: str, password: str, n: str, pace_s: str) -> int:
    total = int(n)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = {"enabled": True, "host": "127.0.0.1", "port": int(port), "tls": False, "station_id": station,
                "password": password, "discovery": False}
    with Store(db, outbox=True) as store:
        pub = Publisher(settings, store, health=lambda: {"sets_today": 0, "cameras": {"front": "ok", "side": "ok"},
                                                         "uptime_s": 1},
                        version="e2e", backoff_max_s=0.5).start()
        have = store.count() + len(store.list_deleted())
        for i in range(have, total):
            if stop.is_set():
                break
            result = demo_result(random.Random(f"{station}-{i}"))
            member = f"m{i % 5}" if i % 6 == 0 else None
            aid = store.save_assessment(result, None, {}, label=f"{station} client {i}", member=member,
                                        pain=i % 10 == 0)
            if i % 4 == 0:
                store.set_notes(aid, f"note {i}", by="owner")
            if i % 10 == 0:
                store.add_event("pain", assessment_id=aid, detail=f"pain in set {i}")
            if i % 9 == 0:
                store.soft_delete(aid)
            pub.nudge()
            print(f"saved {i + 1}", flush=True)
            stop.wait(float(pace_s))  # a set every PACE_S: the faults land mid-stream
        print("done", flush=True)
        stop.wait()
        pub.close(5)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
