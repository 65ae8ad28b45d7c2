"""The fleet's wire format (`ohsa-fleet/1`): MQTT topics and JSON payloads, the one home of both.

Stations publish, the hub subscribes; both build and check messages only here. Pure: no paho,
no store, plain dicts in and out (docs/fleet-station.md, the contract in the fleet notes).

    ohsa/<station>/status                 retained  {"type": "status", "state": "online"|"offline", ...}
    ohsa/<station>/health                 retained  {"type": "health", "sets_today", "cameras", "uptime_s"}
    ohsa/<station>/assessment/<id>                  {"type": "assessment", "id", "revision", "deleted", ...}
    ohsa/<station>/alert/<alert_id>                 {"type": "alert", "kind", "assessment_id", "text"}

Every payload carries `"format": "ohsa-fleet/1"` and its station, which must equal the topic's:
a station speaks only for itself (the broker's ACL enforces it, `parse` re-checks it). An
assessment's `revision` grows by one with each change on the station; a receiver keeps the
highest revision per (station, id), so a duplicate or a late replay is harmless.
"""

from __future__ import annotations

import json
import re

from device.errors import InputError

FORMAT = "ohsa-fleet/1"
MAX_BYTES = 4_000_000  # one assessment with two stills is ~300 KB; more is a mistake or an attack
DEFAULT_PREFIX = "ohsa"
STATION_ID = re.compile(r"[a-z0-9-]{1,40}")
RESERVED_IDS = ("hub", "homeassistant")  # broker users of the hub and Home Assistant (hub/mosquitto/acl)
PREFIX = re.compile(r"[A-Za-z0-9_-]{1,40}(/[A-Za-z0-9_-]{1,40}){0,3}")
ITEM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # assessment ids (12 hex) and alert ids
STATES = ("online", "offline")
TYPES = ("status", "health", "assessment", "alert")
ASSESSMENT_FIELDS = ("created_at", "label", "member", "kind", "parent_id", "pain", "notes",
                     "result", "overrides", "plan", "station_version", "model_sha256")
ALERT_KINDS = ("pain", "referral", "worse")


# -- topics -------------------------------------------------------------------------------------

def check_station(station: str) -> str:
    if not isinstance(station, str) or not STATION_ID.fullmatch(station):
        raise InputError(f"station id: 1-40 of a-z, 0-9 and '-', got {station!r}")
    if station in RESERVED_IDS:
        raise InputError(f"station id: {station!r} is reserved for the broker's other users")
    return station


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX.fullmatch(prefix):
        raise InputError(f"topic prefix: 1-4 levels of letters, digits, '_' and '-', got {prefix!r}")
    return prefix


def status_topic(station: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{check_prefix(prefix)}/{check_station(station)}/status"


def health_topic(station: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{check_prefix(prefix)}/{check_station(station)}/health"


def assessment_topic(station: str, assessment_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{check_prefix(prefix)}/{check_station(station)}/assessment/{_item_id(assessment_id, 'assessment id')}"


def alert_topic(station: str, alert_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{check_prefix(prefix)}/{check_station(station)}/alert/{_item_id(alert_id, 'alert id')}"


def subscription(prefix: str = DEFAULT_PREFIX) -> str:
    """What the hub subscribes to: every station's messages."""
    return f"{check_prefix(prefix)}/+/#"


def split_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, str, str | None]:
    """(station, type, item id or None) of a topic under `prefix`, or InputError."""
    if not isinstance(topic, str):
        raise InputError(f"topic: expected text, got {type(topic).__name__}")
    head = check_prefix(prefix) + "/"
    if not topic.startswith(head):
        raise InputError(f"topic {topic!r}: not under {prefix!r}")
    parts = topic[len(head):].split("/")
    station = parts[0]
    if not STATION_ID.fullmatch(station) or station in RESERVED_IDS:
        raise InputError(f"topic {topic!r}: bad station id {station!r}")
    if len(parts) == 2 and parts[1] in ("status", "health"):
        return station, parts[1], None
    if len(parts) == 3 and parts[1] in ("assessment", "alert") and ITEM_ID.fullmatch(parts[2]):
        return station, parts[1], parts[2]
    raise InputError(f"topic {topic!r}: not a fleet topic (status, health, assessment/<id>, alert/<id>)")


# -- builders -----------------------------------------------------------------------------------

def status(station: str, state: str, at: str, version: str) -> dict:
    if state not in STATES:
        raise InputError(f"state: must be one of {', '.join(STATES)}, got {state!r}")
    return {"format": FORMAT, "type": "status", "station": check_station(station), "state": state,
            "at": str(at), "version": str(version)}


def health(station: str, at: str, sets_today: int, cameras: dict[str, str], uptime_s: int) -> dict:
    return {"format": FORMAT, "type": "health", "station": check_station(station), "at": str(at),
            "sets_today": int(sets_today), "cameras": {str(k): str(v) for k, v in cameras.items()},
            "uptime_s": int(uptime_s)}


def assessment(station: str, assessment_id: str, revision: int, at: str, record: dict | None,
               images: dict[str, str] | None = None) -> dict:
    """One assessment's state at `revision`; `record` None means it was deleted.

    `record` holds ASSESSMENT_FIELDS (`member`: {"number", "name"} or None, the member number
    being what links one person's assessments across stations); `images` maps a view to a base64 JPEG (only when the owner
    chose to send stills)."""
    out = {"format": FORMAT, "type": "assessment", "station": check_station(station),
           "id": _item_id(assessment_id, "assessment id"), "revision": int(revision), "at": str(at),
           "deleted": record is None}
    if record is not None:
        missing = [k for k in ASSESSMENT_FIELDS if k not in record]
        if missing:
            raise InputError(f"assessment {assessment_id}: missing {', '.join(missing)}")
        out["assessment"] = {k: record[k] for k in ASSESSMENT_FIELDS}
        out["images"] = dict(images or {})
    return out


def alert(station: str, alert_id: str, kind: str, assessment_id: str | None, at: str, text: str,
          member: dict | None = None) -> dict:
    """An event that needs a trainer; `member` ({"number", "name"} or None) says whose, also when
    no assessment was saved (pain during a set)."""
    return {"format": FORMAT, "type": "alert", "station": check_station(station),
            "id": _item_id(alert_id, "alert id"), "kind": str(kind),
            "assessment_id": assessment_id, "at": str(at), "text": str(text), "member": member}


def topic_of(message: dict, prefix: str = DEFAULT_PREFIX) -> str:
    """The topic a built message goes to."""
    kind, station = message["type"], message["station"]
    if kind == "status":
        return status_topic(station, prefix)
    if kind == "health":
        return health_topic(station, prefix)
    if kind == "assessment":
        return assessment_topic(station, message["id"], prefix)
    if kind == "alert":
        return alert_topic(station, message["id"], prefix)
    raise InputError(f"message type: unknown {kind!r}")


def encode(message: dict) -> bytes:
    """Compact UTF-8 JSON (strict: no NaN), at most MAX_BYTES."""
    try:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise InputError(f"{message.get('type', 'message')}: not JSON ({e})") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{message.get('type', 'message')}: {len(data)} bytes, more than {MAX_BYTES}")
    return data


# -- parsing ------------------------------------------------------------------------------------

def parse(topic: str, payload: bytes | str, prefix: str = DEFAULT_PREFIX) -> dict:
    """The checked message of one MQTT publish, as a plain dict; InputError names the problem."""
    station, kind, item = split_topic(topic, prefix)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if not isinstance(payload, (bytes, bytearray)):
        raise InputError(f"{topic}: payload must be bytes, got {type(payload).__name__}")
    if len(payload) > MAX_BYTES:
        raise InputError(f"{topic}: payload of {len(payload)} bytes, more than {MAX_BYTES}")
    try:
        msg = json.loads(bytes(payload).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{topic}: payload is not UTF-8 JSON ({e})") from None
    except RecursionError:
        raise InputError(f"{topic}: payload nested too deeply") from None
    if not isinstance(msg, dict):
        raise InputError(f"{topic}: payload must be a JSON object, got {type(msg).__name__}")
    if msg.get("format") != FORMAT:
        raise InputError(f"{topic}: not an {FORMAT} message (format tag {msg.get('format')!r})")
    if msg.get("type") != kind:
        raise InputError(f"{topic}: type {msg.get('type')!r} does not match the topic ({kind})")
    if msg.get("station") != station:
        raise InputError(f"{topic}: station {msg.get('station')!r} in the payload is not the topic's {station!r}")
    _text(msg, "at", topic)
    if kind == "status":
        if msg.get("state") not in STATES:
            raise InputError(f"{topic}: state must be one of {', '.join(STATES)}, got {msg.get('state')!r}")
        _text(msg, "version", topic)
    elif kind == "health":
        _count(msg, "sets_today", topic)
        _count(msg, "uptime_s", topic)
        cams = msg.get("cameras")
        if not isinstance(cams, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in cams.items()):
            raise InputError(f"{topic}: cameras must map a view to a status text")
    elif kind == "assessment":
        _check_assessment(msg, item, topic)
    else:
        if msg.get("id") != item:
            raise InputError(f"{topic}: id {msg.get('id')!r} is not the topic's {item!r}")
        _text(msg, "kind", topic)
        _text(msg, "text", topic)
        aid = msg.get("assessment_id")
        if aid is not None and not (isinstance(aid, str) and ITEM_ID.fullmatch(aid)):
            raise InputError(f"{topic}: assessment_id must be an id or null, got {aid!r}")
        _member(msg.get("member"), topic, "member")
    return msg


def _check_assessment(msg: dict, item: str, topic: str) -> None:
    if msg.get("id") != item:
        raise InputError(f"{topic}: id {msg.get('id')!r} is not the topic's {item!r}")
    rev = msg.get("revision")
    if not isinstance(rev, int) or isinstance(rev, bool) or rev < 1:
        raise InputError(f"{topic}: revision must be a whole number >= 1, got {rev!r}")
    deleted = msg.get("deleted")
    if not isinstance(deleted, bool):
        raise InputError(f"{topic}: deleted must be true or false, got {deleted!r}")
    if deleted:
        if "assessment" in msg:
            raise InputError(f"{topic}: a deletion carries no assessment")
        return
    body = msg.get("assessment")
    if not isinstance(body, dict):
        raise InputError(f"{topic}: assessment must be an object")
    missing = [k for k in ASSESSMENT_FIELDS if k not in body]
    if missing:
        raise InputError(f"{topic}: assessment lacks {', '.join(missing)}")
    for key in ("created_at", "label", "kind", "notes", "station_version", "model_sha256"):
        if not isinstance(body[key], str):
            raise InputError(f"{topic}: assessment.{key} must be text, got {type(body[key]).__name__}")
    if not isinstance(body["pain"], bool):
        raise InputError(f"{topic}: assessment.pain must be true or false")
    parent = body["parent_id"]
    if parent is not None and not (isinstance(parent, str) and ITEM_ID.fullmatch(parent)):
        raise InputError(f"{topic}: assessment.parent_id must be an id or null, got {parent!r}")
    _member(body["member"], topic, "assessment.member")
    result = body["result"]
    if not isinstance(result, dict) or result.get("format") != "ohsa-result/1":
        raise InputError(f"{topic}: assessment.result is not an ohsa-result/1")
    if not isinstance(body["overrides"], dict):
        raise InputError(f"{topic}: assessment.overrides must be an object")
    if body["plan"] is not None and not isinstance(body["plan"], dict):
        raise InputError(f"{topic}: assessment.plan must be an object or null")
    images = msg.get("images", {})
    if not isinstance(images, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in images.items()):
        raise InputError(f"{topic}: images must map a view to base64 text")


def _member(member, topic: str, key: str) -> None:
    if member is not None and not (isinstance(member, dict) and isinstance(member.get("number"), str)
                                   and member["number"] and isinstance(member.get("name", ""), str)):
        raise InputError(f'{topic}: {key} must be null or {{"number": text, "name": text}}')


def _item_id(value, name: str) -> str:
    if not isinstance(value, str) or not ITEM_ID.fullmatch(value):
        raise InputError(f"{name}: 1-64 of letters, digits, '_' and '-', got {value!r}")
    return value


def _text(msg: dict, key: str, topic: str) -> None:
    if not isinstance(msg.get(key), str):
        raise InputError(f"{topic}: {key} must be text, got {type(msg.get(key)).__name__}")


def _count(msg: dict, key: str, topic: str) -> None:
    v = msg.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise InputError(f"{topic}: {key} must be a whole number >= 0, got {v!r}")


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")
