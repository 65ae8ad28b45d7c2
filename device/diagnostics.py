"""The diagnostics bundle a trainer downloads: one zip to send to whoever looks after stations.

API:

    ring = diagnostics.capture_logs(capacity=2000)   # the station, once at start: keep recent
                                                     # log lines in memory (used off systemd)
    data = diagnostics.build_zip(data_dir=..., config_path=..., stats=station.stats(),
                                 safe_mode=reason_or_None)    # -> bytes of a zip
    diagnostics.filename()                           # "ohsa-diagnostics-<host>-<time>.zip"

The zip holds `versions.json` (ohsa, Python, OS, Pi model, library versions), `config.toml`
(the config in force with secrets replaced by "<redacted>"), `logs.txt` (`journalctl -u ohsa`
when the journal has the station's lines, else the in-memory ring), `stats.json` (the station's
stats, health readings, safe-mode reason), `security.txt` (the security events of this run:
logins, refused passwords, unknown hosts, password changes) and `README.txt` saying where each
came from. No images, no assessments, no personal data.

Log floods: `capture_logs` also puts one `RepeatLimit` on every handler of the root logger, so a
line logged from the same place more than `REPEAT_BURST` times within `REPEAT_WINDOW_S` is
dropped, and the next one through says how many were. Security events (logger `ohsa.security`)
are never dropped and are also kept in a ring of their own, which no flood can push out.
"""

from __future__ import annotations

import collections
import io
import json
import logging
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from importlib import metadata
from pathlib import Path

import tomli_w

from device import __version__, config, health, paths
from device.errors import ConfigError

LOG_LINES = 2000
SECURITY_LINES = 500
SECURITY_LOGGER = "ohsa.security"
REPEAT_BURST = 5  # lines from one place (logger, level, message template) passed per window
REPEAT_WINDOW_S = 60.0
UNIT = "ohsa"
# key names whose values never leave the station
SECRET_KEY = re.compile(r"secret|password|passwd|token|salt|hash|private|api_?key|credential", re.I)
LIBRARIES = ("ai-edge-litert", "tflite-runtime", "numpy", "opencv-python-headless", "flask",
             "waitress", "gpiozero", "lgpio", "picamera2", "segno", "tomli-w", "pydantic")


class LogRing(logging.Handler):
    """The last `capacity` formatted log records, for a station not run by systemd."""

    def __init__(self, capacity: int = LOG_LINES):
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line that cannot be formatted is not worth a crash
            self.handleError(record)


class RepeatLimit(logging.Filter):
    """Drops a line logged from the same place (logger, level, message template: the numbers
    in it may differ) more than `burst` times within `window_s`; the first line through after
    that says how many were dropped. Security events pass always. One instance may sit on
    several handlers: each record is decided once."""

    def __init__(self, burst: int = REPEAT_BURST, window_s: float = REPEAT_WINDOW_S, clock=time.monotonic,
                 exempt: tuple[str, ...] = (SECURITY_LOGGER,)):
        super().__init__()
        self.burst, self.window_s, self._clock, self.exempt = burst, window_s, clock, exempt
        self._seen: dict[tuple, list] = {}  # key -> [window start, lines in it]
        self._lock = threading.Lock()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        decided = record.__dict__.setdefault("_ohsa_repeat", {})
        if id(self) not in decided:
            decided[id(self)] = self._decide(record)
        return decided[id(self)]

    def _decide(self, record: logging.LogRecord) -> bool:
        if record.name == SECURITY_LOGGER or record.name.startswith(tuple(e + "." for e in self.exempt)):
            return True
        key = (record.name, record.levelno, str(record.msg)[:200])
        with self._lock:
            now = self._clock()
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self.window_s:
                dropped = entry[1] - self.burst if entry is not None and entry[1] > self.burst else 0
                if len(self._seen) > 1000:  # many different lines: start counting afresh
                    self._seen.clear()
                self._seen[key] = [now, 1]
                if dropped:
                    record.msg = f"{record.msg} [{dropped} more like this dropped in the last {self.window_s:.0f} s]"
                return True
            entry[1] += 1
            if entry[1] <= self.burst:
                return True
            self.dropped += 1
            return False


_ring: LogRing | None = None
_security: LogRing | None = None
_limit: RepeatLimit | None = None


def capture_logs(capacity: int = LOG_LINES) -> LogRing:
    """Attach (once) a ring of recent log lines to the root logger and return it; also the
    repeat limit on the root's handlers and the ring of security events."""
    global _ring, _security
    if _ring is None:
        _ring = LogRing(capacity)
        _ring.setLevel(logging.INFO)
        logging.getLogger().addHandler(_ring)
        _security = LogRing(SECURITY_LINES)
        _security.setLevel(logging.INFO)
        security = logging.getLogger(SECURITY_LOGGER)
        security.addHandler(_security)
        if security.level == logging.NOTSET or security.level > logging.INFO:
            security.setLevel(logging.INFO)  # kept even when the console shows warnings only
    limit_repeats()
    return _ring


def limit_repeats(limit: RepeatLimit | None = None) -> RepeatLimit:
    """Put `limit` (one shared instance) on the station's own handlers of the root logger (the
    console/journal one `ohsa` sets up, the ring) that lack one; others (a test runner's) stay."""
    global _limit
    if limit is not None:
        _limit = limit
    elif _limit is None:
        _limit = RepeatLimit()
    for handler in logging.getLogger().handlers:
        if type(handler) not in (logging.StreamHandler, LogRing):
            continue
        if not any(isinstance(f, RepeatLimit) for f in handler.filters):
            handler.addFilter(_limit)
    return _limit


def security_events() -> list[str]:
    """This run's security events (never dropped by the repeat limit)."""
    return list(_security.lines) if _security is not None else []


def redact(value):
    """A copy of a config table with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {k: "<redacted>" if SECRET_KEY.search(k) else redact(v) for k, v in value.items()}
    return value


def _config_text(config_path) -> str:
    path = paths.config_file(config_path)
    try:
        cfg = config.load(config_path)
    except ConfigError as e:
        # the file as written, secret lines blanked, so the mistake can be seen
        try:
            raw = Path(path).read_text(encoding="utf-8", errors="replace") if path else ""
        except OSError:
            raw = ""
        # any line that names a secret goes, whatever its shape (inline tables included)
        lines = ["# <line redacted>" if SECRET_KEY.search(ln) else ln for ln in raw.splitlines()]
        return f"# config rejected: {e}\n# file: {path}\n" + "\n".join(lines) + "\n"
    return f"# config in force (file: {path or 'none, defaults'})\n" + tomli_w.dumps(redact(cfg.model_dump()))


def _versions() -> dict:
    libs = {}
    for name in LIBRARIES:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    out = {
        "ohsa": __version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "kernel": platform.release(),
        "libraries": libs,
    }
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                out["os"] = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    try:
        out["board"] = Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode()
    except OSError:
        pass
    return out


def _journal_lines(unit: str = UNIT, lines: int = LOG_LINES) -> list[str] | None:
    """The unit's recent journal lines, or None when the journal has none for it."""
    journalctl = shutil.which("journalctl")
    if not journalctl:
        return None
    try:
        proc = subprocess.run(
            [journalctl, "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-iso", "-q"],
            capture_output=True, text=True, timeout=15,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [ln for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("-- ")]
    return rows if proc.returncode == 0 and rows else None


def recent_logs() -> tuple[str, list[str]]:
    """(where from, lines): the journal of the unit, else this process's ring."""
    rows = _journal_lines()
    if rows is not None:
        return f"journalctl -u {UNIT}", rows
    if _ring is not None:
        return "the station's in-memory log (last lines of this run)", list(_ring.lines)
    return "none (not run by systemd and no in-memory log)", []


def build_zip(data_dir=None, config_path=None, stats: dict | None = None,
              safe_mode: str | None = None) -> bytes:
    data_dir = paths.data_dir(data_dir)
    try:
        storage = config.load(config_path).storage
    except ConfigError:
        storage = config.Config().storage
    source, logs = recent_logs()
    state = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "safe_mode": safe_mode,
        "health": health.check(data_dir, storage),
        "station": stats,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.txt", (
            "OHSA station diagnostics\n"
            "versions.json  software and hardware versions\n"
            "config.toml    the config in force, secrets redacted\n"
            f"logs.txt       recent log lines from {source}\n"
            "stats.json     station stats, health readings, safe mode\n"
            "security.txt   this run's security events (logins, refused passwords, unknown hosts)\n"
        ))
        z.writestr("versions.json", json.dumps(_versions(), indent=2))
        z.writestr("config.toml", _config_text(config_path))
        z.writestr("logs.txt", "\n".join(logs) + ("\n" if logs else ""))
        z.writestr("stats.json", json.dumps(state, indent=2, default=str))
        events = security_events()
        z.writestr("security.txt", "\n".join(events) + ("\n" if events else ""))
    return buf.getvalue()


def filename() -> str:
    host = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname()) or "station"
    return f"ohsa-diagnostics-{host}-{time.strftime('%Y%m%d-%H%M%S')}.zip"

