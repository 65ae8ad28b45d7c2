"""The diagnostics zip: what it holds, secrets kept out, logs from the journal or the ring."""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile

from device import diagnostics


def _open(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        return {n: z.read(n).decode() for n in z.namelist()}


def test_zip_holds_versions_config_logs_stats(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))  # no journalctl: the ring is used
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text('[station]\nname = "Gym West"\n[web]\nport = 8081\n')
    ring = diagnostics.capture_logs()
    logging.getLogger("ohsa.station").warning("camera side offline for 3.2 s")
    files = _open(diagnostics.build_zip(tmp_path / "data", cfg, stats={"inference_ms": 2.5}, safe_mode=None))
    assert set(files) == {"README.txt", "versions.json", "config.toml", "logs.txt", "stats.json", "security.txt"}
    versions = json.loads(files["versions.json"])
    assert versions["ohsa"] and versions["python"].startswith("3.") and "numpy" in versions["libraries"]
    assert 'name = "Gym West"' in files["config.toml"] and "port = 8081" in files["config.toml"]
    assert "camera side offline for 3.2 s" in files["logs.txt"]
    assert "in-memory log" in files["README.txt"]
    stats = json.loads(files["stats.json"])
    assert stats["station"] == {"inference_ms": 2.5}
    assert stats["health"]["disk_percent"] is not None
    assert ring is diagnostics.capture_logs()  # attached once


def test_secrets_never_leave(tmp_path):
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text('[web]\nport = 8080\nadmin_password = "hunter2"\nsecret_key = "s3cr3t"\n'
                   'trainer = { name = "x", token = "t0k3n" }\n')
    files = _open(diagnostics.build_zip(tmp_path / "data", cfg, safe_mode="bad config"))
    text = files["config.toml"]
    assert "config rejected" in text and "port = 8080" in text
    assert "hunter2" not in text and "s3cr3t" not in text and "t0k3n" not in text
    assert json.loads(files["stats.json"])["safe_mode"] == "bad config"
    assert diagnostics.redact({"web": {"password_hash": "x", "port": 1}}) == {
        "web": {"password_hash": "<redacted>", "port": 1}
    }


def test_journal_is_preferred_when_it_has_the_unit(tmp_path, monkeypatch):
    # a journalctl on PATH that answers like the real one for `-u ohsa`
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "journalctl"
    fake.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" -u ohsa "*) echo "2026-11-25T01:00:00+0000 pi ohsa[412]: READY cameras 2/2";; esac\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    source, lines = diagnostics.recent_logs()
    assert source == "journalctl -u ohsa" and lines == ["2026-11-25T01:00:00+0000 pi ohsa[412]: READY cameras 2/2"]


def test_filename():
    name = diagnostics.filename()
    assert name.startswith("ohsa-diagnostics-") and name.endswith(".zip") and "/" not in name


def test_a_log_flood_keeps_the_security_events(tmp_path, monkeypatch):
    """Issue 13: under unauthenticated load 1,996 of 2,000 kept lines were waitress's queue-depth
    warnings and the failed-login lines were gone."""
    now = [0.0]
    limit = diagnostics.RepeatLimit(burst=5, window_s=60.0, clock=lambda: now[0])
    ring = diagnostics.LogRing(2000)
    ring.addFilter(limit)
    root = logging.getLogger()
    root.addHandler(ring)
    queue, security = logging.getLogger("waitress.queue"), logging.getLogger("ohsa.security")
    old_level = security.level
    security.setLevel(logging.INFO)
    try:
        for i in range(2000):
            queue.warning("Task queue depth is %d", i % 50 + 1)
            if i % 400 == 0:
                security.warning("wrong password (login) from 192.168.1.%d", i // 400)
            now[0] += 0.01  # 2,000 lines in 20 s: one window
        assert sum("queue depth" in ln for ln in ring.lines) == 5
        assert sum("wrong password" in ln for ln in ring.lines) == 5
        now[0] += 60.0  # the next window: one line says how many were dropped
        queue.warning("Task queue depth is %d", 7)
        assert "Task queue depth is 7 [1995 more like this dropped in the last 60 s]" in ring.lines[-1]
        assert limit.dropped == 1995
    finally:
        root.removeHandler(ring)
        security.setLevel(old_level)


def test_security_events_have_a_ring_of_their_own_in_the_zip(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))
    diagnostics.capture_logs()
    logging.getLogger("ohsa.security").warning("wrong password (login) from 192.168.1.77")
    for i in range(3000):  # a flood from one place: dropped after the burst
        logging.getLogger("waitress.queue").warning("Task queue depth is %d", i)
    files = _open(diagnostics.build_zip(tmp_path / "data", None))
    assert "wrong password (login) from 192.168.1.77" in files["security.txt"]
    assert "wrong password (login) from 192.168.1.77" in files["logs.txt"]
    assert files["logs.txt"].count("Task queue depth") <= diagnostics.REPEAT_BURST
