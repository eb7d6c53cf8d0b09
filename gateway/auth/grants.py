"""The secrets of delegated access: pushed request URIs (RFC 9126), authorization codes and refresh
tokens are random, and only their SHA-256 digests are stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

REQUEST_URI_PREFIX: Final = "urn:ietf:params:oauth:request_uri:"


def new_secret(prefix: str = "") -> str:
    """256 bits from the OS CSPRNG, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
