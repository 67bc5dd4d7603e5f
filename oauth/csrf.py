"""CSRF protection for every browser form (Flask-WTF).

Blueprints that clients call directly are exempted in create_app; the JSON management API
re-applies it for session (not token) callers, and RP logout's confirmation form checks itself.
"""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # Flask-WTF's WTF_CSRF_METHODS


def init_csrf(app: Flask) -> None:
    """Check the CSRF token of every unsafe request to `app` (exempted blueprints aside).

    Flask-WTF's own hook looks the exemptions up before the method, on every request; this
    one asks the method first, so a GET (every discovery request, every page view) costs one
    set lookup, and asks Flask-WTF whether an endpoint is exempt once, not on every POST
    (exemptions are made in create_app, before the app serves). The check itself is
    Flask-WTF's.
    """
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False)  # Flask-WTF's hook stands aside for ours
    csrf.init_app(app)
    config = app.config
    exempt: dict[str, bool] = {}  # endpoint -> exempted from the check

    @app.before_request
    def csrf_protect() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
        if req.method in UNSAFE_METHODS and config["WTF_CSRF_ENABLED"]:
            endpoint = req.endpoint
            if endpoint is None:  # no route: the 404 or 405 follows (Flask-WTF skips it too)
                return
            skip = exempt.get(endpoint)
            if skip is None:
                skip = exempt[endpoint] = csrf._is_exempt()  # Flask-WTF's own rule
            if not skip:
                csrf.protect()
