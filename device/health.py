"""The Pi's health as a trainer should see it: disk, CPU temperature, under-voltage.

API (the station and the web layer call these; every reading is None when this machine cannot
give it, never a guess):

    health.disk_percent(data_dir) -> float | None      # % used, as `df` counts it
    health.disk_level(percent, storage) -> "ok" | "warn" | "stop_images"   # storage = config.storage
    health.store_images_allowed(data_dir, storage) -> bool
    health.cpu_temperature() -> float | None            # degrees C from /sys/class/thermal
    health.throttled() -> dict | None                   # under-voltage / throttling flags
    health.kiosk_display() -> dict                      # the Pi's screen: {"state": "up"|"down"|...}
    health.check(data_dir, storage) -> dict             # all of it plus plain-words warnings:
        {"disk_percent": 83.1, "disk_level": "warn", "cpu_temp_c": 61.3,
         "under_voltage_now": False, "under_voltage_since_boot": True, "throttled_now": False,
         "warnings": ["Disk 83 % full: ...", ...]}
    health.calibration_status(data_dir) -> dict         # the cameras' calibration in plain words:
        {"source": "mat"|"person"|"none", "mat": "none"|"ok"|"suspect"|"moved"|"invalid",
         "warning": bool, "message": "Mat calibration in use (3-D): side camera about 40 ...", ...}
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config's [storage] section; read by attribute only
    from device.config import StorageSettings

THERMAL_DIR = Path("/sys/class/thermal")
# Zone types that are the SoC/CPU (Pi: cpu-thermal; PCs: x86_pkg_temp). Other zones (acpitz,
# battery, wifi) are not the CPU and are not reported as if they were.
CPU_ZONE_TYPES = ("cpu-thermal", "cpu_thermal", "soc-thermal", "soc_thermal", "x86_pkg_temp")
CALIBRATION_FILE = "calibration.json"  # `ohsa calibrate` (device.calibrate)
CALIBRATION_RECORD_FILE = "calibration-record.json"  # the running station's (device.station.calibration)
THROTTLED_FILE = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")

# Bits of the firmware's get_throttled word (Raspberry Pi documentation, vcgencmd).
UNDER_VOLTAGE_NOW = 1 << 0
FREQ_CAPPED_NOW = 1 << 1
THROTTLED_NOW = 1 << 2
UNDER_VOLTAGE_SINCE_BOOT = 1 << 16
THROTTLED_SINCE_BOOT = 1 << 18


def disk_percent(path: str | os.PathLike) -> float | None:
    """Per cent of the file system holding `path` in use, counted like `df`: used / (used +
    available to unprivileged users), so 100 % is when the station can no longer write."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent  # the data dir may not exist yet: measure where it will be
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    if used + avail <= 0:
        return None
    return round(100.0 * used / (used + avail), 1)


def disk_level(percent: float | None, storage: StorageSettings) -> str:
    """"stop_images" at storage.disk_stop_images_percent, "warn" at disk_warn_percent."""
    if percent is None:
        return "ok"
    if percent >= storage.disk_stop_images_percent:
        return "stop_images"
    if percent >= storage.disk_warn_percent:
        return "warn"
    return "ok"


def store_images_allowed(data_dir: str | os.PathLike, storage: StorageSettings) -> bool:
    return disk_level(disk_percent(data_dir), storage) != "stop_images"


def cpu_temperature(thermal_dir: str | os.PathLike = THERMAL_DIR) -> float | None:
    """The CPU's temperature in degrees C, or None without a CPU thermal zone."""
    for zone in sorted(Path(thermal_dir).glob("thermal_zone*")):
        try:
            kind = (zone / "type").read_text().strip()
            if kind in CPU_ZONE_TYPES:
                return round(int((zone / "temp").read_text().strip()) / 1000.0, 1)
        except (OSError, ValueError):
            continue
    return None


def _throttled_word(sys_file: Path) -> int | None:
    vcgencmd = shutil.which("vcgencmd")
    if vcgencmd:
        try:
            out = subprocess.run(
                [vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=3
            ).stdout.strip()  # "throttled=0x50005"
            if out.startswith("throttled="):
                return int(out.split("=", 1)[1], 16)
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    try:
        return int(sys_file.read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def throttled(sys_file: str | os.PathLike = THROTTLED_FILE) -> dict | None:
    """Under-voltage and throttling flags from the Pi's firmware, or None off a Pi."""
    word = _throttled_word(Path(sys_file))
    if word is None:
        return None
    return {
        "under_voltage_now": bool(word & UNDER_VOLTAGE_NOW),
        "under_voltage_since_boot": bool(word & UNDER_VOLTAGE_SINCE_BOOT),
        "throttled_now": bool(word & (THROTTLED_NOW | FREQ_CAPPED_NOW)),
        "throttled_since_boot": bool(word & THROTTLED_SINCE_BOOT),
        "raw": f"0x{word:x}",
    }


def check(data_dir: str | os.PathLike, storage: StorageSettings) -> dict:
    """Every reading with plain-words warnings for the page (missing readings warn of nothing)."""
    percent = disk_percent(data_dir)
    level = disk_level(percent, storage)
    temp = cpu_temperature()
    power = throttled()
    warnings = []
    if level == "stop_images":
        warnings.append(
            f"Disk {percent:.0f} % full: stills are no longer stored (results still are). "
            "Delete old assessments or lower storage.retention_days."
        )
    elif level == "warn":
        warnings.append(f"Disk {percent:.0f} % full: delete old assessments soon.")
    if power and power["under_voltage_now"]:
        warnings.append("Under-voltage now: use the official power supply (5 V, 3 A or more).")
    elif power and power["under_voltage_since_boot"]:
        warnings.append("Under-voltage happened since start-up: check the power supply.")
    if power and power["throttled_now"]:
        warnings.append("The CPU is throttled: give the Pi air or a heatsink.")
    kiosk = kiosk_display()
    if kiosk["state"] == "down":
        warnings.append(f"The kiosk browser on the station's screen is down ({kiosk['detail']}): "
                        "journalctl -u ohsa-kiosk")
    return {
        "disk_percent": percent,
        "disk_level": level,
        "cpu_temp_c": temp,
        "under_voltage_now": power["under_voltage_now"] if power else None,
        "under_voltage_since_boot": power["under_voltage_since_boot"] if power else None,
        "throttled_now": power["throttled_now"] if power else None,
        "calibration": calibration_status(data_dir),
        "kiosk_display": kiosk,
        "warnings": warnings,
    }


def calibration_status(data_dir: str | os.PathLike) -> dict:
    """The cameras' calibration as the station last judged it (its record in the data dir), else
    what the calibration file alone says; plain words in "message", "warning" when a camera moved."""
    import json

    data_dir = Path(data_dir)
    try:
        record = json.loads((data_dir / CALIBRATION_RECORD_FILE).read_text(encoding="utf-8"))
        status = record.get("status") if isinstance(record, dict) else None
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            return status
    except (OSError, ValueError):
        pass
    from device.geometry import calibration as calib, words

    path = data_dir / CALIBRATION_FILE
    if not path.exists():
        return {"source": "none", "mat": "none", "warning": False,
                "message": "No mat calibration: print the mat and run `ohsa calibrate` (docs/calibration.md); "
                           "until then 3-D uses the calibration on the person when it is trusted, else 2-D."}
    try:
        cal = calib.load(path)
    except calib.CalibrationError as e:
        return {"source": "none", "mat": "invalid", "warning": True,
                "message": f"The calibration file cannot be used: {e}. Run `ohsa calibrate` again."}
    where = words.placement(words.from_calibration(cal))
    return {"source": "mat", "mat": "ok", "warning": False,
            "message": f"Mat calibration (not yet checked by the running station){': ' + where if where else ''}."}


KIOSK_UNIT = "ohsa-kiosk.service"  # systemd/ohsa-kiosk.service: cage + Chromium on the Pi's screen


def kiosk_display(run=subprocess.run) -> dict:
    """Whether the kiosk browser on the Pi's own screen is up, from systemd.

    {"state": "up" | "down" | "not_installed" | "unknown", "detail": "active (running)"}:
    "not_installed" when the installer ran with --no-kiosk (a tablet is the kiosk), "unknown"
    where systemctl cannot answer (no systemd, a laptop). `run` is subprocess.run (tests pass
    their own).
    """
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return {"state": "unknown", "detail": "systemctl not found"}
    try:
        out = run([systemctl, "show", KIOSK_UNIT, "--property=LoadState,ActiveState,SubState"],
                  capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return {"state": "unknown", "detail": f"systemctl failed ({e.__class__.__name__})"}
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    load, active, sub = props.get("LoadState", ""), props.get("ActiveState", ""), props.get("SubState", "")
    if not load:
        return {"state": "unknown", "detail": "systemctl gave no answer"}
    if load == "not-found":
        return {"state": "not_installed", "detail": "no kiosk unit (installed with --no-kiosk)"}
    state = "up" if active == "active" and sub == "running" else "down"
    return {"state": state, "detail": f"{active} ({sub})"}
