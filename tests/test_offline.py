"""No outbound network at run time: `ohsa run` on looped recordings, in a network namespace with
nothing but loopback (as root: the kernel refuses anything else), with a Python audit hook that
records every connect, sendto and name lookup of any thread. The station must come up (READY over
a real notify socket), serve its page over loopback, stop cleanly on SIGTERM, and never have
tried an address outside this machine."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

# An audit hook installed before anything else, writing each way out to the file argv[1].
HOOK = r"""
import ipaddress, json, os, sys
log_fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

def local(host):
    if host in (None, "", "localhost") or isinstance(host, bytes):
        return host in (None, "", "localhost")
    try:
        ip = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False  # a name to look up is already a way out
    return ip.is_loopback or ip.is_unspecified

def hook(event, args):
    if event in ("socket.connect", "socket.sendto"):
        address = args[1]
        if isinstance(address, tuple) and not local(address[0]):
            os.write(log_fd, (json.dumps([event, str(address[0])]) + "\n").encode())
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        if not local(args[0]):
            os.write(log_fd, (json.dumps([event, str(args[0])]) + "\n").encode())

sys.addaudithook(hook)
"""
RUNNER = HOOK + "from device.cli import main\nsys.exit(main(sys.argv[2:]))\n"


def _isolated() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("ip"))


def test_the_hook_sees_a_way_out(tmp_path):
    if not _isolated():
        pytest.skip("trying a way out safely needs an empty network namespace (root)")
    log = tmp_path / "attempts.jsonl"
    probe = HOOK + (
        "import socket\n"
        "s = socket.socket(); s.settimeout(0.2)\n"
        "try: s.connect(('192.0.2.1', 9))\n"  # no route in the namespace: nothing leaves
        "except OSError: pass\n"
        "try: socket.getaddrinfo('example.invalid', 80)\n"
        "except OSError: pass\n"
        "socket.getaddrinfo('127.0.0.1', 80)\n"
    )
    subprocess.run(_wrap_in_netns([sys.executable, "-c", probe, str(log)]), check=True, timeout=30)
    attempts = [json.loads(line) for line in log.read_text().splitlines()]
    assert ["socket.connect", "192.0.2.1"] in attempts
    assert ["socket.getaddrinfo", "example.invalid"] in attempts
    assert all(a[1] != "127.0.0.1" for a in attempts)


def _wrap_in_netns(cmd: list[str]) -> list[str]:
    """As root: a new network namespace with only `lo`, up. Otherwise the hook alone decides."""
    if not _isolated():
        return cmd
    return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]


def test_station_never_connects_out(tmp_path, model_path, data_dir):
    front = data_dir / "overhead-squat-pair" / "front.mov"
    side = data_dir / "overhead-squat-pair" / "side_oblique.mov"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(1)
    attempts = tmp_path / "attempts.jsonl"
    cmd = [
        sys.executable, "-c", RUNNER, str(attempts), "-v", "run",
        "--front", str(front), "--side", str(side), "--host", "127.0.0.1", "--port", "0",
        "--data-dir", str(tmp_path / "data"), "--model", str(model_path),
    ]
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify"), PYTHONUNBUFFERED="1")
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(proxy, None)
    isolated = _isolated()
    proc = subprocess.Popen(_wrap_in_netns(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    messages, url = [], None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and url is None:
            try:
                messages.append(notify.recv(4096).decode())
            except TimeoutError:
                continue
            m = re.search(r"station at (http://\S+)", messages[-1])
            url = m.group(1) if m else None
        assert "READY=1" in messages and url, (messages, proc.poll())
        if isolated:
            # the page is only reachable from inside the namespace: check it there
            ns = ["nsenter", "--net=/proc/%d/ns/net" % proc.pid, "--", sys.executable, "-c",
                  "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=20).status)"]
            for _ in range(2):
                assert subprocess.run([*ns, url + "/"], capture_output=True, text=True,
                                      timeout=60).stdout.strip() == "200"
                time.sleep(3)  # the frame loop runs on the recordings meanwhile
        else:
            for _ in range(2):
                with urllib.request.urlopen(url + "/", timeout=20) as r:
                    assert r.status == 200
                time.sleep(3)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        notify.close()
    tried = attempts.read_text().splitlines() if attempts.exists() else []
    assert tried == [], f"the station tried to reach outside this machine: {tried}"
    # and it stops cleanly when systemd says so (SIGTERM): exit 0, no abort at interpreter exit
    # (tests/test_station_shutdown.py covers the stop itself)
    assert proc.returncode == 0, err.strip().splitlines()[-5:]
    assert "Traceback" not in err and "FATAL" not in err and "terminate called" not in err, err[-3000:]
