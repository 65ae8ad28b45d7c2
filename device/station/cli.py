"""`ohsa run`: the station (cameras or looped recordings, pose, rules, panel, web) in one process.

    ohsa run [--config FILE] [--data-dir DIR] [--host H] [--port P] [--front F --side S]

Start-up order: safe-mode check (bad config or an unfinished last start-up -> the station still
starts, says what is wrong on the panel and the page, and refuses to assess), store, panel,
model, cameras, frame loop, web; then READY to systemd. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from device import config as device_config
from device import paths, safemode, sdnotify
from device.errors import ConfigError, InputError

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="the station: cameras (or looped recordings), pose, rules, panel, web",
        description="Run the station. With --front/--side the recordings are looped and paced "
        "in real time instead of cameras. Without cameras it still starts and says which is missing.",
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
    recordings = _recordings(args)
    if args.port is not None and not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: must be 0..65535")
    data_dir = paths.data_dir(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = paths.config_file(args.config)
    reason = safemode.check(config_path, data_dir)
    safemode.begin(data_dir)
    try:
        config = device_config.load(config_path)
    except ConfigError as e:
        log.error("%s; starting in safe mode with the default config", e)
        config = device_config.validate({})
    from device.station.runtime import StationRuntime
    from web import create_app
    from web.server import serve

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runtime = StationRuntime(config, data_dir, recordings=recordings, safe_mode=reason, model_path=args.model)
    server = None
    try:
        runtime.open()
        app = create_app(
            runtime.store, station=runtime, config=config, data_dir=data_dir, config_path=config_path
        )
        host = args.host if args.host is not None else config["web"]["host"]
        port = args.port if args.port is not None else config["web"]["port"]
        try:
            server = serve(app, host, port)
        except OSError as e:
            raise InputError(f"--host {host} --port {port}: cannot listen ({e.strerror or e})") from None
        safemode.done(data_dir)
        sdnotify.ready()
        sdnotify.status(f"station at {server.url}" + (f"; SAFE MODE: {reason}" if reason else ""))
        print(f"ohsa run: station at {server.url}", flush=True)
        if reason:
            print(f"ohsa run: SAFE MODE: {reason}", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        sdnotify.stopping()
        if server is not None:
            server.stop()
        runtime.close()
    return 0
