"""`ohsa run`: the station (cameras or looped recordings, pose, rules, panel, web) in one process.

    ohsa run [--config FILE] [--data-dir DIR] [--host H] [--port P] [--front F --side S]

Start-up order: safe-mode check (bad config or an unfinished last start-up -> the station still
starts, says what is wrong on the panel and the page, and refuses to assess), store, panel,
model, cameras, frame loop, web; then READY to systemd.

Stopping: SIGTERM (systemd) or SIGINT (Ctrl-C) only note the request (the handlers are
installed first, so a signal during start-up is not lost, and take no lock); the main thread
waits for it on a self-pipe that the interpreter writes the signal number to from whichever
thread the kernel picked. Then, within `STOP_BUDGET_S` (under systemd's TimeoutStopSec = 20 s):
web server, frame loop and cameras, analysis worker, panel, store, each join bounded. A thread
that is still inside native code (OpenCV, LiteRT) when the interpreter finalises aborts the
process ("FATAL: exception not rethrown"), so if any thread this command started is still
running, the logs are flushed and the process ends with `os._exit` and the same exit code
(0 for a requested stop).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from device import config as device_config
from device import diagnostics, paths, safemode, sdnotify, settings_trial
from device.errors import ConfigError, InputError, OhsaError

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_BUDGET_S = 15.0  # the whole ordered stop; systemd kills at TimeoutStopSec = 20 s
WEB_STOP_S = 4.0  # of which the web server (live streams end within a second)


class StopRequest:
    """SIGTERM/SIGINT as a stop request. Main thread only (Python's rule for signal handlers).

    The handler only stores the signal number: it runs between two bytecodes of the main
    thread, possibly inside a lock the main thread holds, so it must not take one (setting a
    `threading.Event` there can deadlock and the signal is then ignored). `wait()` blocks on a
    pipe that the interpreter's C-level handler writes the signal number to, so it wakes even
    when the kernel delivered the signal to another thread.
    """

    def __init__(self):
        self.signum: int | None = None
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_handlers: dict = {}
        self._old_fd: int | None = None

    def install(self) -> StopRequest:
        self._old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            self._old_handlers[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, _frame) -> None:
        self.signum = signum

    @property
    def requested(self) -> bool:
        self._drain()
        return self.signum is not None

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until a stop is requested (or `timeout`); the signal number or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.requested:
            remaining = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if remaining <= 0:
                break
            try:
                select.select([self._r], [], [], remaining)  # 1 s at most: a backstop
            except InterruptedError:  # pragma: no cover - PEP 475 retries select itself
                pass
        return self.signum

    def _drain(self) -> None:
        try:
            data = os.read(self._r, 64)
        except OSError:  # nothing there (non-blocking), or closed
            return
        for sig in STOP_SIGNALS:  # the handler itself runs at the main thread's next bytecode
            if sig in data and self.signum is None:
                self.signum = sig

    def restore(self) -> None:
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old_handlers.clear()
        if self._old_fd is not None:
            signal.set_wakeup_fd(self._old_fd)
            self._old_fd = None
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="the station: cameras (or looped recordings), pose, rules, panel, web",
        description="Run the station. With --front/--side the recordings are looped and paced "
        "in real time instead of cameras; a set holds both at their first frame through positioning "
        "and countdown, then plays them from there in lock-step. Without cameras it still starts "
        "and says which is missing.",
    )
    p.add_argument("--config", help="config file (default: OHSA_CONFIG, then /etc/ohsa/ohsa.toml)")
    p.add_argument("--data-dir", help="where assessments are kept (default: OHSA_DATA_DIR, ...)")
    p.add_argument("--host", help="web address to listen on (default: config web.host)")
    p.add_argument("--port", type=int, help="web port (default: config web.port; 0 = any free port)")
    p.add_argument("--front", help="front recording (video file or image folder) instead of the camera")
    p.add_argument("--side", help="side recording (video file or image folder) instead of the camera")
    p.add_argument("--model", help="MoveNet file (default: config model.path, OHSA_MODEL, ...)")
    p.set_defaults(func=run)


def _recordings(args) -> dict[str, str]:
    out = {}
    for view in ("front", "side"):
        path = getattr(args, view)
        if path is None:
            continue
        if not Path(path).exists():
            raise InputError(f"{path}: no such file or folder (--{view})")
        from device.media import open_media

        open_media(path).close()  # undecodable: one clear line now, not an offline camera later
        out[view] = path
    return out


def run(args) -> int:
    started_before = set(threading.enumerate())
    stop = StopRequest().install()  # first: a SIGTERM during start-up is a stop, not a kill
    diagnostics.capture_logs()  # recent lines for the diagnostics download, without journald
    code, message = 1, None
    try:
        code = _run(args, stop)
        return code
    except OhsaError as e:
        code, message = e.exit_code, f"ohsa: {e}"  # what device.cli would print, if we leave
        raise
    except BaseException as e:
        message = "".join(traceback.format_exception(e)).rstrip()
        raise
    finally:
        stop.restore()
        _exit_if_threads_left(started_before, code, message)


def _exit_if_threads_left(started_before: set, code: int, message: str | None) -> None:
    """Finalising the interpreter while a thread is inside OpenCV or LiteRT aborts the process:
    with any thread this command started still running, leave without finalising."""
    left = [t for t in threading.enumerate() if t not in started_before and t.is_alive()]
    if not left:
        return
    log.error("threads still running at exit (%s): leaving without finalising, exit %d",
              ", ".join(sorted(t.name for t in left)), code)
    if message:
        print(message, file=sys.stderr)
    _flush()
    os._exit(code)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _check_host(host: str | None) -> None:
    if host is None:
        return
    try:
        device_config.validate({"web": {"host": host}})
    except ConfigError:
        raise InputError(f"--host {host}: must be an IP address (0.0.0.0: every interface) or localhost") from None


PROBE_BYTES = 64 * 1024  # the data dir must take at least this (a full disk fails here, not mid-set)


def _usable_data_dir(explicit) -> Path:
    """The data directory, made if missing, proven writable (not read-only, not full)."""
    data_dir = paths.data_dir(explicit)
    label = f"--data-dir {data_dir}" if explicit else f"data directory {data_dir}"
    if data_dir.exists() and not data_dir.is_dir():
        raise InputError(f"{label}: not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".write-test-{os.getpid()}"
        try:
            with open(probe, "wb") as f:
                f.write(b"\0" * PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        finally:
            probe.unlink(missing_ok=True)
    except OSError as e:
        raise InputError(f"{label}: cannot write there ({e.strerror or e})") from None
    return data_dir


def _run(args, stop: StopRequest) -> int:
    _check_host(args.host)
    if args.port is not None and not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: must be 0..65535")
    recordings = _recordings(args)
    data_dir = _usable_data_dir(args.data_dir)
    config_path = paths.config_file(args.config)
    settings_trial.before_start(config_path, data_dir)  # new settings on trial (settings page)
    reason = safemode.check(config_path, data_dir)
    safemode.begin(data_dir)
    config_ok = True
    try:
        config = device_config.load(config_path)
    except ConfigError as e:
        log.error("%s; starting in safe mode with the default config", e)
        config = device_config.validate({})
        config_ok = False
    from device.station.runtime import StationRuntime
    from web import create_app
    from web.server import serve

    runtime = StationRuntime(config, data_dir, recordings=recordings, safe_mode=reason, model_path=args.model)
    server = fallback_store = None
    try:
        try:
            runtime.open()
            station, store = runtime, runtime.store
        except Exception as e:  # the page stays up and says so, never a restart loop without it
            reason = "; ".join(filter(None, [reason, f"start-up failed: {e}"]))
            log.error("start-up failed (%s): serving the pages in safe mode", e, exc_info=not isinstance(e, OhsaError))
            runtime.close(timeout=5.0)
            station, store = _safe_mode_parts(data_dir, reason)
            fallback_store = store
            config_ok = False
        if settings_trial.settle_at_start(config_ok, config_path, data_dir):
            raise InputError(f"{config_path}: the new settings did not start; the previous ones are back "
                             "(systemd starts the station again with them)")
        app = create_app(store, station=station, config=config, data_dir=data_dir, config_path=config_path)
        if not os.environ.get("INVOCATION_ID") and fallback_store is None:  # systemd restarts it otherwise
            app.extensions["ohsa"]["restart"] = _in_process_restart(app, runtime, config_path, data_dir, recordings, args)
            runtime = app.extensions["ohsa"]["runtime_holder"]
        host = args.host if args.host is not None else config.web.host
        port = args.port if args.port is not None else config.web.port
        try:
            server = serve(app, host, port)
        except OSError as e:
            raise InputError(f"--host {host} --port {port}: cannot listen ({e.strerror or e})") from None
        safemode.done(data_dir)
        if not stop.requested:
            sdnotify.ready()
            sdnotify.status(f"station at {server.url}" + (f"; SAFE MODE: {reason}" if reason else ""))
            print(f"ohsa run: station at {server.url}", flush=True)
            if reason:
                print(f"ohsa run: SAFE MODE: {reason}", file=sys.stderr, flush=True)
        signum = stop.wait()
        log.info("%s: stopping", signal.Signals(signum).name if signum else "stop")
    finally:
        _shutdown(server, runtime.current if isinstance(runtime, _RuntimeHolder) else runtime)
        if fallback_store is not None:
            fallback_store.close()
    return 0


class _RuntimeHolder:
    """The runtime in use; the in-process restart replaces it."""

    def __init__(self, runtime):
        self.current = runtime


def _in_process_restart(app, runtime, config_path: Path, data_dir: Path, recordings, args):
    """"Apply and restart" without systemd: the runtime closed and opened again on the file's
    settings (a failure leaves no station, so the health check fails and the trial rolls back)."""
    from device.station.runtime import StationRuntime

    holder = _RuntimeHolder(runtime)
    app.extensions["ohsa"]["runtime_holder"] = holder

    def restart() -> None:
        config = device_config.load(config_path)
        ohsa = app.extensions["ohsa"]
        ohsa["station"] = None
        holder.current.close(timeout=10.0)
        fresh = StationRuntime(config, data_dir, recordings=recordings, model_path=args.model)
        holder.current = fresh
        fresh.open()
        ohsa.update(station=fresh, store=fresh.store, config=config)

    return restart


def _safe_mode_parts(data_dir: Path, reason: str):
    """(station, store) for pages in safe mode: the store if it opens, else an empty one in
    memory (the trainer can still log in and read the health page)."""
    from device.station.runtime import STORE_FILE, SafeModeStation
    from device.store import Store

    try:
        store = Store(data_dir / STORE_FILE)
    except (OhsaError, OSError) as e:
        log.error("assessment database unusable (%s): the pages run on an empty one in memory", e)
        store = Store(":memory:")
    return SafeModeStation(reason), store


def _shutdown(server, runtime) -> None:
    """The ordered stop within STOP_BUDGET_S: web (no new requests), then the runtime."""
    t0 = time.monotonic()
    sdnotify.stopping()
    if server is not None:
        server.stop(timeout=WEB_STOP_S)
    stuck = runtime.close(timeout=max(1.0, STOP_BUDGET_S - (time.monotonic() - t0)))
    if stuck:
        log.error("still running after the stop: %s", ", ".join(stuck))
    log.info("stopped in %.1f s", time.monotonic() - t0)
