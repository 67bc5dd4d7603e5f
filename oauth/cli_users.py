"""CLI: `flask users create|list|delete|token`."""

from __future__ import annotations

import click


@click.group("users")
def users_cli() -> None:
    """Manage user accounts."""
