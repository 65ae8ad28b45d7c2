"""Shared fixtures: the model and recordings from ../shared, temp data dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device import paths

SHARED = paths.SHARED_DIR
MODEL = SHARED / "models" / "movenet_singlepose_lightning_int8_v4.tflite"
DATA = SHARED / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: tests read the model and recordings from ../shared")
    return path


@pytest.fixture(scope="session")
def model_path() -> Path:
    return _require(MODEL)


@pytest.fixture(scope="session")
def movenet(model_path):
    """One interpreter for the whole run (it is built once in the station too)."""
    from device.pose import MoveNet

    return MoveNet(model_path)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _require(DATA)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test reads the user's or the system's station state."""
    monkeypatch.setenv("OHSA_DATA_DIR", str(tmp_path / "ohsa-data"))
    monkeypatch.delenv("OHSA_CONFIG", raising=False)
    monkeypatch.delenv("OHSA_MODEL", raising=False)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    _fresh_mock_pins()
    yield


def _fresh_mock_pins() -> None:
    """gpiozero keeps one default pin factory per process: drop it, so the next device of this
    test makes a fresh MockFactory and no pin (or its history) comes over from another test.
    Devices made earlier keep the factory they were built on."""
    from gpiozero import Device

    Device.pin_factory = None


def pytest_collection_modifyitems(config, items):
    on_pi = os.path.exists("/dev/video0") and os.path.exists("/proc/device-tree/model")
    skip = pytest.mark.skip(reason="needs a Raspberry Pi camera or GPIO (marker 'hardware')")
    for item in items:
        if "hardware" in item.keywords and not on_pi:
            item.add_marker(skip)


# -- the fleet's real services (tests/services.py), one of each per test module ---------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA and a broker certificate made with openssl for the module's TLS tests."""
    from tests.fleet_station import make_ca

    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def mqtt_broker(tmp_path_factory, certs):
    """A private Mosquitto with the shipped ACL, the stations' users and a TLS listener."""
    from tests.fleet_station import broker

    b = broker(tmp_path_factory.mktemp("broker"), tls=certs).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def cluster():
    """A private PostgreSQL cluster."""
    from tests.services import Postgres

    with Postgres() as pg:
        yield pg
