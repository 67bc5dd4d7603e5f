"""Signing keys (kept in the database, generated once) and signed JWTs: id_tokens, JWT
access tokens (RFC 9068), JWKS.

Two algorithms through PyJWT + cryptography, one key each: RS256 (RSA-2048, the default and
what JWT access tokens use) and ES256 (ECDSA P-256, RFC 7518 §3.4), which a client chooses for
its id_tokens with `id_token_signed_response_alg` (OIDC Registration §2). The newest unretired
key of an algorithm signs; retired keys stay published in the JWKS until every token they
signed has expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import click
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import current_app
from peewee import IntegrityError

from models import (
    SIGNING_KEY_VERSION_SQL,
    AccessToken,
    SigningKey,
    cache_versions,
    db,
    execute,
    first_raw,
    utcnow,
)

ALG = "RS256"  # the default, and JWT access tokens' (RFC 9068 §2.1)
ES256 = "ES256"
ALGS = (ALG, ES256)  # every algorithm with a key; id_token_signed_response_alg is one of them
_cache: dict[str, Any] = {}  # kid -> private key object, per process
# database -> (signing_key_version, first expiry to come or None, JWKS body)
_jwks_cache: dict[str, tuple[int, datetime | None, bytes]] = {}

NEWEST_ACTIVE_SQL = (
    "SELECT * FROM signing_key WHERE alg = ? AND retired_at IS NULL"
    " ORDER BY created_at DESC, id DESC LIMIT 1"
)
# What signing needs per token: the same key's id only (its private key is cached by kid).
ACTIVE_KID_SQL = (
    "SELECT kid FROM signing_key WHERE alg = ? AND retired_at IS NULL"
    " ORDER BY created_at DESC, id DESC LIMIT 1"
)


def _public_jwk(private_key: Any, alg: str, kid: str) -> dict[str, str]:
    """The public half as a JWK (RFC 7517 §4; RFC 7518 §6.2 EC, §6.3 RSA members only)."""
    if alg == ES256:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
        public = {"kty": "EC", "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]}
    else:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
        public = {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
    return {**public, "use": "sig", "alg": alg, "kid": kid}


def create_key(alg: str = ALG) -> SigningKey:
    """Generate a new signing key for `alg` and store it (it becomes that algorithm's active
    one): RSA-2048 for RS256, P-256 for ES256 (RFC 7518 §3.4)."""
    if alg == ES256:
        private_key: Any = ec.generate_private_key(ec.SECP256R1())
    else:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_urlsafe(12)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_jwk = _public_jwk(private_key, alg, kid)
    return SigningKey.create(kid=kid, alg=alg, private_pem=pem, public_jwk=public_jwk)


def active_key(alg: str = ALG) -> SigningKey:
    """The key that signs new `alg` tokens; created on first use (once, whatever the worker)."""
    key = _newest_active(alg)
    if key is not None:
        return key
    try:
        with db.atomic("IMMEDIATE"):
            key = _newest_active(alg) or create_key(alg)
    except IntegrityError:  # pragma: no cover - a kid collision is practically impossible
        key = _newest_active(alg)
    return key


def _newest_active(alg: str) -> SigningKey | None:
    return first_raw(SigningKey, NEWEST_ACTIVE_SQL, alg)


def rotate(publish_for: timedelta, algs: tuple[str, ...] = ALGS) -> list[SigningKey]:
    """A new active key for each of `algs`; their older keys stop signing and stay published
    for `publish_for`."""
    now = utcnow()
    with db.atomic("IMMEDIATE"):
        (
            SigningKey.update(retired_at=now, expires_at=now + publish_for)
            .where(SigningKey.retired_at.is_null(), SigningKey.alg.in_(algs))
            .execute()
        )
        return [create_key(alg) for alg in algs]


def publish_period(id_token_ttl: int, now: datetime | None = None) -> timedelta:
    """How long retired keys must stay published: until every id_token they signed expired.

    An id_token lives `id_token_ttl` seconds, or as long as the access token issued with it
    (mock-minted ones may live a year), so the latest access token expiry counts too.
    """
    now = now or utcnow()
    # One scan of access_token (no expiry index since migration 7); only when a key retires.
    latest = (
        AccessToken.select(AccessToken.expires_at).order_by(AccessToken.expires_at.desc()).first()
    )
    longest = timedelta(seconds=max(id_token_ttl, 3600))
    if latest is not None:
        longest = max(longest, latest.expires_at - now)
    return longest + timedelta(minutes=5)  # clock skew at relying parties


def published_keys(now: datetime | None = None) -> list[SigningKey]:
    """Keys whose public half belongs in the JWKS (active, or retired but not yet expired)."""
    now = now or utcnow()
    return list(
        SigningKey.select()
        .where(SigningKey.expires_at.is_null() | (SigningKey.expires_at > now))
        .order_by(SigningKey.id.desc())
    )


def jwks() -> dict[str, list[dict[str, str]]]:
    """The JWK Set document (RFC 7517 §5): public keys only, an active one for every
    algorithm (created here if missing) so relying parties see a key before its first token."""
    return {"keys": [key.public_jwk for key in _jwks_keys()]}


def _jwks_keys() -> list[SigningKey]:
    published = published_keys()
    missing = set(ALGS) - {key.alg for key in published if key.retired_at is None}
    if missing:
        for alg in sorted(missing):
            active_key(alg)
        published = published_keys()
    return published


def _current_jwks(version: int) -> bytes | None:
    cached = _jwks_cache.get(db.database)
    if cached is not None and cached[0] == version and (cached[1] is None or utcnow() < cached[1]):
        return cached[2]
    return None


def current_jwks_body() -> bytes | None:
    """The JWK Set this process built, if it is still the current one (one counter read);
    None when only jwks_body() can tell (it may have to build it, or create keys)."""
    return _current_jwks(cache_versions(SIGNING_KEY_VERSION_SQL)[0])


def jwks_body() -> bytes:
    """The JWK Set serialised, rebuilt only when the published keys changed.

    Every JWKS request reads one counter (cache_version's `signing_key_version`, which
    triggers bump with any change to a key, migrations.sql block 10) instead of reading and
    re-serialising every key. Exact, not a TTL: a rotation committed by any process (`flask
    keys rotate`) is in the very next JWKS response of every worker, and so is a retired key
    leaving the set at its `expires_at`.
    """
    (version,) = cache_versions(SIGNING_KEY_VERSION_SQL)
    body = _current_jwks(version)
    if body is not None:
        return body
    # `version` was read first: a change while building makes the next request rebuild.
    published = _jwks_keys()
    document = {"keys": [key.public_jwk for key in published]}
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
    expiries = [key.expires_at for key in published if key.expires_at is not None]
    _jwks_cache[db.database] = (version, min(expiries, default=None), body)
    return body


def _private(key: SigningKey) -> Any:
    if key.kid not in _cache:
        _cache[key.kid] = serialization.load_pem_private_key(
            key.private_pem.encode("ascii"), password=None
        )
    return _cache[key.kid]


def _signer(alg: str) -> tuple[str, Any]:
    """(kid, private key) of the active `alg` key: one single-column read per token, exact
    across processes (a rotation by any process is seen by the next token); the private key
    itself is cached by kid, which never changes its key."""
    row = execute(ACTIVE_KID_SQL, (alg,)).fetchone()
    if row is None:  # the first token of this algorithm: create its key
        key = active_key(alg)
        return key.kid, _private(key)
    kid = row[0]
    if kid not in _cache:
        _private(SigningKey.get(SigningKey.kid == kid))
    return kid, _cache[kid]


def sign(claims: dict[str, Any], typ: str | None = None, alg: str = ALG) -> str:
    """Sign `claims` as a JWT with the active `alg` key, `kid` (and `typ` if given) in the
    header."""
    kid, private_key = _signer(alg)
    headers = {"kid": kid} if typ is None else {"kid": kid, "typ": typ}
    return jwt.encode(claims, private_key, algorithm=alg, headers=headers)


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def decode(token: str, algs: tuple[str, ...] = ALGS, **kwargs: Any) -> dict[str, Any]:
    """Decode a JWT signed by one of our published keys (found by `kid`), `jwt.decode()`
    keyword arguments passed on; raises jwt.PyJWTError when invalid.

    The algorithm is the key's own, never the header's choice (RFC 8725 §3.1), and must be one
    of `algs`.
    """
    kid = jwt.get_unverified_header(token).get("kid")
    key = next((k for k in published_keys() if k.kid == kid), None)
    if key is None or key.alg not in algs:
        raise jwt.InvalidTokenError("unknown key id")
    return jwt.decode(token, _private(key).public_key(), algorithms=[key.alg], **kwargs)


def verify(
    token: str, audience: str | None, issuer: str, algs: tuple[str, ...] = ALGS
) -> dict[str, Any]:
    """Verify a JWT we signed (any published key of `algs`); raises jwt.PyJWTError when
    invalid."""
    options = {"verify_aud": audience is not None}
    return decode(token, algs, audience=audience, issuer=issuer, options=options)


# -- CLI -----------------------------------------------------------------------------------


@click.group("keys")
def keys_cli() -> None:
    """Signing keys for id_tokens and JWT access tokens."""


@keys_cli.command("rotate")
@click.option(
    "--alg",
    type=click.Choice(ALGS),
    help="Rotate only this algorithm's key (default: every algorithm, RS256 and ES256).",
)
def keys_rotate(alg: str | None) -> None:
    """Add a new signing key per algorithm; old keys stay published until their tokens have
    expired."""
    with db.connection_context():
        keep = publish_period(int(current_app.config["ACCESS_TOKEN_TTL"]))
        new = rotate(keep, (alg,) if alg else ALGS)
    seconds = int(keep.total_seconds())
    for key in new:
        click.echo(
            f"new {key.alg} signing key {key.kid}; previous {key.alg} keys published for"
            f" {seconds} more seconds"
        )
