"""Request bodies: every OAuth endpoint takes `application/x-www-form-urlencoded` (RFC 6749
§3.2, §4.1.3), so the app's request class reads those in one step.

Werkzeug's general form parser (a parser object, its dispatch on the type, multipart limits)
costs more per request than the form itself. `Request` reads a urlencoded body exactly as
Werkzeug's urlencoded branch does (UTF-8, blank values kept, undecodable escapes kept as
escapes, a body that is not UTF-8 read as an empty form) and leaves every other type,
multipart included, to Werkzeug. A body of a declared length (what clients send) is read
from the server in one call, with the checks Werkzeug's input stream makes (413 past
MAX_CONTENT_LENGTH, 400 when the client leaves before its end); any other body goes through
that stream, and a chunked one is limited by hardening.limit_chunked_body.
"""

from __future__ import annotations

import io
from urllib.parse import unquote

import flask
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

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
        body = self._declared_body()
        if body is None:
            stream = self._get_stream_for_parsing()
            body = stream.read()
        else:
            stream = io.BytesIO()  # read to its end, as Werkzeug leaves its stream
        try:
            items = pairs(body.decode())
        except ValueError:  # a body that is not UTF-8: an empty form, as Werkzeug gives
            items = []
        # As Werkzeug does: set the cached properties' values directly.
        self.__dict__.update(
            stream=stream,
            form=self.parameter_storage_class(items),
            files=self.parameter_storage_class(),
        )

    def _declared_body(self) -> bytes | None:
        """The body of a request that declares its length, read from the server as Werkzeug's
        input stream reads it; None when that stream must (no declared length, a chunked
        body, a body `get_data()` or the stream has already read, no MAX_CONTENT_LENGTH)."""
        environ = self.environ
        declared = environ.get("CONTENT_LENGTH")
        if (
            not declared
            or not (declared.isascii() and declared.isdigit())  # else Werkzeug's reading of it
            or "HTTP_TRANSFER_ENCODING" in environ
            or "stream" in self.__dict__
            or getattr(self, "_cached_data", None) is not None
        ):
            return None
        limit = self.max_content_length
        if limit is None:  # no limit of the app's own: the stream reads it in bounded steps
            return None
        length = int(declared)
        if length > limit:
            raise RequestEntityTooLarge()
        source, chunks, missing = environ["wsgi.input"], [], length
        while missing > 0:
            try:
                chunk = source.read(missing)
            except (OSError, ValueError):
                raise ClientDisconnected() from None
            if not chunk:
                if "wsgi.input_terminated" in environ:  # the server ends the body: no error
                    break
                raise ClientDisconnected()
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)


def pairs(text: str) -> list[tuple[str, str]]:
    """`urllib.parse.parse_qsl(text, keep_blank_values=True)` with Werkzeug's handling of
    undecodable escapes, the same pairs in the same order, without its general machinery:
    a token request's names and values rarely hold a `+` or a `%` (tests/ops/test_forms.py
    compares the two)."""
    found = []
    for pair in text.split("&"):
        if pair:  # empty pieces (`a=1&&b=2`) are skipped; a bare name has a blank value
            name, _, value = pair.partition("=")
            found.append((_unquote_plus(name), _unquote_plus(value)))
    return found


def _unquote_plus(part: str) -> str:
    if "+" in part:
        part = part.replace("+", " ")
    return unquote(part, errors="werkzeug.url_quote") if "%" in part else part
