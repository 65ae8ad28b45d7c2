"""The offline bundle: built for real (aarch64 cp311 wheels from PyPI, cached under /var/tmp),
complete (pip resolves the project from it alone), intact (manifest SHA-256s), with the model."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from device import model, paths

PLATFORMS = ["manylinux2014_aarch64"] + [f"manylinux_2_{v}_aarch64" for v in range(17, 37)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    tar = out / "ohsa-bundle.tar"
    proc = subprocess.run(
        [str(paths.REPO_ROOT / "scripts" / "make-offline-bundle.sh"), "-o", str(tar)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str(tar)
    with tarfile.open(tar) as t:
        t.extractall(out, filter="data")
    return out / "ohsa-bundle"


def _clean_pip_env() -> dict:
    """pip with no config files or PIP_* variables: only the bundle's wheels are seen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _resolve(wheels: Path, constraints: Path, project: Path, target: Path):
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--report", "-", "--quiet",
           "--no-index", "--find-links", str(wheels), "--only-binary=:all:",
           "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
           "--target", str(target), "-c", str(constraints), str(project)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_clean_pip_env())


def test_wheel_set_is_complete_for_aarch64(bundle, tmp_path):
    wheels = bundle / "wheels"
    project = next(wheels.glob("ohsa_station-*.whl"))
    proc = _resolve(wheels, bundle / "lib" / "pi-constraints.txt", project, tmp_path / "t")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    chosen = {Path(item["download_info"]["url"]).name for item in report["install"]}
    present = {p.name for p in wheels.glob("*.whl")}
    assert chosen <= present
    # every dependency of the project is there and nothing is left over
    assert present - chosen == set(), present - chosen
    names = {item["metadata"]["name"].lower() for item in report["install"]}
    assert {"ai-edge-litert", "numpy", "opencv-python-headless", "flask", "waitress", "gpiozero"} <= names
    binaries = [n for n in chosen if not n.endswith("-none-any.whl")]
    assert binaries and all("aarch64" in n for n in binaries), binaries
    assert all("cp311" in n or "abi3" in n for n in binaries), binaries
    # numpy from the Pi constraints: 1.x, to match apt's picamera2
    assert any(n.startswith("numpy-1.") for n in chosen)


def test_a_missing_wheel_is_found(bundle, tmp_path):
    wheels = tmp_path / "wheels"
    shutil.copytree(bundle / "wheels", wheels)
    next(wheels.glob("flask-*.whl")).unlink()
    project = next(wheels.glob("ohsa_station-*.whl"))
    proc = _resolve(wheels, bundle / "lib" / "pi-constraints.txt", project, tmp_path / "t")
    assert proc.returncode != 0 and "flask" in proc.stderr.lower()


def test_manifest_and_model(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["format"] == "ohsa-bundle/1" and manifest["machine"] == "aarch64"
    files = [p for p in bundle.rglob("*") if p.is_file() and p.name not in ("manifest.json", "SHA256SUMS")]
    assert {str(p.relative_to(bundle)) for p in files} == set(manifest["files"])
    for p in files:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == manifest["files"][str(p.relative_to(bundle))]
    sums = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    tflite = list((bundle / "model").glob("*.tflite"))
    assert len(tflite) == 1 and model.sha256_of(tflite[0]) == model.SHA256
    for name in ("install-pi.sh", "uninstall-pi.sh", "lib/pi-layout.sh", "lib/pi-constraints.txt",
                 "systemd/ohsa.service", "systemd/ohsa-poweroff.path"):
        assert (bundle / name).is_file(), name


def test_project_wheel_carries_the_web_assets(bundle):
    project = next((bundle / "wheels").glob("ohsa_station-*.whl"))
    names = zipfile.ZipFile(project).namelist()
    assert "device/cli.py" in names and "device/sdnotify.py" in names
    if (paths.REPO_ROOT / "web" / "templates").is_dir():
        assert any(n.startswith("web/templates/") for n in names)
    if (paths.REPO_ROOT / "web" / "static").is_dir():
        assert any(n.startswith("web/static/") for n in names)


def test_installer_refuses_this_bundle_on_another_machine(bundle):
    if os.uname().machine == "aarch64":
        pytest.skip("this machine is aarch64: the bundle fits")
    proc = subprocess.run([str(bundle / "install-pi.sh"), "--bundle", str(bundle)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].endswith(f"built for aarch64, this machine is {os.uname().machine}")
