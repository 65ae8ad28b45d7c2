"""The config schema: every range, NaN and infinity, unknown keys, the settings that used to stop
the station (issue 13), dict-style compatibility, save/load round trip and the JSON schema."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib

import pytest
from pydantic import BaseModel

from device import config
from device.config import BACKENDS, CameraSettings, Config
from device.errors import ConfigError
from device.panel.settings import PanelSettings


def _leaves(model: type[BaseModel] = Config, prefix: str = ""):
    """(key path, FieldInfo) of every field that is not itself a section."""
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _leaves(ann, path)
        else:
            yield path, info


def _nested(path: str, value) -> dict:
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _bounds(info):
    low = high = None
    for m in info.metadata:
        low = getattr(m, "ge", low) if getattr(m, "ge", None) is not None else low
        high = getattr(m, "le", high) if getattr(m, "le", None) is not None else high
    return low, high


NUMBERS = [(p, i) for p, i in _leaves() if i.annotation in (int, float)]
FLOATS = [p for p, i in NUMBERS if i.annotation is float]
# fields whose accepted values also depend on another field (checked in their own tests)
COUPLED = {"panel.hold_cancel_s", "panel.hold_shutdown_s", "storage.disk_warn_percent",
           "storage.disk_stop_images_percent"} | {p for p, _ in _leaves() if p.startswith("panel.")
                                                   and p.split(".")[1] not in ("hold_cancel_s", "hold_shutdown_s")}


def _refused(data) -> str:
    with pytest.raises(ConfigError) as e:
        config.validate(data)
    line = str(e.value)
    assert "\n" not in line and "Traceback" not in line and "pydantic" not in line.lower()
    return line


def test_every_number_has_a_range():
    assert len(NUMBERS) >= 30
    for path, info in NUMBERS:
        low, high = _bounds(info)
        assert low is not None and high is not None, f"{path} has no range"
        assert low <= info.get_default(call_default_factory=True) <= high, path


@pytest.mark.parametrize("path, info", NUMBERS, ids=[p for p, _ in NUMBERS])
def test_ranges_are_enforced_at_both_ends(path, info):
    low, high = _bounds(info)
    step = 1 if info.annotation is int else 0.01
    if path not in COUPLED:
        assert config.validate(_nested(path, info.annotation(low)))
        assert config.validate(_nested(path, info.annotation(high)))
    for bad in (low - step, high + step):
        bad = info.annotation(bad) if info.annotation is int else bad
        line = _refused(_nested(path, bad))
        assert line.startswith(f"{path}: must be between {low:g} and {high:g}, got "), line


@pytest.mark.parametrize("path", FLOATS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_naming_the_key(path, value):
    assert _refused(_nested(path, value)) == f"{path}: must be a finite number, got {value!r}"


@pytest.mark.parametrize("path, info", NUMBERS[:12], ids=[p for p, _ in NUMBERS[:12]])
def test_numbers_are_not_text_or_booleans(path, info):
    assert _refused(_nested(path, "5")).startswith(f"{path}: expected a ")
    assert _refused(_nested(path, True)).startswith(f"{path}: expected a ")


def test_whole_numbers_stay_whole_and_floats_take_whole_numbers():
    assert _refused({"station": {"target_reps": 5.0}}) == "station.target_reps: expected a whole number, got 5.0"
    cfg = config.validate({"station": {"record_limit_s": 45}})
    assert cfg.station.record_limit_s == 45.0 and isinstance(cfg.station.record_limit_s, float)


@pytest.mark.parametrize("data, line", [
    # issue 13, "Settings that stop it" and "Ranges": each refused before anything is saved
    ({"web": {"kiosk_addresses": ["garbage"]}},
     "web.kiosk_addresses: 'garbage' is not an IP address or network (e.g. 192.168.1.9 or 10.0.0.0/24)"),
    ({"web": {"kiosk_addresses": "garbage"}}, "web.kiosk_addresses: expected a list, got 'garbage'"),
    ({"web": {"host": "999.1.1.1"}},
     "web.host: must be an IP address (0.0.0.0: every interface) or localhost, got '999.1.1.1'"),
    ({"cameras": {"front": {"backend": "bogus"}}},
     "cameras.front.backend: must be one of 'auto', 'picamera2', 'usb', 'replay', 'none', got 'bogus'"),
    ({"web": {"port": 99999}}, "web.port: must be between 1 and 65535, got 99999"),
    ({"web": {"result_link_days": 3000000}}, "web.result_link_days: must be between 1 and 3650, got 3000000"),
    ({"web": {"result_link_days": 0}}, "web.result_link_days: must be between 1 and 3650, got 0"),
    ({"station": {"record_limit_s": math.nan}}, "station.record_limit_s: must be a finite number, got nan"),
    ({"model": {"threads": 0}}, "model.threads: must be between 1 and 8, got 0"),
    ({"model": {"threads": 100000}}, "model.threads: must be between 1 and 8, got 100000"),
    # the checks `ohsa run` used to make only at start-up
    ({"panel": {"led_knees": 17}}, "panel.led_knees: pin 17 is already used by panel.button"),
    ({"panel": {"hold_cancel_s": 2.0, "hold_shutdown_s": 1.0}},
     "panel.hold_shutdown_s: must be longer than panel.hold_cancel_s (1 s is not longer than 2 s)"),
    ({"cameras": {"side": {"rotation": 45}}}, "cameras.side.rotation: must be one of 0, 90, 180, 270, got 45"),
    ({"cameras": {"side": {"backend": "replay"}}},
     "cameras.side.source: backend 'replay' needs a video file or image folder"),
    ({"storage": {"disk_warn_percent": 90, "disk_stop_images_percent": 85}},
     "storage.disk_stop_images_percent: must not be below storage.disk_warn_percent (85 < 90)"),
    ({"web": {"public_url": "javascript:alert(1)"}},
     "web.public_url: must be empty or an http:// or https:// address, got 'javascript:alert(1)'"),
    ({"panel": {"enabled": 1}}, "panel.enabled: expected true or false, got 1"),
    ({"station": {"name": 5}}, "station.name: expected a string, got 5"),
    ({"station": 5}, "station: expected a table, got 5"),
    # the open table is checked by its owner, device.thresholds
    ({"rules": {"thresholds": {"knees_cave_in": math.inf}}},
     "rules.thresholds.knees_cave_in: must be a finite number (knee-to-ankle width ratio), got inf"),
])
def test_bad_values_are_one_clear_line(data, line):
    assert _refused(data) == line


@pytest.mark.parametrize("data, path, known", [
    ({"webb": {}}, "webb", "station, model, cameras, panel, rules, web, storage"),
    ({"web": {"prot": 1}}, "web.prot", "host, port, result_link_days, public_url, kiosk_addresses"),
    ({"cameras": {"front": {"fsp": 15}}}, "cameras.front.fsp", "backend, camera_id, number"),
    ({"cameras": {"top": {}}}, "cameras.top", "restarts_per_minute, front, side"),
])
def test_unknown_keys_name_the_path_and_the_known_keys(data, path, known):
    line = _refused(data)
    assert line.startswith(f"{path}: unknown key (known: {known}")


def test_good_values_are_kept():
    cfg = config.validate({
        "web": {"host": "localhost", "kiosk_addresses": ["192.168.1.9", "10.0.0.0/8", "fe80::1"],
                "public_url": "http://192.168.1.20:8080"},
        "cameras": {"side": {"backend": "replay", "source": "side.mov", "rotation": 270}},
    })
    assert cfg.web.host == "localhost" and cfg.web.kiosk_addresses == ["192.168.1.9", "10.0.0.0/8", "fe80::1"]
    assert cfg.cameras.side.rotation == 270 and cfg.cameras.side.number == 1  # the side's own default
    assert config.validate({"web": {"host": "::"}}).web.host == "::"


def test_dict_style_reads_and_checked_assignment():
    cfg = config.validate({"station": {"target_reps": 4}})
    assert cfg["station"]["target_reps"] == cfg.station.target_reps == 4
    assert cfg.get("station").get("target_reps") == 4 and cfg.station.get("nope", "x") == "x"
    assert "web" in cfg and "nope" not in cfg.web
    assert dict(cfg["storage"]) == {"retention_days": 365, "disk_warn_percent": 80, "disk_stop_images_percent": 95}
    with pytest.raises(KeyError):
        cfg["station"]["nope"]
    # tests and older code change a built config in place: still checked
    cfg["station"]["record_limit_s"] = 30
    cfg["cameras"]["front"]["offline_after_s"] = cfg["cameras"]["side"]["offline_after_s"] = 1.5
    assert cfg.station.record_limit_s == 30.0 and cfg.cameras.side.offline_after_s == 1.5
    cfg["storage"] = {**cfg["storage"], "disk_warn_percent": 0, "disk_stop_images_percent": 0}
    assert cfg.storage.disk_stop_images_percent == 0
    with pytest.raises(ConfigError, match=r"^record_limit_s: must be a finite number, got nan$"):
        cfg["station"]["record_limit_s"] = math.nan
    with pytest.raises(ConfigError, match=r"^port: must be between 1 and 65535"):
        cfg.web.port = 0
    with pytest.raises(ConfigError, match="unknown key"):
        cfg["station"]["nope"] = 1
    assert cfg.station.record_limit_s == 30.0 and cfg.web.port == 8080  # unchanged


def test_validate_copies_and_accepts_a_config():
    cfg = config.validate({"web": {"port": 9000}})
    again = config.validate(cfg)
    again.web.port = 9001
    assert cfg.web.port == 9000 and again.web.port == 9001


def test_round_trip_keeps_only_differences(tmp_path):
    path = tmp_path / "etc" / "ohsa.toml"
    config.save({}, path)
    assert path.read_text() == ""
    cfg = config.validate({"station": {"name": "Gym West"}, "cameras": {"side": {"backend": "usb", "number": 2}},
                           "rules": {"thresholds": {"knees_cave_in": 0.75}}, "web": {"kiosk_addresses": ["10.0.0.5"]}})
    cfg.cameras.front.fps = 25
    config.save(cfg, path)
    assert tomllib.loads(path.read_text()) == {
        "station": {"name": "Gym West"},
        "cameras": {"front": {"fps": 25}, "side": {"backend": "usb", "number": 2}},
        "rules": {"thresholds": {"knees_cave_in": 0.75}},
        "web": {"kiosk_addresses": ["10.0.0.5"]},
    }
    assert config.load(path).model_dump() == cfg.model_dump()
    assert [p.name for p in path.parent.iterdir()] == ["ohsa.toml"]  # no temp file left behind
    with pytest.raises(ConfigError, match=r"web\.port"):
        config.save({"web": {"port": 99999}}, path)
    assert config.load(path).cameras.front.fps == 25  # a refused save leaves the file alone


def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path):
    path = tmp_path / "ohsa.toml"
    path.write_text("[station]\nrecord_limit_s = nan\n")  # TOML can spell NaN
    with pytest.raises(ConfigError) as e:
        config.load(path)
    assert str(e.value) == f"{path}: station.record_limit_s: must be a finite number, got nan"
    path.write_text("[web]\nport = 99999\n")
    out = subprocess.run([sys.executable, "-m", "device", "rules", "--config", str(path), "no-track.json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [f"ohsa: {path}: web.port: must be between 1 and 65535, got 99999"]


def test_the_retired_shutdown_command_is_ignored_and_dropped(tmp_path):
    path = tmp_path / "ohsa.toml"
    path.write_text('[panel]\nshutdown_command = "rm -rf /"\nbuzzer = 16\n')
    cfg = config.load(path)
    assert cfg.panel.buzzer == 16 and "shutdown_command" not in cfg.panel
    config.save(cfg, path)
    assert tomllib.loads(path.read_text()) == {"panel": {"buzzer": 16}}


def test_schema_has_a_description_for_every_field():
    schema = config.config_schema()
    json.dumps(schema)  # plain JSON
    defs = schema["$defs"]
    seen = 0

    def walk(node, path):
        nonlocal seen
        for name, prop in node["properties"].items():
            seen += 1
            assert prop.get("description"), f"{path}{name} has no description"
            ref = prop.get("$ref")
            if ref:
                walk(defs[ref.rsplit("/", 1)[1]], f"{path}{name}.")

    walk(schema, "")
    sections = len(config.Config.model_fields) + 2  # the sections, and cameras.front and cameras.side
    assert seen == len(list(_leaves())) + sections
    web = defs["WebSettings"]["properties"]
    assert web["port"]["minimum"] == 1 and web["port"]["maximum"] == 65535 and web["port"]["default"] == 8080
    assert defs["CameraSettings"]["properties"]["backend"]["enum"] == list(BACKENDS)
    assert set(schema["properties"]) == set(config.DEFAULTS)


def test_facts_shared_with_their_owners_agree():
    from device.camera.frame import ROTATIONS
    from device.vocabulary import REGION_IDS

    assert CameraSettings.model_json_schema()["properties"]["rotation"]["enum"] == list(ROTATIONS)
    assert set(PanelSettings().pins()) == {"button", "status_green", "status_red", "buzzer"} | {
        f"led_{r}" for r in REGION_IDS}


def test_the_settings_form_is_generated_from_the_schema():
    from web import settings_form

    fields = {f["key"]: f for f in settings_form.fields()}
    assert set(fields) == {p for p, _ in _leaves()}
    assert all(f["help"] for f in fields.values())
    assert fields["web.port"]["min"] == 1 and fields["web.port"]["max"] == 65535
    assert fields["cameras.front.backend"]["choices"] == list(BACKENDS)
    assert fields["rules.thresholds"]["type"] == "table"
    form = settings_form.flatten(config.validate({}))
    parsed = settings_form.parse(dict({k: ("on" if v is True else v) for k, v in form.items() if v is not False}))
    assert config.validate(parsed).model_dump() == config.validate({}).model_dump()


def test_docs_key_tables_match_the_schema():
    import runpy

    from device import paths

    ref = runpy.run_path(str(paths.REPO_ROOT / "scripts" / "config_reference.py"))
    doc = (paths.REPO_ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert ref["replaced"](doc) == doc, "run scripts/config_reference.py --write"
    assert "| `port` | `8080` | 1 to 65535 | Port of the web server |" in doc


def test_config_check_command(tmp_path):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[web]\nkiosk_addresses = ["10.0.0.0/24"]\n')
    bad.write_text('[cameras.front]\nbackend = "bogus"\n')
    ok = subprocess.run([sys.executable, "-m", "device", "config", "check", str(good)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.strip() == f"{good}: ok"
    no = subprocess.run([sys.executable, "-m", "device", "config", "check", str(bad)],
                        capture_output=True, text=True, timeout=60)
    assert no.returncode == 2 and no.stderr.strip() == (
        f"ohsa: {bad}: cameras.front.backend: must be one of 'auto', 'picamera2', 'usb', 'replay', 'none', got 'bogus'")
