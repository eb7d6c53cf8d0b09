"""The signatures a partner's client makes: `private_key_jwt` assertions and DPoP proofs."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from joserfc import jwk, jws, jwt

from openplatform._core.errors import ConfigurationError

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PROOF_TYPE: Final = "dpop+jwt"
# Asymmetric algorithms only (FAPI 2.0 §5.4): the key type decides the algorithm.
ALGORITHMS: Final = {"EC": "ES256", "OKP": "EdDSA", "RSA": "PS256"}
PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})

Clock = Callable[[], float]
PrivateKey = jwk.ECKey | jwk.OKPKey | jwk.RSAKey
KeyInput = Mapping[str, Any] | str | bytes | Path


def load_private_key(key: KeyInput | PrivateKey) -> PrivateKey:
    """A private key from a JWK (mapping or JSON), a PEM, or a file holding either."""
    loaded: Any = key if isinstance(key, jwk.ECKey | jwk.OKPKey | jwk.RSAKey) else _import(key)
    if not isinstance(loaded, jwk.ECKey | jwk.OKPKey | jwk.RSAKey) or not loaded.is_private:
        raise ConfigurationError("the key must be a private EC, OKP or RSA key")
    return loaded


def _import(key: KeyInput) -> Any:
    text = key.read_text() if isinstance(key, Path) else key.decode() if isinstance(key, bytes) else key
    try:
        if isinstance(text, str) and text.lstrip().startswith("{"):
            text = json.loads(text)
        if not isinstance(text, str):
            return jwk.import_key(dict(text))
        kind = "OKP" if "ED25519" in text.upper() else "RSA" if "RSA" in text.upper() else "EC"
        return jwk.import_key(text, kind)  # type: ignore[call-overload]
    except Exception as exc:  # joserfc raises several types for one cause: not a usable key
        raise ConfigurationError(f"the private key cannot be read: {exc}") from None


def algorithm_of(key: PrivateKey) -> str:
    alg = key.get("alg") if hasattr(key, "get") else None
    return str(alg) if alg else ALGORITHMS[key.key_type]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token_hash(access_token: str) -> str:
    """The `ath` claim: base64url of the SHA-256 of the access token (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def _apply(base: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Overrides replace members; an override of None removes the member."""
    for name, value in (overrides or {}).items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


class ClientAssertionSigner:
    """Signs `private_key_jwt` client assertions (RFC 7523 §3; FAPI 2.0: `aud` is the issuer alone)."""

    def __init__(
        self, client_id: str, key: KeyInput | PrivateKey, audience: str, clock: Clock = time.time
    ) -> None:
        self.client_id = client_id
        self.audience = audience
        self._key = load_private_key(key)
        self._alg = algorithm_of(self._key)
        self._clock = clock

    def sign(
        self,
        *,
        lifetime: int = 60,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        now = int(self._clock())
        payload = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        protected = _apply({"alg": self._alg, "typ": "JWT"}, header)
        if self._key.kid:
            protected.setdefault("kid", self._key.kid)
        alg = str(protected["alg"])
        return jwt.encode(protected, _apply(payload, claims), self._key, algorithms=[alg])

    def form(self) -> dict[str, str]:
        """The client-authentication members of a token, PAR or revocation request."""
        return {
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.sign(),
        }


class DPoPKey:
    """The client's proof-of-possession key (RFC 9449): tokens are bound to its thumbprint."""

    def __init__(self, key: KeyInput | PrivateKey | None = None, *, clock: Clock = time.time) -> None:
        self.key: PrivateKey = (
            load_private_key(key) if key is not None else jwk.ECKey.generate_key("P-256", private=True)
        )
        self.alg = algorithm_of(self.key)
        self.public_jwk: dict[str, Any] = {
            k: v for k, v in self.key.as_dict(private=False).items() if k not in PRIVATE_MEMBERS
        }
        self.thumbprint: str = self.key.thumbprint()  # RFC 7638, the token's `cnf.jkt`
        self._clock = clock

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """A fresh, single-use proof for one request (RFC 9449 §4.2): `htu` without query or fragment."""
        payload: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": url.split("?", 1)[0].split("#", 1)[0],
            "iat": int(self._clock()),
        }
        if access_token is not None:
            payload["ath"] = access_token_hash(access_token)
        if nonce is not None:
            payload["nonce"] = nonce
        protected = _apply({"typ": PROOF_TYPE, "alg": self.alg, "jwk": self.public_jwk}, header)
        body = json.dumps(_apply(payload, claims), separators=(",", ":")).encode()
        return jws.serialize_compact(protected, body, self.key, algorithms=[str(protected["alg"])])

    def export(self) -> dict[str, Any]:
        """The private JWK, to keep a key (and the refresh tokens bound to it) across processes."""
        return dict(self.key.as_dict(private=True))
