"""The hub's MQTT subscriber: every station's messages into PostgreSQL, none lost, none twice.

- A persistent session (clean_session False) under a fixed client id, so the broker keeps the
  hub's QoS 1 messages while the hub is down or restarting (the broker needs `persistence true`
  and an unlimited `max_queued_messages` for a long outage: hub/mosquitto/mosquitto.conf).
- QoS 1 subscription to assessments and alerts (status and health, retained, at QoS 0: see
  `subscriptions`), paho's `manual_ack=True`: a message is acknowledged only
  after its PostgreSQL transaction committed (hub/ingest.py). What has arrived while one
  transaction ran goes into the next one (at most `BATCH`, each message in its own savepoint):
  one commit for many messages when the stations send faster than one commit per message. A hub killed at any moment leaves
  the unacknowledged messages with the broker, which sends them again: the upserts make the
  second copy harmless.
- PostgreSQL down: the message is not acknowledged; the worker reconnects and retries with
  back-off (0.5 s doubling to 30 s) until it commits, in order. The broker stops sending after
  its in-flight window (20 unacknowledged messages), so nothing piles up in the hub's memory.
- A message that is not a valid fleet message, or that the database refuses as data, is logged
  and acknowledged (retrying it would block every station behind it).
- The broker down: paho reconnects (1 s doubling to 30 s) and the session resumes.

The network loop runs in paho's thread; the database work in `run()`'s thread, so a slow or
absent database never stalls the MQTT keep-alive.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg

from device.errors import InputError
from device.fleet import messages
from hub import db, ingest

log = logging.getLogger(__name__)

CLIENT_ID = "ohsa-hub"
KEEPALIVE_S = 30
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 30.0
BATCH = 50  # messages at most per transaction (one commit, then their acks)


@dataclass
class Broker:
    """Where the broker is and how the hub logs in."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "hub"
    password: str = ""
    ca_file: str | None = None  # TLS with this CA (mqtts://), None: plain TCP
    tls: bool = False

    @classmethod
    def from_url(cls, url: str, **kw) -> Broker:
        """mqtt://host[:port] (1883) or mqtts://host[:port] (8883); a bare host[:port] is mqtt."""
        text = url if "://" in url else f"mqtt://{url}"
        parts = urlsplit(text)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise InputError(f"--broker {url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        try:
            port = parts.port
        except ValueError:
            raise InputError(f"--broker {url!r}: the port is not a number 1-65535") from None
        tls = parts.scheme == "mqtts"
        return cls(host=parts.hostname, port=port or (8883 if tls else 1883), tls=tls, **kw)


@dataclass
class Counts:
    stored: int = 0
    ignored: int = 0
    deleted: int = 0
    rejected: int = 0
    db_retries: int = 0
    connects: int = 0
    last: dict = field(default_factory=dict)


class Subscriber:
    """`start()` connects (in the background, retrying), `run(stop)` applies messages until
    `stop` is set, `close()` disconnects. `counts` says what happened."""

    def __init__(self, dsn: str, broker: Broker, *, prefix: str = "ohsa", client_id: str = CLIENT_ID,
                 sleep=None):
        self.dsn = dsn
        self.broker = broker
        self.prefix = prefix
        self.counts = Counts()
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker confirmed the subscriptions (SUBACK)
        self._queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._conn: psycopg.Connection | None = None
        self._sleep = sleep  # (stop_event, seconds) -> None; default: stop.wait
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                             protocol=mqtt.MQTTv311, manual_ack=True)
        client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set(ca_certs=broker.ca_file, cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.reconnect_delay_set(1, int(RETRY_MAX_S))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *args: self.subscribed.set()
        self._client = client

    # -- MQTT (paho's thread) -----------------------------------------------------------------

    def start(self) -> Subscriber:
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        return self

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            log.error("broker %s:%d refused the hub: %s", self.broker.host, self.broker.port, reason)
            return
        self.counts.connects += 1
        client.subscribe(self.subscriptions())
        log.info("connected to %s:%d (session present: %s)", self.broker.host, self.broker.port,
                 flags.session_present)
        self.connected.set()

    def subscriptions(self) -> list[tuple[str, int]]:
        """Assessments and alerts at QoS 1 (queued for the hub's session while it is away);
        status and health at QoS 0: they are retained, so every (re)subscription brings the
        latest, and a hub away for hours finds the broker's queue holding only what matters
        (400 stations' health every minute would fill it in a few hours)."""
        p = messages.check_prefix(self.prefix)
        return [(f"{p}/+/assessment/+", 1), (f"{p}/+/alert/+", 1), (f"{p}/+/status", 0), (f"{p}/+/health", 0)]

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        self.connected.clear()
        self.subscribed.clear()
        if reason.is_failure or reason.value:
            log.warning("broker connection lost (%s); reconnecting", reason)

    def _on_message(self, client, userdata, msg):
        self._queue.put(msg)

    # -- database (run()'s thread) -------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < BATCH:  # what has arrived meanwhile goes in the same commit
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for msg in self._handle(batch, stop):
                self._client.ack(msg.mid, msg.qos)

    def _handle(self, batch: list, stop: threading.Event) -> list:
        """Apply a batch in one transaction (each message in its own savepoint); the messages
        that may now be acknowledged: committed, or never storable. Nothing while the database
        is away (retried with back-off until it commits or `stop`)."""
        parsed, done = [], []
        for msg in batch:
            try:
                parsed.append((msg, messages.parse(msg.topic, msg.payload, self.prefix)))
            except InputError as e:
                self.counts.rejected += 1
                log.warning("message on %s refused: %s", msg.topic[:200], e)
                done.append(msg)
        delay = RETRY_FIRST_S
        while parsed and not stop.is_set():
            outcomes = []
            try:
                conn = self._connection()
                with conn.transaction():
                    for msg, message in parsed:
                        try:
                            outcomes.append(ingest.apply(conn, message, msg.topic))  # a savepoint
                        except (psycopg.OperationalError, psycopg.InterfaceError):
                            raise
                        except psycopg.Error as e:  # the database refuses this message's data
                            outcomes.append("rejected")
                            log.error("message on %s refused by the database: %s", msg.topic[:200], e)
            except (psycopg.OperationalError, psycopg.InterfaceError, InputError) as e:
                self._drop_connection()
                self.counts.db_retries += 1
                text = str(e).strip()
                log.warning("PostgreSQL unavailable (%s); retrying in %.1f s",
                            text.splitlines()[-1] if text else type(e).__name__, delay)
                self._wait(stop, delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            for (msg, _), outcome in zip(parsed, outcomes):
                setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)
                log.debug("%s: %s", msg.topic, outcome)
                done.append(msg)
            self.counts.last = {"topic": parsed[-1][0].topic, "outcome": outcomes[-1], "at": time.time()}
            break
        return done

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(stop, seconds)
        else:
            stop.wait(seconds)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = db.connect(self.dsn)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._drop_connection()
