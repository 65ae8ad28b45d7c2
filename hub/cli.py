"""`ohsa hub`: the chain's hub (docs/fleet.md).

    ohsa hub run --dsn DSN --broker mqtt://HOST:1883    # subscribe, store, serve the pages
    ohsa hub migrate --dsn DSN                          # bring the schema up to date (also on run)
    ohsa hub password set | generate | status           # the pages' owner password

The DSN, broker and MQTT password may come from the environment instead (OHSA_HUB_DSN,
OHSA_HUB_BROKER, OHSA_HUB_MQTT_PASSWORD; systemd's EnvironmentFile), so no secret is on a
command line. psycopg and Flask are imported inside the commands: `ohsa --help` on a station
without the `hub` extra still works.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from device.errors import InputError

log = logging.getLogger("ohsa.hub")

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
DEFAULT_PORT = 8090
STOP_BUDGET_S = 10.0
READY_WAIT_S = 30.0  # at most this long for the broker before telling systemd the hub is up


def data_dir(explicit: str | None = None) -> Path:
    """The hub's data directory (its owner password): option, OHSA_HUB_DATA_DIR, systemd's
    StateDirectory, then ~/.local/share/ohsa-hub."""
    for candidate in (explicit, os.environ.get("OHSA_HUB_DATA_DIR"), os.environ.get("STATE_DIRECTORY")):
        if candidate:
            return Path(str(candidate).split(":")[0])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ohsa-hub"


def add_parser(sub) -> None:
    p = sub.add_parser("hub", help="the chain's hub: stations' MQTT messages into PostgreSQL, the chain's pages",
                       description="The hub of a gym chain (docs/fleet.md). Needs the `hub` extra (psycopg).")
    cmds = p.add_subparsers(dest="hub_action", metavar="ACTION", required=True)

    def dsn_arg(q):
        q.add_argument("--dsn", default=os.environ.get("OHSA_HUB_DSN"),
                       help="PostgreSQL connection string (default: OHSA_HUB_DSN)")

    r = cmds.add_parser("run", help="subscribe to every station, store in PostgreSQL, serve the pages")
    dsn_arg(r)
    r.add_argument("--broker", default=os.environ.get("OHSA_HUB_BROKER", DEFAULT_BROKER),
                   help=f"mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (default: OHSA_HUB_BROKER, {DEFAULT_BROKER})")
    r.add_argument("--mqtt-user", default=os.environ.get("OHSA_HUB_MQTT_USER", "hub"),
                   help="the hub's broker user (default: hub)")
    r.add_argument("--mqtt-password-file", help="file holding the broker password "
                   "(default: OHSA_HUB_MQTT_PASSWORD from the environment)")
    r.add_argument("--ca-file", help="CA certificate of the broker's TLS listener (mqtts://)")
    r.add_argument("--prefix", default="ohsa", help="topic prefix (default: ohsa)")
    r.add_argument("--client-id", default=None, help="MQTT client id of the hub's persistent session (default: ohsa-hub)")
    r.add_argument("--host", default="0.0.0.0", help="address of the pages (default: 0.0.0.0)")
    r.add_argument("--port", type=int, default=_env_port(),
                   help=f"port of the pages (default: OHSA_HUB_PORT, {DEFAULT_PORT}; 0: any)")
    r.add_argument("--public-url", default=os.environ.get("OHSA_HUB_PUBLIC_URL", ""),
                   help="the address trainers open, when it is a name the hub does not know as its own "
                        "(a reverse proxy); other Host headers are refused (default: OHSA_HUB_PUBLIC_URL)")
    r.add_argument("--no-web", action="store_true", help="subscribe and store only, serve no pages")
    r.add_argument("--data-dir", help="where the owner password is (default: OHSA_HUB_DATA_DIR, systemd's, ~)")
    r.set_defaults(func=_cmd_run)

    m = cmds.add_parser("migrate", help="bring the database's schema up to date")
    dsn_arg(m)
    m.set_defaults(func=_cmd_migrate)

    pw = cmds.add_parser("password", help="the hub pages' owner password (asked twice on a terminal)")
    pw_cmds = pw.add_subparsers(dest="password_action", metavar="ACTION", required=True)
    for name, text in (("set", "set it: asked twice on a terminal, else one line on stdin"),
                       ("generate", "make one, store it and print it once"),
                       ("status", "whether a password is set")):
        q = pw_cmds.add_parser(name, help=text)
        q.add_argument("--data-dir", help="the hub's data directory (default: OHSA_HUB_DATA_DIR, systemd's, ~)")
        if name != "status":
            q.add_argument("--if-unset", action="store_true", help="do nothing when a password is set already")
        q.set_defaults(func=_cmd_password)


    a = cmds.add_parser("account", help="the chain's trainers: each a login of their own on the hub's pages")
    a_cmds = a.add_subparsers(dest="account_action", metavar="ACTION", required=True)
    for name, text in (("set", "add a trainer, or give one a new password (asked twice on a terminal, "
                               "else one line on stdin; their sessions end)"),
                       ("remove", "remove a trainer and end their sessions"),
                       ("list", "the trainers")):
        q = a_cmds.add_parser(name, help=text)
        dsn_arg(q)
        if name != "list":
            q.add_argument("name", help="the trainer's login name")
        q.set_defaults(func=_cmd_account)


def _env_port() -> int:
    text = os.environ.get("OHSA_HUB_PORT", "")
    return int(text) if text.isdigit() else DEFAULT_PORT


def _need_dsn(args) -> str:
    if not args.dsn:
        raise InputError("--dsn: no PostgreSQL connection string (give --dsn or set OHSA_HUB_DSN)")
    return args.dsn


def _modules():
    try:
        from hub import db
    except ImportError as e:
        raise InputError(f"the hub needs psycopg: pip install 'ohsa-station[hub]' ({e})") from None
    return db


def _cmd_migrate(args) -> int:
    db = _modules()
    with db.connect(_need_dsn(args)) as conn:
        before, after = db.migrate(conn)
    print(f"hub schema: version {before} -> {after}" if after != before else f"hub schema: version {after}, up to date")
    return 0


def _cmd_password(args) -> int:
    """As `ohsa password` on a station (device/owner.py), for the hub's data directory."""
    from device import owner

    return owner.password_command(args.password_action, data_dir(args.data_dir), what="hub",
                                  command="ohsa hub password", ended="every session of the hub's pages has ended",
                                  if_unset=getattr(args, "if_unset", False))


def _cmd_account(args) -> int:
    from device import owner
    from hub.store import HubStore, Unavailable

    _modules()
    store = HubStore(_need_dsn(args))
    try:
        if args.account_action == "list":
            trainers = store.accounts()
            for a in trainers:
                print(f"{a['name']}\ttrainer\tsince {a['created_at']}")
            if not trainers:
                print("no trainer accounts (ohsa hub account set NAME adds one)")
        elif args.account_action == "set":
            added = store.set_trainer(args.name, owner.hash_password(owner.new_password(f"{args.name}'s")))
            print(f"trainer {args.name!r} {'added' if added else 'has a new password; their sessions ended'}")
        else:
            store.remove_trainer(args.name)
            print(f"trainer {args.name!r} removed; their sessions ended")
    except Unavailable as e:
        raise InputError(f"PostgreSQL: {e}") from None
    finally:
        store.close()
    return 0


def _mqtt_password(args) -> str:
    if args.mqtt_password_file:
        try:
            return Path(args.mqtt_password_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"--mqtt-password-file {args.mqtt_password_file}: cannot read ({e})") from None
    return os.environ.get("OHSA_HUB_MQTT_PASSWORD", "")


FATAL_DB = ("authentication failed", "does not exist", "no password supplied")


def _migrate_when_up(db, dsn: str, stop_request) -> bool:
    """Migrate once PostgreSQL answers: a database still starting (or restarting) is waited for
    with back-off (0.5 s doubling to 30 s); a refused login or a missing database is an error at
    once. False when a stop was asked for meanwhile."""
    delay, last = 0.5, None
    while True:
        try:
            with db.connect(dsn) as conn:
                before, after = db.migrate(conn)
            if after != before:
                log.info("hub schema migrated %d -> %d", before, after)
            return True
        except InputError as e:
            text = str(e)
            if any(word in text for word in FATAL_DB):
                raise
            if text != last:
                log.warning("%s; retrying (back-off up to 30 s)", text)
                last = text
        if stop_request.wait(delay) is not None:
            return False
        delay = min(delay * 2, 30.0)


def _cmd_run(args) -> int:
    db = _modules()
    from device import sdnotify
    from device.fleet import messages
    from device.station.cli import StopRequest
    from hub.subscriber import CLIENT_ID, Broker, Subscriber

    dsn = _need_dsn(args)
    messages.check_prefix(args.prefix)
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: expected 0-65535")
    broker = Broker.from_url(args.broker, username=args.mqtt_user, password=_mqtt_password(args),
                             ca_file=args.ca_file)
    stop_request = StopRequest().install()
    try:
        if not _migrate_when_up(db, dsn, stop_request):
            return 0
    except BaseException:
        stop_request.restore()
        raise
    stop = threading.Event()
    subscriber = Subscriber(dsn, broker, prefix=args.prefix, client_id=args.client_id or CLIENT_ID).start()
    worker = threading.Thread(target=subscriber.run, args=(stop,), name="hub-ingest", daemon=True)
    worker.start()
    server = None
    try:
        if not args.no_web:
            from hub.app import create_app
            from hub.store import HubStore
            from web.server import serve

            store = HubStore(dsn)
            app = create_app(store, data_dir=data_dir(args.data_dir), public_url=args.public_url)
            server = serve(app, args.host, args.port)
            log.warning("hub pages on %s", server.url)
        # Ready once the broker holds the hub's session and subscriptions: from then on it keeps
        # the stations' messages for the hub (scripts/hub.sh's `systemctl restart` waits for this).
        deadline = time.monotonic() + READY_WAIT_S
        while not subscriber.subscribed.is_set() and time.monotonic() < deadline:
            if stop_request.wait(0.1) is not None:
                break
        if subscriber.subscribed.is_set():
            log.warning("hub subscribed to %s:%d as %s", broker.host, broker.port, broker.username)
        else:
            log.warning("broker %s:%d not reachable yet; the hub keeps trying", broker.host, broker.port)
        sdnotify.ready()
        stop_request.wait()
        sdnotify.stopping()
    finally:
        stop.set()
        worker.join(STOP_BUDGET_S)
        subscriber.close()
        if server is not None:
            server.stop(STOP_BUDGET_S / 2)
        stop_request.restore()
    return 0
