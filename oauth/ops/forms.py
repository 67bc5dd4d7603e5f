"""Request bodies: every OAuth endpoint takes `application/x-www-form-urlencoded` (RFC 6749
§3.2, §4.1.3), so the app's request class reads those in one step.

Werkzeug's general form parser (a parser object, its dispatch on the type, multipart limits)
costs more per request than the form itself. `Request` reads a urlencoded body exactly as
Werkzeug's urlencoded branch does (UTF-8, blank values kept, undecodable escapes kept as
escapes, a body that is not UTF-8 read as an empty form) and leaves every other type,
multipart included, to Werkzeug. The body is limited as before: MAX_CONTENT_LENGTH by the
input stream, a chunked body by hardening.limit_chunked_body.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import flask

FORM = "application/x-www-form-urlencoded"


class Request(flask.Request):
    """Flask's request, with urlencoded forms parsed without the general parser."""

    @property
    def max_content_length(self) -> int | None:
        # As Flask's, with one context lookup instead of two: reading a body asks twice.
        if self._max_content_length is not None:
            return self._max_content_length
        if not flask.has_app_context():
            return None  # Werkzeug's default: no limit of the app's own
        app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
        return app.config["MAX_CONTENT_LENGTH"]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        if self.mimetype != FORM:
            super()._load_form_data()
            return
        stream = self._get_stream_for_parsing()
        try:
            text = stream.read().decode()
            items = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
        except ValueError:  # a body that is not UTF-8: an empty form, as Werkzeug gives
            items = []
        # As Werkzeug does: set the cached properties' values directly.
        self.__dict__.update(
            stream=stream,
            form=self.parameter_storage_class(items),
            files=self.parameter_storage_class(),
        )
