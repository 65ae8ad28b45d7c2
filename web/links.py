"""Share links (the unguessable, expiring URL a phone opens from the result page) and the QR codes."""

from __future__ import annotations

import logging
import socket

import segno
from flask import request

from web.access import ctx

log = logging.getLogger(__name__)

_META_PREFIX = "share:"


def share_token(assessment_id: str) -> str:
    """This assessment's current share token; a new one when there is none or it expired."""
    store = ctx()["store"]
    key = _META_PREFIX + assessment_id
    token = store.get_meta(key)
    if token and store.resolve_share_token(token) == assessment_id:
        return token
    token = store.create_share_token(assessment_id, ctx()["config"].web.result_link_days)
    store.set_meta(key, token)
    return token


def forget(assessment_ids) -> None:
    """Drop the remembered share tokens of deleted assessments (the tokens died with them)."""
    store = ctx()["store"]
    for aid in assessment_ids:
        store.set_meta(_META_PREFIX + aid, None)


def base_url() -> str:
    """Where phones on the gym's network reach this station: web.public_url, else its address.

    Never the request's Host header (a visitor controls it): the station's address on its local
    network (found without sending anything) and the port this server listens on.
    """
    configured = ctx()["config"].web.public_url
    if configured:
        return configured.rstrip("/")
    web = ctx()["config"].web
    address = web.host if web.host not in ("0.0.0.0", "::", "", "localhost", "127.0.0.1") else _lan_address()
    port = str(request.environ.get("SERVER_PORT") or web.port)
    if ":" in address:
        address = f"[{address}]"
    return f"http://{address}{'' if port == '80' else ':' + port}"


def _lan_address() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 9))  # UDP connect picks a route; sends nothing
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname() + ".local"


TAKE_HOME_PX = 300  # the take-home code's size on the kiosk's 800x480 screen, at most
# 3 px a module (0.57 mm on the 7-inch screen) reads well with a phone and with OpenCV: within
# 300 px that is up to version 19 (93 modules), about 700 characters at error correction L.
QUIET_ZONE = 4  # modules of white around a QR code (ISO/IEC 18004)


def _svg(qr, module_px: int, title: str, svgclass: str) -> str:
    """Inline SVG without style attributes (the page's CSP allows it), named for screen readers,
    whole pixels per module and crisp edges so a screen shows it sharp at any offset."""
    svg = qr.svg_inline(scale=module_px, border=QUIET_ZONE, dark="#000", light="#fff", svgclass=svgclass,
                        title=title)
    return svg.replace("<svg ", '<svg role="img" shape-rendering="crispEdges" ', 1)


def qr_svg(url: str, *, title: str) -> str:
    """The small QR code of a link (2 px a module): the second code beside the take-home one."""
    return _svg(segno.make(url, error="m", micro=False), 2, title, "segno")


def take_home_qr(text: str, title: str = "QR code with your plan as text") -> dict:
    """The plan's compact text as a QR code any phone camera reads without a network.

    Error correction L keeps the code small; every module is a whole number of pixels (at least
    2) within TAKE_HOME_PX. {"svg", "version", "chars", "modules", "module_px"}.
    """
    qr = segno.make(text, error="l", micro=False)
    modules = qr.symbol_size(scale=1, border=QUIET_ZONE)[0]
    module_px = max(2, TAKE_HOME_PX // modules)
    return {"svg": _svg(qr, module_px, title, "segno take-home-code"),
            "version": qr.version, "chars": len(text), "modules": modules, "module_px": module_px}
