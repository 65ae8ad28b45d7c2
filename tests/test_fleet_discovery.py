"""Home Assistant MQTT discovery payloads (device/fleet/discovery.py), checked against the fields
HA's MQTT discovery documents (home-assistant.io: MQTT discovery, MQTT binary sensor, MQTT sensor),
with their value templates rendered by Jinja2 (HA's template engine) on real fleet messages.
The publishing, retained, is tested on a real broker in tests/test_fleet_publisher.py."""

from __future__ import annotations

import json

import jinja2
import pytest

from device.errors import InputError
from device.fleet import discovery, messages

# The keys HA's MQTT platforms accept that these configs use (a typo would be ignored by HA, or
# refused with a schema error in its log: either way the entity would not work).
COMMON = {"name", "unique_id", "device", "qos", "state_topic", "value_template", "availability",
          "device_class", "icon", "entity_category"}
ALLOWED = {"binary_sensor": COMMON | {"payload_on", "payload_off"},
           "sensor": COMMON | {"state_class", "unit_of_measurement"}}
DEVICE_KEYS = {"identifiers", "name", "model", "manufacturer", "sw_version"}
AVAILABILITY_KEYS = {"topic", "value_template", "payload_available", "payload_not_available"}


def _render(template: str, payload: bytes) -> str:
    env = jinja2.Environment()
    return env.from_string(template).render(value_json=json.loads(payload), value=payload.decode())


def test_configs_are_what_home_assistant_expects():
    configs = discovery.configs("gym-3", "0.1.0", name="Gym 3, by the mirrors")
    topics = [t for t, _ in configs]
    assert topics == [
        "homeassistant/binary_sensor/ohsa_gym-3/online/config",
        "homeassistant/sensor/ohsa_gym-3/sets_today/config",
        "homeassistant/sensor/ohsa_gym-3/camera_front/config",
        "homeassistant/sensor/ohsa_gym-3/camera_side/config",
        "homeassistant/sensor/ohsa_gym-3/uptime/config",
    ]
    ids = set()
    for topic, cfg in configs:
        component = topic.split("/")[1]
        assert set(cfg) <= ALLOWED[component], set(cfg) - ALLOWED[component]
        assert cfg["state_topic"] in ("ohsa/gym-3/status", "ohsa/gym-3/health")
        assert set(cfg["device"]) == DEVICE_KEYS and cfg["device"]["identifiers"] == ["ohsa_gym-3"]
        assert cfg["device"]["sw_version"] == "0.1.0" and cfg["device"]["name"] == "Gym 3, by the mirrors"
        for a in cfg.get("availability", []):
            assert set(a) == AVAILABILITY_KEYS and a["topic"] == "ohsa/gym-3/status"
        ids.add(cfg["unique_id"])
        json.dumps(cfg)  # plain JSON
    assert len(ids) == len(configs)  # unique ids: HA keeps each entity across restarts
    online = configs[0][1]
    assert online["device_class"] == "connectivity" and "availability" not in online  # it shows offline itself
    assert configs[4][1]["device_class"] == "duration" and configs[4][1]["unit_of_measurement"] == "s"
    with pytest.raises(InputError):
        discovery.configs("Gym 3", "0.1.0")


def test_the_templates_read_the_fleets_own_messages():
    configs = dict(discovery.configs("gym-3", "0.1.0", prefix="chain/eu", discovery_prefix="ha"))
    online = configs["ha/binary_sensor/ohsa_gym-3/online/config"]
    assert online["state_topic"] == "chain/eu/gym-3/status"
    for state in ("online", "offline"):
        status = messages.encode(messages.status("gym-3", state, "t", "0.1.0"))
        got = _render(online["value_template"], status)
        assert got == (online["payload_on"] if state == "online" else online["payload_off"])
        avail = configs["ha/sensor/ohsa_gym-3/sets_today/config"]["availability"][0]
        assert _render(avail["value_template"], status) == avail[f"payload_{'' if state == 'online' else 'not_'}available"]
    health = messages.encode(messages.health("gym-3", "t", 12, {"front": "ok"}, 3600))
    value = lambda obj: _render(configs[f"ha/sensor/ohsa_gym-3/{obj}/config"]["value_template"], health)  # noqa: E731
    assert (value("sets_today"), value("camera_front"), value("camera_side"), value("uptime")) == ("12", "ok", "missing", "3600")
