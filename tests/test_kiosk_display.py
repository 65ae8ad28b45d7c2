"""The station's own screen: the kiosk unit (systemd/ohsa-kiosk.service) verifies and scores like
the others, the same Chromium command line (minus cage) shows the station's page, and the health
page can tell whether the kiosk browser is up."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from device import config as device_config
from device import health
from tests.member_site import CHROMIUM, Site
from tests.test_systemd import HANG_S, UNITS, _directives, _exposure, needs_systemd

UNIT = UNITS / "ohsa-kiosk.service"
KIOSK_EXPOSURE_LIMIT = 3.0  # the issue's limit; Chromium needs user namespaces and JIT memory
OFFLINE_FLAGS = {"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"}


def exec_start() -> list[str]:
    return shlex.split(_directives(UNIT)["ExecStart"][0])


def browser_command() -> tuple[list[str], str]:
    """(Chromium and its flags, the URL) of the unit's ExecStart, without `cage --`."""
    argv = exec_start()
    assert argv[:2] == ["/usr/bin/cage", "--"], argv
    return argv[2:-1], argv[-1]


def test_unit_has_what_the_issue_asks():
    d = _directives(UNIT)
    assert d["User"] == ["ohsa-kiosk"] and d["Restart"] == ["always"]
    assert "ohsa.service" in d["After"][0].split() and "ohsa.service" in d["Wants"][0].split()
    assert d["CapabilityBoundingSet"] == [""] and d["NoNewPrivileges"] == ["yes"]
    chromium, url = browser_command()
    assert chromium[0] == CHROMIUM and "--kiosk" in chromium
    assert "--autoplay-policy=no-user-gesture-required" in chromium  # the live page's tone and count
    assert OFFLINE_FLAGS <= set(chromium)
    assert url == "http://127.0.0.1:8080/" and int(url.rsplit(":", 1)[1].strip("/")) == \
        device_config.validate({}).web.port
    assert "-s" not in exec_start()[:2]  # cage without -s: no switching to another VT by keys


def _verify_copy(tmp_path: Path) -> Path:
    copy = tmp_path / UNIT.name
    cage = shutil.which("cage") or shutil.which("true")  # verify checks the binary exists
    copy.write_text(UNIT.read_text().replace("/usr/bin/cage", cage))
    return copy


@needs_systemd
def test_unit_verifies(tmp_path):
    proc = subprocess.run(["systemd-analyze", "verify", str(_verify_copy(tmp_path))],
                          capture_output=True, text=True, timeout=HANG_S)
    problems = [ln for ln in proc.stderr.splitlines()
                if ln.strip() and "sysinit.target" not in ln and "graphical.target" not in ln]
    assert not problems, proc.stderr


@needs_systemd
def test_unit_exposure(tmp_path):
    score = _exposure(_verify_copy(tmp_path))
    print(f"ohsa-kiosk.service: exposure {score}")
    assert score <= KIOSK_EXPOSURE_LIMIT


@pytest.fixture(scope="module")
def german_site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp("kiosk"), device_config.validate({"kiosk": {"language": "de"}}))
    yield site
    site.close()


@pytest.mark.browser
def test_the_kiosk_command_shows_the_station_page(german_site, tmp_path):
    """The unit's Chromium with its flags, headless instead of inside cage, on a running station."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt install chromium)")
    chromium, url = browser_command()
    flags = [f for f in chromium[1:] if not f.startswith(("--ozone-platform", "--user-data-dir"))]
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
            *flags, "--timeout=5000", "--dump-dom", url.replace("http://127.0.0.1:8080", german_site.url)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'id="state"' in dom and 'lang="de"' in dom
    assert "Bereit" in dom and "Abbrechen" in dom  # the page in the configured language
    assert 'id="controls"' in dom  # loopback is the station's own screen: the buttons are there
    assert "is-asleep" not in dom
    # outside the opening hours the station sleeps: the same command shows the black page
    german_site.station.set(state="closed", opens="2026-12-01T06:00")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=HANG_S)
    finally:
        german_site.station.set(state="idle", opens=None)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'class="live-page is-closed is-asleep"' in proc.stdout


def _runner(stdout: str):
    def run(argv, **kw):
        assert argv[1:3] == ["show", health.KIOSK_UNIT]
        return subprocess.CompletedProcess(argv, 0, stdout=stdout, stderr="")
    return run


def test_health_tells_whether_the_kiosk_browser_is_up(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/systemctl" if name == "systemctl" else None)
    up = health.kiosk_display(_runner("LoadState=loaded\nActiveState=active\nSubState=running\n"))
    assert up == {"state": "up", "detail": "active (running)"}
    down = health.kiosk_display(_runner("LoadState=loaded\nActiveState=activating\nSubState=auto-restart\n"))
    assert down["state"] == "down" and "auto-restart" in down["detail"]
    assert health.kiosk_display(_runner("LoadState=not-found\nActiveState=inactive\nSubState=dead\n"))["state"] \
        == "not_installed"
    assert health.kiosk_display(_runner(""))["state"] == "unknown"
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert health.kiosk_display()["state"] == "unknown"


def test_the_installer_sets_it_up_unless_told_not_to():
    script = (UNITS.parent / "scripts" / "install-pi.sh").read_text()
    assert "--no-kiosk" in script and "ohsa-kiosk.service" in script
    assert "cage" in script and "chromium" in script
    proc = subprocess.run(["bash", str(UNITS.parent / "scripts" / "install-pi.sh"), "--help"],
                          capture_output=True, text=True, timeout=HANG_S)
    assert "--no-kiosk" in proc.stdout, proc.stdout + proc.stderr


def test_the_health_check_warns_when_the_kiosk_browser_is_down(monkeypatch, tmp_path):
    storage = device_config.validate({}).storage
    monkeypatch.setattr(health, "kiosk_display", lambda: {"state": "down", "detail": "failed (failed)"})
    readings = health.check(tmp_path, storage)
    assert readings["kiosk_display"]["state"] == "down"
    assert any("kiosk browser" in w and "failed" in w for w in readings["warnings"])
    monkeypatch.setattr(health, "kiosk_display", lambda: {"state": "up", "detail": "active (running)"})
    assert not any("kiosk" in w for w in health.check(tmp_path, storage)["warnings"])
