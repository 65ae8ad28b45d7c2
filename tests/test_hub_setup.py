"""scripts/hub.sh: every argument is checked before anything on the machine changes, and none
is ever run as code (a station id goes into file names and the broker's password file)."""

from __future__ import annotations

import subprocess

import pytest

from device import paths

HUB_SH = paths.REPO_ROOT / "scripts" / "hub.sh"


def _run(*args: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(HUB_SH), *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)


@pytest.mark.parametrize("args, problem", [
    (["--station", "gym;touch PWNED"], "--station 'gym;touch PWNED': 1-40 of a-z"),
    (["--station", "$(touch PWNED)"], "1-40 of a-z"),
    (["--station", "Gym-1"], "1-40 of a-z"),
    (["--station", "x" * 41], "1-40 of a-z"),
    (["--station", "hub"], "--station hub: that name is a broker user of its own"),
    (["--station", "homeassistant"], "a broker user of its own"),
    (["--port", "80; touch PWNED"], "--port '80; touch PWNED': expected 1-65535"),
    (["--port", "0"], "--port '0': expected 1-65535"),
    (["--frobnicate"], "unknown option --frobnicate"),
])
def test_bad_arguments_are_refused_before_anything_changes(args, problem, tmp_path):
    proc = _run(*args, tmp_path=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("hub.sh: ") and problem in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1  # one line, no trace
    assert not (tmp_path / "PWNED").exists()


def test_help_describes_the_one_command(tmp_path):
    proc = _run("--help", tmp_path=tmp_path)
    assert proc.returncode == 0 and "sudo scripts/hub.sh --station" in proc.stdout


def test_script_parses():
    assert subprocess.run(["bash", "-n", str(HUB_SH)]).returncode == 0
