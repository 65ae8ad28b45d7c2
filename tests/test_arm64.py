"""The station on the Pi's architecture: scripts/arm64-check.sh installs the offline bundle in an
emulated Debian Bookworm arm64 userland with no network, then again with it (the installer then
installs the kiosk's cage and chromium from apt: 131 s under emulation on a fresh userland, see
docs/setup-pi.md) and checks the kiosk unit against the installed programs (systemd-analyze
verify there), then compares `ohsa pose`, `ohsa track` and `ohsa rules` there with x86-64
(keypoints within 0.01 px, verdicts equal)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from device import paths

pytestmark = [pytest.mark.arm64, pytest.mark.slow]


@pytest.mark.skipif(os.geteuid() != 0, reason="the arm64 userland needs root (chroot, binfmt_misc)")
@pytest.mark.skipif(not shutil.which("unshare"), reason="unshare (util-linux) missing")
def test_install_and_outputs_match_on_arm64():
    proc = subprocess.run(
        [str(paths.REPO_ROOT / "scripts" / "arm64-check.sh")],
        capture_output=True, text=True, timeout=900,  # ~2 min more on a fresh userland: the kiosk's apt packages
    )
    print(proc.stdout)
    print(proc.stderr[-4000:])
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "arm64-check: OK" in proc.stdout
    assert "pose: 8 frames" in proc.stdout and "track front" in proc.stdout and "track side" in proc.stdout
    # the kiosk: the installer installed cage and chromium and enabled the unit; its ExecStart's
    # programs are those packages' and run; systemd-analyze verify passes on it there
    assert "kiosk package: cage" in proc.stdout and "kiosk package: chromium" in proc.stdout
    assert "kiosk program: /usr/bin/cage from cage" in proc.stdout
    assert "kiosk program: /usr/bin/chromium from chromium" in proc.stdout
    assert "kiosk program: Cage version " in proc.stdout and "kiosk program: Chromium " in proc.stdout
    assert "kiosk unit: systemd-analyze verify passed" in proc.stdout
    assert "kiosk: ohsa-kiosk.service enabled" in proc.stdout
