"""OpenID Connect UserInfo (OIDC Core §5.3) and RP-initiated logout."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("userinfo", __name__, url_prefix="/oauth2")
