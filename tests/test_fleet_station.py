"""The fleet link in the station: `ohsa run` with `[fleet]` on, and the trainer's health page."""

from __future__ import annotations

import json

import pytest

from device.fleet import messages
from device.fleet.publisher import Publisher
from tests.fleet_station import USERS, Listener, broker
from tests.services import free_port
from tests.test_station_run import _get, _run_station, _stop
from tests.test_web import app, client, clock, config_path, store, trainer  # noqa: F401 (fixtures)
from tests.waiting import wait_until
from tests.web_fakes import FakeStation


class FleetStation(FakeStation):
    def __init__(self, publisher):
        super().__init__()
        self.publisher = publisher

    def stats(self) -> dict:
        return dict(super().stats(), fleet=self.publisher.state())


@pytest.fixture
def station(store):
    store.outbox = True
    pub = Publisher({"enabled": True, "host": "127.0.0.1", "port": free_port(), "tls": False,
                     "station_id": "gym-7", "password": "x"}, store, health=lambda: {}, version="0",
                    backoff_max_s=0.5)
    yield FleetStation(pub.start())
    pub.close(5)


def test_the_health_page_shows_the_fleet_link_and_the_public_stats_do_not(trainer, station, store):
    from tests.web_fakes import sample_result

    store.save_assessment(sample_result(), None, {})
    store.save_assessment(sample_result(), None, {})
    assert wait_until(lambda: station.publisher.state()["problem"], 10)
    html = trainer.get("/trainer/health").get_data(as_text=True)
    assert "Fleet link" in html and "127.0.0.1" in html and "gym-7" in html
    assert "not connected" in html and "unreachable" in html
    assert '<td id="fleet-queued">2 (oldest from' in html and "nothing yet" in html
    assert trainer.get("/trainer/health.json").get_json()["stats"]["fleet"]["queued"] == 2
    public = trainer.application.test_client().get("/api/stats").get_json()
    assert "fleet" not in public and public["inference_ms"] == 2.6


def test_ohsa_run_with_the_fleet_on_publishes_and_says_offline_at_the_stop(tmp_path):
    b = broker(tmp_path / "broker").start()
    hub = Listener(b.port, topics=("ohsa/#",)).wait_subscribed()
    secret = tmp_path / "fleet-password"
    secret.write_text(USERS["s1"] + "\n")
    conf = tmp_path / "ohsa.toml"
    conf.write_text(
        '[cameras.front]\nbackend = "usb"\nnumber = 97\n[cameras.side]\nbackend = "usb"\nnumber = 98\n'
        '[panel]\nenabled = false\n'
        f'[fleet]\nenabled = true\nhost = "127.0.0.1"\nport = {b.port}\ntls = false\nstation_id = "s1"\n'
        f'password_file = "{secret}"\n')
    proc = _run_station(tmp_path, conf)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ohsa run: station at http://127.0.0.1:"), line
        url = line.split(" at ")[1].strip()
        assert wait_until(lambda: hub.on("ohsa/s1/health") and hub.on("ohsa/s1/status"), 20)
        status = messages.parse(*hub.on("ohsa/s1/status")[-1][:2])
        health = messages.parse(*hub.on("ohsa/s1/health")[-1][:2])
        assert status["state"] == "online" and health["sets_today"] == 0
        assert health["cameras"] == {"front": "missing", "side": "missing"}
        assert "fleet" not in json.loads(_get(f"{url}/api/stats")[1])
    finally:
        out, err = _stop(proc)
    try:
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "fleet:" not in err  # no problem to report
        assert wait_until(lambda: messages.parse(*hub.on("ohsa/s1/status")[-1][:2])["state"] == "offline", 5)
    finally:
        hub.close()
        b.stop()
