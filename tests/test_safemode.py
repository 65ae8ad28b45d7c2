"""Safe mode: unfinished start-up and bad config give a reason; a clean start gives none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from device import safemode


def test_clean_start_gives_no_reason(tmp_path):
    assert safemode.check(None, tmp_path) is None
    safemode.begin(tmp_path)
    safemode.done(tmp_path)
    assert safemode.check(None, tmp_path) is None
    safemode.done(tmp_path)  # twice is harmless


def test_unfinished_start_gives_a_reason(tmp_path):
    safemode.begin(tmp_path)
    reason = safemode.check(None, tmp_path)
    assert reason and "did not finish" in reason


def test_process_killed_during_start_up_is_found(tmp_path):
    # a real process that marks its start and is killed before it finishes
    code = (
        "import sys, time; from device import safemode; "
        "safemode.begin(sys.argv[1]); print('begun', flush=True); time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "begun"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert "did not finish" in safemode.check(None, tmp_path)


def test_bad_config_gives_the_key_path(tmp_path):
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text("[web]\nport = 'eighty'\n")
    reason = safemode.check(cfg, tmp_path / "data")
    assert reason.startswith("bad config:") and "web.port" in reason
    cfg.write_text("[station\n")
    assert "not valid TOML" in safemode.check(cfg, tmp_path / "data")
    cfg.write_text("[web]\nport = 8081\n")
    assert safemode.check(cfg, tmp_path / "data") is None


def test_both_reasons_are_given(tmp_path):
    cfg = tmp_path / "ohsa.toml"
    cfg.write_text("colour = 'red'\n")
    safemode.begin(tmp_path)
    reason = safemode.check(cfg, tmp_path)
    assert "did not finish" in reason and "colour" in reason


def test_garbled_marker_still_counts(tmp_path):
    (tmp_path / safemode.MARKER).write_bytes(b"\x00\x00")
    assert "did not finish" in safemode.check(None, tmp_path)


def test_marker_is_private(tmp_path):
    safemode.begin(tmp_path)
    assert (tmp_path / safemode.MARKER).stat().st_mode & 0o077 == 0
