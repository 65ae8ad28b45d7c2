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
    assert set(files) == {"README.txt", "versions.json", "config.toml", "logs.txt", "stats.json"}
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
