"""The station's config: one TOML file, checked against typed sections with ranges and defaults.

    cfg = config.load(path)          # Config, or ConfigError: one line naming the key path
    cfg.station.target_reps          # typed attribute access (older code: cfg["station"]["target_reps"])
    config.validate({"web": {"port": 9000}})   # a full Config from a partial dict
    config.save(cfg, path)           # atomically, only what differs from the defaults
    config.config_schema()           # JSON schema: every field's type, default, range, description

Each section is a `device.section.Section` (pydantic, `extra="forbid"`, strict types, no NaN or
infinity), declared beside the part that owns it where that part does not itself load the config:
`[panel]` in device/panel/settings.py, `[fleet]` in device/fleet/settings.py. The other owners' packages load the config themselves
(`ohsa run` in device/station, `ohsa check` in device/camera, `ohsa pose` in device/pose, and
device/store reaches device/pose), so their sections are declared here, each with its owner
named, and no package imports back up (tools/import-cycles.py); `[web]` is here because device
never imports the web package. `[rules.thresholds]` is an open table owned by device.thresholds
(`validate_overrides`): only the overrides are kept, the table's defaults apply to the rest.

Every problem is a `ConfigError` with one line, e.g. `web.port: must be between 1 and 65535,
got 99999`; docs/config.md explains the sections for gym owners.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

import tomli_w
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from device import atomic, display, hours, paths
from device.errors import ConfigError
from device.fleet.settings import FleetSettings
from device.i18n import Language
from device.panel.settings import PanelSettings
from device.section import Section, error_line, invalid
from device.thresholds import validate_overrides

Backend = Literal["auto", "picamera2", "usb", "replay", "none"]
BACKENDS: tuple[str, ...] = get_args(Backend)
Rotation = Literal[0, 90, 180, 270]  # what device.camera.frame.orient implements (ROTATIONS)


class StationSettings(Section):
    """The walk-up flow (device/station/machine.py)."""

    name: str = Field("OHSA station", max_length=80, description="Shown on the pages")
    target_reps: int = Field(5, ge=1, le=20, description="Reps in one set")
    record_limit_s: float = Field(
        60.0, ge=1.0, le=600.0, description="A set stops after this many seconds whatever the rep count"
    )
    result_idle_s: float = Field(
        120.0, ge=1.0, le=3600.0, description="The result stays on screen this many seconds, then idle"
    )
    countdown_s: int = Field(3, ge=0, le=10, description="Seconds of countdown with beeps before a set")
    min_reps: int = Field(
        3, ge=1, le=20, description="A set with fewer reps is not assessed (too few reps); at most target_reps counts"
    )
    positioning_hold_s: float = Field(
        1.0, ge=0.0, le=10.0, description="The start position must hold this many seconds before the countdown"
    )
    positioning_timeout_s: float = Field(
        90.0, ge=1.0, le=3600.0, description="Nobody gets into position for this many seconds: the set stops and the page says why"
    )
    person_lost_s: float = Field(
        2.0, ge=0.2, le=30.0, description="Person out of view this many seconds during a set: the set stops"
    )
    message_idle_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="A stopped, cancelled or fault message stays this many seconds, then idle"
    )
    retest_offer: bool = Field(
        True, description="After a result, offer the heels-raised and hands-on-hips re-tests"
    )


class ModelSettings(Section):
    """The MoveNet file and interpreter (device/model.py, device/pose/)."""

    path: str = Field(
        "", max_length=4096,
        description="Explicit MoveNet file; empty: OHSA_MODEL, the data dir's models/, then ../shared/models",
    )
    threads: int = Field(
        1, ge=1, le=8, description="Interpreter threads per view; one per view keeps both views going on a Pi 4"
    )


class CameraSettings(Section):
    """One view's camera (device/camera/sources.py, picam.py, usb.py, dual.py)."""

    backend: Backend = Field(
        "auto", description="auto (picamera2 if attached, else a USB webcam), picamera2, usb, replay or none"
    )
    camera_id: str = Field(
        "", max_length=200,
        description="picamera2: the Id from Picamera2.global_camera_info(); empty: by number",
    )
    number: int = Field(0, ge=0, le=255, description="picamera2 camera number or V4L2 device index (/dev/videoN)")
    source: str = Field("", max_length=4096, description="replay: a video file or an image folder")
    loop: bool = Field(True, description="replay: start again at the end (a demo station runs on)")
    width: int = Field(1280, ge=64, le=4096, description="Main stream width in pixels")
    height: int = Field(720, ge=64, le=4096, description="Main stream height in pixels")
    fps: int = Field(30, ge=1, le=120, description="Frames per second asked of the camera")
    lores_width: int = Field(
        640, ge=0, le=4096, description="picamera2: width of the YUV420 stream for inference; 0: use the main stream"
    )
    lores_height: int = Field(
        360, ge=0, le=4096, description="picamera2: height of the YUV420 stream for inference; 0: use the main stream"
    )
    rotation: Rotation = Field(0, description="Rotate the picture clockwise by 0, 90, 180 or 270 degrees")
    mirror: bool = Field(False, description="Flip left-right (a webcam that shows a mirror image)")
    offline_after_s: float = Field(
        3.0, ge=0.2, le=60.0, description="No frame for this many seconds: the camera counts as offline"
    )
    module: Literal["", "pi_camera_2", "pi_camera_3", "pi_camera_3_wide"] = Field(
        "", description="The camera module, for its field of view (3-D measures): pi_camera_2, pi_camera_3, "
        "pi_camera_3_wide; empty: from the sensor, else hfov_deg",
    )
    hfov_deg: float = Field(
        0.0, ge=0.0, le=170.0,
        description="Horizontal field of view of the picture as delivered (after rotation), degrees; 0: from "
        "the module or the sensor, else a typical 62.2 (a webcam or a recording: set it)",
    )

    @model_validator(mode="after")
    def _replay_needs_a_source(self):
        if self.backend == "replay" and not self.source:
            raise invalid("source", "backend 'replay' needs a video file or image folder")
        return self


# Each view's default camera number (picamera2 number or /dev/videoN), also for a partial section.
VIEW_NUMBERS = {"front": 0, "side": 1}


class CamerasSettings(Section):
    restarts_per_minute: int = Field(
        5, ge=0, le=60, description="Reconnect attempts per camera and minute before it stays offline"
    )
    front: CameraSettings = Field(
        default_factory=lambda: CameraSettings(number=VIEW_NUMBERS["front"]),
        description="The front view's camera (camera number 0 unless set)",
    )
    side: CameraSettings = Field(
        default_factory=lambda: CameraSettings(number=VIEW_NUMBERS["side"]),
        description="The side view's camera (camera number 1 unless set)",
    )

    @model_validator(mode="before")
    @classmethod
    def _view_numbers(cls, data):
        if isinstance(data, dict):
            for view, number in VIEW_NUMBERS.items():
                section = data.get(view)
                if isinstance(section, dict) and "number" not in section:
                    data = {**data, view: {**section, "number": number}}
        return data


class RulesSettings(Section):
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the rule thresholds by name (docs/rules.md); the rest keep their built-in values",
    )

    @field_validator("thresholds", mode="before")
    @classmethod
    def _owned_by_thresholds(cls, value):
        try:
            validate_overrides(value, "rules.thresholds")
        except ConfigError as e:  # the owner's line already names rules.thresholds.<name>
            raise PydanticCustomError("ohsa_owned", "{message}", {"message": str(e)}) from None
        return {k: float(v) for k, v in (value or {}).items()}


class WebSettings(Section):
    """The web server and its pages (web/, device/station/cli.py)."""

    host: str = Field(
        "0.0.0.0", description="Address the web server listens on: an IP address (0.0.0.0: every interface) or localhost"
    )
    port: int = Field(8080, ge=1, le=65535, description="Port of the web server")
    result_link_days: int = Field(
        30, ge=1, le=3650, description="A result's QR link stops working after this many days"
    )
    public_url: str = Field(
        "", max_length=200,
        description="Base of the QR link, e.g. http://192.168.1.20:8080; empty: the station's address is guessed",
    )
    kiosk_addresses: list[str] = Field(
        default_factory=list, max_length=64,
        description="Besides the station itself, IP addresses or networks (10.0.0.0/24) whose page may press Start",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if value != "localhost":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(
                    f"must be an IP address (0.0.0.0: every interface) or localhost, got {value!r}"
                ) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
                raise ValueError(f"must be empty or an http:// or https:// address, got {value!r}")
        return value

    @field_validator("kiosk_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for a in value:
            try:
                ipaddress.ip_network(a, strict=False)
            except ValueError:
                raise ValueError(f"{a!r} is not an IP address or network (e.g. 192.168.1.9 or 10.0.0.0/24)") from None
        return value


class StorageSettings(Section):
    """Keeping assessments (the station's clean-up) and disk limits (device/health.py)."""

    retention_days: int = Field(
        365, ge=0, le=3650, description="Delete assessments older than this many days; 0 keeps them forever"
    )
    disk_warn_percent: int = Field(
        80, ge=0, le=100, description="Warn on the health page when the disk is this full (per cent)"
    )
    disk_stop_images_percent: int = Field(
        95, ge=0, le=100,
        description="Stop storing stills (results are still stored) when the disk is this full (per cent)",
    )

    @model_validator(mode="after")
    def _consistent(self):
        if self.disk_stop_images_percent < self.disk_warn_percent:
            raise invalid("disk_stop_images_percent", f"must not be below storage.disk_warn_percent "
                          f"({self.disk_stop_images_percent} < {self.disk_warn_percent})")
        return self


class KioskSettings(Section):
    """The station's own screen and what a member sees (web/kiosk.py, web/i18n.py, device/hours.py)."""

    language: Language = Field(
        "en", description="Language of every page, print and take-home text a member sees: en (English), de (German)"
    )
    sound: bool = Field(True, description="A short tone and the spoken count for each squat on the live page")
    opening_hours: str = Field(
        "", max_length=400,
        description="When members may use the station, e.g. 'mon-fri 06:00-22:00; sat,sun 08:00-20:00'; "
                    "empty: always open. Outside them the station sleeps: screen dark, cameras idle, "
                    "panel light off; the big button wakes it",
    )
    wake_idle_s: float = Field(
        120.0, ge=10.0, le=3600.0,
        description="Outside the opening hours: after the button woke the station, it sleeps again once it "
                    "has been idle this many seconds",
    )
    display_sleep: Literal[display.METHODS] = Field(
        "auto",
        description="How the screen sleeps outside the opening hours: backlight (switched off: the official "
                    "touch display and other panels with a backlight device), page (the kiosk page goes black; "
                    "HDMI screens), auto (backlight where there is one, else page)",
    )
    privacy_contact: str = Field(
        "", max_length=120,
        description="Whom a member asks about their data, shown on the idle screen beside what the station keeps "
                    "(e.g. 'the front desk'); empty: 'a member of staff'",
    )

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        hours.parse(value)  # ValueError naming the bad part
        return value.strip()


class Config(Section):
    """The whole file: one section per owner."""

    station: StationSettings = Field(default_factory=StationSettings, description="The walk-up flow")
    model: ModelSettings = Field(default_factory=ModelSettings, description="The MoveNet file and interpreter")
    cameras: CamerasSettings = Field(default_factory=CamerasSettings, description="The front and side cameras")
    panel: PanelSettings = Field(default_factory=PanelSettings, description="The LED/button panel")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Rule threshold overrides")
    web: WebSettings = Field(default_factory=WebSettings, description="The web pages and their links")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Keeping assessments; disk limits")
    kiosk: KioskSettings = Field(default_factory=KioskSettings, description="The station's screen: language, sound, opening hours")
    fleet: FleetSettings = Field(default_factory=FleetSettings, description="The optional link to a fleet's MQTT broker (off)")


# Every key with its default, as plain data (the defaults themselves live in the sections above).
DEFAULTS: dict = Config().model_dump()


def validate(data: dict | Config) -> Config:
    """A full config from a partial one, or ConfigError naming the first bad key."""
    if isinstance(data, Config):
        data = data.model_dump()
    if not isinstance(data, dict):
        raise ConfigError(f"expected a table of sections, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(error_line(e, Config)) from None


def load(path: str | Path | None = None) -> Config:
    """The config from `path` (or the usual places, see paths.config_file), checked."""
    path = paths.config_file(path)
    if path is None:
        return Config()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config ({e.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    try:
        return validate(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def save(config: dict | Config, path: str | Path) -> None:
    """Write a checked config atomically (only what differs from the defaults)."""
    atomic.write_text(path, dumps(config))


def dumps(config: dict | Config) -> str:
    """A checked config as the file's TOML text (only what differs from the defaults)."""
    return tomli_w.dumps(_diff(validate(config).model_dump(), DEFAULTS))


def config_schema() -> dict:
    """The JSON schema of the config file (types, defaults, ranges, descriptions)."""
    return Config.model_json_schema()


def _diff(value: dict, default: dict) -> dict:
    out = {}
    for k, v in value.items():
        d = default.get(k)
        if isinstance(v, dict) and isinstance(d, dict) and d:
            sub = _diff(v, d)
            if sub:
                out[k] = sub
        elif v != d:
            out[k] = v
    return out
