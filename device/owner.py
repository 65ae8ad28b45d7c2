"""The owner's (trainer's) password: its scrypt hash in a file of its own, set from the Pi's shell.

    ohsa password set            # asks twice on a terminal; one line on stdin otherwise
    ohsa password generate       # makes one, stores it and prints it once
    ohsa password status         # set or not (never prints the hash)

The hash lives in `<data dir>/owner-password` (mode 0600, written atomically), not in the
assessment database, so deleting the database does not reopen the first-run window. Until the
file exists the trainer area answers only on the station itself (see docs/security.md).
Setting the password here also ends every trainer session: a session is bound to the hash it
was opened under.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import os
import secrets
import sys
import tempfile
from pathlib import Path

from device import atomic, paths
from device.errors import InputError

log = logging.getLogger(__name__)
security = logging.getLogger("ohsa.security")  # kept apart from the rest (device/diagnostics.py)

FILE_NAME = "owner-password"
MIN_LENGTH = 8
MAX_LENGTH = 1024  # scrypt of a megabyte is still quick, but nobody types one

# scrypt cost: 2**15 x 8 x 1 needs 32 MiB and takes ~0.1 s here, a few tenths on a Pi 4.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not isinstance(password, str) or len(password) > MAX_LENGTH:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or int(n) > 2**20:
            return False
        actual = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, bytes.fromhex(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)


def password_problem(password: str, repeat: str | None = None) -> str | None:
    """Why a new password cannot be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password needs at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password can have at most {MAX_LENGTH} characters."
    if repeat is not None and password != repeat:
        return "The two passwords differ."
    return None


def fingerprint(stored: str | None) -> str:
    """A short digest of the stored hash: sessions remember it, so a new password ends them."""
    return hashlib.sha256((stored or "").encode()).hexdigest()[:32]


def credential_file(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / FILE_NAME


def read_hash(data_dir: str | os.PathLike) -> str | None:
    """The stored hash, or None when no password is set (or the file is unreadable junk)."""
    try:
        text = credential_file(data_dir).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        log.error("%s: cannot read the owner password (%s)", credential_file(data_dir), e)
        return None
    return text if text.startswith("scrypt$") else None


def write_hash(data_dir: str | os.PathLike, stored: str) -> None:
    """Replace the stored hash (atomically, readable by the station's user only)."""
    atomic.write_text(credential_file(data_dir), stored + "\n", mode=0o600)
    security.warning("owner password changed (%s)", credential_file(data_dir))


def create_hash(data_dir: str | os.PathLike, stored: str) -> bool:
    """Store the hash only when none exists yet; False when another one won the race."""
    path = credential_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(stored + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # fails when the file exists: no-replace, unlike rename
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    security.warning("owner password set (%s)", path)
    return True


def generate() -> str:
    """A password to print once: 4 groups of 4 from an unambiguous alphabet (~80 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


# -- ohsa password ----------------------------------------------------------------------------


def add_parser(sub) -> None:
    p = sub.add_parser("password", help="set or reset the trainer password (on the station)",
                       description="The trainer password, kept as a scrypt hash in the data directory. "
                                   "Setting it ends every trainer session.")
    p.add_argument("--data-dir", help="the station's data directory (default: OHSA_DATA_DIR, systemd's, ~)")
    cmds = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = cmds.add_parser("set", help="set it: asked twice on a terminal, else one line on stdin")
    s.add_argument("--if-unset", action="store_true", help="do nothing when a password is set already")
    s.set_defaults(func=_cmd)
    g = cmds.add_parser("generate", help="make one, store it and print it once")
    g.add_argument("--if-unset", action="store_true", help="do nothing when a password is set already")
    g.set_defaults(func=_cmd)
    st = cmds.add_parser("status", help="whether a password is set")
    st.set_defaults(func=_cmd)


def _data_dir(args) -> Path:
    d = paths.data_dir(args.data_dir)
    if d.exists() and not d.is_dir():
        raise InputError(f"{d}: not a directory")
    return d


def new_password(what: str) -> str:
    """A new password: asked twice on a terminal, else one line on stdin; InputError if weak."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"New {what} password: ")
        repeat = getpass.getpass("Again: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
        repeat = None
    problem = password_problem(password, repeat)
    if problem:
        raise InputError(f"password: {problem}")
    return password


def password_command(action: str, d: Path, *, what: str, command: str, ended: str,
                     if_unset: bool = False) -> int:
    """`status`, `set` or `generate` of the password in `d` (`ohsa password` on a station,
    `ohsa hub password` on the hub): `what` names it ("trainer", "hub"), `command` is the command
    that changes it, `ended` says whose sessions a new one ends."""
    stored, where = read_hash(d), credential_file(d)
    if action == "status":
        print(f"{what} password: {'set' if stored else 'not set'} ({where})")
        return 0 if stored else 1
    if if_unset and stored:
        print(f"a {what} password is set already ({where})")
        return 0
    password = generate() if action == "generate" else new_password(what)
    try:
        write_hash(d, hash_password(password))
    except OSError as e:
        raise InputError(f"{where}: cannot write ({e.strerror or e})") from None
    if action == "generate":
        print(f"{what} password: {password}")
        print(f"(shown once: write it down; `{command} set` changes it)")
    else:
        print(f"{what} password set ({where}); {ended}")
    return 0


def _cmd(args) -> int:
    return password_command(args.action, _data_dir(args), what="trainer", command="ohsa password",
                            ended="every trainer session has ended", if_unset=getattr(args, "if_unset", False))


__all__ = ["hash_password", "verify_password", "password_problem", "read_hash", "write_hash",
           "create_hash", "fingerprint", "generate"]
