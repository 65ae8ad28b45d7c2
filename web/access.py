"""Marks the views reachable without a trainer login (everything else needs one)."""

from flask import current_app


def public(view):
    """Decorator: this view needs no login (kiosk pages, share links, status API)."""
    view.ohsa_public = True
    return view


def ctx() -> dict:
    """The app's station objects: store, station, config, config_path, data_dir, limiter."""
    return current_app.extensions["ohsa"]



def owner_only(view):
    """Decorator: only the owner (settings, deletion, the owner's page): web.auth.require_role."""
    from web import auth

    return auth.require_role("owner")(view)
