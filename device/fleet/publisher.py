"""The station's MQTT publisher: one thread that keeps the fleet told (store and forward).

Per connection (a fresh paho client each time, so nothing of a dead connection lingers):
connect with the station's user (TLS when `[fleet] tls`), a retained last will "offline" on the
status topic; then a retained "online" status, the Home Assistant discovery configs and a
retained health message; then the outbox in `seq` order with QoS 1, at most `WINDOW` messages
unacknowledged, each row marked sent in the store only when its PUBACK arrives. Health goes out
every `health_interval_s`. A lost connection starts again from the oldest unsent row (what was
sent but not acknowledged goes again: a duplicate the receiver drops by its revision), after a
back-off of 1, 2, 4 ... 60 s. A clean stop publishes "offline" itself (a last will is only sent
for an unclean end).

The station never waits for any of it: the store writes the outbox rows, this thread reads them.
A broker that is down, refuses the user or has the wrong certificate gives one log line per
distinct problem (repeats at debug level) and retries; settings that cannot work (an unreadable
password or CA file) give one error line and the link stays off. Memory stays bounded: at most
`WINDOW` rows are read from the outbox at a time.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import ssl
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt

from device.errors import InputError
from device.fleet import discovery, messages
from device.fleet.settings import FleetSettings

log = logging.getLogger(__name__)

WINDOW = 20  # messages in flight (unacknowledged) at once; paho's default max_inflight
BACKOFF_MAX_S = 60.0
CONNECT_TIMEOUT_S = 3.0  # TCP (and TLS) connect; bounds how long a stop can wait on a dead network
CONNACK_TIMEOUT_S = 15.0
OUTBOX_POLL_S = 0.2  # how often an idle link looks for new outbox rows
STOP_FLUSH_S = 2.0  # a clean stop waits this long for the "offline" status to be acknowledged


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Publisher:
    """`Publisher(settings, store, health=..., version=...).start()`; `close()` to stop.

    `store` is a device.store.Store (outbox_pending, outbox_sent, outbox_status, get_image);
    `health()` returns {"sets_today", "cameras": {view: status}, "uptime_s"}.
    """

    def __init__(self, settings: FleetSettings | dict, store, *, health: Callable[[], dict],
                 version: str, station_name: str = "", backoff_max_s: float = BACKOFF_MAX_S):
        self.settings = FleetSettings.of(settings)
        self.store = store
        self.health = health
        self.version = version
        self.station_name = station_name
        self.backoff_max_s = backoff_max_s
        s = self.settings
        self.station = s.station_id
        self.status_topic = messages.status_topic(s.station_id, s.topic_prefix)
        self.health_topic = messages.health_topic(s.station_id, s.topic_prefix)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._last_problem: str | None = None
        self._problem_at: str | None = None
        self._acked: list[int] = []
        self._refused: str | None = None
        self._quiet = False  # probe(): the caller reports the problem itself

    # -- the station's side -------------------------------------------------------------------

    def start(self) -> Publisher:
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> bool:
        """Stop (publishing "offline" when connected); True when the thread ended in time."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def nudge(self) -> None:
        """Look at the outbox and send health now (after a save, or from a test)."""
        self._wake.set()

    def state(self) -> dict:
        """The link for the health page: connected, queued rows, last sent, the last problem."""
        try:
            box = self.store.outbox_status()
        except Exception:  # a closed store: the page still renders
            box = {"queued": None, "oldest_queued_at": None, "last_sent_at": None}
        s = self.settings
        return {"enabled": True, "connected": self._connected, "broker": f"{s.host}:{s.port}",
                "station_id": s.station_id, "tls": s.tls, **box,
                "problem": None if self._connected else self._last_problem, "problem_at": self._problem_at}

    @property
    def connected(self) -> bool:
        return self._connected

    # -- the thread ---------------------------------------------------------------------------

    def _problem(self, text: str, level: int = logging.WARNING) -> None:
        """One log line per distinct problem; repeats only at debug level."""
        if text != self._last_problem:
            if not self._quiet:
                log.log(level, "fleet: %s", text)
            self._last_problem, self._problem_at = text, _now_iso()
        else:
            log.debug("fleet: %s (again)", text)

    def _run(self) -> None:
        try:
            password = self._password()
        except InputError as e:
            self._problem(f"{e}; the fleet link stays off", logging.ERROR)
            return
        backoff = 1.0
        while not self._stop.is_set():
            try:
                client = self._client(password)
            except (InputError, OSError, ValueError, ssl.SSLError) as e:
                self._problem(f"TLS settings unusable ({e}); the fleet link stays off", logging.ERROR)
                return
            try:
                worked = self._session(client)
            except Exception as e:  # never take the station down; log it and try again
                log.exception("fleet: unexpected error in the link")
                self._problem(f"link error ({type(e).__name__}: {e})")
                worked = False
            finally:
                self._connected = False
                try:
                    client.socket() and client.disconnect()
                except Exception:
                    pass
            if self._stop.is_set():
                break
            backoff = 1.0 if worked else min(self.backoff_max_s, backoff * 2)
            self._stop.wait(min(backoff, self.backoff_max_s))

    def _password(self) -> str | None:
        s = self.settings
        if s.password_file:
            try:
                with open(s.password_file, encoding="utf-8") as f:
                    line = f.readline().rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as e:
                raise InputError(f"fleet.password_file {s.password_file}: cannot read ({e.__class__.__name__})") from None
            if not line:
                raise InputError(f"fleet.password_file {s.password_file}: empty")
            return line
        return s.password or None

    def _client(self, password: str | None) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ohsa-{s.station_id}",
                             protocol=mqtt.MQTTv311, clean_session=True, reconnect_on_failure=False)
        client.username_pw_set(s.user, password)
        offline = messages.encode(messages.status(s.station_id, "offline", _now_iso(), self.version))
        client.will_set(self.status_topic, offline, qos=1, retain=True)
        if s.tls:
            client.tls_set(ca_certs=s.ca_file or None, certfile=s.cert_file or None,
                           keyfile=s.key_file or None, cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.max_inflight_messages_set(WINDOW)
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
        else:
            self._connected = True

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected = False

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acked.append(mid)

    def probe(self, timeout: float = 10.0) -> str | None:
        """Connect once (for `ohsa fleet join`): None when the broker took this station's user,
        else the problem in one line. Publishes nothing but the connect itself."""
        self._quiet = True
        try:
            client = self._client(self._password())
        except InputError as e:
            return str(e)
        except (OSError, ValueError, ssl.SSLError) as e:
            return f"TLS settings unusable ({e})"
        try:
            return None if self._connect(client, timeout) else self._last_problem
        finally:
            self._connected = False
            try:
                client.disconnect()
            except Exception:
                pass

    def _connect(self, client: mqtt.Client, timeout: float = CONNACK_TIMEOUT_S) -> bool:
        """Connect and wait for the broker's answer; False (and the problem noted) if refused."""
        s = self.settings
        self._refused = None
        self._acked = []
        try:
            client.connect(s.host, s.port, keepalive=s.keepalive_s)
        except ssl.SSLCertVerificationError as e:
            self._problem(f"TLS with {s.host}:{s.port} failed: the broker's certificate is not trusted "
                          f"({e.verify_message}); check fleet.ca_file")
            return False
        except ssl.SSLError as e:
            self._problem(f"TLS with {s.host}:{s.port} failed ({e.reason or e})")
            return False
        except OSError as e:
            self._problem(f"broker {s.host}:{s.port} unreachable ({e.strerror or e})")
            return False
        deadline = time.monotonic() + timeout
        while not self._connected and self._refused is None and not self._stop.is_set():
            rc = client.loop(0.1)
            if rc != mqtt.MQTT_ERR_SUCCESS and not self._connected and self._refused is None:
                hint = "; does it want a client certificate (fleet.cert_file, key_file)?" if s.tls and not s.cert_file else ""
                self._problem(f"broker {s.host}:{s.port} closed the connection before accepting it "
                              f"({mqtt.error_string(rc)}){hint}")
                return False
            if time.monotonic() > deadline:
                self._problem(f"broker {s.host}:{s.port} did not answer the connect")
                return False
        if self._refused is not None:
            self._problem(f"broker {s.host}:{s.port} refused user {s.user!r}: {self._refused}")
            return False
        return not self._stop.is_set()

    def _session(self, client: mqtt.Client) -> bool:
        """One connection, until it drops or the station stops; True when it got connected."""
        s = self.settings
        if not self._connect(client):
            return False
        log.info("fleet: connected to %s:%d as %s%s", s.host, s.port, s.user, " (TLS)" if s.tls else "")
        self._last_problem = None
        self._publish(client, self.status_topic,
                      messages.status(self.station, "online", _now_iso(), self.version), retain=True)
        if s.discovery:
            for topic, payload in discovery.configs(self.station, self.version, s.topic_prefix,
                                                    s.discovery_prefix, self.station_name):
                client.publish(topic, json.dumps(payload, separators=(",", ":")).encode("utf-8"), qos=1, retain=True)
        inflight: dict[int, int] = {}  # mid -> outbox seq
        last_seq = 0
        next_health = 0.0
        next_poll = 0.0
        while not self._stop.is_set():
            rc = client.loop(0.1)
            if rc != mqtt.MQTT_ERR_SUCCESS or not self._connected:
                self._problem(f"connection to {s.host}:{s.port} lost ({mqtt.error_string(rc)}); "
                              f"{len(inflight)} message(s) will go again")
                return True
            if self._acked:
                acked, self._acked = self._acked, []
                seqs = [inflight.pop(mid) for mid in acked if mid in inflight]
                if seqs:
                    self.store.outbox_sent(seqs)
                    next_poll = 0.0
            now = time.monotonic()
            if self._wake.is_set():
                self._wake.clear()
                next_poll = next_health = 0.0
            if now >= next_health:
                self._send_health(client)
                next_health = now + s.health_interval_s
            room = WINDOW - len(inflight)
            if now >= next_poll and room > 0:
                rows = self.store.outbox_pending(limit=room, after=last_seq)
                for row in rows:
                    mid = self._send_row(client, row)
                    last_seq = row["seq"]
                    if mid is not None:
                        inflight[mid] = row["seq"]
                # a full batch: there may be more (read again as acks make room); else wait a little
                next_poll = 0.0 if len(rows) == room else now + OUTBOX_POLL_S
        self._goodbye(client)
        return True

    def _publish(self, client: mqtt.Client, topic: str, message: dict, retain: bool = False):
        return client.publish(topic, messages.encode(message), qos=1, retain=retain)

    def _send_health(self, client: mqtt.Client) -> None:
        try:
            h = self.health()
            msg = messages.health(self.station, _now_iso(), h.get("sets_today", 0), h.get("cameras", {}),
                                  h.get("uptime_s", 0))
        except Exception as e:
            log.warning("fleet: health not available (%s)", e)
            return
        self._publish(client, self.health_topic, msg, retain=True)

    def _send_row(self, client: mqtt.Client, row: dict) -> int | None:
        """Publish one outbox row; its mid, or None when the row can never be sent (marked, logged)."""
        s = self.settings
        try:
            if row["kind"] == "assessment":
                images = self._stills(row["item_id"]) if s.send_stills and row["body"] is not None else {}
                msg = messages.assessment(self.station, row["item_id"], row["revision"], row["at"], row["body"], images)
                try:
                    payload = messages.encode(msg)
                except InputError:
                    if not images:
                        raise
                    log.warning("fleet: assessment %s too big with its stills; sent without them", row["item_id"])
                    msg["images"] = {}
                    payload = messages.encode(msg)
            else:
                b = row["body"]
                msg = messages.alert(self.station, row["item_id"], b["kind"], b.get("assessment_id"), row["at"],
                                     b.get("text", ""), b.get("member"))
                payload = messages.encode(msg)
            topic = messages.topic_of(msg, s.topic_prefix)
        except (InputError, KeyError, TypeError) as e:
            log.error("fleet: outbox row %s (%s %s) cannot be sent and is skipped: %s",
                      row["seq"], row["kind"], row["item_id"], e)
            self.store.outbox_sent([row["seq"]])
            return None
        return client.publish(topic, payload, qos=1).mid

    def _stills(self, assessment_id: str) -> dict[str, str]:
        out = {}
        for view in ("front", "side"):
            jpeg = self.store.get_image(assessment_id, view, deleted=True)
            if jpeg:
                out[view] = base64.b64encode(jpeg).decode("ascii")
        return out

    def _goodbye(self, client: mqtt.Client) -> None:
        """A clean stop: say "offline" (retained) and wait a moment for its PUBACK."""
        info = self._publish(client, self.status_topic,
                             messages.status(self.station, "offline", _now_iso(), self.version), retain=True)
        deadline = time.monotonic() + STOP_FLUSH_S
        while info.mid not in self._acked and time.monotonic() < deadline:
            if client.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
        client.disconnect()
        log.info("fleet: disconnected (station stopping)")
