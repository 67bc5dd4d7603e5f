"""Hypothesis properties for the validators tests/rules/test_validation.py does not cover:
PKCE challenge and verifier, HTTP Basic client credentials, and the address classifier and
URL rules that guard client metadata document fetches (SSRF)."""

from __future__ import annotations

import base64
import ipaddress
import string
from urllib.parse import quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauth.errors import OAuthError
from oauth.rules import pkce
from oauth.rules.client_auth import parse_basic
from oauth.rules.client_id_metadata import client_id_url_problem
from oauth.safe_fetch import is_public_address

UNRESERVED = string.ascii_letters + string.digits + "-._~"
B64URL = string.ascii_letters + string.digits + "-_"

verifiers = st.text(alphabet=UNRESERVED, min_size=43, max_size=128)


# -- PKCE (RFC 7636 §4.1, §4.2, §4.6) -------------------------------------------------------


@given(verifiers)
def test_every_well_formed_verifier_round_trips(verifier):
    challenge = pkce.s256(verifier)
    assert pkce.valid_verifier(verifier)
    assert pkce.valid_challenge(challenge)
    assert pkce.verify(verifier, challenge)


@given(verifiers, verifiers)
def test_a_different_verifier_never_matches(a, b):
    if a != b:
        assert not pkce.verify(b, pkce.s256(a))


@given(st.text(alphabet=UNRESERVED, max_size=42) | st.text(alphabet=UNRESERVED, min_size=129))
def test_verifiers_outside_43_to_128_are_refused(verifier):
    assert not pkce.valid_verifier(verifier)
    assert not pkce.verify(verifier, pkce.s256("x" * 43))


@given(verifiers, st.sampled_from(" +/=\n\x00é%"), st.data())
def test_a_verifier_with_any_other_character_is_refused(verifier, bad, data):
    at = data.draw(st.integers(0, len(verifier)))
    assert not pkce.valid_verifier(verifier[:at] + bad + verifier[at:])


@given(st.text(max_size=200), st.text(max_size=60))
def test_verify_never_raises(verifier, challenge):
    assert pkce.verify(verifier, challenge) in (True, False)


@given(st.text(alphabet=B64URL, min_size=43, max_size=43))
def test_43_base64url_characters_are_a_challenge(challenge):
    assert pkce.valid_challenge(challenge)


@given(st.text(max_size=100))
def test_challenges_have_exactly_the_s256_shape(text):
    expected = len(text) == 43 and all(c in B64URL for c in text)
    assert pkce.valid_challenge(text) is expected


# -- HTTP Basic client authentication (RFC 6749 §2.3.1, RFC 7617) ---------------------------


def basic_header(client_id: str, secret: str) -> str:
    """What a conforming client sends: both parts form-urlencoded, then base64 of UTF-8."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@given(st.text(min_size=1, max_size=80), st.text(max_size=80))
def test_basic_credentials_round_trip(client_id, secret):
    assert parse_basic(basic_header(client_id, secret)) == (client_id, secret)


@given(st.sampled_from(["basic", "BASIC", "Basic", "bAsIc"]), st.text(min_size=1, max_size=20))
def test_the_scheme_is_case_insensitive(scheme, client_id):
    header = basic_header(client_id, "s3cret").replace("Basic", scheme, 1)
    assert parse_basic(header) == (client_id, "s3cret")


@given(st.text(max_size=200))
def test_any_header_parses_or_is_invalid_client(header):
    try:
        result = parse_basic(header)
    except OAuthError as exc:
        assert exc.error == "invalid_client" and exc.status == 401
        assert "WWW-Authenticate" in exc.headers
    else:
        assert result is None or (isinstance(result, tuple) and result[0])


@given(st.binary(max_size=120))
def test_any_base64_payload_parses_or_is_invalid_client(payload):
    header = "Basic " + base64.b64encode(payload).decode()
    try:
        client_id, _ = parse_basic(header)
    except OAuthError as exc:
        assert exc.error == "invalid_client"
    else:
        assert client_id


@given(st.text(alphabet=string.ascii_letters, min_size=1, max_size=10).filter(
    lambda s: s.lower() != "basic"), st.text(max_size=50))  # fmt: skip
def test_other_schemes_are_not_basic(scheme, rest):
    assert parse_basic(f"{scheme} {rest}") is None


# -- The address classifier for metadata-document fetches (SSRF guard) ----------------------

NON_PUBLIC_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/29", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
]  # fmt: skip
NON_PUBLIC_V6 = ["::1/128", "::/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32"]


def addresses_in(cidrs: list[str]) -> st.SearchStrategy:
    def pick(network, offset):
        return network[offset % network.num_addresses]

    networks = st.sampled_from([ipaddress.ip_network(c) for c in cidrs])
    return st.builds(pick, networks, st.integers(min_value=0))


ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)


@given(addresses_in(NON_PUBLIC_V4))
def test_special_use_ipv4_is_never_public(address):
    assert not is_public_address(address)
    assert not is_public_address(str(address))


@given(addresses_in(NON_PUBLIC_V6))
def test_special_use_ipv6_is_never_public(address):
    assert not is_public_address(address)


@given(ipv4)
def test_ipv6_forms_carrying_an_ipv4_address_classify_as_that_address(v4):
    expected = is_public_address(v4)
    packed = int(v4)
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | packed)
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (packed << 80))
    assert is_public_address(mapped) is expected
    assert is_public_address(nat64) is expected
    assert is_public_address(sixtofour) is expected


@given(ipv4)
def test_teredo_is_judged_by_its_client_address(v4):
    server = ipaddress.IPv4Address("192.0.2.45")  # the server half is not what we connect to
    obfuscated = int(v4) ^ 0xFFFFFFFF
    teredo = ipaddress.IPv6Address((0x20010000 << 96) | (int(server) << 64) | obfuscated)
    assert is_public_address(teredo) is is_public_address(v4)


@given(st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address) | ipv4)
def test_public_means_global_unicast(address):
    if is_public_address(address):
        assert not address.is_multicast
        assert not address.is_loopback and not address.is_private and not address.is_link_local


@given(st.integers(11, 255).filter(lambda n: n not in (170, 171)))
def test_ietf_protocol_assignments_are_not_public(n):
    # IANA special-purpose registry: 192.0.0.0/24 is not globally reachable, except the
    # anycast 192.0.0.9 and 192.0.0.10. Python 3.11's is_global still calls the rest global.
    assert not is_public_address(f"192.0.0.{n}")


@given(addresses_in(["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16"]))
def test_local_use_nat64_prefix_is_judged_by_its_ipv4(v4):
    # RFC 8215: 64:ff9b:1::/48 is a local-use translation prefix; a local NAT64 turns
    # 64:ff9b:1::a.b.c.d into a.b.c.d, so an address inside it may reach a private host.
    address = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::")) | int(v4))
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_ordinary_internet_addresses_are_public(address):
    assert is_public_address(address)


@given(st.text(max_size=300))
def test_client_id_url_rules_never_raise(text):
    problem = client_id_url_problem(text)
    if problem is None:
        assert text.startswith("https://") and "#" not in text and "?" not in text


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=12),
        min_size=1,
        max_size=4,
    ),  # fmt: skip
)
def test_plain_https_document_urls_are_accepted(host, segments):
    assert client_id_url_problem(f"https://{host}/{'/'.join(segments)}") is None
