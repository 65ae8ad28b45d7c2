"""The MoveNet model file: where it is, how it gets there, and that it is the right one.

MoveNet SinglePose Lightning int8 v4 (Apache-2.0, Google) is never committed. It is provided by

    ohsa model fetch          # download from upstream, verify SHA-256, install in the data dir
    ohsa model install PATH   # a local copy (the offline gym's route), same check
    ohsa model status         # which file would be used, verified

and found, in this order, by `resolve()`: an explicit path (option or config `model.path`), the
`OHSA_MODEL` environment variable, the installed copy `<data dir>/models/`, then
`../shared/models/` beside a development checkout. An explicit path or `OHSA_MODEL` that is
wrong is an error, never silently replaced by another file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from device import atomic, paths
from device.errors import ModelError

log = logging.getLogger(__name__)

FILENAME = "movenet_singlepose_lightning_int8_v4.tflite"
SHA256 = "cd7cc22fa946e5d146a7b98d496853e1923e22828d3972d579973f27f91bb105"
SIZE = 2_894_840
URL = (
    "https://storage.googleapis.com/tfhub-lite-models/google/lite-model/movenet/"
    "singlepose/lightning/tflite/int8/4.tflite"
)
HINT = "run 'ohsa model fetch' or 'ohsa model install PATH'"
DOWNLOAD_TIMEOUT_S = 30

_verified: dict[tuple, str] = {}  # (path, size, mtime_ns) -> sha256, so a file is hashed once


def installed_path() -> Path:
    """Where `fetch` and `install` put the model: `<data dir>/models/<FILENAME>`."""
    return paths.data_dir() / "models" / FILENAME


def shared_path() -> Path:
    return paths.SHARED_DIR / "models" / FILENAME


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check(path: Path, label: str | None = None) -> None:
    """Raise `ModelError` unless `path` is the MoveNet file (size and SHA-256)."""
    label = label or str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelError(f"MoveNet model {label}: no such file; {HINT}") from None
    if not path.is_file():
        raise ModelError(f"MoveNet model {label}: not a file; {HINT}")
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if _verified.get(key) == SHA256:
        return
    if st.st_size != SIZE:
        what = "truncated" if st.st_size < SIZE else "too large"
        raise ModelError(
            f"MoveNet model {label}: {what} ({st.st_size} bytes, expected {SIZE}); {HINT}"
        )
    try:
        digest = sha256_of(path)
    except OSError as e:
        raise ModelError(f"MoveNet model {label}: cannot read it ({e.strerror}); {HINT}") from None
    if digest != SHA256:
        raise ModelError(
            f"MoveNet model {label}: wrong SHA-256 {digest[:12]}..., expected {SHA256[:12]}...; {HINT}"
        )
    _verified[key] = digest


def candidates(explicit: str | os.PathLike | None = None) -> list[tuple[str, Path, bool]]:
    """The lookup order: `(label, path, authoritative)`; an authoritative entry is never skipped."""
    found: list[tuple[str, Path, bool]] = []
    if explicit:
        found.append(("option", Path(explicit).expanduser(), True))
    env = os.environ.get("OHSA_MODEL")
    if env:
        found.append(("OHSA_MODEL", Path(env).expanduser(), True))
    found.append(("data dir", installed_path(), False))
    found.append(("development copy", shared_path(), False))
    return found


def resolve(explicit: str | os.PathLike | None = None) -> Path:
    """The verified MoveNet file to use, or a one-line `ModelError` saying where it looked."""
    looked = []
    for label, path, authoritative in candidates(explicit):
        if authoritative or path.exists():
            check(path, f"{path} ({label})")
            log.debug("MoveNet model: %s (%s)", path, label)
            return path
        looked.append(str(path))
    raise ModelError(f"MoveNet model not found (looked in {', '.join(looked)}; OHSA_MODEL unset); {HINT}")


def _place(source: Path, label: str) -> Path:
    """Verify `source` and copy it atomically to the data dir; the installed path."""
    check(source, label)
    dest = installed_path()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists() and dest.resolve() == source.resolve():
            return dest
        atomic.write_bytes(dest, source.read_bytes())  # 2.9 MB: fine in memory
    except OSError as e:  # full, read-only, or a file where the folder should be
        raise ModelError(f"MoveNet model: cannot install it at {dest} ({e.strerror or e})") from None
    log.info("MoveNet model installed at %s", dest)
    return dest


def install(path: str | os.PathLike) -> Path:
    """Install a local copy of the model (verified by SHA-256) into the data dir."""
    return _place(Path(path).expanduser(), str(path))


def fetch(url: str = URL) -> Path:
    """Download the model from `url` to a temp file, verify its SHA-256, then install it."""
    dest_dir = installed_path().parent
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".download-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
                shutil.copyfileobj(r, out, 1 << 16)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            if isinstance(e, urllib.error.HTTPError):
                reason = f"HTTP {e.code} {e.reason}"
            raise ModelError(
                f"cannot download MoveNet from {url}: {reason}; on an offline station copy the "
                f"file over and run 'ohsa model install PATH'"
            ) from None
        return _place(tmp, f"downloaded from {url}")
    finally:
        tmp.unlink(missing_ok=True)


# --- ohsa model ---------------------------------------------------------------------------


def add_parser(sub) -> None:
    p = sub.add_parser("model", help="provide the MoveNet file, verified by SHA-256")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    f = msub.add_parser("fetch", help="download from upstream, verify, install in the data dir")
    f.add_argument("--url", default=URL, help="download from here instead of upstream")
    f.set_defaults(func=_cmd_fetch)
    i = msub.add_parser("install", help="install a local copy (verified) in the data dir")
    i.add_argument("path", metavar="PATH")
    i.set_defaults(func=_cmd_install)
    s = msub.add_parser("status", help="which model file would be used (exit 2 if none)")
    s.add_argument("--model", help="an explicit model file to check")
    s.set_defaults(func=_cmd_status)


def _cmd_fetch(args) -> int:
    print(fetch(args.url))
    return 0


def _cmd_install(args) -> int:
    print(install(args.path))
    return 0


def _cmd_status(args) -> int:
    from device import config

    path = resolve(args.model or config.load().model.path or None)
    print(f"{path} (SHA-256 verified)")
    return 0
