"""JWT access tokens per RFC 9068, signed with the environment's key ring."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError

from gateway.auth.keys import SIGNING_ALGORITHM, KeyRing
from gateway.domain.clock import Clock
from gateway.domain.environment import Environment

ACCESS_TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 (a media type, RFC 9068 §2.1)
CLOCK_SKEW: Final = 30


class InvalidTokenError(Exception):
    """The access token is not one this environment issued, or is no longer valid."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    jti: str
    client_id: str
    subject: str
    scopes: frozenset[str]
    audience: tuple[str, ...]
    issued_at: int
    expires_at: int
    environment: Environment
    jkt: str | None = None  # RFC 9449 §6.1: bound to this DPoP key (`cnf.jkt`)
    consent_id: str | None = None  # delegated tokens: the customer's consent they act under

    def claims(self, issuer: str) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": self.subject,
            "aud": self.audience[0] if len(self.audience) == 1 else list(self.audience),
            "client_id": self.client_id,
            "scope": " ".join(sorted(self.scopes)),
            "iat": self.issued_at,
            "exp": self.expires_at,
            "jti": self.jti,
            "env": self.environment.value,
        }
        if self.jkt is not None:
            claims["cnf"] = {"jkt": self.jkt}
        if self.consent_id is not None:
            claims["consent_id"] = self.consent_id
        return claims


class TokenService:
    def __init__(
        self, *, keys: KeyRing, clock: Clock, issuer: str, environment: Environment, ttl_seconds: int
    ) -> None:
        self.keys = keys
        self.clock = clock
        self.issuer = issuer
        self.environment = environment
        self.ttl_seconds = ttl_seconds
        self.api_audience = f"{issuer}/v1"
        self.admin_audience = f"{issuer}/admin"

    def issue(
        self,
        *,
        client_id: str,
        subject: str,
        scopes: frozenset[str],
        audience: str,
        jkt: str | None = None,
        consent_id: str | None = None,
    ) -> tuple[str, AccessToken]:
        now = int(self.clock.now().timestamp())
        token = AccessToken(
            jti=secrets.token_urlsafe(16),
            client_id=client_id,
            subject=subject,
            scopes=scopes,
            audience=(audience,),
            issued_at=now,
            expires_at=now + self.ttl_seconds,
            environment=self.environment,
            jkt=jkt,
            consent_id=consent_id,
        )
        key = self.keys.signing_key()
        header = {"alg": SIGNING_ALGORITHM, "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
        return jwt.encode(header, token.claims(self.issuer), key, algorithms=[SIGNING_ALGORITHM]), token

    def verify(self, value: str) -> AccessToken:
        """Signature, type, issuer and lifetime; the caller checks audience and revocation."""
        token = self.verify_signature(value)
        now = int(self.clock.now().timestamp())
        if token.expires_at <= now:
            raise InvalidTokenError("the access token has expired")
        if token.issued_at > now + CLOCK_SKEW:
            raise InvalidTokenError("the access token is not valid yet")
        return token

    def verify_signature(self, value: str) -> AccessToken:
        """Everything but the lifetime (introspection reports expired tokens as inactive)."""
        if value.count(".") != 2:
            raise InvalidTokenError("the access token is not a JWS compact serialisation")
        try:
            decoded = jwt.decode(value, self.keys.verification_keys(), algorithms=[SIGNING_ALGORITHM])
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidTokenError("the access token signature is not valid here") from exc
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidTokenError("not an access token (typ must be at+jwt)")
        claims = decoded.claims
        if claims.get("iss") != self.issuer or claims.get("env") != self.environment.value:
            raise InvalidTokenError("the access token was issued for another environment")
        try:
            audience = claims["aud"]
            return AccessToken(
                jti=str(claims["jti"]),
                client_id=str(claims["client_id"]),
                subject=str(claims["sub"]),
                scopes=frozenset(str(claims["scope"]).split()),
                audience=(audience,) if isinstance(audience, str) else tuple(audience),
                issued_at=int(claims["iat"]),
                expires_at=int(claims["exp"]),
                environment=self.environment,
                jkt=_confirmation_of(claims),
                consent_id=_optional_text(claims, "consent_id"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidTokenError("the access token lacks required claims") from exc


def _confirmation_of(claims: dict[str, Any]) -> str | None:
    """The DPoP key thumbprint a token is bound to (RFC 9449 §6.1), or None for a bearer token."""
    if "cnf" not in claims:
        return None
    cnf = claims["cnf"]
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if not isinstance(jkt, str) or not jkt:
        raise ValueError("cnf must carry a jkt")
    return jkt


def _optional_text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value
