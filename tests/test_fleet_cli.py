"""`ohsa fleet join` and `ohsa fleet status` (device/fleet_cli.py) against a real broker."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from device import config
from device.cli import main
from device.store import Store
from tests.fleet_station import USERS
from tests.services import free_port


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "ohsa.toml"
    path.write_text('[station]\nname = "By the mirrors"\n\n[web]\nport = 9000\n')
    return path


def _password(tmp_path, user="s1"):
    p = tmp_path / f"{user}.pw"
    p.write_text(USERS.get(user, "wrong") + "\n")
    return str(p)


def test_join_checks_the_broker_then_writes_only_the_fleet_section(mqtt_broker, certs, conf, tmp_path, capsys):
    rc = main(["fleet", "join", "--host", "127.0.0.1", "--port", str(mqtt_broker.tls_port), "--station-id", "s1",
               "--password-file", _password(tmp_path), "--ca", str(certs["ca.crt"]), "--config", str(conf)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "[fleet] written: s1@127.0.0.1" in out.out and "(TLS)" in out.out
    data = tomllib.loads(conf.read_text())
    assert data["station"]["name"] == "By the mirrors" and data["web"]["port"] == 9000  # kept
    cfg = config.load(conf)
    assert cfg.fleet.enabled and cfg.fleet.tls and cfg.fleet.port == mqtt_broker.tls_port
    assert cfg.fleet.ca_file == str(certs["ca.crt"].resolve()) and cfg.fleet.password == ""
    assert USERS["s1"] not in conf.read_text()  # the password stays in its own file
    # plain MQTT on loopback, a username other than the station id
    rc = main(["fleet", "join", "--host", "127.0.0.1", "--port", str(mqtt_broker.port), "--no-tls",
               "--station-id", "s2", "--username", "s2", "--password-file", _password(tmp_path, "s2"),
               "--no-discovery", "--config", str(conf)])
    assert rc == 0, capsys.readouterr().err
    cfg = config.load(conf)
    assert (cfg.fleet.station_id, cfg.fleet.tls, cfg.fleet.discovery, cfg.fleet.ca_file) == ("s2", False, False, "")


def _refused(argv, capsys) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "Traceback" not in err, err
    return err


def test_join_bad_input_is_one_line_and_writes_nothing(mqtt_broker, conf, tmp_path, capsys):
    before = conf.read_text()
    pw = _password(tmp_path)
    base = ["fleet", "join", "--config", str(conf)]
    assert "--host: not a host name" in _refused(base + ["--host", "$(reboot)", "--station-id", "s1", "--no-check"], capsys)
    assert "--station-id: 1-40 of a-z" in _refused(base + ["--host", "h", "--station-id", "Gym 1", "--no-check"], capsys)
    assert "reserved" in _refused(base + ["--host", "h", "--station-id", "hub", "--no-check"], capsys)
    assert "--port: must be between 1 and 65535" in _refused(base + ["--host", "h", "--station-id", "s1", "--port", "0", "--no-check"], capsys)
    assert "--password-file /nope: no such file" in _refused(base + ["--host", "h", "--station-id", "s1", "--password-file", "/nope"], capsys)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "first line is empty" in _refused(base + ["--host", "h", "--station-id", "s1", "--password-file", str(empty)], capsys)
    assert "--ca " in _refused(base + ["--host", "h", "--station-id", "s1", "--ca", pw, "--no-check"], capsys)
    assert "cert_file" in _refused(base + ["--host", "h", "--station-id", "s1", "--key", pw, "--no-check"], capsys)
    # the trial connection: nobody listening, a wrong password
    assert "unreachable" in _refused(base + ["--host", "127.0.0.1", "--port", str(free_port()), "--no-tls",
                                              "--station-id", "s1", "--password-file", pw], capsys)
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    err = _refused(base + ["--host", "127.0.0.1", "--port", str(mqtt_broker.port), "--no-tls", "--station-id", "s1",
                           "--password-file", str(wrong)], capsys)
    assert "refused user 's1'" in err and "nothing written" in err
    assert conf.read_text() == before


def test_status_prints_the_queue_and_the_last_sent(conf, tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["fleet", "status", "--config", str(conf), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "fleet: off" in out and "no database" in out
    assert main(["fleet", "join", "--host", "broker.gym", "--station-id", "s1", "--no-check", "--config", str(conf)]) == 0
    from tests.test_fleet_outbox import _result

    with Store(data / "assessments.db", outbox=True) as s:
        for _ in range(3):
            s.save_assessment(_result(), None, {})
        s.outbox_sent([s.outbox_pending()[0]["seq"]])
    capsys.readouterr()
    assert main(["fleet", "status", "--config", str(conf), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "fleet: on, s1@broker.gym:8883 (TLS) as station s1" in out
    assert "queued: 2 (oldest from " in out and "last sent: 20" in out
    proc = subprocess.run([sys.executable, "-m", "device", "fleet", "status", "--json", "--config", str(conf),
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and '"queued": 2' in proc.stdout


def test_resend_queues_the_history_saved_before_joining(conf, tmp_path, capsys):
    from tests.test_fleet_outbox import _result

    data = tmp_path / "data"
    data.mkdir()
    with Store(data / "assessments.db") as s:  # saved while the fleet was off: nothing queued
        ids = [s.save_assessment(_result(), None, {}) for _ in range(5)]
        s.soft_delete(ids[0])
    assert main(["fleet", "resend", "--config", str(conf), "--data-dir", str(data)]) == 2
    assert "the fleet is off here" in capsys.readouterr().err
    assert main(["fleet", "join", "--host", "broker.gym", "--station-id", "s1", "--no-check", "--config", str(conf)]) == 0
    with Store(data / "assessments.db", outbox=True) as s:
        assert s.outbox_pending(limit=100) == []
    capsys.readouterr()
    assert main(["fleet", "resend", "--config", str(conf), "--data-dir", str(data)]) == 0
    assert "4 assessment(s) queued again; 4 row(s)" in capsys.readouterr().out
    with Store(data / "assessments.db", outbox=True) as s:
        rows = s.outbox_pending(limit=100)
    assert sorted(r["item_id"] for r in rows) == sorted(ids[1:])  # the deleted one stays home
    assert all(r["body"]["result"]["reps"] == 5 for r in rows)
