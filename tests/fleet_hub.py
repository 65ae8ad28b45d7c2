"""Helpers for the hub's tests: fleet messages built with the station's own builders, the real
services as fixtures (one PostgreSQL cluster per test session, a fresh database per test)."""

from __future__ import annotations

import datetime as dt
import random

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
