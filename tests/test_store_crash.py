"""A process writing assessments killed with SIGKILL at random moments loses nothing committed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from device.store import Store

WRITER = textwrap.dedent("""
    import sys
    from device.store import Store
    from device.vocabulary import COMPENSATION_IDS

    def payload(i):
        return b"\\xff\\xd8\\xff" + bytes([i % 251]) * (20000 + (i * 7919) % 40000)

    store = Store(sys.argv[1])
    start = int(sys.argv[2])
    result = {"format": "ohsa-result/1", "reps": 5,
              "compensations": {c: {"status": "absent"} for c in COMPENSATION_IDS}}
    i = start
    while True:
        track = {"format": "ohsa-keypoints/1", "views": {"front": {"width": 640, "height": 480,
                 "fps": 30, "frames": [{"t": j / 30, "keypoints": [[i, j, 0.5]] * 17}
                                       for j in range(200)]}}}
        aid = store.save_assessment(result, track, {"front": payload(i), "side": payload(i + 1)},
                                    label=f"K{i}")
        if i % 3 == 0:
            store.override_finding(aid, "head_down", "present", f"n{i}")
        sys.stdout.write(f"{i} {aid}\\n")
        sys.stdout.flush()
        i += 1
""")


def _payload(i: int) -> bytes:
    return b"\xff\xd8\xff" + bytes([i % 251]) * (20000 + (i * 7919) % 40000)


def test_sigkill_during_writes_keeps_committed_rows(tmp_path):
    path = tmp_path / "crash.db"
    rng = random.Random(int(os.environ.get("OHSA_CRASH_SEED", "7")))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    committed: dict[int, str] = {}
    next_i = 0
    for _round in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(next_i)],
                                stdout=subprocess.PIPE, env=env)
        first = proc.stdout.readline()  # the writer is up and has committed one row
        assert first, "writer died before its first commit"
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        lines = (first + rest).decode().split("\n")
        for line in lines[:-1]:  # the last piece may be a line cut by the kill
            i, aid = line.split()
            committed[int(i)] = aid
        next_i = max(committed) + 1

        with Store(path) as store:
            assert store.integrity_check()
            for i, aid in committed.items():
                got = store.get(aid)
                assert got is not None, f"committed row {i} lost"
                assert got["label"] == f"K{i}"
                assert store.get_image(aid, "front") == _payload(i)
                assert store.get_image(aid, "side") == _payload(i + 1)
                frames = store.get_track(aid)["views"]["front"]["frames"]
                assert len(frames) == 200 and frames[0]["keypoints"][0] == [i, 0, 0.5]
                if i % 3 == 0 and store.count(f"K{i}") == 1:
                    # the override is a second transaction: present, or absent if killed between
                    ov = got["overrides"].get("head_down")
                    assert ov is None or ov["note"] == f"n{i}"
            # nothing half-written: every row has both images (one transaction per assessment)
            with store._lock:
                orphans = store._db.execute(
                    "SELECT COUNT(*) FROM assessments a WHERE (SELECT COUNT(*) FROM images i"
                    " WHERE i.assessment_id = a.id) != 2").fetchone()[0]
            assert orphans == 0
            assert store.count() >= len(committed)
    assert len(committed) >= 10
