"""The fleet link's settings (`[fleet]` in the config), off by default.

`ohsa fleet join` writes them (device/fleet_cli.py); the settings page does not show them (the
broker's password stays out of the browser). Paths are only ever opened as files, never run.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from device.errors import InputError
from device.fleet.messages import DEFAULT_PREFIX, PREFIX, check_station
from device.section import Section, invalid

HOST_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_")


class FleetSettings(Section):
    """Publishing to an MQTT broker (device/fleet/publisher.py; docs/fleet-station.md)."""

    enabled: bool = Field(False, description="Publish status, health, assessments and alerts to the fleet's MQTT broker")
    host: str = Field("", max_length=253, description="The broker's host name or address")
    port: int = Field(8883, ge=1, le=65535, description="The broker's port (8883: MQTT over TLS; 1883: plain)")
    tls: bool = Field(True, description="Connect with TLS (the broker's certificate is checked)")
    ca_file: str = Field("", max_length=4096, description="CA certificate (PEM) of the broker; empty: the system's CAs")
    cert_file: str = Field("", max_length=4096, description="Client certificate (PEM), when the broker asks for one")
    key_file: str = Field("", max_length=4096, description="The client certificate's key (PEM)")
    station_id: str = Field("", max_length=40, description="This station's id in the fleet: a-z, 0-9, '-' (the topic ohsa/<id>/...)")
    username: str = Field("", max_length=200, description="The broker user; empty: the station id")
    password: str = Field("", max_length=500, description="The broker password (password_file keeps it out of this file)")
    password_file: str = Field("", max_length=4096, description="A file whose first line is the broker password")
    topic_prefix: str = Field(DEFAULT_PREFIX, max_length=200, description="First level(s) of every topic")
    send_stills: bool = Field(False, description="Send the annotated stills with each assessment (privacy: off)")
    discovery: bool = Field(True, description="Publish Home Assistant MQTT discovery for the station's health")
    discovery_prefix: str = Field("homeassistant", max_length=200, description="Home Assistant's discovery prefix")
    health_interval_s: int = Field(60, ge=5, le=3600, description="Seconds between health messages")
    keepalive_s: int = Field(60, ge=5, le=3600, description="MQTT keep-alive; the broker sends the last will after 1.5x this")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if value and (not set(value) <= HOST_CHARS or value.startswith("-")):
            raise invalid("", f"not a host name or address, got {value!r}")
        return value

    @field_validator("station_id")
    @classmethod
    def _station(cls, value: str) -> str:
        if value:
            try:
                check_station(value)
            except InputError as e:
                raise invalid("", str(e).split(": ", 1)[1]) from None
        return value

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX.fullmatch(value):
            raise invalid("", f"1-4 levels of letters, digits, '_' and '-' (no wildcards), got {value!r}")
        return value

    @model_validator(mode="after")
    def _complete(self):
        if self.password and self.password_file:
            raise invalid("password", "give password or password_file, not both")
        if bool(self.cert_file) != bool(self.key_file):
            raise invalid("key_file" if self.cert_file else "cert_file", "a client certificate needs both cert_file and key_file")
        if self.enabled:
            if not self.host:
                raise invalid("host", "the fleet is enabled: give the broker's host")
            if not self.station_id:
                raise invalid("station_id", "the fleet is enabled: give this station's id")
        return self

    @property
    def user(self) -> str:
        return self.username or self.station_id
