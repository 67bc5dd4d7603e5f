"""RFC 8628 rules as pure functions: user codes (§6.1) and what a poll answers (§3.5)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauth.grants import device_code as device_flow
from oauth.grants.device_code import (
    ALPHABET,
    DENIED,
    EXPIRED,
    ISSUE,
    PENDING,
    SLOW_DOWN,
    USED,
    code_problem,
    format_user_code,
    new_user_code,
    next_interval,
    normalize_user_code,
    poll_decision,
)

NOW = datetime(2025, 1, 1, 12, 0, 0)
LATER = NOW + timedelta(minutes=10)
EARLIER = NOW - timedelta(seconds=1)


def test_alphabet_is_the_rfc_base20_set():
    assert ALPHABET == "BCDFGHJKLMNPQRSTVWXZ"
    assert len(set(ALPHABET)) == 20


def test_new_user_codes_are_8_alphabet_characters_and_vary():
    codes = {new_user_code() for _ in range(200)}
    assert all(re.fullmatch(f"[{ALPHABET}]{{8}}", c) for c in codes)
    assert len(codes) > 190  # 20^8 possibilities: repeats in 200 draws mean no randomness


@pytest.mark.parametrize(
    ("code", "shown"),
    [("BCDFGHJK", "BCDF-GHJK"), ("ZZZZZZZZ", "ZZZZ-ZZZZ")],
)
def test_format_user_code(code, shown):
    assert format_user_code(code) == shown


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("BCDF-GHJK", "BCDFGHJK"),
        ("BCDFGHJK", "BCDFGHJK"),
        ("bcdf-ghjk", "BCDFGHJK"),
        ("bcdfghjk", "BCDFGHJK"),
        ("BcDf-gHjK", "BCDFGHJK"),
        ("  bcdf-ghjk \n", "BCDFGHJK"),
        ("BCDF GHJK", "BCDFGHJK"),
        ("B-C-D-F-G-H-J-K", "BCDFGHJK"),
        ("", None),
        (None, None),
        ("BCDF-GHJ", None),  # too short
        ("BCDF-GHJKL", None),  # too long
        ("ABCD-EFGH", None),  # vowels are not in the alphabet
        ("BCDF-GHJ1", None),  # nor digits
        ("BCDF_GHJK", None),  # only the dash is ignored
        ("BCDF-GHJK" + " " * 40, None),  # absurdly long input is refused before work
        ("ßCDF-GHJ", None),  # "ß".upper() is "SS": must not turn into the valid SSCDFGHJ
    ],
)
def test_normalize_user_code(typed, normal):
    assert normalize_user_code(typed) == normal


@given(st.text(alphabet=ALPHABET, min_size=8, max_size=8), st.booleans(), st.booleans())
def test_every_code_survives_how_people_type_it(code, lower, dash):
    typed = format_user_code(code) if dash else code
    assert normalize_user_code(typed.lower() if lower else typed) == code


def test_user_code_hash_is_sha256_of_the_normalised_code():
    expected = hashlib.sha256(b"BCDFGHJK").digest()
    assert device_flow.user_code_hash("BCDFGHJK") == expected


@pytest.mark.parametrize(
    ("status", "expires_at", "last_polled_at", "interval", "decision"),
    [
        ("pending", LATER, None, 5, PENDING),  # first poll
        ("pending", LATER, NOW - timedelta(seconds=5), 5, PENDING),  # on time
        ("pending", LATER, NOW - timedelta(seconds=4, milliseconds=100), 5, PENDING),  # leeway
        ("pending", LATER, NOW - timedelta(seconds=3), 5, SLOW_DOWN),  # too fast
        ("pending", LATER, NOW, 5, SLOW_DOWN),  # at once
        ("pending", LATER, NOW - timedelta(seconds=8), 10, SLOW_DOWN),  # the grown interval
        ("pending", LATER, NOW - timedelta(seconds=10), 10, PENDING),
        ("approved", LATER, NOW, 5, ISSUE),  # approved is never slowed down
        ("approved", LATER, None, 5, ISSUE),
        ("denied", LATER, NOW, 5, DENIED),
        ("used", LATER, None, 5, USED),
        ("used", EARLIER, None, 5, USED),  # used stays invalid_grant after expiry too
        ("pending", EARLIER, None, 5, EXPIRED),
        ("pending", NOW, None, 5, EXPIRED),  # expires_at is exclusive
        ("approved", EARLIER, None, 5, EXPIRED),
        ("denied", EARLIER, None, 5, EXPIRED),
    ],
)
def test_poll_decision(status, expires_at, last_polled_at, interval, decision):
    assert poll_decision(status, expires_at, last_polled_at, interval, NOW) == decision


@pytest.mark.parametrize(
    ("decision", "interval", "after"),
    [(SLOW_DOWN, 5, 10), (SLOW_DOWN, 10, 15), (PENDING, 5, 5), (PENDING, 15, 15)],
)
def test_slow_down_grows_the_interval_by_5(decision, interval, after):
    assert next_interval(decision, interval) == after


@pytest.mark.parametrize(
    ("status", "expires_at", "problem"),
    [
        ("pending", LATER, None),
        ("pending", EARLIER, "expired"),
        ("approved", LATER, "used"),
        ("used", LATER, "used"),
        ("used", EARLIER, "used"),
        ("denied", LATER, "denied"),
        ("denied", EARLIER, "denied"),
    ],
)
def test_code_problem(status, expires_at, problem):
    assert code_problem(status, expires_at, NOW) == problem
