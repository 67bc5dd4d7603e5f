"""The signed-in user's own pages: /account/apps (authorized apps, revoke)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")
