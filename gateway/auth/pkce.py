"""PKCE (RFC 7636) with S256 only: FAPI 2.0 §5.3.2.2 refuses `plain`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Final

METHOD: Final = "S256"
# RFC 7636 §4.1: 43 to 128 unreserved characters.
VERIFIER: Final = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
# An S256 challenge is the unpadded base64url of a SHA-256 digest: exactly 43 characters.
CHALLENGE: Final = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def challenge_of(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def is_valid_challenge(challenge: str) -> bool:
    return CHALLENGE.fullmatch(challenge) is not None


def verify(verifier: str, challenge: str) -> bool:
    """Whether `verifier` answers `challenge`; compared in constant time."""
    if VERIFIER.fullmatch(verifier) is None:
        return False
    return hmac.compare_digest(challenge_of(verifier), challenge)
