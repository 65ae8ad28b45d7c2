"""`ohsa`: the station's command line.

Each command lives with what it drives: a module in `COMMAND_MODULES` has `add_parser(sub)`,
which registers its subcommands with `set_defaults(func=...)`; `func(args)` returns the exit
code. Heavy imports (OpenCV, LiteRT, Flask) happen inside the command, not here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from device import __version__
from device.errors import OhsaError

COMMAND_MODULES = (
    "device.model",  # ohsa model fetch | install
    "device.pose.cli",  # ohsa pose, ohsa track, ohsa bench
    "device.rules.cli",  # ohsa rules
    "device.analysis.cli",  # ohsa assess, ohsa check
    "device.station.cli",  # ohsa run
    "device.calibrate",  # ohsa calibrate [mat]
    "device.config_cli",  # ohsa config check | schema
    "device.owner",  # ohsa password set | generate | status
    "device.fleet_cli",  # ohsa fleet join | status
    "hub.cli",  # ohsa hub run | migrate | password (the chain's hub; imports nothing of it up front)
)

log = logging.getLogger("ohsa")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ohsa", description="Overhead squat assessment station (MoveNet, offline)."
    )
    parser.add_argument("--version", action="version", version=f"ohsa {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except OhsaError as e:
        print(f"ohsa: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:  # a full or read-only disk, a folder where a file should go, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"ohsa: {where}{e.strerror or e}", file=sys.stderr)
        return 1
