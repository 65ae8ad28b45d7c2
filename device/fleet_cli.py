"""`ohsa fleet join` and `ohsa fleet status`: a station joins a fleet in one command.

    ohsa fleet join --host mqtt.gym.example --station-id gym-3 --password-file /etc/ohsa/fleet-password \\
                    --ca /etc/ohsa/fleet-ca.crt
    ohsa fleet status
    ohsa fleet resend      # the assessments saved before joining (or for a new hub), queued once more

`join` writes the `[fleet]` section into the station's config file (the other sections stay as
they are) through the config's own checks and atomic save, after one trial connection with the
station's user (skip it with --no-check, e.g. when the broker is not up yet). It lives beside
device/config_cli.py, not in device/fleet/, because it drives the config and the store, which
themselves build on device/fleet (foundations stay at the bottom of the import graph). It only stores
values and file paths; nothing given here ever becomes a command. The station picks the section
up at its next start. `status` prints the link's settings and the outbox: rows waiting, the
oldest, the last sent.
"""

from __future__ import annotations

import json
from pathlib import Path

from device.errors import ConfigError, InputError


def add_parser(sub) -> None:
    p = sub.add_parser("fleet", help="join a fleet's MQTT broker; the link's state")
    fsub = p.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    j = fsub.add_parser("join", help="write the [fleet] section (checked, after a trial connection)")
    j.add_argument("--host", required=True, help="the broker's host name or address")
    j.add_argument("--station-id", required=True, help="this station's id: a-z, 0-9, '-' (its topics: ohsa/<id>/...)")
    j.add_argument("--username", default="", help="the broker user (default: the station id)")
    j.add_argument("--password-file", default="", metavar="FILE",
                   help="a file whose first line is the broker password (kept there, not in the config)")
    j.add_argument("--port", type=int, default=None, help="default 8883 (TLS), 1883 with --no-tls")
    j.add_argument("--ca", default="", metavar="FILE", help="the broker's CA certificate (PEM); default: the system's CAs")
    j.add_argument("--cert", default="", metavar="FILE", help="a client certificate (PEM), if the broker wants one")
    j.add_argument("--key", default="", metavar="FILE", help="the client certificate's key (PEM)")
    j.add_argument("--no-tls", action="store_true", help="plain MQTT (only on a trusted network or loopback)")
    j.add_argument("--topic-prefix", default=None, help="first level(s) of every topic (default: ohsa)")
    j.add_argument("--send-stills", action="store_true", help="send the annotated stills with each assessment")
    j.add_argument("--no-discovery", action="store_true", help="no Home Assistant discovery messages")
    j.add_argument("--no-check", action="store_true", help="write without a trial connection")
    j.add_argument("--config", default=None, metavar="FILE",
                   help="the config file to write (default: OHSA_CONFIG, then /etc/ohsa/ohsa.toml)")
    j.set_defaults(func=_cmd_join)
    s = fsub.add_parser("status", help="the link's settings, rows waiting to be sent, the last sent")
    s.add_argument("--config", default=None, metavar="FILE")
    s.add_argument("--data-dir", default=None, help="the station's data directory (default as `ohsa run`)")
    s.add_argument("--json", action="store_true", help="as JSON")
    s.set_defaults(func=_cmd_status)
    r = fsub.add_parser("resend", help="queue every stored assessment again (history saved before joining, a new hub)")
    r.add_argument("--config", default=None, metavar="FILE")
    r.add_argument("--data-dir", default=None, help="the station's data directory (default as `ohsa run`)")
    r.set_defaults(func=_cmd_resend)


def _readable(path: str, what: str) -> str:
    """An absolute path to a readable file, or InputError naming it."""
    if not path:
        return ""
    p = Path(path).expanduser()
    try:
        with open(p, "rb") as f:
            head = f.read(1 << 16)
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path}: is a folder, not a file") from None
    except OSError as e:
        raise InputError(f"{what} {path}: cannot read ({e.strerror})") from None
    if what == "--password-file" and not head.split(b"\n", 1)[0].strip(b"\r"):
        raise InputError(f"{what} {path}: its first line is empty")
    if what in ("--ca", "--cert") and b"-----BEGIN CERTIFICATE-----" not in head:
        raise InputError(f"{what} {path}: not a PEM certificate")
    return str(p.resolve())


def joined_config(current: dict, args) -> dict:
    """`current` (the file's tables) with its [fleet] section replaced by the arguments'."""
    tls = not args.no_tls
    fleet = {
        "enabled": True,
        "host": args.host,
        "port": args.port if args.port is not None else (8883 if tls else 1883),
        "tls": tls,
        "station_id": args.station_id,
        "username": args.username,
        "password_file": _readable(args.password_file, "--password-file"),
        "ca_file": _readable(args.ca, "--ca"),
        "cert_file": _readable(args.cert, "--cert"),
        "key_file": _readable(args.key, "--key"),
        "send_stills": bool(args.send_stills),
        "discovery": not args.no_discovery,
    }
    if args.topic_prefix is not None:
        fleet["topic_prefix"] = args.topic_prefix
    if not tls and (fleet["ca_file"] or fleet["cert_file"]):
        raise InputError("--no-tls: a CA or client certificate makes no sense without TLS")
    return {**current, "fleet": fleet}


def _cmd_join(args) -> int:
    import tomllib

    from device import config, paths

    path = paths.config_file(args.config) or paths.SYSTEM_CONFIG
    try:
        current = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the config to add [fleet] to ({e})") from None
    try:
        checked = config.validate(joined_config(current, args))
    except ConfigError as e:
        raise ConfigError(f"{_option(str(e))}") from None
    if not args.no_check:
        from device import __version__
        from device.fleet.publisher import Publisher

        problem = Publisher(checked.fleet, None, health=dict, version=__version__).probe()
        if problem:
            raise InputError(f"fleet join: {problem} (nothing written; --no-check writes anyway)")
    config.save(checked, path)
    s = checked.fleet
    print(f"{path}: [fleet] written: {s.user}@{s.host}:{s.port}{' (TLS)' if s.tls else ''} as station {s.station_id}")
    print("the station publishes from its next start (sudo systemctl restart ohsa)")
    return 0


OPTIONS = {"fleet.host": "--host", "fleet.station_id": "--station-id", "fleet.port": "--port",
           "fleet.username": "--username", "fleet.topic_prefix": "--topic-prefix"}


def _option(line: str) -> str:
    """A config error about a key given on the command line names the option instead."""
    key = line.split(":", 1)[0]
    return f"{OPTIONS[key]}{line[len(key):]}" if key in OPTIONS else line


def _cmd_status(args) -> int:
    from device import config, paths
    from device.store import Store

    cfg = config.load(args.config)
    s = cfg.fleet
    data_dir = paths.data_dir(args.data_dir)
    db = data_dir / "assessments.db"
    box = {"queued": None, "oldest_queued_at": None, "last_sent_at": None}
    if db.exists():
        with Store(db) as store:
            box = store.outbox_status()
    out = {"enabled": s.enabled, "broker": f"{s.host}:{s.port}" if s.host else None,
           "station_id": s.station_id or None, "tls": s.tls, **box}
    if args.json:
        print(json.dumps(out))
        return 0
    if not s.enabled:
        print("fleet: off (ohsa fleet join ... turns it on)")
    else:
        print(f"fleet: on, {s.user}@{s.host}:{s.port}{' (TLS)' if s.tls else ''} as station {s.station_id}")
    if box["queued"] is None:
        print(f"outbox: no database at {db}")
    else:
        oldest = f" (oldest from {box['oldest_queued_at']})" if box["queued"] else ""
        print(f"queued: {box['queued']}{oldest}")
        print(f"last sent: {box['last_sent_at'] or 'nothing yet'}")
    return 0



def _cmd_resend(args) -> int:
    from device import config, paths
    from device.store import Store

    if not config.load(args.config).fleet.enabled:
        raise InputError("fleet resend: the fleet is off here (ohsa fleet join ... first)")
    db = paths.data_dir(args.data_dir) / "assessments.db"
    if not db.exists():
        raise InputError(f"fleet resend: no database at {db}")
    with Store(db, outbox=True) as store:
        n = store.outbox_queue_all()
        queued = store.outbox_status()["queued"]
    print(f"{n} assessment(s) queued again; {queued} row(s) wait for the broker")
    return 0
