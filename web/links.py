"""Share links: the unguessable, expiring URL a phone opens from the result page's QR code."""

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
    token = store.create_share_token(assessment_id, ctx()["config"]["web"]["result_link_days"])
    store.set_meta(key, token)
    return token


def forget(assessment_ids) -> None:
    """Drop the remembered share tokens of deleted assessments (the tokens died with them)."""
    store = ctx()["store"]
    for aid in assessment_ids:
        store.set_meta(_META_PREFIX + aid, None)


def base_url() -> str:
    """Where phones on the gym's network reach this station: web.public_url, else a guess.

    The kiosk itself browses 127.0.0.1, which a phone cannot use, so a loopback host is replaced
    by the station's address on its local network (found without sending anything).
    """
    configured = ctx()["config"]["web"]["public_url"].strip()
    if configured:
        return configured.rstrip("/")
    host = request.host.rsplit(":", 1)[0].strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1"):
        return request.host_url.rstrip("/")
    port = request.host.rsplit(":", 1)[1] if ":" in request.host else ""
    address = _lan_address()
    return f"http://{address}{':' + port if port else ''}"


def _lan_address() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 9))  # UDP connect picks a route; sends nothing
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname() + ".local"


def qr_svg(data: str, *, error: str = "m", title: str | None = None, svgclass: str = "segno") -> str:
    """The QR code of `data` as inline SVG (no style attributes, so the page's CSP allows it).

    With `title` the code is small (2 px a module, the quiet zone around it) and named for
    screen readers: the second code beside the take-home one.
    """
    qr = segno.make(data, error=error, micro=False)
    if title is None:
        return qr.svg_inline(scale=4, border=2, dark="#000", light="#fff", svgclass=svgclass)
    svg = qr.svg_inline(scale=2, border=QUIET_ZONE, dark="#000", light="#fff", svgclass=svgclass, title=title)
    return svg.replace("<svg ", '<svg role="img" shape-rendering="crispEdges" ', 1)


TAKE_HOME_PX = 300  # the take-home code's size on the kiosk's 800x480 screen, at most
# 3 px a module (0.57 mm on the 7-inch screen) reads well with a phone and with OpenCV: within
# 300 px that is up to version 19 (93 modules), about 700 characters at error correction L.
QUIET_ZONE = 4  # modules of white around a QR code (ISO/IEC 18004)


def take_home_qr(text: str) -> dict:
    """The plan's compact text as a QR code any phone camera reads without a network.

    Error correction L keeps the code small; every module is a whole number of pixels (at least
    2) so the screen shows it sharp. {"svg", "version", "chars", "modules", "module_px"}.
    """
    qr = segno.make(text, error="l", micro=False)
    modules = qr.symbol_size(scale=1, border=QUIET_ZONE)[0]
    module_px = max(2, TAKE_HOME_PX // modules)
    svg = qr.svg_inline(scale=module_px, border=QUIET_ZONE, dark="#000", light="#fff",
                        svgclass="segno take-home-code", title="QR code with your plan as text")
    svg = svg.replace("<svg ", '<svg role="img" shape-rendering="crispEdges" ', 1)  # sharp at any offset
    return {"svg": svg, "version": qr.version, "chars": len(text),
            "modules": modules, "module_px": module_px}
