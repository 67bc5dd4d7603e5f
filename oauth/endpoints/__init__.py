"""Thin blueprints, one per endpoint family: read the request, call the rules and grants,
answer. Blueprint names are part of `url_for` and the templates."""
