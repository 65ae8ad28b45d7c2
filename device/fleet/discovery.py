"""Home Assistant MQTT discovery for a station's health: retained config messages.

A gym that runs Home Assistant (with its MQTT integration on the same broker) sees each station
as a device with: online (a connectivity binary sensor on the status topic), sets today, the
front and side camera's status and the uptime (sensors reading the health topic through a
`value_template`). The sensors are unavailable while the station is offline (availability on the
status topic); the connectivity sensor itself always shows online/offline. Topics:

    <discovery_prefix>/<component>/ohsa_<station>/<object>/config

Pure: a list of (topic, payload dict) from messages.py's topics; the publisher sends them retained.
"""

from __future__ import annotations

from device.fleet import messages

MODEL = "OHSA overhead squat station"
MANUFACTURER = "OHSA"


def configs(station: str, version: str, prefix: str = messages.DEFAULT_PREFIX,
            discovery_prefix: str = "homeassistant", name: str = "") -> list[tuple[str, dict]]:
    """The discovery messages for one station: [(topic, payload)], each to be published retained."""
    messages.check_station(station)
    status = messages.status_topic(station, prefix)
    health = messages.health_topic(station, prefix)
    node = f"ohsa_{station}"
    device = {"identifiers": [node], "name": name or f"OHSA {station}", "model": MODEL,
              "manufacturer": MANUFACTURER, "sw_version": version}
    available = [{"topic": status, "value_template": "{{ value_json.state }}",
                  "payload_available": "online", "payload_not_available": "offline"}]

    def entity(component: str, obj: str, label: str, **fields) -> tuple[str, dict]:
        payload = {"name": label, "unique_id": f"{node}_{obj}",
                   "device": device, "qos": 1, **fields}
        return f"{discovery_prefix}/{component}/{node}/{obj}/config", payload

    return [
        entity("binary_sensor", "online", "Online", state_topic=status, device_class="connectivity",
               value_template="{{ value_json.state }}", payload_on="online", payload_off="offline"),
        entity("sensor", "sets_today", "Sets today", state_topic=health, availability=available,
               value_template="{{ value_json.sets_today }}", state_class="total_increasing",
               icon="mdi:human-handsup"),
        entity("sensor", "camera_front", "Front camera", state_topic=health, availability=available,
               value_template="{{ value_json.cameras.front | default('missing') }}", icon="mdi:camera"),
        entity("sensor", "camera_side", "Side camera", state_topic=health, availability=available,
               value_template="{{ value_json.cameras.side | default('missing') }}", icon="mdi:camera"),
        entity("sensor", "uptime", "Uptime", state_topic=health, availability=available,
               value_template="{{ value_json.uptime_s }}", device_class="duration",
               unit_of_measurement="s", entity_category="diagnostic"),
    ]
