"""The station's web pages: kiosk (no login), trainer area (login), JSON API.

    app = create_app(store, station=station_control, config=config, data_dir=data_dir)
    server = web.server.serve(app, host, port)      # Waitress in a background thread
    server.stop()

Access is default-deny: a view is reachable without a trainer login only when it is marked
`@public` (the kiosk pages, the share link, the status API). Every POST carries the session's
CSRF token. See README.md, "JSON API", for the API.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from flask import Flask

from device import config as device_config
from device import owner, paths
from web import auth
from web import access
from web.access import public
from web.i18n import trainer_when

log = logging.getLogger(__name__)

__all__ = ["create_app", "public"]


def create_app(store, station=None, config=None, data_dir=None, testing=False, config_path=None,
               clock=time.time) -> Flask:
    """The Flask app over `store` (device.store.Store) and `station` (StationControl or None).

    `config` is the station's checked `device.config.Config` (a plain dict is checked here;
    defaults when None); `config_path` is where the settings page saves it (default:
    device.paths.config_file(), else /etc/ohsa/ohsa.toml); `data_dir` holds the owner
    password file (device/owner.py); `clock` (seconds) times the trainer sessions.
    """
    if not isinstance(config, device_config.Config):
        config = device_config.validate(config or {})  # ConfigError naming the key if bad
    app = Flask(__name__)
    app.config.update(TESTING=testing, **auth.app_settings(store, "ohsa_session", 256 * 1024))  # forms only
    from web import api, compare, deletion, keypad, kiosk, owner_page, people, settings_apply, trainer

    app.extensions["ohsa"] = {
        "store": store,
        "station": station,
        "config": config,
        "config_path": Path(config_path) if config_path else (paths.config_file() or paths.SYSTEM_CONFIG),
        "data_dir": Path(data_dir) if data_dir else paths.data_dir(),
        "limiter": auth.LoginLimiter(),
        "clock": clock,
        "stopping": False,  # set by web.server on stop: live streams end
        "streams": threading.BoundedSemaphore(api.MAX_STREAMS),
    }

    _move_old_password(store, app.extensions["ohsa"]["data_dir"])
    app.register_blueprint(kiosk.bp)
    app.register_blueprint(trainer.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(keypad.bp)
    for bp in (compare.bp, deletion.bp, owner_page.bp, settings_apply.bp):  # issue 15, the trainer's day
        app.register_blueprint(bp)

    app.before_request(_guard)
    app.after_request(access.security_headers)
    app.jinja_env.globals.update(
        csrf_token=auth.csrf_token,
        is_trainer=auth.is_trainer,
        on_kiosk=kiosk.from_kiosk,  # the station's own screen shows no way into the trainer area
    )
    # the name in force (an in-process restart with new settings replaces the config)
    app.context_processor(lambda: {"station_name": app.extensions["ohsa"]["config"].station.name})
    app.jinja_env.filters["when"] = trainer_when
    access.plain_errors(app, "message.html")
    return app


def _move_old_password(store, data_dir: Path) -> None:
    """A hash kept in the database by an older release moves to the owner file (once)."""
    old = store.get_meta(auth.PASSWORD_META)
    if not old:
        return
    if owner.read_hash(data_dir) is None:
        owner.create_hash(data_dir, old)
    store.set_meta(auth.PASSWORD_META, None)


def _guard():
    from web.kiosk import from_kiosk

    return access.gate(from_kiosk(), "trainer.login", "station")
