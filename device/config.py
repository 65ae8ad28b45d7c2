"""The station's config: a TOML file checked strictly against documented defaults.

Unknown keys and wrong types are errors naming the key path (`cameras.front.fps: ...`). Every
field and its default lives in `DEFAULTS` below, with its meaning beside it; docs/config.md
explains them for gym owners. Sections whose keys are owned elsewhere (rule thresholds) are
checked by their owner through `OPEN_SECTIONS`.
"""

from __future__ import annotations

import copy
import importlib
import tomllib
from pathlib import Path

import tomli_w

from device import atomic, paths
from device.errors import ConfigError


def _camera(backend: str, number: int) -> dict:
    return {
        "backend": backend,  # auto | picamera2 | usb | replay | none
        "camera_id": "",  # picamera2: the Id from Picamera2.global_camera_info(); "" = by number
        "number": number,  # picamera2 camera number or V4L2 device index (/dev/videoN)
        "source": "",  # replay: a video file or an image folder
        "loop": True,  # replay: start again at the end (a demo station runs on)
        "width": 1280,  # main stream size
        "height": 720,
        "fps": 30,
        "lores_width": 640,  # picamera2: YUV420 stream for inference; 0 = use the main stream
        "lores_height": 360,
        "rotation": 0,  # 0, 90, 180, 270 degrees clockwise
        "mirror": False,  # flip left-right (a webcam that shows a mirror image)
        "offline_after_s": 3.0,  # no frame for this long -> camera offline
    }


DEFAULTS: dict = {
    "station": {
        "name": "OHSA station",  # shown on the pages
        "target_reps": 5,  # reps in one set
        "record_limit_s": 60.0,  # a set stops after this long whatever the rep count
        "result_idle_s": 120.0,  # the result stays on screen this long, then idle
        "countdown_s": 3,  # seconds of countdown with beeps
        "min_reps": 3,  # a set with fewer reps is not assessed ("too few reps")
        "positioning_hold_s": 1.0,  # the start position must hold this long before the countdown
        "positioning_timeout_s": 90.0,  # nobody gets into position this long -> back to idle
        "person_lost_s": 2.0,  # person out of view this long during a set -> the set stops
        "message_idle_s": 30.0,  # a stopped/cancelled/fault message stays this long, then idle
        "retest_offer": True,  # after a result, offer the heels-raised and hands-on-hips re-tests
    },
    "model": {
        "path": "",  # explicit MoveNet file; "" = OHSA_MODEL, data dir, then ../shared/models
        "threads": 1,  # interpreter threads; one per view keeps both views going on a Pi 4
    },
    "cameras": {
        "restarts_per_minute": 5,  # reconnect attempts budget per camera
        "front": _camera("auto", 0),
        "side": _camera("auto", 1),
    },
    "panel": {
        "enabled": True,  # False: no GPIO at all (the page mirrors a mock panel)
        "button": 17,  # BCM pin numbers
        "status_green": 27,
        "status_red": 22,
        "led_feet_ankles": 5,
        "led_knees": 6,
        "led_hips_low_back": 13,
        "led_shoulders_arms": 19,
        "led_head": 26,
        "buzzer": 18,
        "hold_cancel_s": 1.5,  # hold the button this long to cancel or report pain
        "hold_shutdown_s": 8.0,  # hold this long for a safe shutdown of the Pi
        "shutdown_command": "systemctl poweroff",  # what the long hold runs
    },
    "rules": {
        "thresholds": {},  # overrides of device.rules thresholds by name
    },
    "web": {
        "host": "0.0.0.0",
        "port": 8080,
        "result_link_days": 30,  # a result's QR link stops working after this many days
        "public_url": "",  # base of the QR link, e.g. "http://192.168.1.20:8080"; "" = guessed
        "kiosk_addresses": [],  # besides the station itself, addresses whose page may press Start
    },
    "storage": {
        "retention_days": 365,  # delete assessments older than this; 0 keeps them forever
        "disk_warn_percent": 80,
        "disk_stop_images_percent": 95,
    },
}

# Sections whose keys are defined by another module: "module:function(value, key_path)".
OPEN_SECTIONS = {
    "rules.thresholds": "device.thresholds:validate_overrides",
}


def _check(value, default, key: str):
    if key in OPEN_SECTIONS:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table")
        module, func = OPEN_SECTIONS[key].split(":")
        getattr(importlib.import_module(module), func)(value, key)
        return dict(value)  # only what was set: the owner's defaults apply to the rest
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table")
        out = copy.deepcopy(default)
        for k, v in value.items():
            path = f"{key}.{k}" if key else k
            if k not in default:
                raise ConfigError(f"{path}: unknown key (known: {', '.join(default)})")
            out[k] = _check(v, default[k], path)
        return out
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{key}: must not be negative, got {value!r}")
        return type(default)(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    elif isinstance(default, list) and not (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
    return value


def validate(data: dict) -> dict:
    """A full config from a partial one, or ConfigError naming the first bad key."""
    return _check(data, DEFAULTS, "")


def load(path: str | Path | None = None) -> dict:
    """The config from `path` (or the usual places, see paths.config_file), checked."""
    path = paths.config_file(path)
    if path is None:
        return validate({})
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


def save(config: dict, path: str | Path) -> None:
    """Write a checked config atomically (only what differs from the defaults)."""
    full = validate(config)
    atomic.write_text(path, tomli_w.dumps(_diff(full, DEFAULTS)))


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
