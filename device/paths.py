"""Where the station keeps things: data directory, config file, development checkout."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# A development checkout has ../shared beside it (models and recordings for tests).
SHARED_DIR = Path(os.environ.get("OHSA_SHARED_DIR", REPO_ROOT.parent / "shared"))
SYSTEM_CONFIG = Path("/etc/ohsa/ohsa.toml")


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The station's data directory: option, OHSA_DATA_DIR, systemd's StateDirectory, then ~."""
    for candidate in (explicit, os.environ.get("OHSA_DATA_DIR"), os.environ.get("STATE_DIRECTORY")):
        if candidate:
            return Path(str(candidate).split(":")[0])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ohsa"


def config_file(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file in use: option, OHSA_CONFIG, /etc/ohsa/ohsa.toml if present, else none."""
    if explicit:
        return Path(explicit)
    if os.environ.get("OHSA_CONFIG"):
        return Path(os.environ["OHSA_CONFIG"])
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None
