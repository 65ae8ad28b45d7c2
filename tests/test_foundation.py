"""The command line, config and track format every other part builds on."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from device import config, paths, track
from device.errors import ConfigError, InputError
from device.keypoints import Pose
from device.vocabulary import COMPENSATION_IDS, COMPENSATIONS, REGION_IDS


def ohsa(*args, **kw):
    return subprocess.run([sys.executable, "-m", "device", *args], capture_output=True, text=True, **kw)


def test_version_and_help():
    out = ohsa("--version")
    assert out.returncode == 0 and out.stdout.startswith("ohsa ")
    out = ohsa("--help")
    assert out.returncode == 0 and "usage: ohsa" in out.stdout


def test_unknown_command_prints_usage():
    out = ohsa("frobnicate")
    assert out.returncode == 2
    assert "usage: ohsa" in out.stderr and "Traceback" not in out.stderr


def test_vocabulary_is_complete():
    assert len(COMPENSATION_IDS) == 13
    assert {c.region for c in COMPENSATIONS.values()} == set(REGION_IDS)
    assert {c.view for c in COMPENSATIONS.values()} == {"front", "side"}


def test_config_defaults_and_overrides():
    cfg = config.validate({"cameras": {"front": {"fps": 15}}})
    assert cfg["cameras"]["front"]["fps"] == 15 and cfg["cameras"]["side"]["fps"] == 30


@pytest.mark.parametrize(
    "data, path",
    [
        ({"cameras": {"front": {"fsp": 15}}}, "cameras.front.fsp"),
        ({"web": {"port": "80"}}, "web.port"),
        ({"panel": {"enabled": 1}}, "panel.enabled"),
        ({"storage": {"retention_days": -1}}, "storage.retention_days"),
        ({"web": {"kiosk_addresses": "10.0.0.2"}}, "web.kiosk_addresses"),
    ],
)
def test_config_errors_name_the_key(data, path):
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        config.validate(data)


def test_config_file_round_trip(tmp_path):
    path = tmp_path / "ohsa.toml"
    config.save({"web": {"port": 9000}}, path)
    assert config.load(path)["web"]["port"] == 9000
    assert "port = 9000" in path.read_text()
    path.write_text("[web\nport=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(path)


def _view(n=3):
    rows = lambda i: np.column_stack([np.arange(17) + i, np.arange(17) * 2.0, np.full(17, 0.5)])
    poses = [Pose.from_array(rows(i), t=i / 30) for i in range(n)]
    return track.ViewTrack.from_poses(poses, 640, 480, 30)


def test_track_round_trip(tmp_path):
    path = tmp_path / "t.json"
    track.write_track(track.Track({"front": _view()}), path)
    back = track.read_track(path)
    assert set(back.views) == {"front"}
    np.testing.assert_allclose(back.views["front"].keypoints, _view().keypoints, atol=0.01)
    assert json.loads(path.read_text())["format"] == "ohsa-keypoints/1"


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{", "not valid JSON"),
        ('{"format": "ohsa-result/1"}', "not an ohsa-keypoints/1 track"),
        ('{"format": "ohsa-keypoints/1", "views": {"top": {}}}', "unknown view 'top'"),
        (
            '{"format": "ohsa-keypoints/1", "views": {"front": {"width": 1, "height": 1, "fps": 30,'
            ' "frames": [{"t": 0, "keypoints": [[1, 2]]}]}}}',
            "shape",
        ),
    ],
)
def test_track_errors(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=problem):
        track.read_track(path)


def test_track_nan_keypoint_has_zero_score():
    data = _view(1).to_json()
    data["frames"][0]["keypoints"][3] = [float("nan"), 1.0, 0.9]
    view = track.parse_view(data, "t", "front")
    assert view.keypoints[0, 3, 2] == 0.0


def test_config_keeps_only_threshold_overrides(tmp_path):
    from device.thresholds import NAMES

    name = NAMES[0]
    with pytest.raises(ConfigError, match="rules.thresholds.no_such"):
        config.validate({"rules": {"thresholds": {"no_such": 1.0}}})
    cfg = config.load(None)
    assert cfg["rules"]["thresholds"] == {}
    path = tmp_path / "ohsa.toml"
    config.save(cfg, path)
    assert "thresholds" not in path.read_text()
    value = config.validate({"rules": {"thresholds": {name: cfg_default(name)}}})
    assert list(value["rules"]["thresholds"]) == [name]


def cfg_default(name):
    from device.thresholds import defaults

    return defaults()[name]


def test_config_doc_example_is_valid():
    import tomllib

    text = (paths.REPO_ROOT / "docs" / "config.md").read_text()
    example = "\n".join(line[4:] for line in text.splitlines() if line.startswith("    "))
    cfg = config.validate(tomllib.loads(example))
    assert cfg["cameras"]["side"]["backend"] == "picamera2"
    assert cfg["rules"]["thresholds"] == {"excessive_forward_lean": 25.0}


def test_no_package_imports_another_that_imports_it_back():
    """Foundations at the bottom: the shared import-loop checker finds no loop between
    `device.*` packages and `web` (docs/architecture.md)."""
    checker = paths.SHARED_DIR / "tools" / "import-cycles.py"
    if not checker.is_file():
        pytest.skip(f"{checker} is not there (../shared beside the checkout)")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(checker)], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", done.stdout


def test_foundations_import_nothing_above_them():
    """The foundation modules import only other foundations (and the standard library, numpy,
    pydantic): what the rules, the silhouette and the analysis all stand on."""
    import ast

    root = Path(__file__).resolve().parent.parent / "device"
    foundations = {"keypoints", "track", "vocabulary", "thresholds", "verdict", "placement", "errors",
                   "atomic", "paths", "section"}
    for name in foundations:
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("device"):
                parts = node.module.split(".")
                imported = parts[1] if len(parts) > 1 else (node.names[0].name if node.names else "")
                assert imported in foundations, f"device/{name}.py imports {node.module} ({imported})"
