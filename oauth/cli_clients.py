"""CLI: `flask clients create|list|delete|secret` and `flask resources add|list|delete`."""

from __future__ import annotations

import click


@click.group("clients")
def clients_cli() -> None:
    """Manage OAuth2 clients (applications)."""


@click.group("resources")
def resources_cli() -> None:
    """Manage protected resources (RFC 8707 audiences) and their scopes."""
