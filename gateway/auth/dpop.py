"""DPoP proofs (RFC 9449 §4.3): proof of possession of a client-held key, checked per request.

No web framework here: the token endpoint and the resource server hand in the method, the public
URL, the access token (resource calls) and the nonce they require, if any. Proofs are never
cached; each `jti` is single use through the shared replay cache.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

from gateway.domain.clock import Clock
from gateway.domain.jwk import b64url, thumbprint

PROOF_TYPE: Final = "dpop+jwt"
# Asymmetric algorithms only: `none` and HS* never prove possession of a key.
PROOF_ALGORITHMS: Final = ("ES256", "EdDSA", "Ed25519", "PS256")
PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_PROOF_BYTES: Final = 8192
MAX_JTI_LENGTH: Final = 256

DPoPErrorCode = Literal["invalid_dpop_proof", "use_dpop_nonce"]


class DPoPProofError(Exception):
    """The DPoP proof is refused (RFC 9449 §5 and §7.1 error codes)."""

    def __init__(self, error: DPoPErrorCode, description: str) -> None:
        super().__init__(description)
        self.error: DPoPErrorCode = error
        self.description = description


@dataclass(frozen=True, slots=True)
class DPoPProof:
    """A verified proof: `jkt` is the RFC 7638 SHA-256 thumbprint of the proof's public key."""

    jkt: str
    jti: str
    iat: int
    htm: str
    htu: str
    jwk: dict[str, Any]


def access_token_hash(token: str) -> str:
    """The `ath` claim (RFC 9449 §4.2): base64url(SHA-256(ASCII(access token))), no padding."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def normalise_htu(url: str) -> str:
    """RFC 9449 §4.3 item 9 (RFC 3986 §6.2.2 and §6.2.3): scheme and host lower-case, the
    default port removed, an empty path as `/`; query and fragment are not compared."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname  # lower-cased by urlsplit
    if scheme not in DEFAULT_PORTS or not host:
        raise ValueError("not an absolute http(s) URL")
    port = parts.port  # raises ValueError for a port that is not a number in range
    if ":" in host:
        host = f"[{host}]"
    authority = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{authority}{parts.path or '/'}"


class _ProofRegistry(JWSRegistry):
    """joserfc's JWS registry, sized for a proof whose header carries an RSA key, and quiet about
    EdDSA: RFC 9864 deprecates the name in favour of Ed25519, but DPoP clients still send it."""

    max_header_length = 2048

    def get_alg(self, name: str) -> JWSAlgModel:
        if name not in self.algorithms or name not in (self.allowed or ()):
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


def _invalid(description: str) -> DPoPProofError:
    return DPoPProofError("invalid_dpop_proof", description)


class DPoPVerifier:
    def __init__(
        self,
        replay: Callable[[str, int], bool],
        clock: Clock,
        *,
        iat_window_seconds: int = 60,
        algorithms: tuple[str, ...] = PROOF_ALGORITHMS,
    ) -> None:
        refused = [a for a in algorithms if a not in PROOF_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(f"DPoP proofs use asymmetric algorithms only; refused: {refused}")
        if iat_window_seconds <= 0:
            raise ValueError("the iat window must be positive")
        self._first_use = replay
        self._clock = clock
        self.iat_window_seconds = iat_window_seconds
        self.algorithms = algorithms
        self._registry = _ProofRegistry(algorithms=list(algorithms))

    def verify(
        self,
        proof: str,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        nonce: str | tuple[str, ...] | None = None,
    ) -> DPoPProof:
        """Every check of RFC 9449 §4.3, in order; the first failure raises `DPoPProofError`."""
        claims, public_jwk = self._verify_signature(proof)
        htm = claims.get("htm")
        if not isinstance(htm, str) or htm != method:
            raise _invalid(f"htm must be the request method {method}")
        htu = claims.get("htu")
        if not isinstance(htu, str):
            raise _invalid("htu is required")
        try:
            matches = normalise_htu(htu) == normalise_htu(url)
        except ValueError as exc:
            raise _invalid("htu is not an absolute http(s) URL") from exc
        if not matches:
            raise _invalid("htu must be the request URL (without query and fragment)")
        iat = claims.get("iat")
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise _invalid("iat is required (a NumericDate)")
        now = int(self._clock.now().timestamp())
        if abs(now - iat) > self.iat_window_seconds:
            raise _invalid(f"iat must be within {self.iat_window_seconds} s of the server time")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise _invalid("jti is required")
        jkt = thumbprint(public_jwk)
        if not self._first_use(f"dpop:{jkt}:{jti}", 2 * self.iat_window_seconds):
            raise _invalid("this DPoP proof was used before (replayed jti)")
        if access_token is not None:
            ath = claims.get("ath")
            try:
                expected = access_token_hash(access_token)
            except UnicodeEncodeError as exc:
                raise _invalid("the access token is not ASCII") from exc
            if not isinstance(ath, str) or not hmac.compare_digest(ath, expected):
                raise _invalid("ath must be the hash of the access token")
        if nonce is not None:
            given = claims.get("nonce")
            accepted = (nonce,) if isinstance(nonce, str) else nonce
            if not isinstance(given, str) or not any(hmac.compare_digest(given, n) for n in accepted):
                raise DPoPProofError("use_dpop_nonce", "use the server-provided DPoP nonce")
        return DPoPProof(jkt=jkt, jti=jti, iat=iat, htm=htm, htu=htu, jwk=public_jwk)

    def _verify_signature(self, proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(proof, str) or len(proof) > MAX_PROOF_BYTES or proof.count(".") != 2:
            raise _invalid("the DPoP proof must be a JWS compact serialisation")
        try:
            unverified = jws.extract_compact(proof.encode("ascii"), registry=self._registry)
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise _invalid("the DPoP proof is malformed") from exc
        header: dict[str, Any] = dict(unverified.protected)
        if header.get("typ") != PROOF_TYPE:
            raise _invalid(f"typ must be {PROOF_TYPE}")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise _invalid(f"alg {alg!r} is not accepted; use one of {list(self.algorithms)}")
        public_jwk = header.get("jwk")
        if not isinstance(public_jwk, dict):
            raise _invalid("the jwk header is required")
        if PRIVATE_MEMBERS & public_jwk.keys():
            raise _invalid("the jwk header must hold a public key only")
        try:
            thumbprint(public_jwk)
            key = JWKRegistry.import_key(public_jwk)
            verified = jws.deserialize_compact(proof, key, registry=self._registry)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise _invalid("the DPoP proof signature does not verify with its jwk") from exc
        try:
            claims = json.loads(verified.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _invalid("the DPoP proof claims are not JSON") from exc
        if not isinstance(claims, dict):
            raise _invalid("the DPoP proof claims must be a JSON object")
        return claims, public_jwk
