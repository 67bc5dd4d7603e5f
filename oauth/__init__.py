"""Gatehouse's OAuth 2.1 / OpenID Connect blueprints and the pure protocol helpers they call."""
