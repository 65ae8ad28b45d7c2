"""`ohsa config check [FILE]` and `ohsa config schema`: the station's config from the shell.

pydantic loads only when one of these runs, not for every `ohsa` command's parser.
"""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("config", help="check the config file; print its JSON schema")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c = csub.add_parser("check", help="check a config file as `ohsa run` would (exit 2 and one line if bad)")
    c.add_argument("path", nargs="?", metavar="FILE", help="default: OHSA_CONFIG, then /etc/ohsa/ohsa.toml")
    c.set_defaults(func=_cmd_check)
    s = csub.add_parser("schema", help="the config's JSON schema: every key's type, default, range, meaning")
    s.set_defaults(func=_cmd_schema)


def _cmd_check(args) -> int:
    from device import config, paths

    path = paths.config_file(args.path)
    config.load(path)
    print(f"{path}: ok" if path else "no config file: the built-in defaults")
    return 0


def _cmd_schema(args) -> int:
    from device import config

    print(json.dumps(config.config_schema(), indent=1))
    return 0
