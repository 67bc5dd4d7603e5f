"""PKCE (RFC 7636), both halves: the challenge at authorize, the verifier at the token endpoint.

Only S256 (OAuth 2.1 forbids `plain`); challenge and verifier shapes checked by full match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from oauth.errors import InvalidGrant, InvalidRequest
from oauth.params import Params, first

# §4.2: S256 challenge = BASE64URL(SHA256(verifier)), 32 bytes -> exactly 43 chars, no padding.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# §4.1: code_verifier = 43*128unreserved
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def valid_challenge(challenge: str | None) -> bool:
    return challenge is not None and _CHALLENGE.fullmatch(challenge) is not None


def valid_verifier(verifier: str | None) -> bool:
    return verifier is not None and _VERIFIER.fullmatch(verifier) is not None


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(verifier: str | None, challenge: str) -> bool:
    """Whether `verifier` is well formed and hashes to `challenge` (RFC 7636 §4.6)."""
    if not valid_verifier(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


def check_challenge(params: Params) -> str:
    """Authorize: PKCE with S256 for every client (RFC 7636 §4.3; OAuth 2.1 forbids `plain`)."""
    challenge = first(params, "code_challenge")
    method = first(params, "code_challenge_method")
    if challenge is None:
        raise InvalidRequest("code_challenge is required (PKCE, RFC 7636).")
    if method != "S256":
        raise InvalidRequest("code_challenge_method must be S256.")
    if not valid_challenge(challenge):
        raise InvalidRequest("code_challenge must be 43 base64url characters.")
    return challenge


def check_verifier(verifier: str | None, challenge: str) -> None:
    """Token endpoint: the code_verifier is well formed and hashes to the code's challenge."""
    if not valid_verifier(verifier):
        raise InvalidGrant("code_verifier must be 43-128 characters of [A-Za-z0-9._~-].")
    if not verify(verifier, challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge.")
