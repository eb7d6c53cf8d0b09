"""Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme").

`webhook-signature: v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))>`, where `key` is the
base64-decoded part of the `whsec_` secret. Several signatures are separated by spaces: during a
secret rotation a message carries one per live secret, and a receiver accepts any that matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES: Final = 32  # the spec asks for 24 to 64 random bytes
SIGNATURE_VERSION: Final = "v1"


class WebhookSecret:
    """A signing secret that never shows itself in a repr, a log line or an f-string."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not 24 <= len(key) <= 64:
            raise ValueError("a webhook secret holds 24 to 64 bytes")
        self._key = key

    @classmethod
    def generate(cls) -> WebhookSecret:
        return cls(secrets.token_bytes(SECRET_BYTES))

    @classmethod
    def parse(cls, text: str) -> WebhookSecret:
        if not text.startswith(SECRET_PREFIX):
            raise ValueError("a webhook secret starts with whsec_")
        return cls(base64.b64decode(text[len(SECRET_PREFIX) :], validate=True))

    @property
    def key(self) -> bytes:
        return self._key

    def reveal(self) -> str:
        """The `whsec_` form, for the one response that hands it to the partner."""
        return SECRET_PREFIX + base64.b64encode(self._key).decode()

    def __repr__(self) -> str:
        return "WebhookSecret(****)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WebhookSecret) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._key).digest())


def signed_content(message_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def sign(secret: WebhookSecret, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of the message."""
    digest = hmac.new(secret.key, signed_content(message_id, timestamp, body), hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(keys: Sequence[WebhookSecret], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per live secret, newest first."""
    if not keys:
        raise ValueError("a message needs at least one secret to be signed with")
    return " ".join(sign(key, message_id, timestamp, body) for key in keys)


def headers(keys: Sequence[WebhookSecret], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(keys, message_id, timestamp, body),
    }


def verify(secret: WebhookSecret, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """True when any `v1` signature of the header matches (constant-time comparison)."""
    expected = sign(secret, message_id, timestamp, body).encode()
    return any(
        hmac.compare_digest(expected, candidate.encode())
        for candidate in header.split(" ")
        if candidate.startswith(SIGNATURE_VERSION + ",")
    )
