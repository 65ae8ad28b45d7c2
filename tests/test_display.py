"""The screen asleep outside the opening hours (device/display.py): the backlight of the official
touch display (any Linux backlight device) off while the station is `closed`, on again when the
button wakes it or at opening time; a missing device or a refused write is one log line and a
black page, the station runs on. The runtime follows the state machine on a hand clock with its
panel on MockFactory, on a fake sysfs laid out as the kernel does; the udev rule that lets the
station write there, and its install."""

from __future__ import annotations

import datetime as dt
import grp
import logging
import os
import re
import shutil
import stat
import subprocess

import pytest
from gpiozero.pins.mock import MockFactory

from device import config as cfg
from device import display as display_mod
from device import paths
from device.camera import DualCapture
from device.display import Display
from device.panel import open_panel
from device.station import Station
from device.station.runtime import StationRuntime
from tests.hand_clock import HandClock
from tests.loop_source import LoopSource
from tests.test_pose_workers import frames  # noqa: F401  (fixture: real frames of the pair)
from tests.test_web import app, client, clock, config_path, store, trainer  # noqa: F401  (fixtures)
from tests.web_fakes import FakeStation

HOURS = "mon-fri 06:00-22:00"
MON = dt.datetime(2026, 11, 30)  # a Monday
WAKE_S = 60.0
RULE = paths.REPO_ROOT / "udev" / "70-ohsa-backlight.rules"
SCRIPTS = paths.REPO_ROOT / "scripts"


def fake_backlight(sys_root, name="10-0045", bl_power=True, brightness=255, max_brightness=255):
    """A backlight device as the kernel lays it out (the touch display's on a Pi 4 under
    Bookworm): the device under /sys/devices/platform, a link to it in /sys/class/backlight.
    Returns the class folder (what Display reads) and the device folder."""
    dev = sys_root / "devices/platform/soc/fe205000.i2c/i2c-22/i2c-10/10-0045/backlight" / name
    dev.mkdir(parents=True)
    if bl_power:
        (dev / "bl_power").write_text("0\n")
    (dev / "brightness").write_text(f"{brightness}\n")
    (dev / "max_brightness").write_text(f"{max_brightness}\n")
    (dev / "actual_brightness").write_text(f"{brightness}\n")
    cls = sys_root / "class/backlight"
    cls.mkdir(parents=True, exist_ok=True)
    (cls / name).symlink_to(dev)
    return cls, dev


def _read(path) -> str:
    return path.read_text().strip()


class Rig:
    """The runtime's own state-following (`StationRuntime.follow_state`, what its supervisor runs
    after every tick) on a state machine driven by one hand clock, the panel on MockFactory,
    cameras that are never started (paused and resumed only), the screen on a fake sysfs."""

    def __init__(self, tmp_path, frames, start: dt.datetime, backlight, method="auto"):  # noqa: F811
        self.clock = HandClock()
        t0 = self.clock.t
        self.config = cfg.validate({"kiosk": {"opening_hours": HOURS, "wake_idle_s": WAKE_S, "display_sleep": method},
                                    "panel": {"hold_cancel_s": 0.15, "hold_shutdown_s": 0.6}})
        self.wall = lambda: start + dt.timedelta(seconds=self.clock.t - t0)
        self.panel = open_panel(self.config.panel, pin_factory=MockFactory(), clock=self.clock,
                                shutdown_action=lambda: None)
        self.capture = DualCapture({v: LoopSource(v, frames[v]) for v in ("front", "side")}, offline_after_s=5.0)
        self.display = Display(self.config.kiosk.display_sleep, root=backlight)
        self.rt = StationRuntime(self.config, tmp_path / "data", capture=self.capture, display=self.display,
                                 wall=self.wall)
        self.rt.station = Station(self.config, clock=self.clock, panel=self.panel, wall=self.wall)
        self.panel.when_pressed = self.rt._press  # as StationRuntime.open() wires it
        self.rt.follow_state()

    def wait(self, seconds: float, step: float = 1.0) -> None:
        """Time passes; the supervisor ticks the machine and follows its state."""
        for _ in range(int(round(seconds / step))):
            self.clock.advance(step)
            self.rt.station.tick()
            self.rt.follow_state()

    def press(self) -> None:
        pin = self.panel.pin_factory.pin(self.config.panel.button)
        pin.drive_low()
        self.clock.advance(0.05)
        pin.drive_high()
        self.rt.follow_state()

    @property
    def state(self) -> str:
        return self.rt.station.current

    def close(self):
        self.panel.close()


@pytest.fixture
def rig(tmp_path, frames):  # noqa: F811
    made = []

    def make(start, backlight, method="auto"):
        made.append(Rig(tmp_path, frames, start, backlight, method))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_asleep_the_backlight_is_off_the_button_and_opening_time_switch_it_on(rig, tmp_path):
    cls, dev = fake_backlight(tmp_path / "sys")
    r = rig(MON.replace(hour=21, minute=59), cls)
    r.wait(1)
    assert r.state == "idle" and _read(dev / "bl_power") == "0"
    r.wait(61)  # 22:00:01: closed
    assert r.state == "closed" and _read(dev / "bl_power") == "4"  # FB_BLANK_POWERDOWN
    assert r.capture.paused and all(c["status"] == "paused" for c in r.capture.status().values())
    s = r.rt.stats()["display"]
    assert s["how"] == "backlight off" and s["devices"] == ["10-0045"] and s["asleep"] and s["problem"] is None
    r.press()  # the panel's button wakes it
    assert r.state == "idle" and _read(dev / "bl_power") == "0"
    assert not r.rt.stats()["display"]["asleep"]
    r.wait(WAKE_S + 5)  # idle for wake_idle_s outside the hours: asleep again
    assert r.state == "closed" and _read(dev / "bl_power") == "4"
    tuesday = MON.replace(hour=6) + dt.timedelta(days=1)
    r.wait((tuesday - r.wall()).total_seconds() - 60)  # Tuesday 05:59
    assert r.state == "closed" and _read(dev / "bl_power") == "4"
    r.wait(61)  # 06:00: opening time wakes it by itself
    assert r.state == "idle" and _read(dev / "bl_power") == "0"
    assert not r.capture.paused  # the cameras open again
    assert _read(dev / "brightness") == "255"  # bl_power does it: the brightness is left alone


def test_a_device_without_bl_power_gets_brightness_0_and_back(rig, tmp_path):
    cls, dev = fake_backlight(tmp_path / "sys", name="panel", bl_power=False, brightness=180)
    r = rig(MON.replace(hour=23), cls)
    r.wait(1)
    assert r.state == "closed" and _read(dev / "brightness") == "0"
    r.press()
    assert r.state == "idle" and _read(dev / "brightness") == "180"  # what it was before
    # the station stopped while asleep (a crash, a restart at night): the next start switches it
    # on with no brightness remembered, so at the device's full brightness
    (dev / "brightness").write_text("0\n")
    fresh = Display("auto", root=cls)
    assert fresh.wake() and _read(dev / "brightness") == "255"


def test_a_refused_write_is_one_log_line_and_the_station_runs_on(rig, tmp_path, caplog):
    cls, dev = fake_backlight(tmp_path / "sys")
    # the kernel refuses the write (on a Pi without the udev rule: EACCES; here /dev/full, whose
    # every write fails with ENOSPC, so the refusal is real even for root)
    (dev / "bl_power").unlink()
    (dev / "bl_power").symlink_to("/dev/full")
    r = rig(MON.replace(hour=21, minute=59), cls)
    caplog.set_level(logging.INFO, logger=display_mod.__name__)
    r.wait(61)
    assert r.state == "closed"
    r.press()
    assert r.state == "idle"
    r.wait(WAKE_S + 5)
    assert r.state == "closed"  # the hours go on as before: the page is black
    warnings = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(warnings) == 1, [rec.getMessage() for rec in warnings]
    assert "bl_power" in warnings[0].getMessage() and "black" in warnings[0].getMessage()
    s = r.rt.stats()["display"]
    assert s["how"] == "black page" and "bl_power" in s["problem"]
    # the rule installed (here: a writable file again): the next sleep switches it off
    (dev / "bl_power").unlink()
    (dev / "bl_power").write_text("0\n")
    r.press()
    r.wait(WAKE_S + 5)
    assert r.state == "closed" and _read(dev / "bl_power") == "4"
    assert r.rt.stats()["display"]["how"] == "backlight off" and r.rt.stats()["display"]["problem"] is None


def test_an_hdmi_screen_has_no_backlight_the_page_goes_black(rig, tmp_path, caplog):
    cls = tmp_path / "sys/class/backlight"
    cls.mkdir(parents=True)
    caplog.set_level(logging.INFO, logger=display_mod.__name__)
    r = rig(MON.replace(hour=23), cls)
    r.wait(1)
    assert r.state == "closed"
    s = r.rt.stats()["display"]
    assert s["how"] == "black page" and s["devices"] == [] and s["problem"] is None
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING]  # auto: nothing to say
    # "backlight" asked for where there is none: said once
    forced = Display("backlight", root=cls)
    assert not forced.sleep() and not forced.wake()
    warnings = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no backlight device" in warnings[0].getMessage()
    assert forced.status()["how"] == "black page"


def test_page_leaves_the_backlight_alone(rig, tmp_path):
    cls, dev = fake_backlight(tmp_path / "sys")
    r = rig(MON.replace(hour=23), cls, method="page")
    r.wait(1)
    assert r.state == "closed" and _read(dev / "bl_power") == "0"
    assert r.rt.stats()["display"]["how"] == "black page"


def test_the_setting_only_chooses_among_fixed_methods():
    with pytest.raises(Exception, match="display_sleep"):
        cfg.validate({"kiosk": {"display_sleep": "/usr/bin/cec-ctl --standby"}})
    with pytest.raises(ValueError, match="display_sleep"):
        Display("cec")
    assert cfg.validate({}).kiosk.display_sleep == "auto"


# -- the health page --------------------------------------------------------------------------


class ScreenStation(FakeStation):
    def __init__(self, display: Display):
        super().__init__()
        self.display = display

    def stats(self) -> dict:
        return {**super().stats(), "display": self.display.status()}


@pytest.fixture
def screen(tmp_path):
    cls, dev = fake_backlight(tmp_path / "sys")
    return Display("auto", root=cls), dev


@pytest.fixture
def station(screen):
    return ScreenStation(screen[0])


def test_the_health_page_says_how_the_screen_sleeps(trainer, screen):  # noqa: F811
    display, dev = screen
    display.sleep()
    html = trainer.get("/trainer/health").get_data(as_text=True)
    assert re.search(r'id="display-sleep">backlight off \(10-0045\), asleep now<', html)
    display.wake()
    (dev / "bl_power").unlink()
    (dev / "bl_power").symlink_to("/dev/full")
    display.sleep()
    html = trainer.get("/trainer/health").get_data(as_text=True)
    assert re.search(r'id="display-sleep">black page, asleep now — <strong>cannot switch the backlight \(', html)
    assert trainer.get("/trainer/health.json").get_json()["stats"]["display"]["how"] == "black page"
    public = trainer.application.test_client().get("/api/stats").get_json()
    assert public["running"] and "display" not in public  # sysfs paths and problems: the trainer's only


# -- the udev rule and its install --------------------------------------------------------------

UDEV_PAIR = re.compile(r'\s*([A-Z_]+)(\{[^}]*\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
MATCH_KEYS = {"SUBSYSTEM", "ACTION", "KERNEL", "ATTR", "DRIVER"}


def _rule_lines() -> list[str]:
    return [ln for ln in RULE.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _pairs(line: str) -> list[tuple[str, str, str]]:
    out, pos = [], 0
    while pos < len(line):
        m = UDEV_PAIR.match(line, pos)
        assert m, f"not a udev KEY OP \"value\" pair at {line[pos:]!r}"
        out.append((m.group(1), m.group(3), m.group(4)))
        pos = m.end()
    return out


def test_the_udev_rule_parses_and_gives_the_station_group_the_backlight_files(tmp_path):
    udevadm = shutil.which("udevadm")
    if udevadm and subprocess.run([udevadm, "verify", "--help"], capture_output=True).returncode == 0:
        proc = subprocess.run([udevadm, "verify", str(RULE)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # systemd 252 (Bookworm, and here) has no `udevadm verify`: the rule's grammar checked here
    lines = _rule_lines()
    assert len(lines) == 1
    pairs = _pairs(lines[0])
    assert ("SUBSYSTEM", "==", "backlight") in pairs and ("ACTION", "==", "add") in pairs
    runs = [v for k, op, v in pairs if k == "RUN"]
    assert runs and all(op == "+=" for k, op, _ in pairs if k == "RUN")
    assert all(op in ("==", "!=") for k, op, _ in pairs if k in MATCH_KEYS)
    unit = (paths.REPO_ROOT / "systemd/ohsa.service").read_text()
    group = re.search(r"(?m)^Group=(\S+)", unit).group(1)
    files = set()
    for cmd in runs:
        argv = cmd.split()
        assert os.path.isabs(argv[0]) and os.access(argv[0], os.X_OK), argv[0]  # udev needs a full path
        files |= {a for a in argv if a.startswith("/sys%p/")}
        if argv[0].endswith("chgrp"):
            assert argv[1] == group
    assert files == {"/sys%p/bl_power", "/sys%p/brightness"}  # what device/display.py writes
    # the commands themselves, on a fake device (%p expanded; our own group for the station's)
    cls, dev = fake_backlight(tmp_path / "sys")
    for f in ("bl_power", "brightness"):
        (dev / f).chmod(0o644)
    mine = grp.getgrgid(os.getgid()).gr_name
    for cmd in runs:
        argv = [a.replace("/sys%p", str(dev)) for a in cmd.split()]
        argv = [mine if a == group else a for a in argv]
        assert subprocess.run(argv, capture_output=True, timeout=60).returncode == 0, argv
    for f in ("bl_power", "brightness"):
        mode = (dev / f).stat().st_mode
        assert mode & stat.S_IWGRP and (dev / f).stat().st_gid == os.getgid()
        assert not mode & stat.S_IWOTH


def test_the_unit_may_write_where_backlight_devices_live():
    unit = (paths.REPO_ROOT / "systemd/ohsa.service").read_text()
    rw = [p.lstrip("-") for line in re.findall(r"(?m)^ReadWritePaths=(.*)$", unit) for p in line.split()]
    assert "/sys/devices/platform" in rw
    assert re.search(r"(?m)^ProtectKernelTunables=yes$", unit)  # the rest of /sys stays read-only


def test_install_puts_the_rule_in_place_and_uninstall_removes_it(tmp_path):
    dest = tmp_path / "rules.d"
    run = lambda script: subprocess.run(  # noqa: E731
        ["bash", "-c", f'set -euo pipefail; . "{SCRIPTS}/lib/pi-layout.sh"; {script}'],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": "/usr/bin:/bin"})
    proc = run(f'install_udev_rules "{RULE.parent}" "{dest}"')
    assert proc.returncode == 0, proc.stderr
    installed = dest / RULE.name
    assert installed.read_bytes() == RULE.read_bytes() and stat.S_IMODE(installed.stat().st_mode) == 0o644
    assert run(f'remove_udev_rules "{dest}"').returncode == 0 and not installed.exists()
    # the installer (checkout and bundle), the bundle maker and the uninstaller use these
    install = (SCRIPTS / "install-pi.sh").read_text()
    assert 'install_udev_rules "$udev_rules" "$UDEV_DIR"' in install
    assert "udev_rules=$src/udev" in install and "udev_rules=$repo/udev" in install
    assert 'cp udev/* "$b/udev/"' in (SCRIPTS / "make-offline-bundle.sh").read_text()
    assert 'remove_udev_rules "$UDEV_DIR"' in (SCRIPTS / "uninstall-pi.sh").read_text()
    arm64 = (SCRIPTS / "arm64-check.sh").read_text()
    assert 'cmp -s "$work/ohsa-bundle/udev/70-ohsa-backlight.rules"' in arm64  # installed from the bundle
    assert '[ ! -e "$root/etc/udev/rules.d/70-ohsa-backlight.rules" ]' in arm64  # and removed again
