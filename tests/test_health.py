"""Health readings: disk thresholds on a real small file system, thermal and throttled parsing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from device import config, health

STORAGE = config.Config().storage


@pytest.fixture
def small_fs(tmp_path):
    """A real 2 MiB tmpfs, so disk use is measured, not assumed (needs root, as in CI)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def _fill(path, nbytes):
    with open(path, "wb") as f:
        f.write(b"\x55" * nbytes)


def test_disk_levels_on_a_real_file_system(small_fs):
    data = small_fs / "ohsa"
    data.mkdir()
    assert health.disk_percent(data) < 5
    assert health.store_images_allowed(data, STORAGE)
    _fill(small_fs / "a", int(0.85 * 2 * 1024 * 1024))
    pct = health.disk_percent(data)
    assert 84 <= pct <= 87
    assert health.disk_level(pct, STORAGE) == "warn"
    report = health.check(data, STORAGE)
    assert report["disk_level"] == "warn" and "Disk 85 % full" in report["warnings"][0]
    assert health.store_images_allowed(data, STORAGE)
    _fill(small_fs / "b", int(0.11 * 2 * 1024 * 1024))
    assert health.disk_percent(data) >= 95
    assert not health.store_images_allowed(data, STORAGE)
    assert "no longer stored" in health.check(data, STORAGE)["warnings"][0]
    # the config's thresholds are the ones used
    assert health.disk_level(health.disk_percent(data), config.StorageSettings.of(dict(STORAGE, disk_stop_images_percent=99))) == "warn"


def test_disk_percent_of_a_data_dir_not_made_yet(tmp_path):
    assert 0 <= health.disk_percent(tmp_path / "not" / "yet") <= 100


def test_levels_at_the_edges():
    assert health.disk_level(79.9, STORAGE) == "ok"
    assert health.disk_level(80.0, STORAGE) == "warn"
    assert health.disk_level(95.0, STORAGE) == "stop_images"
    assert health.disk_level(None, STORAGE) == "ok"


def _zone(root, n, kind, millideg):
    z = root / f"thermal_zone{n}"
    z.mkdir(parents=True)
    (z / "type").write_text(kind + "\n")
    (z / "temp").write_text(f"{millideg}\n")


def test_cpu_temperature_only_from_a_cpu_zone(tmp_path):
    _zone(tmp_path, 0, "acpitz", 27800)
    assert health.cpu_temperature(tmp_path) is None  # not the CPU: not reported
    _zone(tmp_path, 1, "cpu-thermal", 61835)
    assert health.cpu_temperature(tmp_path) == 61.8
    assert health.cpu_temperature(tmp_path / "missing") is None


def test_throttled_flags_from_the_firmware_file(tmp_path):
    if shutil.which("vcgencmd"):
        pytest.skip("vcgencmd present: the real reading takes precedence")
    f = tmp_path / "get_throttled"
    f.write_text("50005\n")  # the kernel file is hex without 0x
    flags = health.throttled(f)
    assert flags["under_voltage_now"] and flags["under_voltage_since_boot"] and flags["throttled_now"]
    f.write_text("10000\n")
    flags = health.throttled(f)
    assert not flags["under_voltage_now"] and flags["under_voltage_since_boot"]
    assert health.throttled(tmp_path / "none") is None


def test_check_on_this_machine_reports_none_not_guesses(tmp_path):
    report = health.check(tmp_path, STORAGE)
    assert report["disk_percent"] is not None
    if not os.path.exists(health.THROTTLED_FILE) and not shutil.which("vcgencmd"):
        assert report["under_voltage_now"] is None
    if health.cpu_temperature() is None:
        assert report["cpu_temp_c"] is None


def test_throttled_from_vcgencmd_first(tmp_path, monkeypatch):
    # a vcgencmd on PATH answering as the Pi's does; it wins over the sysfs file
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "vcgencmd").write_text('#!/bin/sh\n[ "$1" = get_throttled ] && echo "throttled=0x50000"\n')
    (bindir / "vcgencmd").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    f = tmp_path / "get_throttled"
    f.write_text("0\n")
    flags = health.throttled(f)
    assert flags["raw"] == "0x50000" and flags["under_voltage_since_boot"] and not flags["under_voltage_now"]
    # vcgencmd that cannot reach the firmware (the sandbox denies /dev/vcio): the file is used
    (bindir / "vcgencmd").write_text("#!/bin/sh\necho 'VCHI initialization failed' >&2; exit 255\n")
    assert health.throttled(f)["raw"] == "0x0"
