"""The playground (/playground): a teaching page that runs the OAuth flows live, in the browser.

The browser is the OAuth client. static/playground.js calls the real endpoints of this server
with fetch() and shows every request and response; the server only serves the page and the
callback page that hands the authorization response (`code`, `state`, `iss`) back to it. No
endpoint here touches tokens: the playground registers its own clients with RFC 7591, and the
two that must be vetted (the machine client and the resource server that introspects) are
created with the management API by the signed-in administrator.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("playground", __name__, url_prefix="/playground")


def page_settings() -> dict[str, str]:
    """What the page needs: where the API is, where to come back to, and the token lifetimes."""
    cfg = current_app.config
    issuer = cfg["ISSUER"]
    seconds = {  # the refresh step draws these on one time axis
        name.lower(): str(int(float(cfg[name])))
        for name in ("ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "REFRESH_TOKEN_ABSOLUTE_TTL")
    }
    return {
        "issuer": issuer,
        "api_url": f"{issuer}/api/v2/users/me",
        "redirect_uri": f"{issuer}/playground/callback",
        "reuse_grace": str(int(float(cfg["REFRESH_TOKEN_REUSE_GRACE"]))),
        "registration": cfg["REGISTRATION"],
        **seconds,
    }


@bp.get("")
def playground():
    """The step-by-step page; reachable signed out (step 6 asks you to sign in)."""
    return render_template("playground/index.html", settings=page_settings())


@bp.get("/callback")
def callback():
    """The redirect URI: the page's script stores the response and returns to /playground.

    The query (a code, or an error) is read only by the browser; the server neither logs nor
    keeps it (the access log has no query strings).
    """
    return render_template("playground/callback.html")
