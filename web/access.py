"""Who reaches what: the views reachable without a login (everything else needs one), the gate
every request passes and the security headers every answer carries. The station's app (web/)
and the chain's hub (hub/app.py) both use them, so both keep the same rules."""

from flask import abort, current_app, jsonify, make_response, redirect, render_template, request, url_for


def public(view):
    """Decorator: this view needs no login (kiosk pages, share links, status API)."""
    view.ohsa_public = True
    return view


def gate(kiosk: bool, login_endpoint: str, place: str):
    """Before each request: our own Host only; default deny: a login for everything not
    @public; a CSRF token on every state change. `kiosk`: the request comes from the station's
    own screen; `place` names the server in the refusal ("station", "hub")."""
    from web import auth

    if not auth.host_allowed(request.host, current_app.extensions["ohsa"]["config"]):
        auth.security.warning("%s: request for unknown host %r from %s refused", place, request.host[:100],
                              request.remote_addr)
        return make_response(f"unknown host: open the {place} by its own address\n", 421,
                             {"Content-Type": "text/plain; charset=utf-8"})
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None:
        return None  # 404/405 follow
    auth.load_session(kiosk=kiosk)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not auth.csrf_ok():
        abort(403, "CSRF token missing or wrong: reload the page and try again.")
    if request.endpoint == "static" or getattr(view, "ohsa_public", False) or auth.is_trainer():
        return None
    if request.path.startswith("/api/"):
        return jsonify(error="login required"), 401
    if request.method == "GET":
        return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?")))
    abort(401)


def security_headers(response):
    """After each request: no foreign scripts, frames or referrers (share links carry their
    token); nothing but static files cached."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


TITLES = {400: "That did not work", 401: "Login needed", 403: "Not allowed here", 404: "Not found",
          405: "Not allowed", 413: "Too large"}


def plain_errors(app, template: str) -> None:
    """The error answers of an app (the station's, the hub's): a plain page made with `template`
    (title, message), or JSON under /api/; 429 after too many wrong passwords says how long to
    wait."""
    def answer(code: int, title: str, text: str, api_text: str):
        if request.path.startswith("/api/"):
            response = jsonify(error=api_text)
        else:
            response = make_response(render_template(template, title=title, message=text))
        response.status_code = code
        return response

    def error(e):
        mine = e.description if e.description and not e.description.startswith(("The ", "You ")) else None
        return answer(e.code, TITLES.get(e.code, e.name), mine or e.description, mine or e.name)

    def too_many(e):
        retry = getattr(e, "retry_after", None) or 60
        text = f"Too many failed logins from this address. Try again in {retry} s."
        response = answer(429, "Please wait", text, text)
        response.headers["Retry-After"] = str(retry)
        return response

    app.register_error_handler(429, too_many)
    for code in TITLES:
        app.register_error_handler(code, error)


def ctx() -> dict:
    """The app's station objects: store, station, config, config_path, data_dir, limiter."""
    return current_app.extensions["ohsa"]


def owner_only(view):
    """Decorator: only the owner (settings, deletion, the owner's page): web.auth.require_role."""
    from web import auth

    return auth.require_role("owner")(view)
