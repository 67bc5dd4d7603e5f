"""The app's request class reads urlencoded bodies exactly as Werkzeug's form parser does."""

from __future__ import annotations

import io
import random
from urllib.parse import parse_qsl

import flask
import pytest
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from oauth.ops.forms import Request, pairs

BODIES = [
    b"grant_type=authorization_code&code=gac_abc&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb",
    b"scope=openid+profile&scope=email&empty=&flag",  # repeats, blanks, a bare name
    b"name=%C3%A9t%C3%A9&bad=%FF%FE&plus=a+b%2Bc",  # UTF-8, undecodable escapes, + and %2B
    b"",
    b"&&a=1&&",
    b"a=b=c&=v&n%3Dx=1&%26=%25&a+b%2Bc=d",  # "=" in values and names, escaped separators
    b"%zz=%2&x=%E2%82&y=%u00e9&;=;&tab=%09",  # broken escapes, a cut sequence, ";" literal
    "k=\u00e9t\u00e9&\u2603=snow".encode(),  # raw UTF-8
]
FORM = "application/x-www-form-urlencoded"


LIMIT = 64 * 1024  # MAX_CONTENT_LENGTH's default: without one, Werkzeug's stream reads it all


def limited(request: flask.Request) -> flask.Request:
    request.max_content_length = LIMIT
    return request


def environ(body: bytes, content_type: str) -> dict:
    env = EnvironBuilder("/t", method="POST", data=body, content_type=content_type).get_environ()
    env["wsgi.input"] = io.BytesIO(body)
    return env


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8"],
)
def test_urlencoded_forms_are_read_as_werkzeug_reads_them(body, content_type):
    ours = limited(Request(environ(body, content_type)))
    theirs = limited(flask.Request(environ(body, content_type)))
    assert list(ours.form.items(multi=True)) == list(theirs.form.items(multi=True))
    assert not ours.files and ours.stream.read() == theirs.stream.read() == b""


def test_a_body_that_is_not_utf8_is_an_empty_form_alike():
    body = b"name=\xff\xfe"
    for cls in (flask.Request, Request):
        assert not limited(cls(environ(body, "application/x-www-form-urlencoded"))).form


def test_other_types_go_to_werkzeug():
    env = EnvironBuilder("/t", method="POST", data={"a": "1", "f": (io.BytesIO(b"x"), "f.txt")})
    request = Request(env.get_environ())
    assert request.form["a"] == "1" and request.files["f"].read() == b"x"
    request.close()
    env.close()


def test_the_content_length_limit_still_holds():
    request = Request(environ(b"a=" + b"x" * 100, "application/x-www-form-urlencoded"))
    request.max_content_length = 10
    with pytest.raises(RequestEntityTooLarge):
        request.form.get("a")


def test_pairs_are_parse_qsls_pairs():
    pieces = [
        "a",
        "b",
        "=",
        "&",
        "+",
        "%",
        "%2",
        "%2B",
        "%26",
        "%3D",
        "%C3%A9",
        "%FF",
        "\u00e9",
        ";",
    ]
    texts = ["", "&", "=", "a", "a=", "=b", "+", "%"]
    rng = random.Random(14)  # noqa: S311 - test inputs, not secrets
    texts += ["".join(rng.choices(pieces, k=rng.randint(1, 12))) for _ in range(2000)]
    for text in texts:
        expected = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
        assert pairs(text) == expected, text


def both(body: bytes, **environ_changes) -> tuple[Request, flask.Request]:
    """Our request and Flask's own for the same environ, each with its own copy of the body."""
    made = []
    for cls in (Request, flask.Request):
        env = environ(body, FORM)
        env.update(environ_changes)
        made.append(limited(cls(env)))
    return made[0], made[1]


def form_or_error(request: flask.Request) -> object:
    try:
        return list(request.form.items(multi=True))
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return type(exc)


@pytest.mark.parametrize(
    "body, changes",
    [
        (b"a=1&b=2", {"CONTENT_LENGTH": "3"}),  # more sent than declared: cut at the length
        (b"a=1", {"CONTENT_LENGTH": "10"}),  # the client left early
        (b"a=1", {"CONTENT_LENGTH": "10", "wsgi.input_terminated": True}),  # the server ended it
        (b"a=1&b=2", {"CONTENT_LENGTH": "0"}),
        (b"a=1", {"CONTENT_LENGTH": " 3"}),  # not plain digits: Werkzeug reads it
        (b"a=1", {"CONTENT_LENGTH": "+3"}),
        (b"a=1", {"CONTENT_LENGTH": "x"}),
        (b"a=1", {"CONTENT_LENGTH": "\u0663"}),  # a digit, but not ASCII
    ],
)
def test_declared_lengths_are_read_as_werkzeug_reads_them(body, changes):
    ours, theirs = both(body, **changes)
    assert form_or_error(ours) == form_or_error(theirs)


def test_a_failing_read_is_a_disconnected_client_alike():
    class Broken(io.BytesIO):
        def read(self, *args):
            raise OSError("connection reset")

        readinto = read

    for cls in (Request, flask.Request):
        env = environ(b"a=1", FORM)
        env["wsgi.input"] = Broken()
        with pytest.raises(ClientDisconnected):
            limited(cls(env)).form.get("a")


def test_a_body_read_before_the_form_is_parsed_from_what_was_read():
    ours, theirs = both(b"a=1&b=2")
    assert ours.get_data() == theirs.get_data() == b"a=1&b=2"
    assert form_or_error(ours) == form_or_error(theirs) == [("a", "1"), ("b", "2")]
    assert ours.get_data() == theirs.get_data()
