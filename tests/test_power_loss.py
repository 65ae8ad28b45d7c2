"""Power loss, as near as a test can get: SIGKILL at random moments while the store and the
config are being written, at least 50 times; after each kill the files open, SQLite's integrity
check passes and everything that was committed before the kill is there, whole.

The killing runs in one helper process that forks a writer per round (no interpreter start per
kill, so 60 kills take seconds); this test process then opens the store itself and checks again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from device import config, paths
from device.store import Store

KILLS = 60

HELPER = textwrap.dedent(r"""
    import hashlib, json, os, random, signal, sys, time
    from device import config
    from device.store import Store
    from device.vocabulary import COMPENSATION_IDS

    db, cfg_path, kills = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(7)

    def jpeg(i, view):
        return b"\xff\xd8\xff" + hashlib.sha256(f"{i}{view}".encode()).digest() * (300 + i % 700)

    def result(i):
        comps = {c: {"status": "absent", "reps_flagged": 0, "side": None, "value": i / 7, "unit": "x",
                     "threshold": 1.0} for c in COMPENSATION_IDS}
        comps["knees_cave_in"]["status"] = "present" if i % 2 else "absent"
        return {"format": "ohsa-result/1", "reps": 5, "compensations": comps}

    def track(i):
        return {"format": "ohsa-keypoints/1", "views": {"front": {"width": 640, "height": 480, "fps": 30,
                "frames": [{"t": j / 30, "keypoints": [[i, j, 0.5]] * 17} for j in range(60)]}}}

    CONFIGS = [{"station": {"name": f"Gym {n}"}, "web": {"port": 8000 + n}} for n in range(2)]

    def writer(r_fd, w_fd, start):
        os.close(r_fd)
        try:
            store = Store(db)
            i = start
            while True:
                aid = store.save_assessment(result(i), track(i), {"front": jpeg(i, "front"),
                                            "side": jpeg(i, "side")}, label=f"K{i}")
                config.save(CONFIGS[i % 2], cfg_path)
                os.write(w_fd, f"{i} {aid}\n".encode())  # only after both are committed
                i += 1
        finally:
            os._exit(1)

    committed = {}  # aid -> i
    checked = set()  # rows already found whole
    failures, next_i, kills_done = [], 0, 0
    while kills_done < kills:
        r_fd, w_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            writer(r_fd, w_fd, next_i)
        os.close(w_fd)
        # anywhere: mid-transaction, mid-fsync, mid-rename; every 4th round long enough to commit
        time.sleep(rng.uniform(0.0, 0.25) if kills_done % 4 else rng.uniform(0.3, 0.6))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills_done += 1
        data = b""
        while chunk := os.read(r_fd, 65536):
            data += chunk
        os.close(r_fd)
        for line in data.decode().split("\n")[:-1]:  # a cut last line is not a commitment
            i, aid = line.split()
            committed[aid] = int(i)
            next_i = max(next_i, int(i) + 1)
        next_i += 1  # the killed write may have committed under this number
        # after the "power cut": open, check, compare everything committed so far
        store = Store(db)
        if not store.integrity_check():
            failures.append(f"kill {kills_done}: integrity check failed")
        # what this round committed, and a sample of the older ones (all of them at the end)
        older = [a for a in committed if a in checked]
        for aid in [a for a in committed if a not in checked] + rng.sample(older, min(5, len(older))):
            i = committed[aid]
            got = store.get(aid)
            if got is None or got["result"] != result(i) or got["label"] != f"K{i}":
                failures.append(f"kill {kills_done}: assessment {aid} ({i}) lost or changed")
            elif store.get_track(aid) != track(i) or store.get_image(aid, "front") != jpeg(i, "front") \
                    or store.get_image(aid, "side") != jpeg(i, "side"):
                failures.append(f"kill {kills_done}: track or image of {aid} ({i}) lost or changed")
        # no half-saved assessment: every new row has its track and both stills
        for row in store.list(limit=10000):
            if row["id"] in checked:
                continue
            a = store.get(row["id"])
            if not a["has_track"] or sorted(a["images"]) != ["front", "side"]:
                failures.append(f"kill {kills_done}: {row['id']} saved in part")
            checked.add(row["id"])
        store.close()
        if os.path.exists(cfg_path):
            try:
                cfg = config.load(cfg_path)
                if cfg["station"]["name"] not in ("Gym 0", "Gym 1") or cfg["web"]["port"] - 8000 != int(cfg["station"]["name"][-1]):
                    failures.append(f"kill {kills_done}: config mixes two versions")
            except Exception as e:
                failures.append(f"kill {kills_done}: config unreadable: {e}")
    # at the end, everything ever committed, in full
    store = Store(db)
    for aid, i in committed.items():
        if store.get(aid)["result"] != result(i) or store.get_track(aid) != track(i) \
                or store.get_image(aid, "front") != jpeg(i, "front") or store.get_image(aid, "side") != jpeg(i, "side"):
            failures.append(f"end: {aid} ({i}) changed")
    store.close()
    print(json.dumps({"kills": kills_done, "committed": committed, "failures": failures[:20]}))
""")


def test_kill_9_during_writes_loses_nothing_committed(tmp_path):
    db = tmp_path / "assessments.db"
    cfg = tmp_path / "etc" / "ohsa.toml"
    proc = subprocess.run(
        [sys.executable, "-c", HELPER, str(db), str(cfg), str(KILLS)],
        capture_output=True, text=True, timeout=240, cwd=paths.REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["kills"] >= 50
    assert report["failures"] == []
    committed = report["committed"]
    # the writers got far enough to commit, again and again, between kills
    assert len(committed) >= 10, len(committed)
    with Store(db) as store:
        assert store.integrity_check()
        for aid, i in committed.items():
            got = store.get(aid)
            assert got is not None and got["label"] == f"K{i}", aid
            assert got["result"]["compensations"]["knees_cave_in"]["status"] == ("present" if i % 2 else "absent")
        assert store.count() >= len(committed)
    cfg_now = config.load(cfg)
    assert cfg_now["station"]["name"] in ("Gym 0", "Gym 1")


def test_config_save_leaves_old_or_new_never_a_mix(tmp_path):
    """Without killing: the atomic write replaces the file whole (the same code as above)."""
    path = tmp_path / "ohsa.toml"
    config.save({"web": {"port": 8081}}, path)
    before = path.stat().st_ino
    config.save({"web": {"port": 8082}}, path)
    assert config.load(path)["web"]["port"] == 8082
    assert path.stat().st_ino != before  # a new file renamed over the old one, not rewritten in place
