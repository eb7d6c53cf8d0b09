"""Evidence packs signed by the sandbox issuer (sandbox/conformance.py): a compact JWS under the
key ring's current key, verifiable by anyone against the sandbox's published JWKS.

The header's `typ` is `evidence+jwt` (RFC 8725 §3.11, explicit typing): the resource server accepts
`at+jwt` only, so a pack signed with the token key can never pass as an access token, and a pack
has no audience, client authentication or scope claims either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError

from gateway.auth.keys import SIGNING_ALGORITHM, KeyRing
from sandbox.conformance import PACK_TYPE, InvalidPackError

EVIDENCE_TYPE: Final = "evidence+jwt"


class EvidenceSigner:
    """Satisfies `sandbox.conformance.PackSigner` with the sandbox's key ring."""

    def __init__(self, keys: KeyRing, issuer: str) -> None:
        self._keys = keys
        self._issuer = issuer

    @property
    def issuer(self) -> str:
        return self._issuer

    def sign(self, claims: Mapping[str, Any]) -> str:
        key = self._keys.signing_key()
        header = {"alg": SIGNING_ALGORITHM, "typ": EVIDENCE_TYPE, "kid": key.kid}
        return jwt.encode(header, dict(claims), key, algorithms=[SIGNING_ALGORITHM])

    def verify(self, pack: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(pack, self._keys.verification_keys(), algorithms=[SIGNING_ALGORITHM])
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidPackError("the pack's signature does not verify with the sandbox keys") from exc
        claims = decoded.claims
        if decoded.header.get("typ") != EVIDENCE_TYPE or claims.get("type") != PACK_TYPE:
            raise InvalidPackError("not an evidence pack")
        if claims.get("iss") != self._issuer:
            raise InvalidPackError("the pack was signed by another issuer")
        return dict(claims)
