"""Dynamic client registration (RFC 7591) and management (RFC 7592).

Policy `REGISTRATION`: `open`, `admin` (an initial access token from
`flask registration token` is required) or `off`. Registrations are rate-limited per address
(rules/throttle.py), so the limit holds across workers. Secrets and registration access
tokens are shown once and stored only as digests. The `registration token` CLI is here too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import click
from flask import Blueprint, Response, current_app, request

from models import Client, ClientSecret, InitialAccessToken, audit, db, utcnow
from oauth import crypto
from oauth.constants import CLIENT_CONFIGURATION_PATH
from oauth.errors import (
    AccessDenied,
    InvalidClientMetadata,
    InvalidToken,
    TooManyRequests,
    answer_oauth_errors_as_json,
    json_no_store,
    no_store,
)
from oauth.manage import apps
from oauth.params import bearer_token
from oauth.rules import throttle
from oauth.rules.client_metadata import check_client_metadata, metadata_json
from oauth.rules.id_token import epoch
from oauth.session import client_ip

bp = answer_oauth_errors_as_json(Blueprint("registration", __name__, url_prefix="/oauth2"))

INITIAL_TOKEN_TTL = 7 * 86400
# Response members the server sets; a client's values for them are ignored (RFC 7591 §3.1).
SERVER_MEMBERS = ("registration_access_token", "registration_client_uri", "client_id_issued_at")


def invalid(field: str, detail: str) -> InvalidClientMetadata:
    """RFC 7591 §3.2.2 invalid_client_metadata, naming the field."""
    return InvalidClientMetadata(f"{field} {detail}.")


def client_information(
    client: Client, issuer: str, secret: str | None = None, token: str | None = None
) -> dict[str, Any]:
    """RFC 7591 §3.2.1 / RFC 7592 §3 client information response (no stored hash, ever)."""
    info: dict[str, Any] = {"client_id": client.client_id}
    if secret is not None:
        info["client_secret"] = secret
    if not client.is_public:
        info["client_secret_expires_at"] = 0  # never expires
    info["client_id_issued_at"] = epoch(client.created_at)
    if token is not None:
        info["registration_access_token"] = token
    info["registration_client_uri"] = (
        f"{issuer}{CLIENT_CONFIGURATION_PATH}/{quote(client.client_id, '')}"
    )
    info.update(metadata_json(client))
    return info


def read_json() -> Any:
    """The JSON body; any other content type or malformed JSON is invalid_client_metadata."""
    if not request.is_json:
        raise invalid("The request body", "must be JSON (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if data is None:
        raise invalid("The request body", "is not valid JSON")
    return data


def check_policy() -> None:
    if current_app.config["REGISTRATION"] == "off":
        raise AccessDenied("Dynamic client registration is turned off.", 403)


def check_rate_limit() -> None:
    """Registration attempts per address per minute, counted in SQLite (rules/throttle.py)."""
    buckets = throttle.registration_buckets(client_ip())
    try:
        throttle.reserve(buckets, throttle.REGISTRATION_WINDOW)
    except throttle.Throttled as exc:
        raise TooManyRequests("Too many registrations; retry later.", exc.retry_after) from None


def check_initial_access_token() -> InitialAccessToken | None:
    """In `admin` mode, the live, unused initial access token the request carries (§3)."""
    if current_app.config["REGISTRATION"] != "admin":
        return None
    token = bearer_token()
    if token is None or not crypto.has_kind(token, crypto.INITIAL_ACCESS_TOKEN):
        raise InvalidToken("An initial access token is required to register.")
    row = InitialAccessToken.get_or_none(token_hash=crypto.sha256_hex(token))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise InvalidToken("The initial access token is invalid, used or expired.")
    return row


def save_registration(
    clean: dict[str, Any], initial: InitialAccessToken | None
) -> tuple[Client, str | None, str]:
    """Create the client and its registration access token: (client, secret, token)."""
    token, token_hash = crypto.new_secret(crypto.REGISTRATION_TOKEN)
    with db.atomic("IMMEDIATE"):
        if initial is not None:  # single use: claim it in the same transaction
            claimed = (
                InitialAccessToken.update(used_at=utcnow())
                .where(InitialAccessToken.id == initial.id, InitialAccessToken.used_at.is_null())
                .execute()
            )
            if not claimed:
                raise InvalidToken("The initial access token is invalid, used or expired.")
        clean = {**clean, "registration_token_hash": token_hash}
        client, secret = apps.create_client(
            clean, "dcr", client_ip(), registration="dynamic", vetted=False
        )
    return client, secret, token


@bp.post("/register")
def register():
    """Client registration endpoint (RFC 7591 §3)."""
    check_policy()
    check_rate_limit()
    initial = check_initial_access_token()
    clean = check_client_metadata(read_json())
    client, secret, token = save_registration(clean, initial)
    info = client_information(client, current_app.config["ISSUER"], secret, token)
    return json_no_store(info, 201)


def registered_client(client_id: str) -> tuple[Client, str]:
    """The dynamically registered client a registration access token manages (RFC 7592 §2)."""
    token = bearer_token()
    if token is None or not crypto.has_kind(token, crypto.REGISTRATION_TOKEN):
        raise InvalidToken("A registration access token is required.")
    client = Client.get_or_none(
        Client.registration_token_hash == crypto.sha256_hex(token),
        Client.registration == "dynamic",
    )
    if client is None or client.client_id != client_id:
        raise InvalidToken("The registration access token is not valid for this client.")
    return client, token


def check_update(client: Client, data: Any) -> dict[str, Any]:
    """RFC 7592 §2.2: same client_id, matching client_secret if sent, same client type."""
    if not isinstance(data, dict) or data.get("client_id") != client.client_id:
        raise invalid("client_id", "must be sent and equal the registered client_id")
    secret = data.get("client_secret")
    if secret is not None and not any(
        isinstance(secret, str) and crypto.matches(secret, row.secret_hash)
        for row in ClientSecret.select().where(ClientSecret.client == client)
    ):
        raise invalid("client_secret", "does not match the current secret")
    body = {k: v for k, v in data.items() if k not in SERVER_MEMBERS}
    stored = {"auth_method": client.token_endpoint_auth_method}
    clean = check_client_metadata(body, stored, vetted=client.vetted)
    if clean["client_type"] != client.client_type:
        detail = "cannot switch between public and confidential; register a new client"
        raise invalid("token_endpoint_auth_method", detail)
    return clean


@bp.route("/clients/<client_id>", methods=["GET", "PUT", "DELETE"])
def configuration(client_id: str):
    """Client configuration endpoint (RFC 7592 §2): read, replace or delete."""
    client, token = registered_client(client_id)
    issuer = current_app.config["ISSUER"]
    if request.method == "DELETE":
        apps.delete_client(client, "dcr", client_ip())
        return no_store(Response(status=204))
    if request.method == "PUT":
        clean = check_update(client, read_json())
        apps.update_client(client, clean, "dcr", client_ip())
    # RFC 7592 §3 requires the token in the response; it is the one the client just sent.
    return json_no_store(client_information(client, issuer, token=token))


# -- CLI -----------------------------------------------------------------------------------


@click.group("registration")
def registration_cli() -> None:
    """Dynamic client registration."""


@registration_cli.command("token")
@click.option("--ttl", default=INITIAL_TOKEN_TTL, show_default=True, help="Lifetime in seconds.")
def initial_token_command(ttl: int) -> None:
    """Print a new single-use initial access token (for GATEHOUSE_REGISTRATION=admin)."""
    value, digest = crypto.new_secret(crypto.INITIAL_ACCESS_TOKEN)
    now = utcnow()
    with db.connection_context(), db.atomic():
        InitialAccessToken.create(
            token_hash=digest, created_at=now, expires_at=now + timedelta(seconds=ttl)
        )
        audit("cli", "registration.initial_token", changes={"ttl": [None, ttl]})
    click.echo(value)
