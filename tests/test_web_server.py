"""web.server: Waitress serves the app on a real socket, streams events, and stops cleanly."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.request

import pytest

from device.store import Store
from tests.web_fakes import FakeStation
from web import create_app
from web.server import serve


@pytest.fixture
def running(tmp_path):
    store = Store(tmp_path / "a.db")
    station = FakeStation()
    server = serve(create_app(store, station, data_dir=tmp_path), "127.0.0.1", 0)
    yield server, station
    server.stop()
    store.close()


def test_serves_pages_and_stops(running):
    server, _ = running
    assert server.port > 0
    with urllib.request.urlopen(server.url + "/", timeout=5) as r:
        assert r.status == 200 and b"Step onto the mat" in r.read()
        assert r.headers["Server"] == "ohsa"
    with urllib.request.urlopen(server.url + "/api/status", timeout=5) as r:
        assert b'"state":"idle"' in r.read()
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_event_stream_is_not_buffered_and_stop_ends_it(running):
    server, station = running
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/api/events")
    response = conn.getresponse()
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    first = b""
    while b"data: " not in first:
        first += response.read1(4096)
    assert b'"state":"idle"' in first
    station.set(state="countdown", countdown=3)
    later = b""
    while b'"countdown":3' not in later:
        later += response.read1(4096)  # arrives at once, not at the end of the stream
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 8
    conn.close()
