"""Who may do what: the owner password, server-side sessions, the password rate limit, CSRF
tokens, kiosk addresses, the Host header.

The trainer (owner) password is an scrypt hash in its own file in the data directory
(device/owner.py), set on the Pi (`ohsa password set`, or the installer); until it exists the
trainer area answers only requests from the station itself (loopback). A login makes a session
row in the store (the cookie holds only its random id); it ends at logout, when the password
changes (every session of the account), after `IDLE_S` without a request (`KIOSK_IDLE_S` on the
station's own screen) and `MAX_AGE_S` after login whatever happens. Every place a password is
checked goes through `check_password`, which reserves one of the address's `MAX_FAILURES`
attempts before the (slow) check, so concurrent guesses cannot overrun the limit. Every
state-changing request carries the session's CSRF token (form field `csrf_token` or header
`X-CSRF-Token`). Accounts (device/store/people.py): the owner (the password file; settings,
accounts, deletion, export of everything: `require_role("owner")`) and the trainers the owner
adds (their own password; review, notes, overrides, plans: `login_required`, the default);
`current_account()` says who this request is. The kiosk's buttons are accepted only from the station itself (loopback) or an
address listed in `web.kiosk_addresses`. A request whose Host is not one of the station's own
names or addresses is refused (DNS rebinding). See docs/security.md.
"""

from __future__ import annotations

import datetime
import collections
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import threading
import time
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, request, session
from werkzeug.exceptions import TooManyRequests

from device import owner
from device.store.people import OWNER
from device.owner import hash_password, password_problem, verify_password  # noqa: F401  (web's names)

security = logging.getLogger("ohsa.security")

PASSWORD_META = "trainer_password"  # where releases before the owner file kept the hash
SECRET_META = "web_secret_key"
ACCOUNT = OWNER  # the owner account's name
MIN_PASSWORD_LENGTH = owner.MIN_LENGTH
MAX_FAILURES = 5
WINDOW_S = 300.0
IDLE_S = 30 * 60  # a trainer session ends after this long without a request
KIOSK_IDLE_S = 5 * 60  # ... sooner on the station's own screen, which clients use next
MAX_AGE_S = 12 * 3600  # ... and this long after login, however busy
TOUCH_S = 15.0  # the session's last-seen time is written at most this often (SD card)


class LoginLimiter:
    """Password attempts per client address in a sliding window; thread-safe, bounded memory.

    `reserve(address)` takes one attempt before the password is checked (atomically with the
    count), `release(address, ok)` gives it back on success or keeps it as a failure, so N
    concurrent guesses from one address get at most `max_failures` checks.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S, clock=time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, collections.deque] = {}
        self._pending: collections.Counter = collections.Counter()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may try now."""
        with self._lock:
            return self._wait(address)

    def reserve(self, address: str) -> int:
        """0 and one attempt taken, or the seconds to wait (nothing taken)."""
        with self._lock:
            wait = self._wait(address)
            if not wait:
                self._pending[address] += 1
            return wait

    def release(self, address: str, ok: bool) -> None:
        with self._lock:
            self._pending[address] -= 1
            if self._pending[address] <= 0:
                del self._pending[address]
            if ok:
                self._failures.pop(address, None)
            else:
                self._record(address)

    def failed(self, address: str) -> None:
        with self._lock:
            self._record(address)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _wait(self, address: str) -> int:
        times = self._recent(address)
        if len(times) + self._pending[address] < self.max_failures:
            return 0
        if not times:  # every attempt is still being checked
            return 1
        return max(1, int(times[0] + self.window_s - self._clock()) + 1)

    def _record(self, address: str) -> None:
        self._recent(address).append(self._clock())
        if len(self._failures) > 10_000:  # a flood of addresses: forget the oldest
            for key in list(self._failures)[:5_000]:
                del self._failures[key]

    def _recent(self, address: str) -> collections.deque:
        times = self._failures.setdefault(address, collections.deque())
        cutoff = self._clock() - self.window_s
        while times and times[0] < cutoff:
            times.popleft()
        return times


_DUMMY_HASH: str | None = None  # checked against for unknown names, so they cost the same


def check_password(password: str, what: str = "login", stored: str | None = None) -> bool:
    """The one place a password is checked: rate-limited per address (429 when spent).
    Against the owner's hash unless `stored` (a trainer account's) is given."""
    from web.access import ctx

    limiter = ctx()["limiter"]
    address = request.remote_addr or "?"
    wait = limiter.reserve(address)
    if wait:
        security.warning("%s refused for %s: too many failed passwords", what, address)
        raise TooManyRequests(retry_after=wait)
    ok = False
    try:
        ok = verify_password(password, stored if stored is not None else stored_hash())
    finally:
        limiter.release(address, ok)
    if not ok:
        security.warning("wrong password (%s) from %s", what, address)
    return ok


def check_login(name: str, password: str) -> dict | None:
    """The account whose name and password these are, or None (rate-limited like every check).
    An empty name is the owner (the single-password login of earlier releases)."""
    global _DUMMY_HASH
    from web.access import ctx

    name = (name or "").strip()[:64] or ACCOUNT
    account = ctx()["store"].get_account(name)
    if account is None or (account["role"] != "owner" and not account["password_hash"]):
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_hex(8))
        check_password(password, "login", _DUMMY_HASH)  # same cost, counts as a failure
        return None
    stored = stored_hash() if account["role"] == "owner" else account["password_hash"]
    if not stored:
        return None
    return _public(account) if check_password(password, "login", stored) else None


def _public(account: dict) -> dict:
    return {"id": account["id"], "name": account["name"], "role": account["role"]}


def account_hash(account: dict | None) -> str | None:
    """The password hash an account's sessions are bound to."""
    if account is None:
        return None
    return stored_hash() if account["role"] == "owner" else account.get("password_hash")


def current_account() -> dict | None:
    """{"id", "name", "role"} of this request's logged-in account, or None."""
    return g.get("ohsa_account")


def require_role(role: str):
    """Decorator: only an account with `role` (the owner) may use this view; others get 403."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            account = current_account()
            if account is None or account["role"] != role:
                security.warning("%s refused to %s (needs the %s)", request.path[:100],
                                 account["name"] if account else "nobody", role)
                abort(403, f"Only the {role} can do this.")
            return view(*args, **kwargs)
        return wrapped
    return decorate


def stored_hash() -> str | None:
    from web.access import ctx

    return owner.read_hash(ctx()["data_dir"])


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


def _now() -> float:
    from web.access import ctx

    return ctx()["clock"]()


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def is_trainer() -> bool:
    """Whether this request carries a live trainer session (checked once by `load_session`)."""
    return bool(g.get("ohsa_trainer", False))


def load_session(kiosk: bool) -> None:
    """Check the cookie's session against the store: ended, idle, too old, or from before the
    password changed all mean logged out (the row goes). Otherwise note this request."""
    from web.access import ctx

    g.ohsa_trainer = False
    g.ohsa_account = None
    sid = session.get("sid")
    if not isinstance(sid, str) or not sid:
        return
    store, key, now = ctx()["store"], _digest(sid), _now()
    row = store.get_session(key)
    account = store.get_account(row["account"]) if row is not None else None
    reason = None
    if row is None:
        reason = "ended"
    elif account is None:
        reason = "account removed"
    elif row["credential"] != owner.fingerprint(account_hash(account)):
        reason = "password changed"
    elif now - row["created_at"] > MAX_AGE_S:
        reason = "too old"
    elif now - row["seen_at"] > (KIOSK_IDLE_S if kiosk else IDLE_S):
        reason = "idle"
    if reason:
        if row is not None:
            store.end_session(key)
            security.info("trainer session ended (%s) for %s", reason, request.remote_addr)
        session.pop("sid", None)
        return
    if now - row["seen_at"] >= TOUCH_S:
        store.touch_session(key, now)
    g.ohsa_trainer = True
    g.ohsa_account = _public(account)


def log_in(account: dict | None = None) -> None:
    """A new session (and CSRF token) for `account` (the owner when None); stale rows are
    cleared on the way."""
    from web.access import ctx

    store, now = ctx()["store"], _now()
    full = store.get_account(account["name"] if account else ACCOUNT)
    old = session.get("sid")
    if isinstance(old, str) and old:
        store.end_session(_digest(old))
    store.end_sessions(seen_before=now - IDLE_S, created_before=now - MAX_AGE_S)
    sid = secrets.token_urlsafe(32)
    store.create_session(_digest(sid), full["name"], owner.fingerprint(account_hash(full)), now)
    session.clear()
    session.permanent = True
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    g.ohsa_trainer = True
    g.ohsa_account = _public(full)
    security.info("%s (%s) logged in from %s", full["name"], full["role"], request.remote_addr)


def log_out() -> None:
    from web.access import ctx

    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        ctx()["store"].end_session(_digest(sid))
    session.clear()
    g.ohsa_trainer = False
    g.ohsa_account = None


def end_all_sessions(account: str = ACCOUNT) -> int:
    """Every session of one account (the owner's by default): a password change."""
    from web.access import ctx

    return ctx()["store"].end_sessions(account)


def is_local(address: str | None) -> bool:
    """Whether a request from `address` comes from this machine (loopback)."""
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def _ip(address: str | None):
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:  # a dual-stack socket's IPv4 client
        ip = ip.ipv4_mapped
    return ip


def is_kiosk(address: str | None, kiosk_addresses) -> bool:
    """Whether a request from `address` comes from the station's own screen."""
    ip = _ip(address)
    if ip is None:
        return False
    if ip.is_loopback:
        return True
    for allowed in kiosk_addresses:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def app_settings(store, cookie_name: str, max_bytes: int) -> dict:
    """Flask settings for an app with trainer logins (the station's, the hub's): the signing
    key, made once and kept in the store's meta; a strict, script-proof session cookie."""
    key = store.get_meta(SECRET_META)
    if not key:
        key = secrets.token_hex(32)
        store.set_meta(SECRET_META, key)
    return {"SECRET_KEY": key, "SESSION_COOKIE_NAME": cookie_name, "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Strict", "MAX_CONTENT_LENGTH": max_bytes,
            "PERMANENT_SESSION_LIFETIME": datetime.timedelta(seconds=MAX_AGE_S)}


def login_form(template: str, default_target: str):
    """The login form's answer (the station's trainer login and the hub's): on a right name and
    password a session and a redirect to the page asked for (never another host), else the form
    again, 401 after a wrong try."""
    from flask import redirect, render_template, request

    target = safe_next(request.values.get("next"), default_target)
    error = None
    if request.method == "POST":
        account = check_login(request.form.get("name", ""), request.form.get("password", ""))
        if account:
            log_in(account)
            return redirect(target)
        error = "Wrong name or password."
    return render_template(template, error=error, next=target), (401 if error else 200)


def safe_next(target: str | None, default: str) -> str:
    """A local path to go to after login, never another host.

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so
    "/%09/evil.example" (a tab) becomes `//evil.example`: anything but printable ASCII is refused, then
    the rest must be a path on this site ("/x", not "//x" nor "scheme:").
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return default
    if any(not (0x21 <= ord(c) < 0x7F) or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    return target


# -- Host header ------------------------------------------------------------------------------

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
_own_cache: dict[str, tuple[float, bool]] = {}
_own_lock = threading.Lock()
_OWN_TTL_S = 60.0


def host_name(host_header: str | None) -> str:
    """The name or address in a Host header, without the port, lower case ("" when malformed)."""
    host = (host_header or "").strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else ""
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host


def host_allowed(host_header: str | None, config) -> bool:
    """Whether a request naming `host_header` is meant for this station: loopback, the
    configured public URL's host or listen address, this machine's name (and .local), or an
    address of one of its interfaces. Anything else is refused (DNS rebinding)."""
    host = host_name(host_header)
    if not host or len(host) > 253:
        return False
    if host in LOCAL_NAMES:
        return True
    web = config.web
    if web.public_url and host == (urlsplit(web.public_url).hostname or "").lower():
        return True
    if web.host not in ("0.0.0.0", "::", "") and host == web.host.lower():
        return True
    name = socket.gethostname().lower()
    if host in (name, name + ".local"):
        return True
    ip = _ip(host)
    return ip is not None and (ip.is_loopback or _is_own_address(str(ip)))


def _is_own_address(address: str) -> bool:
    """Whether this machine has `address` on an interface (a bind test: sends nothing)."""
    now = time.monotonic()
    with _own_lock:
        hit = _own_cache.get(address)
        if hit and now - hit[0] < _OWN_TTL_S:
            return hit[1]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((address, 0))
        own = True
    except OSError:
        own = False
    with _own_lock:
        if len(_own_cache) > 1000:
            _own_cache.clear()
        _own_cache[address] = (now, own)
    return own
