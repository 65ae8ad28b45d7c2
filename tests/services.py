"""Real services for the fleet tests: a private Mosquitto broker and a private PostgreSQL cluster.

Each runs from the Debian packages `scripts/test.sh` installs (mosquitto, postgresql) on a free
loopback port in a temporary folder of its own, so tests never touch (or assume) a system
service. Both can be stopped and started again on the same port and data, for the fault tests.
Nothing here sleeps and hopes: `start()` waits until the port accepts connections, with a limit
that stretches with the machine's load (tests/waiting.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _as_root() -> bool:
    return os.geteuid() == 0


class Mosquitto:
    """A broker with password files and an ACL; `users` maps a username to its password.

    `acl` is the ACL file's text (the project's example by default, chosen by the caller).
    `persistence` keeps queued QoS 1 messages across a clean stop, as the example config does.
    """

    def __init__(self, folder: Path, users: dict[str, str], acl: str, *, port: int | None = None,
                 extra_conf: str = ""):
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(self.binary).exists():
            raise RuntimeError("mosquitto is not installed (scripts/test.sh installs it)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        passwd = self.folder / "passwd"
        passwd.write_text("")
        for user, password in users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True,
                           capture_output=True)
        (self.folder / "acl").write_text(acl)
        (self.folder / "data").mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {self.folder / 'acl'}",
            "persistence true",
            # as hub/mosquitto/mosquitto.conf: the default (1000 per client) drops QoS 1 messages
            # for a subscriber that falls behind, e.g. a hub on a loaded machine
            "max_queued_messages 100000",
            f"persistence_location {self.folder / 'data'}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if _as_root():
            lines.append("user root")  # the files live in a root-only temporary folder
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n" + extra_conf)

    def start(self) -> Mosquitto:
        log = open(self.folder / "broker.log", "ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log, stderr=log)
        up = wait_until(lambda: _accepts(self.port) or self.proc.poll() is not None, 20)
        if not up or self.proc.poll() is not None:
            raise RuntimeError("mosquitto exited: "
                               + (self.folder / "broker.log").read_text()[-2000:])
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM is a clean stop (queued messages are saved); SIGKILL is a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (scripts/test.sh installs postgresql)")
    return Path(found[-1]).parent


class Postgres:
    """A private cluster: trust authentication on loopback, one database `ohsa_hub`.

    As root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root) in a
    folder that user owns.
    """

    def __init__(self, port: int | None = None, *, durable: bool = False):
        self.durable = durable  # fsync on, as in production (benchmarks); off for tests (speed)
        self.bin = _pg_bin()
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="ohsa-pg-"))
        self.data = self.folder / "data"
        self.user = "postgres" if _as_root() else pwd.getpwuid(os.geteuid()).pw_name
        if _as_root():
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "--no-sync",
                  "-E", "UTF8", "--locale=C.UTF-8")
        self.dsn = f"host=127.0.0.1 port={self.port} user={self.user} dbname=ohsa_hub"
        self._created = False

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / tool), *args]
        if _as_root():
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, cwd=self.folder)

    def start(self) -> Postgres:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
                  "-t", "120", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
                  + ("" if self.durable else " -c fsync=off"),
                  "start")
        if not self._created:
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                      "ohsa_hub")
            self._created = True
        return self

    def database(self, name: str) -> str:
        """A fresh empty database `name` in this cluster (dropped first if there); its DSN."""
        base = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        self._run("dropdb", *base, "--if-exists", "--force", name)
        self._run("createdb", *base, name)
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={name}"

    def stop(self, mode: str = "fast") -> None:
        """mode: smart, fast (a clean stop) or immediate (like a crash: recovery at start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop",
                  check=False)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
