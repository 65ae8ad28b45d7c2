"""Per-camera pose workers: each view on its own thread with its own MoveNet interpreter; a hung
or failing view does not hold up the other; the watchdog pings only while both come round;
a clean stop. Real MoveNet on real frames of the shared pair, the real station runtime."""

from __future__ import annotations

import logging
import threading
import time

import cv2
import numpy as np
import pytest

from device import config as cfg
from device import sdnotify
from device.camera import DualCapture
from device.media import open_media
from device.station import runtime as runtime_mod
from device.station.runtime import StationRuntime
from tests.conftest import DATA
from tests.loop_source import LoopSource
from tests.waiting import wait_until

PAIR = DATA / "overhead-squat-pair"


@pytest.fixture(scope="module")
def frames():
    """Ten real frames per view (quarter size: the test is about threads, not accuracy)."""
    out = {}
    for view, name in (("front", "front.mov"), ("side", "side_oblique.mov")):
        with open_media(PAIR / name) as media:
            out[view] = [cv2.resize(rgb, (270, 480), interpolation=cv2.INTER_AREA)
                         for _, (_, rgb) in zip(range(10), media)]
    return out




class Spy:
    """Wraps one interpreter's infer(): which threads call it; can hang or fail on demand."""

    def __init__(self, movenet):
        self.threads: set[str] = set()
        self.calls = 0
        self.hang = threading.Event()
        self.release = threading.Event()
        self.fail = threading.Event()
        self._movenet, self._infer = movenet, movenet.infer
        movenet.infer = self  # on this instance only; restore() takes it off again

    def restore(self):
        self.release.set()
        del self._movenet.infer

    def __call__(self, square):
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        if self.fail.is_set():
            raise RuntimeError("interpreter failed")
        if self.hang.is_set():
            self.release.wait(30)  # hung inside "native code" until the test lets go
        return self._infer(square)


@pytest.fixture
def station(tmp_path, movenet, frames, monkeypatch):
    pings = []
    monkeypatch.setattr(sdnotify, "watchdog_interval", lambda: 0.2)  # ping every 0.1 s
    monkeypatch.setattr(sdnotify, "watchdog", lambda: pings.append(time.monotonic()) or True)
    monkeypatch.setattr(runtime_mod, "WORKER_STUCK_S", 1.0)
    config = cfg.validate({"station": {"positioning_timeout_s": 600.0},
                           "panel": {"hold_cancel_s": 0.3, "hold_shutdown_s": 5.0}})
    capture = DualCapture({v: LoopSource(v, frames[v]) for v in ("front", "side")}, offline_after_s=5.0)
    rt = StationRuntime(config, tmp_path / "data", capture=capture, movenet=movenet,
                        shutdown_action=lambda: None).open()
    spies = {v: Spy(rt.movenets[v]) for v in ("front", "side")}
    observed = {"front": [], "side": []}
    observe = rt.station.observe

    def spy_observe(view, *a, **kw):
        observed[view].append(threading.current_thread().name)
        return observe(view, *a, **kw)

    rt.station.observe = spy_observe
    yield rt, spies, observed, pings
    for s in spies.values():
        s.restore()
    rt.close()  # again after a test's own close: nothing left to do


def test_each_view_has_its_own_thread_and_interpreter(station, movenet):
    rt, spies, observed, _ = station
    assert rt.movenets["front"] is not rt.movenets["side"]  # two interpreters
    assert rt.movenets["front"].model_path == rt.movenets["side"].model_path == movenet.model_path
    assert wait_until(lambda: all(c["status"] == "online" for c in rt.capture.status().values()), 10)
    assert rt.start()  # a set: pose on every frame
    assert wait_until(lambda: all(len(observed[v]) >= 20 for v in observed), 20)
    for view in ("front", "side"):
        assert set(observed[view]) == {f"pose-{view}"}  # the view's frames: its worker only
        assert spies[view].threads == {f"pose-{view}"}  # ... on its own interpreter
        assert rt.workers[view].frames >= 20
    assert rt.stats()["cameras"]["front"]["processed_fps"] > 0


def test_a_hung_view_does_not_hold_up_the_other_and_stops_the_watchdog(station, caplog):
    rt, spies, observed, pings = station
    assert wait_until(lambda: all(c["status"] == "online" for c in rt.capture.status().values()), 10)
    assert wait_until(lambda: len(pings) >= 2, 10)  # both workers come round: pinged
    assert rt.start()
    assert wait_until(lambda: spies["front"].calls > 0, 10)
    spies["front"].hang.set()  # the front's interpreter never returns
    now = time.monotonic
    assert wait_until(lambda: not rt.workers["front"].alive(now(), 1.0), 10)
    side_before = len(observed["side"])
    assert wait_until(lambda: len(observed["side"]) >= side_before + 30, 20)  # the side goes on
    assert rt.workers["side"].alive(now(), 2.0)
    # the supervisor notices and stops pinging: systemd will restart the process
    caplog.set_level(logging.ERROR, logger="device.station.runtime")
    hung = lambda: [r for r in caplog.records if "pose-front not coming round" in r.getMessage()]  # noqa: E731
    assert wait_until(lambda: len(hung()) >= 1, 10)
    pinged = len(pings)
    assert wait_until(lambda: len(hung()) >= 3, 10)  # three more watchdog turns ...
    assert len(pings) == pinged  # ... without a ping
    # stopping with the front still hung: bounded, and it says which thread is left
    t0 = time.monotonic()
    stuck = rt.close(timeout=3.0)
    assert "pose-front" in stuck and "pose-side" not in stuck and time.monotonic() - t0 < 6.0
    spies["front"].release.set()
    assert rt.workers["front"].join(10)


def test_a_failing_view_keeps_going_and_the_other_is_untouched(station):
    rt, spies, observed, _ = station
    assert wait_until(lambda: all(c["status"] == "online" for c in rt.capture.status().values()), 10)
    assert rt.start()
    spies["front"].fail.set()
    assert wait_until(lambda: rt.workers["front"].errors >= 2, 10)  # each frame fails, logged
    side_before = len(observed["side"])
    assert wait_until(lambda: len(observed["side"]) >= side_before + 30, 20)
    assert rt.workers["front"].alive(time.monotonic(), 2.0)  # failing, not hung: it comes round
    spies["front"].fail.clear()
    front_before = len(observed["front"])
    assert wait_until(lambda: len(observed["front"]) > front_before, 10)  # and recovers


def test_a_clean_stop_ends_every_worker(station):
    rt, _, observed, _ = station
    assert rt.start()
    assert wait_until(lambda: all(len(observed[v]) >= 5 for v in observed), 20)
    workers = list(rt.workers.values())
    assert rt.close() == []
    assert not any(w.thread.is_alive() for w in workers)
    assert np.all([w.errors == 0 for w in workers])


def test_a_camera_hung_past_its_restart_budget_is_shown_and_stops_the_watchdog(tmp_path, movenet, frames, monkeypatch):
    """Issue 13: a hung camera was noticed but nobody acted on the spent restart budget, and the
    watchdog was fed regardless. Now: reopened while the budget allows; then the page, the
    health page and systemd's status say so, and the watchdog is no longer fed."""
    from tests.test_camera_dual import HandTime, HangingSource
    from web import create_app

    pings, ticks = [], []
    monkeypatch.setattr(sdnotify, "watchdog_interval", lambda: 0.2)
    monkeypatch.setattr(sdnotify, "watchdog", lambda: pings.append(time.monotonic()) or True)
    statuses = []
    monkeypatch.setattr(sdnotify, "status", lambda text: statuses.append(text) or True)
    clock, made = HandTime(), []

    def factory():
        made.append(HangingSource("front"))
        return made[-1]

    first = HangingSource("front")
    # no side camera: the hand clock's jumps would make any read under way look hung
    capture = DualCapture({"front": first, "side": None}, offline_after_s=3.0,
                          restarts_per_minute=2, hang_after_s=4.0, clock=clock, watch=False,
                          factories={"front": factory})
    config = cfg.validate({"panel": {"hold_cancel_s": 0.3, "hold_shutdown_s": 5.0}})
    rt = StationRuntime(config, tmp_path / "data", capture=capture, movenet=movenet, shutdown_action=lambda: None)
    try:
        rt.open()
        tick = rt.station.tick
        rt.station.tick = lambda *a, **kw: ticks.append(1) or tick(*a, **kw)
        assert first.entered.wait(10)
        assert wait_until(lambda: len(pings) >= 2, 10)  # all well so far: fed
        clock.t += 4.5
        assert capture.check_hung() == ["front"] and len(made) == 1  # reopened in a new thread
        assert made[0].entered.wait(10)
        assert "reconnects for this minute are spent" in rt.state()["camera_alert"]  # said, still fed
        assert not rt.camera_needs_restart()
        clock.t += 4.5
        assert capture.check_hung() == ["front"] and len(made) == 1  # budget spent: no third
        alert = rt.camera_alert()
        assert alert and "front camera" in alert and "stuck in its driver" in alert and rt.camera_needs_restart()
        assert wait_until(lambda: alert in statuses, 10)  # systemd's status line says it
        pinged, turn = len(pings), len(ticks)
        assert wait_until(lambda: len(ticks) >= turn + 10, 20)  # ten more supervisor turns ...
        assert len(pings) == pinged  # ... and no ping: systemd restarts the process
        assert alert in rt.state()["message"]  # the kiosk page's message
        app = create_app(rt.store, station=rt, config=config, data_dir=tmp_path / "data", testing=True)
        client = app.test_client()
        assert client.get("/api/status").get_json()["camera_alert"] == alert
        assert alert in client.get("/").get_data(as_text=True)
        from device import owner
        from web import auth

        owner.write_hash(tmp_path / "data", auth.hash_password("health-check-1"))
        csrf = client.get("/trainer/login").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
        client.post("/trainer/login", data={"password": "health-check-1", "csrf_token": csrf})
        health = client.get("/trainer/health").get_data(as_text=True)
        assert 'id="camera-alert"' in health and "stuck in its driver" in health
        assert client.get("/trainer/health.json").get_json()["stats"]["cameras"]["front"]["budget_exhausted"] is True
    finally:
        for src in [first, *made]:
            src.release.set()
        rt.close(timeout=10)
