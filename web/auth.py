"""Who may do what: the trainer password, the login rate limit, CSRF tokens, kiosk addresses.

The trainer password is hashed with scrypt (a slow, memory-hard KDF from the standard library)
and kept in the store's meta table, so deleting the database resets it. Login failures are
counted per client address; after `MAX_FAILURES` within `WINDOW_S` seconds that address gets
429 until the window has passed. Every state-changing request carries the session's CSRF token
(form field `csrf_token` or header `X-CSRF-Token`). The kiosk's buttons are accepted only from
the station itself (loopback) or an address listed in `web.kiosk_addresses`.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time

from flask import request, session

PASSWORD_META = "trainer_password"
SECRET_META = "web_secret_key"
MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5
WINDOW_S = 300.0
IDLE_S = 30 * 60  # a trainer session ends after this long without a request
KIOSK_IDLE_S = 5 * 60  # ... sooner on the station's own screen, which clients use next

# scrypt cost: 2**15 x 8 x 1 needs 32 MiB and takes ~0.1 s here, a few tenths on a Pi 4.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        actual = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, bytes.fromhex(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)


def password_problem(password: str, repeat: str) -> str | None:
    """Why a new password cannot be used, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    if password != repeat:
        return "The two passwords differ."
    return None


class LoginLimiter:
    """Failed logins per client address in a sliding window; thread-safe, bounded memory."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S, clock=time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may try now."""
        with self._lock:
            times = self._recent(address)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(times[0] + self.window_s - self._clock()) + 1)

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())
            if len(self._failures) > 10_000:  # a flood of addresses: forget the oldest
                for key in list(self._failures)[:5_000]:
                    del self._failures[key]

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> collections.deque:
        times = self._failures.setdefault(address, collections.deque())
        cutoff = self._clock() - self.window_s
        while times and times[0] < cutoff:
            times.popleft()
        return times


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def is_trainer() -> bool:
    return session.get("trainer") is True


def log_in() -> None:
    session.clear()
    session.permanent = True
    session["trainer"] = True
    session["seen"] = time.time()
    session["csrf"] = secrets.token_urlsafe(32)


def expire_idle(kiosk: bool, now: float | None = None) -> None:
    """End a trainer session idle for too long; otherwise note this request."""
    if not is_trainer():
        return
    now = time.time() if now is None else now
    if now - float(session.get("seen") or 0) > (KIOSK_IDLE_S if kiosk else IDLE_S):
        log_out()
    else:
        session["seen"] = now


def log_out() -> None:
    session.clear()


def is_kiosk(address: str | None, kiosk_addresses) -> bool:
    """Whether a request from `address` comes from the station's own screen."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:  # a dual-stack socket's IPv4 client
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return True
    for allowed in kiosk_addresses:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def safe_next(target: str | None, default: str) -> str:
    """A local path to go to after login, never another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
