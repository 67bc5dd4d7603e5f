"""The client_credentials grant (RFC 6749 §4.4): a token for a vetted confidential client
itself, with no user, no refresh token and no user scopes."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from models import Client, ClientSecret, db
from oauth.errors import UnauthorizedClient
from oauth.grants import issue
from oauth.params import form_param
from oauth.rules.resource import audience_for, resource_param
from oauth.rules.scope import check_machine_scope


def client_credentials(client: Client, secret: ClientSecret | None, form: MultiDict) -> dict:
    """A token for the client itself: vetted confidential clients only, no user, no refresh
    token, no user scopes."""
    if client.is_public:
        raise UnauthorizedClient("Public clients cannot use client_credentials.")
    if not client.vetted:  # one that registered itself before this rule, or changed since
        raise UnauthorizedClient(
            "Only clients an administrator created or vetted may use client_credentials."
        )
    scopes = check_machine_scope(client, form_param(form, "scope"))
    audience = audience_for(resource_param(form), issue.app_config()["ISSUER"])
    with db.atomic("IMMEDIATE"):  # a write transaction: it queues for the write lock
        return issue.issue(
            client,
            None,
            scopes,
            audience,
            "client_credentials",
            client_secret=secret,
            refresh=False,
        )
