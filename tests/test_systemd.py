"""The unit files: systemd accepts them, the sandbox scores as tight as planned, and what the
sandbox forbids (writable+executable memory) is not needed by MoveNet, numpy or OpenCV."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from device import paths
from device.panel.device import POWEROFF_REQUEST

UNITS = paths.REPO_ROOT / "systemd"
INSTALLED_OHSA = "/opt/ohsa/bin/ohsa"  # where scripts/install-pi.sh puts the venv's entry point
EXPOSURE_LIMIT = 2.0  # the issue asks for <= 3.0 and aims at 2.0
HANG_S = 600  # a subprocess this slow is hung, not slow: this bounds a failure, it times nothing

needs_systemd = pytest.mark.skipif(
    not shutil.which("systemd-analyze"), reason="systemd-analyze missing (scripts/test.sh installs systemd)"
)


def _units() -> list[Path]:
    return sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".path", ".timer"))


def _copy_for_verify(tmp_path: Path) -> list[Path]:
    """The units with the station's ExecStart pointed at this checkout's `ohsa`, a real
    executable, since verify checks that the binary exists and /opt/ohsa is not here."""
    ohsa = Path(sys.executable).parent / "ohsa"
    assert ohsa.exists(), ohsa
    out = []
    for unit in _units():
        dest = tmp_path / unit.name
        # cage (the kiosk's compositor, apt) may not be installed where the tests run
        cage = shutil.which("cage") or shutil.which("true")
        dest.write_text(unit.read_text().replace(INSTALLED_OHSA, str(ohsa)).replace("/usr/bin/cage", cage))
        out.append(dest)
    return out


def _directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@needs_systemd
def test_verify_passes(tmp_path):
    copies = _copy_for_verify(tmp_path)
    assert {p.name for p in copies} >= {"ohsa.service", "ohsa-poweroff.service", "ohsa-poweroff.path",
                                       "ohsa-restart.service", "ohsa-restart.path", "ohsa-hub.service"}
    proc = subprocess.run(
        ["systemd-analyze", "verify", *map(str, copies)], capture_output=True, text=True, timeout=HANG_S
    )
    # sysinit.target is missing only where systemd is not PID 1 (containers); anything else fails
    problems = [ln for ln in proc.stderr.splitlines()
                if ln.strip() and "sysinit.target" not in ln and "graphical.target" not in ln]
    assert not problems, proc.stderr


@needs_systemd
def test_verify_catches_a_missing_binary(tmp_path):
    unit = tmp_path / "ohsa.service"
    unit.write_text((UNITS / "ohsa.service").read_text().replace(INSTALLED_OHSA, str(tmp_path / "no-such")))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode != 0 and "no-such" in proc.stderr


def _exposure(unit: Path) -> float:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=HANG_S,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    return float(m.group(1))


@needs_systemd
@pytest.mark.parametrize("name", ["ohsa.service", "ohsa-poweroff.service", "ohsa-restart.service",
                                  "ohsa-hub.service"])
def test_security_exposure(name, tmp_path):
    unit = next(p for p in _copy_for_verify(tmp_path) if p.name == name)
    score = _exposure(unit)
    print(f"{name}: exposure {score}")
    assert score <= EXPOSURE_LIMIT


@needs_systemd
def test_exposure_score_reacts_to_a_weaker_sandbox(tmp_path):
    weak = tmp_path / "weak.service"
    text = (UNITS / "ohsa.service").read_text().replace(INSTALLED_OHSA, "/usr/bin/true")
    weak.write_text(re.sub(r"(?m)^(ProtectSystem|ProtectHome|CapabilityBoundingSet|User)=.*\n", "", text))
    assert _exposure(weak) > EXPOSURE_LIMIT + 2


def test_station_unit_has_what_the_issue_asks():
    d = _directives(UNITS / "ohsa.service")
    assert d["Type"] == ["notify"] and d["Restart"] == ["on-failure"]
    assert int(d["WatchdogSec"][0]) > 0 and int(d["StartLimitBurst"][0]) > 0
    assert d["ExecStart"][0].split()[0] == INSTALLED_OHSA and "run" in d["ExecStart"][0].split()
    assert d["User"] == ["ohsa"] and d["StateDirectory"] == ["ohsa"] and d["ConfigurationDirectory"] == ["ohsa"]
    assert d["CapabilityBoundingSet"] == [""] and d["NoNewPrivileges"] == ["yes"]
    assert d["DevicePolicy"] == ["closed"] and any("video4linux" in v for v in d["DeviceAllow"])
    assert set(d["SupplementaryGroups"][0].split()) >= {"video", "gpio"}
    # the power-off request the panel writes (device.panel.device.poweroff, in the unit's
    # RuntimeDirectory) is where the path unit looks
    assert d["RuntimeDirectory"] == ["ohsa"]
    path = _directives(UNITS / "ohsa-poweroff.path")
    assert path["PathExists"] == ["/run/ohsa/" + POWEROFF_REQUEST]
    # "Apply and restart" on the settings page: the same pattern, one fixed command
    from device.settings_trial import RESTART_REQUEST

    assert _directives(UNITS / "ohsa-restart.path")["PathExists"] == ["/run/ohsa/" + RESTART_REQUEST]
    restart = _directives(UNITS / "ohsa-restart.service")
    assert restart["ExecStart"] == ["/usr/bin/systemctl --no-block restart ohsa.service"]


MDWE_PROBE = r"""
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:   # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN (Linux 6.3+)
    print("unsupported"); sys.exit(0)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("not enforced"); sys.exit(0)
except OSError:
    pass
import numpy as np, cv2
from device.pose import MoveNet, estimate_image
from device.media import open_media
with open_media(sys.argv[2]) as media:
    t, rgb = next(iter(media))
pose = estimate_image(MoveNet(sys.argv[1]), rgb)
assert len(pose.keypoints) == 17
cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)
assert cb(1) == 2
import flask, waitress, gpiozero, sqlite3
print("ok", max(k.score for k in pose.keypoints))
"""


def test_movenet_runs_without_writable_executable_memory(model_path, data_dir):
    """MemoryDenyWriteExecute=yes in the unit: the same rule (PR_SET_MDWE) on this kernel."""
    image = data_dir / "overhead-squat-pair" / "front.mov"
    proc = subprocess.run(
        [sys.executable, "-c", MDWE_PROBE, str(model_path), str(image)],
        capture_output=True, text=True, timeout=HANG_S, cwd=paths.REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    if proc.stdout.split()[0] in ("unsupported", "not enforced"):
        pytest.skip(f"PR_SET_MDWE {proc.stdout.strip()} on this kernel")
    assert proc.stdout.startswith("ok")


def test_hub_unit_runs_the_hub_unprivileged_with_its_secrets_off_the_command_line():
    d = _directives(UNITS / "ohsa-hub.service")
    assert d["Type"] == ["notify"] and d["Restart"] == ["on-failure"]
    assert d["ExecStart"][0].split() == [INSTALLED_OHSA, "-v", "hub", "run"]  # DSN, broker: the env file
    assert d["EnvironmentFile"] == ["/etc/ohsa/hub.env"]
    assert d["User"] == ["ohsa-hub"] and d["StateDirectory"] == ["ohsa-hub"]
    assert d["CapabilityBoundingSet"] == [""] and d["NoNewPrivileges"] == ["yes"]
    assert d["ProtectSystem"] == ["strict"] and d["DevicePolicy"] == ["closed"]
