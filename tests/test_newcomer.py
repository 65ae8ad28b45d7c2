"""The newcomer's path, as the README gives it: `scripts/station.sh --front F --side S` with the
shared recordings and no config, Start pressed on the kiosk page, a stored result within 60 s.

The real script (venv check, model, `ohsa run`) in a subprocess on a free port and a temporary
data folder; Start goes through the web API as the kiosk page sends it (session cookie, CSRF
token, from the station itself); /api/kiosk/status (what the kiosk page reads) is polled until a
stored result.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from device.store import Store
from tests.conftest import DATA
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
PAIR = DATA / "overhead-squat-pair"
ACTIVE = ("positioning", "countdown", "recording", "analysing")


class Browser:
    """The kiosk page's requests: one cookie session, its CSRF token."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = None

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=10) as r:
            return r.read()

    def status(self) -> dict:
        return json.loads(self.get("/api/kiosk/status"))

    def press_start(self) -> dict:
        page = self.get("/").decode()
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        req = urllib.request.Request(
            self.base + "/live/start", data=b"{}", method="POST",
            headers={"X-CSRF-Token": self.csrf, "Content-Type": "application/json"},
        )
        with self.opener.open(req, timeout=10) as r:
            return json.loads(r.read())


def test_recordings_give_a_stored_result_within_60_s_of_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OHSA_")}  # no config
    data = tmp_path / "data"
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "station.sh"), "--front", str(PAIR / "front.mov"),
         "--side", str(PAIR / "side_oblique.mov"), "--port", "0", "--data-dir", str(data)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=open(tmp_path / "stderr.log", "wb"), text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        url = lambda: next((m.group(1) for x in lines if (m := re.search(r"station at (http://\S+)", x))), None)  # noqa: E731
        assert wait_until(lambda: url() or proc.poll() is not None, 180), "station.sh did not start in 3 min"
        assert url(), (proc.poll(), (tmp_path / "stderr.log").read_text()[-2000:])
        kiosk = Browser(url())
        # the page says when both "cameras" (the recordings) are up; a person presses Start then
        assert wait_until(lambda: all(c["status"] == "online" for c in kiosk.status()["cameras"].values()), 60)

        started = time.monotonic()
        answer = kiosk.press_start()
        assert answer["ok"] and answer["state"]["state"] == "positioning"
        seen = []

        def finished():
            s = kiosk.status()
            if not seen or seen[-1][1] != s["state"]:
                seen.append((round(time.monotonic() - started, 1), s["state"], s["message"]))
            return s["state"] not in ACTIVE

        assert wait_until(finished, 90, step=0.1), seen
        took = time.monotonic() - started
        s = kiosk.status()
        assert s["state"] == "result" and s["assessment_id"], seen
        assert took < 60.0, (took, seen)
        # a one-rep clip looped in lock-step: one rep per loop, the set's five reps
        assert s["reps"] == 5, seen
        visited = [x[1] for x in seen]
        assert visited == ["positioning", "countdown", "recording", "analysing", "result"], seen
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # as systemd stops it
        code = proc.wait(timeout=30)
        reader.join(5)
    assert code == 0, (tmp_path / "stderr.log").read_text()[-2000:]
    with Store(data / "assessments.db") as store:
        assert store.count() == 1 and store.get(s["assessment_id"])["result"]["reps"] == 5
