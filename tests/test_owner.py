"""`ohsa password`: the trainer (owner) password set from the Pi's shell, never from the web."""

from __future__ import annotations

import os
import subprocess
import sys

from device import owner
from device.paths import REPO_ROOT


def ohsa(*argv, stdin="", data=None):
    env = dict(os.environ)
    if data is not None:
        env["OHSA_DATA_DIR"] = str(data)
    return subprocess.run([sys.executable, "-m", "device", "password", *map(str, argv)], input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=REPO_ROOT, env=env)


def test_generate_prints_it_once_and_stores_only_the_hash(tmp_path):
    assert ohsa("status", data=tmp_path).returncode == 1
    proc = ohsa("generate", data=tmp_path)
    assert proc.returncode == 0, proc.stderr
    password = proc.stdout.splitlines()[0].removeprefix("trainer password: ")
    assert len(password) == 19 and password.count("-") == 3
    stored = (tmp_path / owner.FILE_NAME).read_text()
    assert password not in stored and owner.verify_password(password, owner.read_hash(tmp_path))
    assert (tmp_path / owner.FILE_NAME).stat().st_mode & 0o777 == 0o600
    again = ohsa("generate", "--if-unset", data=tmp_path)  # an installer run again keeps it
    assert again.returncode == 0 and "set already" in again.stdout and password not in again.stdout
    assert owner.verify_password(password, owner.read_hash(tmp_path))
    status = ohsa("status", data=tmp_path)
    assert status.returncode == 0 and "set" in status.stdout and "scrypt" not in status.stdout


def test_set_from_stdin_replaces_it(tmp_path):
    ohsa("generate", data=tmp_path)
    proc = ohsa("set", stdin="a new one from the shell\n", data=tmp_path)
    assert proc.returncode == 0 and "every trainer session has ended" in proc.stdout
    assert owner.verify_password("a new one from the shell", owner.read_hash(tmp_path))


def test_bad_passwords_and_places_are_one_line(tmp_path):
    proc = ohsa("set", stdin="short\n", data=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "ohsa: password: The password needs at least 8 characters."
    assert owner.read_hash(tmp_path) is None
    f = tmp_path / "file"
    f.write_text("x")
    proc = ohsa("--data-dir", f, "set", stdin="long enough\n")
    assert proc.returncode == 2 and proc.stderr.strip() == f"ohsa: {f}: not a directory"


def test_first_writer_wins_the_no_replace_create(tmp_path):
    a, b = owner.hash_password("first-password"), owner.hash_password("second-password")
    assert owner.create_hash(tmp_path, a) is True
    assert owner.create_hash(tmp_path, b) is False
    assert owner.read_hash(tmp_path) == a
    assert [p.name for p in tmp_path.iterdir()] == [owner.FILE_NAME]  # no temp file left


def test_installer_sets_the_password_before_starting_the_station():
    script = (REPO_ROOT / "scripts" / "install-pi.sh").read_text()
    assert script.index("password generate") < script.index("systemctl restart ohsa.service")
    assert "password status" in script and "--generate-password" in script
