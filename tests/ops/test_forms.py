"""The app's request class reads urlencoded bodies exactly as Werkzeug's form parser does."""

from __future__ import annotations

import io

import flask
import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from oauth.ops.forms import Request

BODIES = [
    b"grant_type=authorization_code&code=gac_abc&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb",
    b"scope=openid+profile&scope=email&empty=&flag",  # repeats, blanks, a bare name
    b"name=%C3%A9t%C3%A9&bad=%FF%FE&plus=a+b%2Bc",  # UTF-8, undecodable escapes, + and %2B
    b"",
    b"&&a=1&&",
]


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
    ours, theirs = Request(environ(body, content_type)), flask.Request(environ(body, content_type))
    assert list(ours.form.items(multi=True)) == list(theirs.form.items(multi=True))
    assert not ours.files and ours.stream.read() == theirs.stream.read() == b""


def test_a_body_that_is_not_utf8_is_an_empty_form_alike():
    body = b"name=\xff\xfe"
    for cls in (flask.Request, Request):
        assert not cls(environ(body, "application/x-www-form-urlencoded")).form


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
