"""Sign-in and sign-out pages: /login, /logout."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("login", __name__)
