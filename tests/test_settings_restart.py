"""`ohsa run` applies new settings in-process: the settings page's "Apply and restart" closes
the runtime and opens a new one on the file's settings, behind the same web server.

A real `ohsa run` (no cameras: the pages still serve), a real login over HTTP, the real form.
The rollback itself is driven by an injected clock in tests/test_web_trainer_day.py.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

from device import owner
from device.config import load
from tests.test_station_run import MODEL, _stop
from tests.test_web import _settings_form

PASSWORD = "owner-pass-2026"


def test_apply_restarts_the_station_in_process_with_the_new_settings(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    owner.write_hash(data, owner.hash_password(PASSWORD))
    conf = tmp_path / "ohsa.toml"
    conf.write_text('[cameras.front]\nbackend = "usb"\nnumber = 97\n[cameras.side]\nbackend = "usb"\nnumber = 98\n'
                    '[panel]\nenabled = false\n')
    env = {k: v for k, v in os.environ.items() if k not in ("INVOCATION_ID", "NOTIFY_SOCKET")}
    env["OHSA_MODEL"] = str(MODEL)
    proc = subprocess.Popen(
        [sys.executable, "-m", "device", "run", "--config", str(conf), "--data-dir", str(data),
         "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ohsa run: station at http://127.0.0.1:"), line
        url = line.split(" at ")[1].strip()
        web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

        def get(path):
            with web.open(url + path, timeout=30) as r:
                return r.read().decode()

        def post(path, form):
            with web.open(url + path, data=urllib.parse.urlencode(form).encode(), timeout=120) as r:
                return r.geturl(), r.read().decode()

        def csrf(html):
            return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

        post("/trainer/login", {"csrf_token": csrf(get("/trainer/login")), "password": PASSWORD})
        html = get("/trainer/settings")
        form = dict(_settings_form(html), csrf_token=csrf(html))
        form.update({"station.target_reps": "6", "station.name": "Studio 2"})
        where, page = post("/trainer/settings/apply", form)
        assert where.endswith("/trainer/settings?outcome=applied"), re.findall(r'class="flash[^"]*"[^>]*>([^<]+)', page)
        assert "the station restarted and is up" in page
        assert "Studio 2" in get("/trainer/")  # the new settings are in force behind the same server
        assert load(conf).station.target_reps == 6
        assert (tmp_path / "ohsa.toml.last-good").read_text() == conf.read_text()
        assert not (data / "settings-trial.json").exists()
        assert '"state":"idle"' in get("/api/status").replace(" ", "")
    finally:
        out, err = _stop(proc, 30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert err.count("front camera missing") >= 2, err  # opened twice: at start and on apply
