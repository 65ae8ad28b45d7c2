"""install-pi.sh and uninstall-pi.sh: what they refuse, before they touch anything.

The full install (apt, user, venv, bundle, model, config, units; twice; then uninstall) runs
for real in the emulated arm64 userland: tests/test_arm64.py -> scripts/arm64-check.sh."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from device import paths

SCRIPTS = paths.REPO_ROOT / "scripts"
INSTALL = SCRIPTS / "install-pi.sh"
UNINSTALL = SCRIPTS / "uninstall-pi.sh"


def _run(*args, user=None):
    cmd = [str(a) for a in args]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def _last_line(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


def _fake_bundle(root, machine=None, tamper=False):
    b = root / "ohsa-bundle"
    (b / "wheels").mkdir(parents=True)
    (b / "wheels" / "ohsa_station-0.1.0-py3-none-any.whl").write_bytes(b"PK not really a wheel")
    digest = hashlib.sha256((b / "wheels" / "ohsa_station-0.1.0-py3-none-any.whl").read_bytes()).hexdigest()
    (b / "SHA256SUMS").write_text(f"{digest}  wheels/ohsa_station-0.1.0-py3-none-any.whl\n")
    (b / "manifest.json").write_text(json.dumps({"machine": machine or os.uname().machine}))
    if tamper:
        (b / "wheels" / "ohsa_station-0.1.0-py3-none-any.whl").write_bytes(b"PK changed on the way")
    return b


def test_scripts_parse():
    for script in ("install-pi.sh", "uninstall-pi.sh", "make-offline-bundle.sh", "arm64-check.sh"):
        assert _run("bash", "-n", SCRIPTS / script).returncode == 0, script


def test_help_and_unknown_options():
    assert "--bundle" in _run(INSTALL, "--help").stdout
    assert "--purge" in _run(UNINSTALL, "--help").stdout
    proc = _run(INSTALL, "--colour")
    assert proc.returncode != 0 and _last_line(proc) == "install-pi: unknown option --colour (see --help)"
    proc = _run(UNINSTALL, "--everything")
    assert proc.returncode != 0 and "unknown option --everything" in _last_line(proc)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root to switch user")
def test_refuses_without_root():
    for script in (INSTALL, UNINSTALL):
        proc = _run(script, user="nobody")
        assert proc.returncode != 0 and "run as root" in _last_line(proc)


@pytest.mark.skipif(os.geteuid() != 0, reason="the installer runs as root")
def test_refuses_a_bad_bundle_before_changing_anything(tmp_path):
    before = {p: os.path.exists(p) for p in ("/opt/ohsa", "/etc/ohsa", "/var/lib/ohsa")}
    proc = _run(INSTALL, "--bundle", tmp_path / "nope.tar")
    assert proc.returncode == 1 and _last_line(proc) == f"install-pi: {tmp_path / 'nope.tar'}: no such bundle"

    (tmp_path / "junk.tar").write_bytes(b"this is not a tar file")
    proc = _run(INSTALL, "--bundle", tmp_path / "junk.tar")
    assert proc.returncode == 1 and "not a bundle archive" in _last_line(proc)

    (tmp_path / "empty").mkdir()
    proc = _run(INSTALL, "--bundle", tmp_path / "empty")
    assert proc.returncode == 1 and "not an OHSA bundle" in _last_line(proc)

    damaged = _fake_bundle(tmp_path / "d", tamper=True)
    proc = _run(INSTALL, "--bundle", damaged)
    assert proc.returncode == 1 and "damaged (SHA-256 mismatch" in _last_line(proc)

    # run from inside an unpacked bundle, it installs that bundle (and checks it first)
    shutil.copy(INSTALL, damaged / "install-pi.sh")
    shutil.copytree(SCRIPTS / "lib", damaged / "lib")
    proc = _run(damaged / "install-pi.sh")
    assert proc.returncode == 1 and "damaged (SHA-256 mismatch" in _last_line(proc)

    foreign = _fake_bundle(tmp_path / "f", machine="riscv64")
    proc = _run(INSTALL, "--bundle", foreign)
    assert proc.returncode == 1 and _last_line(proc).endswith("built for riscv64, this machine is " + os.uname().machine)
    assert {p: os.path.exists(p) for p in before} == before  # nothing made or removed
