"""Signing keys (kept in the database, generated once) and signed JWTs: id_tokens, JWT
access tokens (RFC 9068), JWKS.

RS256 through PyJWT + cryptography. The newest unretired key signs; retired keys stay
published in the JWKS until every token they signed has expired.
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
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from peewee import IntegrityError

from models import AccessToken, SigningKey, db, execute, first_raw, utcnow

ALG = "RS256"
_cache: dict[str, Any] = {}  # kid -> private key object, per process
_jwks_cache: dict[str, tuple[tuple, bytes]] = {}  # database file -> (keys version, JWKS body)

NEWEST_ACTIVE_SQL = (
    "SELECT * FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1"
)
# What the JWKS depends on, in one cheap aggregate over the few key rows: adding a key
# (rotation, the first key) or deleting one changes the count or the newest id, retiring one
# changes the newest retired_at, and a retired key reaching its expiry leaves the count.
PUBLISHED_VERSION_SQL = (
    "SELECT COUNT(*), MAX(id), MAX(retired_at) FROM signing_key"
    " WHERE expires_at IS NULL OR expires_at > ?"
)


def _public_jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return {"kty": "RSA", "use": "sig", "alg": ALG, "kid": kid, "n": jwk["n"], "e": jwk["e"]}


def create_key() -> SigningKey:
    """Generate a new RSA-2048 signing key and store it (it becomes the active one)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_urlsafe(12)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return SigningKey.create(kid=kid, private_pem=pem, public_jwk=_public_jwk(private_key, kid))


def active_key() -> SigningKey:
    """The key that signs new tokens; created on first use (once, whatever the worker)."""
    key = _newest_active()
    if key is not None:
        return key
    try:
        with db.atomic("IMMEDIATE"):
            key = _newest_active() or create_key()
    except IntegrityError:  # pragma: no cover - a kid collision is practically impossible
        key = _newest_active()
    return key


def _newest_active() -> SigningKey | None:
    return first_raw(SigningKey, NEWEST_ACTIVE_SQL)


def rotate(publish_for: timedelta) -> SigningKey:
    """Add a new active key; older keys stop signing and stay published for `publish_for`."""
    now = utcnow()
    with db.atomic("IMMEDIATE"):
        (
            SigningKey.update(retired_at=now, expires_at=now + publish_for)
            .where(SigningKey.retired_at.is_null())
            .execute()
        )
        return create_key()


def publish_period(id_token_ttl: int, now: datetime | None = None) -> timedelta:
    """How long retired keys must stay published: until every id_token they signed expired.

    An id_token lives `id_token_ttl` seconds, or as long as the access token issued with it
    (mock-minted ones may live a year), so the latest access token expiry counts too.
    """
    now = now or utcnow()
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
    """The JWK Set document (RFC 7517 §5): public keys only."""
    published = published_keys()
    if not published:
        active_key()
        published = published_keys()
    return {"keys": [key.public_jwk for key in published]}


def jwks_body() -> bytes:
    """The JWK Set serialised, rebuilt only when the published keys changed.

    Every JWKS request costs one aggregate over the key rows instead of reading and
    re-serialising every key. The check is exact, not a TTL: a rotation committed by any
    process (`flask keys rotate`) is in the very next JWKS response of every worker.
    """
    version = tuple(execute(PUBLISHED_VERSION_SQL, (utcnow(),)).fetchone())
    cached = _jwks_cache.get(db.database)
    if cached is not None and cached[0] == version:
        return cached[1]
    # `version` was read first: a change while building makes the next request rebuild.
    body = json.dumps(jwks(), sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
    _jwks_cache[db.database] = (version, body)
    return body


def _private(key: SigningKey) -> Any:
    if key.kid not in _cache:
        _cache[key.kid] = serialization.load_pem_private_key(
            key.private_pem.encode("ascii"), password=None
        )
    return _cache[key.kid]


def sign(claims: dict[str, Any], typ: str | None = None) -> str:
    """Sign `claims` as a JWT with the active key, `kid` (and `typ` if given) in the header."""
    key = active_key()
    headers = {"kid": key.kid} if typ is None else {"kid": key.kid, "typ": typ}
    return jwt.encode(claims, _private(key), algorithm=ALG, headers=headers)


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def verify(token: str, audience: str | None, issuer: str) -> dict[str, Any]:
    """Verify a JWT we signed (any published key); raises jwt.PyJWTError when invalid."""
    kid = jwt.get_unverified_header(token).get("kid")
    key = next((k for k in published_keys() if k.kid == kid), None)
    if key is None:
        raise jwt.InvalidTokenError("unknown key id")
    options = {"verify_aud": audience is not None}
    return jwt.decode(
        token,
        _private(key).public_key(),
        algorithms=[ALG],
        audience=audience,
        issuer=issuer,
        options=options,
    )


# -- CLI -----------------------------------------------------------------------------------


@click.group("keys")
def keys_cli() -> None:
    """Signing keys for id_tokens and JWT access tokens."""


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; old keys stay published until their tokens have expired."""
    with db.connection_context():
        keep = publish_period(int(current_app.config["ACCESS_TOKEN_TTL"]))
        key = rotate(keep)
    seconds = int(keep.total_seconds())
    click.echo(f"new signing key {key.kid}; previous keys published for {seconds} more seconds")
