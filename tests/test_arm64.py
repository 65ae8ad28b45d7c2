"""The station on the Pi's architecture: scripts/arm64-check.sh installs the offline bundle in an
emulated Debian Bookworm arm64 userland with no network (the kiosk's cage and chromium are
resolved by apt there, not installed: too slow under emulation), then compares `ohsa pose`, `ohsa track`
and `ohsa rules` there with x86-64 (keypoints within 0.01 px, verdicts equal)."""

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
        capture_output=True, text=True, timeout=600,
    )
    print(proc.stdout)
    print(proc.stderr[-4000:])
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "arm64-check: OK" in proc.stdout
    assert "pose: 8 frames" in proc.stdout and "track front" in proc.stdout and "track side" in proc.stdout
    # the kiosk: cage and chromium exist for arm64 and resolve; the installer enables the unit
    assert "kiosk package: cage" in proc.stdout and "kiosk package: chromium" in proc.stdout
    assert "kiosk: ohsa-kiosk.service enabled" in proc.stdout
