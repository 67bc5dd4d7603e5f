"""oauth/validation.py: redirect URI registration and matching, https URLs (resources and
canonical URIs: test_resource.py). Tables for each rule, Hypothesis for the properties that must
hold for any input."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauth.rules.redirect_uri import (
    FORBIDDEN_SCHEMES,
    MAX_REDIRECT_URI_BYTES,
    find_redirect_uri,
    redirect_uri_matches,
    redirect_uri_problem,
)
from oauth.urls import https_url_problem

CONTROL_OR_SPACE = "".join(chr(c) for c in range(0x21)) + "\x7f"

# -- redirect URI registration -------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/callback",
        "https://app.example.com:8443/cb?tenant=1",
        "HTTPS://App.Example.com/cb",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:8080/cb",
        "http://[::1]:9000/cb",
        "http://localhost:3000/auth/callback",
        "com.example.app:/oauth2redirect",
        "com.example.app:/cb",
        "vscode://vscode.github-authentication/did-authenticate",
        "myapp://callback",
        "https://a.example/" + "x" * (MAX_REDIRECT_URI_BYTES - len("https://a.example/")),
    ],
)
def test_redirect_uri_accepted(uri):
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize(
    "uri, why",
    [
        ("", "non-empty"),
        (None, "non-empty"),
        (42, "non-empty"),
        ("https://app.example.com/cb#frag", "fragment"),
        ("https://app.example.com/cb#", "fragment"),
        ("com.example.app:/cb#x", "fragment"),
        ("https://user:pw@app.example.com/cb", "userinfo"),
        ("https://user@app.example.com/cb", "userinfo"),
        ("http://user@127.0.0.1/cb", "userinfo"),
        ("https://*.example.com/cb", "wildcard"),
        ("https://app.example.com/*", "wildcard"),
        ("http://app.example.com/cb", "loopback"),
        ("http://127.0.0.1.evil.example/cb", "loopback"),
        ("http://localhost.evil.example/cb", "loopback"),
        ("http://10.0.0.1/cb", "loopback"),
        ("https:///cb", "host"),
        ("http://:8080/cb", "host"),
        ("javascript:alert(1)", "javascript"),
        ("JavaScript:alert(1)", "javascript"),
        ("JAVASCRIPT:alert(1)", "javascript"),
        ("data:text/html,<script>alert(1)</script>", "data"),
        ("DATA:text/html,x", "data"),
        ("file:///etc/passwd", "file"),
        ("vbscript:msgbox(1)", "vbscript"),
        ("VbScript:msgbox(1)", "vbscript"),
        (" javascript:alert(1)", "control"),
        ("\tjavascript:alert(1)", "control"),
        ("\x00javascript:alert(1)", "control"),
        ("\njavascript:alert(1)", "control"),
        ("java\tscript:alert(1)", "control"),
        ("https://app.example.com/c b", "control"),
        ("https://app.example.com/cb\r\n", "control"),
        ("/relative/callback", "scheme"),
        ("callback", "scheme"),
        ("1http://a.example/cb", "scheme"),
        ("https://app.example.com:99999/cb", "valid"),
        ("https://app.example.com:port/cb", "valid"),
        ("http://[::1/cb", "valid"),
        ("https://a.example/" + "x" * MAX_REDIRECT_URI_BYTES, "bytes"),
        ("https://a.example/" + "é" * 1100, "bytes"),  # < 2048 characters, > 2048 bytes
    ],
)
def test_redirect_uri_rejected(uri, why):
    problem = redirect_uri_problem(uri)
    assert problem is not None
    assert why in problem


@given(st.text(max_size=300))
def test_redirect_uri_problem_never_raises(text):
    assert redirect_uri_problem(text) is None or isinstance(redirect_uri_problem(text), str)


@st.composite
def script_uris(draw) -> str:
    """A script-bearing scheme in any letter case, maybe behind whitespace/control chars."""
    scheme = draw(st.sampled_from(sorted(FORBIDDEN_SCHEMES)))
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in scheme)
    prefix = draw(st.text(alphabet=CONTROL_OR_SPACE, max_size=3))
    return prefix + cased + ":" + draw(st.text(max_size=40))


@given(script_uris())
def test_script_schemes_are_never_accepted(uri):
    assert redirect_uri_problem(uri) is not None


uri_like = st.builds(
    lambda scheme, rest: f"{scheme}:{rest}",
    st.sampled_from(["https", "http", "HTTP", "com.example.app", "vscode", "javascript", "Data"]),
    st.text(alphabet=string.ascii_letters + string.digits + "/:.@#*?&=%[]-\t é", max_size=60),
)


@given(uri_like)
def test_accepted_uris_keep_every_rule(uri):
    if redirect_uri_problem(uri) is not None:
        return
    assert "#" not in uri and "*" not in uri and "@" not in urlsplit(uri).netloc
    assert not any(c in CONTROL_OR_SPACE for c in uri)
    assert len(uri.encode()) <= MAX_REDIRECT_URI_BYTES
    assert uri.partition(":")[0].lower() not in FORBIDDEN_SCHEMES
    if uri.lower().startswith("http:"):
        assert urlsplit(uri).hostname in ("127.0.0.1", "::1", "localhost")


@given(
    host=st.sampled_from(["127.0.0.1", "[::1]", "localhost"]),
    path=st.from_regex(r"/[a-z0-9/_-]{0,20}", fullmatch=True),
    port=st.integers(1, 65535),
)
def test_loopback_redirect_uris_register(host, path, port):
    assert redirect_uri_problem(f"http://{host}:{port}{path}") is None


# -- redirect URI matching -----------------------------------------------------------------


@pytest.mark.parametrize(
    "registered, presented, expected",
    [
        ("https://app.example.com/cb", "https://app.example.com/cb", True),
        ("https://app.example.com/cb", "https://app.example.com/cb/", False),
        ("https://app.example.com/cb", "https://app.example.com/CB", False),
        ("https://app.example.com/cb", "https://APP.example.com/cb", False),
        ("https://app.example.com/cb", "https://app.example.com:443/cb", False),
        ("https://app.example.com/cb", "https://app.example.com:8443/cb", False),
        ("https://app.example.com/cb", "https://app.example.com/cb?x=1", False),
        ("https://app.example.com/cb", "http://app.example.com/cb", False),
        ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", True),  # RFC 8252 §7.3
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/cb", True),
        ("http://[::1]/cb", "http://[::1]:61000/cb", True),
        ("http://localhost/cb", "http://localhost:3000/cb", True),
        ("http://127.0.0.1/cb", "http://127.0.0.1:5000/other", False),
        ("http://127.0.0.1/cb?a=1", "http://127.0.0.1:5000/cb?a=2", False),
        ("http://127.0.0.1/cb", "http://localhost:5000/cb", False),
        ("http://127.0.0.1/cb", "http://[::1]:5000/cb", False),
        ("http://127.0.0.1/cb", "http://user@127.0.0.1:5000/cb", False),
        ("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb", False),
        ("http://127.0.0.1/cb", "https://127.0.0.1:5000/cb", False),
        ("com.example.app:/cb", "com.example.app:/cb", True),
        ("com.example.app:/cb", "com.example.app:/cb2", False),
    ],
)
def test_redirect_uri_matches(registered, presented, expected):
    assert redirect_uri_matches(registered, presented) is expected


@pytest.mark.parametrize(
    "registered, presented, expected",
    [
        (["https://a.example/cb"], None, "https://a.example/cb"),
        (["https://a.example/cb", "https://a.example/cb2"], None, None),
        (
            ["https://a.example/cb", "https://a.example/cb2"],
            "https://a.example/cb2",
            "https://a.example/cb2",
        ),
        (["http://127.0.0.1/cb"], "http://127.0.0.1:4242/cb", "http://127.0.0.1:4242/cb"),
        (["https://a.example/cb"], "https://evil.example/cb", None),
        ([], None, None),
        ([], "https://a.example/cb", None),
    ],
)
def test_find_redirect_uri(registered, presented, expected):
    assert find_redirect_uri(registered, presented) == expected


@given(
    host=st.sampled_from(["127.0.0.1", "[::1]", "localhost"]),
    path=st.from_regex(r"/[a-z0-9/_-]{0,20}", fullmatch=True),
    a=st.integers(1, 65535),
    b=st.integers(1, 65535),
)
def test_loopback_port_may_vary_but_nothing_else(host, path, a, b):
    assert redirect_uri_matches(f"http://{host}{path}", f"http://{host}:{b}{path}")
    assert redirect_uri_matches(f"http://{host}:{a}{path}", f"http://{host}:{b}{path}")
    assert not redirect_uri_matches(f"http://{host}:{a}{path}", f"http://{host}:{b}{path}x")
    assert not redirect_uri_matches(f"https://{host}:{a}{path}", f"https://{host}:{b}{path}") or (
        a == b
    )


@given(st.text(max_size=100), st.text(max_size=100))
def test_matching_never_raises_and_is_exact_off_loopback(registered, presented):
    result = redirect_uri_matches(registered, presented)
    if not registered.startswith("http://") or not presented.startswith("http://"):
        assert result is (registered == presented)


# -- https URLs (resources and canonical URIs: test_resource.py) ---------------------------


@pytest.mark.parametrize(
    "url",
    ["https://example.com", "https://example.com/logo.png?size=64", "HTTPS://EXAMPLE.COM/"],
)
def test_https_url_accepted(url):
    assert https_url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/logo.png",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "https://",
        "https:///logo.png",
        "https://user@example.com/",
        "//example.com/logo.png",
        " https://example.com",
        "https://exa mple.com",
        "https://example.com/" + "x" * MAX_REDIRECT_URI_BYTES,
        None,
        5,
    ],
)
def test_https_url_rejected(url):
    assert https_url_problem(url) is not None


@given(st.text(max_size=200))
def test_https_urls_are_https(text):
    if https_url_problem(text) is None:
        assert text.lower().startswith("https://")
