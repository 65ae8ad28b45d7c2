"""Helpers for the hub's tests: fleet messages built with the station's own builders, the real
services as fixtures (one PostgreSQL cluster per test session, a fresh database per test)."""

from __future__ import annotations

import datetime as dt
import random

from device import paths
from device.fleet import messages
from device.store.demo import demo_result


def stamp(minutes: float = 0.0) -> str:
    base = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
    return (base + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(seed: int = 0, *, label: str = "", member: str | None = None, name: str = "",
           notes: str = "", minutes: float = 0.0) -> dict:
    return {
        "created_at": stamp(minutes), "label": label,
        "member": {"number": member, "name": name} if member else None,
        "kind": "standard", "parent_id": None, "pain": False, "notes": notes,
        "result": demo_result(random.Random(seed)), "overrides": {}, "plan": None,
        "station_version": "1.0", "model_sha256": "ab" * 32,
    }


def assessment(station: str, aid: str, revision: int = 1, rec: dict | None = None, *,
               deleted: bool = False, images: dict | None = None) -> tuple[str, bytes]:
    """(topic, payload) of one assessment message, as a station publishes it."""
    msg = messages.assessment(station, aid, revision, stamp(revision), None if deleted else (rec or record()),
                              images)
    return messages.topic_of(msg), messages.encode(msg)


def parsed(topic_payload: tuple[str, bytes]) -> tuple[dict, str]:
    topic, payload = topic_payload
    return messages.parse(topic, payload), topic


# -- the real services --------------------------------------------------------------------------

# The broker's ACL is the one the project ships (tests/services.py queues as the shipped config does).
HUB_PASSWORD = "hub-secret"
ACL = (paths.REPO_ROOT / "hub" / "mosquitto" / "acl").read_text()


def station_password(station: str) -> str:
    return f"pw-{station}"


def broker_users(stations) -> dict[str, str]:
    return {"hub": HUB_PASSWORD, **{s: station_password(s) for s in stations}}


class StationClient:
    """A station's MQTT connection for tests that publish hand-made messages (QoS 1)."""

    def __init__(self, port: int, station: str, password: str | None = None):
        import paho.mqtt.client as mqtt

        self.station = station
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{station}",
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(station, password or station_password(station))
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic_payload: tuple[str, bytes], retain: bool = False, timeout: float = 20.0):
        info = self.client.publish(*topic_payload, qos=1, retain=retain)
        info.wait_for_publish(timeout)
        assert info.is_published(), f"not acknowledged by the broker: {topic_payload[0]}"

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def hub_rows(dsn: str, sql: str = "SELECT station, id, revision FROM assessments ORDER BY station, id", params=()):
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return conn.execute(sql, params).fetchall()
    except psycopg.OperationalError:
        return None


def hub_count(dsn: str) -> int:
    rows = hub_rows(dsn, "SELECT count(*) FROM assessments WHERE NOT deleted")
    return rows[0][0] if rows else -1
