"""`private_key_jwt` client authentication (RFC 7523 §2.2 and §3, hardened per FAPI 2.0 §5.3.2.1)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.domain.clock import Clock
from partners.models import Client

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Asymmetric algorithms only: HS256 and `none` never authenticate a client.
ASSERTION_ALGORITHMS: Final = ("ES256", "EdDSA", "Ed25519", "PS256")
CLOCK_SKEW: Final = 30


class ClientAssertionError(Exception):
    """The client assertion does not authenticate the client (RFC 6749 `invalid_client`)."""


@dataclass(frozen=True, slots=True)
class ClientAssertionVerifier:
    lookup: Callable[[str], Client | None]
    first_use: Callable[[str, int], bool]
    clock: Clock
    issuer: str
    max_lifetime_seconds: int
    client_id_prefix: str

    def verify(self, form: Mapping[str, str]) -> Client:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise ClientAssertionError("client_assertion_type must be " + ASSERTION_TYPE)
        assertion = form.get("client_assertion") or ""
        if assertion.count(".") != 2:
            raise ClientAssertionError("client_assertion must be a signed JWT")
        try:
            unverified = jws.extract_compact(assertion.encode())
        except (JoseError, ValueError) as exc:
            raise ClientAssertionError("client_assertion is malformed") from exc
        alg = unverified.protected.get("alg")
        if alg not in ASSERTION_ALGORITHMS:
            raise ClientAssertionError(
                f"alg {alg!r} is not accepted; use one of {list(ASSERTION_ALGORITHMS)}"
            )
        # The signature is checked below with the keys of the client this claim names.
        issuer_claim = _issuer_of(unverified.payload)
        client_id = form.get("client_id") or issuer_claim
        if not client_id or not hmac.compare_digest(client_id, issuer_claim or ""):
            raise ClientAssertionError("iss must equal the client_id")
        if not client_id.startswith(self.client_id_prefix):
            raise ClientAssertionError("this client belongs to another environment")
        client = self.lookup(client_id)
        if client is None or not client.active:
            raise ClientAssertionError("unknown or inactive client")
        try:
            token = jwt.decode(assertion, _key_set(client), algorithms=list(ASSERTION_ALGORITHMS))
        except (JoseError, ValueError, TypeError) as exc:
            raise ClientAssertionError("client_assertion signature does not verify") from exc
        self._check_claims(token.claims, client_id)
        return client

    def _check_claims(self, claims: Mapping[str, object], client_id: str) -> None:
        if claims.get("sub") != client_id or claims.get("iss") != client_id:
            raise ClientAssertionError("iss and sub must both be the client_id")
        # FAPI 2.0 Security Profile §5.3.2.1: only the issuer identifier, as a string, is an accepted
        # audience (no endpoint URLs, no arrays): an assertion made for one endpoint or one server
        # cannot be replayed at another (the audience injection attack).
        if claims.get("aud") != self.issuer:
            raise ClientAssertionError("aud must be the issuer identifier, as a string")
        now = int(self.clock.now().timestamp())
        exp = claims.get("exp")
        if not isinstance(exp, int):
            raise ClientAssertionError("exp is required")
        if exp <= now - CLOCK_SKEW:
            raise ClientAssertionError("the client assertion has expired")
        if exp > now + self.max_lifetime_seconds + CLOCK_SKEW:
            raise ClientAssertionError(f"the client assertion may live at most {self.max_lifetime_seconds} s")
        for name in ("iat", "nbf"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, int) or value > now + CLOCK_SKEW):
                raise ClientAssertionError(f"{name} lies in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise ClientAssertionError("jti is required")
        if not self.first_use(f"assertion:{client_id}:{jti}", exp - now + CLOCK_SKEW):
            raise ClientAssertionError("this client assertion was used before (replayed jti)")


def _issuer_of(payload: bytes) -> str | None:
    try:
        value = json.loads(payload).get("iss")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


_KEY_SETS: dict[str, tuple[object, KeySet]] = {}


def _key_set(client: Client) -> KeySet:
    """A client's imported public keys, rebuilt only when its registered JWKS changes."""
    jwks = client.app.jwks
    cached = _KEY_SETS.get(client.app.client_id)
    if cached is None or cached[0] != jwks:
        if len(_KEY_SETS) > 10_000:
            _KEY_SETS.clear()
        cached = (jwks, KeySet.import_key_set(jwks))  # type: ignore[arg-type]
        _KEY_SETS[client.app.client_id] = cached
    return cached[1]
