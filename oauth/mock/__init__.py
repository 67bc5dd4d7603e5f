"""Mock identity provider mode (GATEHOUSE_MOCK=1), for testing the apps that use Gatehouse.

- provider.py: the switches, passwordless sign-in, users with extra claims;
- clients.py: clients adopted on the fly, tokens minted without a flow;
- forced.py: errors queued for the next request to an endpoint;
- api.py: the control API (/api/v2/mock/, blueprint "mock").

Without mock mode neither the control API nor the forced-error hook exists: `init_app` adds
them only when MOCK is on (the perimeter keeps mock mode on this machine, oauth/ops/perimeter).
"""

from __future__ import annotations

from flask import Flask

from oauth.mock import api, forced
from oauth.session import csrf


def init_app(app: Flask) -> None:
    """In mock mode: the control API, and a forced-error check before every request."""
    if not app.config["MOCK"]:
        return
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # JSON for test code; a browser page cannot call it (see api.py)
    app.before_request(forced.answer_forced_error)
