"""The grants the token endpoint runs (RFC 6749 §3.2): one module per grant_type, one table.

A grant takes (client, client_secret_row_or_None, form) and returns the token response body or
raises OAuthError; the endpoint has already authenticated the client and checked that it
registered the grant type. Tokens themselves are minted in issue.py.
"""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.datastructures import MultiDict

from models import Client, ClientSecret
from oauth.constants import DEVICE_CODE_GRANT
from oauth.grants import authorization_code, client_credentials, device_code, refresh_token

Grant = Callable[[Client, ClientSecret | None, MultiDict], dict]

GRANTS: dict[str, Grant] = {
    "authorization_code": authorization_code.authorization_code,
    "refresh_token": refresh_token.refresh_token,
    "client_credentials": client_credentials.client_credentials,
    DEVICE_CODE_GRANT: device_code.device_code,
}
