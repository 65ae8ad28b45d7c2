"""Helpers for the station-side fleet tests: a broker with the shipped ACL, a test CA, a listener.

`listener()` is a paho client as the hub (or any user) that records what arrives; `make_ca()`
makes a throw-away CA and a server certificate for 127.0.0.1 with openssl.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.services import Mosquitto, free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
ACL = (ROOT / "hub" / "mosquitto" / "acl").read_text()
USERS = {"s1": "pw-s1", "s2": "pw-s2", "hub": "pw-hub", "homeassistant": "pw-ha"}


def make_ca(folder: Path, name: str = "ca") -> dict[str, Path]:
    """A CA, a server certificate (CN localhost, SAN 127.0.0.1) and a client certificate (CN s1)
    signed by it, EC P-256."""
    folder.mkdir(parents=True, exist_ok=True)
    p = {k: folder / f"{name}-{k}" for k in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt", "san.cnf",
                                           "client.key", "client.csr", "client.crt")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", str(p["ca.key"]), "-out", str(p["ca.crt"]), "-days", "2",
        "-subj", f"/CN=ohsa-test-{name}")
    run("req", *ec, "-keyout", str(p["server.key"]), "-out", str(p["server.csr"]), "-subj", "/CN=localhost")
    p["san.cnf"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", str(p["server.csr"]), "-CA", str(p["ca.crt"]), "-CAkey", str(p["ca.key"]),
        "-CAcreateserial", "-out", str(p["server.crt"]), "-days", "2", "-extfile", str(p["san.cnf"]))
    run("req", *ec, "-keyout", str(p["client.key"]), "-out", str(p["client.csr"]), "-subj", "/CN=s1")
    run("x509", "-req", "-in", str(p["client.csr"]), "-CA", str(p["ca.crt"]), "-CAkey", str(p["ca.key"]),
        "-CAcreateserial", "-out", str(p["client.crt"]), "-days", "2")
    return p


def broker(folder: Path, tls: dict[str, Path] | None = None) -> Mosquitto:
    """A private broker with the shipped ACL; with `tls`, a TLS listener on `.tls_port` and one that
    also wants a client certificate on `.cert_port`."""
    extra = ""
    tls_port = cert_port = None
    if tls:
        tls_port, cert_port = free_port(), free_port()
        files = f"cafile {tls['ca.crt']}\ncertfile {tls['server.crt']}\nkeyfile {tls['server.key']}\n"
        extra = (f"listener {tls_port} 127.0.0.1\n{files}"
                 f"listener {cert_port} 127.0.0.1\n{files}require_certificate true\n")
    b = Mosquitto(folder, USERS, ACL, extra_conf=extra)
    b.tls_port, b.cert_port = tls_port, cert_port
    return b


class Listener:
    """A subscriber recording (topic, payload, retain); `clean=False` keeps a persistent session."""

    def __init__(self, port: int, user: str = "hub", topics=("ohsa/#",), *, clean: bool = True,
                 client_id: str = "", protocol=mqtt.MQTTv311):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.refused = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  clean_session=clean if protocol != mqtt.MQTTv5 else None, protocol=protocol)
        if user:
            self.client.username_pw_set(user, USERS.get(user, "wrong"))
        self.client.reconnect_delay_set(1, 1)
        self.topics = topics

        def on_connect(c, u, flags, rc, props):
            if rc.is_failure:
                self.refused = str(rc)
                return
            for t in self.topics:
                c.subscribe(t, qos=1)

        def on_subscribe(c, u, mid, rcs, props):
            self.subscribed.set()

        def on_message(c, u, msg):
            with self.lock:
                self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def wait_subscribed(self) -> "Listener":
        assert wait_until(self.subscribed.is_set, 10), f"listener not subscribed (refused: {self.refused})"
        return self

    def on(self, prefix: str) -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return [m for m in self.messages if m[0].startswith(prefix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
