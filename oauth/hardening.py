"""Broken request bodies are a 4xx on every endpoint, never a 500.

- JSON nested deeper than Python's recursion limit makes `json.loads` raise RecursionError
  inside `request.get_json()`, which every caller expects to raise ValueError (or, silent,
  to return None). The app's JSON provider turns the one into the other.
- A page (an HTML form endpoint) posted as JSON reaches Flask-WTF, which wraps the JSON as
  form data and fails on anything but an object. Pages take forms: 415.
- A body the HTTP server cannot decode (a broken chunked encoding, a truncated upload) only
  surfaces as gunicorn's ParseException or NoMoreData while the view reads the form: 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, abort, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

try:  # gunicorn serves production and the live tests; the test client needs no server
    from gunicorn.http.errors import NoMoreData, ParseException

    BODY_ERRORS: tuple[type[Exception], ...] = (ParseException, NoMoreData)
except ImportError:  # pragma: no cover
    BODY_ERRORS = ()


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with over-deep nesting reported as the ValueError callers handle."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None


def init_app(app: Flask, wants_json: Callable[[], bool]) -> None:
    """Install the JSON provider, the pages-take-forms rule and the broken-body handler."""
    app.json = SafeJSONProvider(app)

    @app.before_request
    def pages_take_forms() -> None:
        if request.method in ("POST", "PUT", "PATCH") and request.is_json and not wants_json():
            abort(415, "This page takes form posts (application/x-www-form-urlencoded).")

    for error in BODY_ERRORS:
        app.register_error_handler(error, _broken_body)


def _broken_body(exc: Exception):
    current_app.logger.info("unreadable request body: %s %s", request.method, request.path)
    return current_app.handle_http_exception(BadRequest("The request body could not be read."))
