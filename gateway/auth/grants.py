"""The records of delegated access: pushed authorization requests (RFC 9126), authorization codes
and refresh tokens. Their values are random and only their SHA-256 digests are stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

REQUEST_URI_PREFIX: Final = "urn:ietf:params:oauth:request_uri:"


def new_secret(prefix: str = "") -> str:
    """256 bits from the OS CSPRNG, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PushedRequest:
    """A validated authorization request, waiting for the customer at the authorization endpoint."""

    client_id: str
    parameters: Mapping[str, str]
    dpop_jkt: str | None
    expires_at: datetime
    used_at: datetime | None = None
    customer_id: str | None = None
    decided_at: datetime | None = None

    @property
    def consent_id(self) -> str:
        return self.parameters["consent_id"]

    @property
    def redirect_uri(self) -> str:
        return self.parameters["redirect_uri"]

    @property
    def state(self) -> str | None:
        return self.parameters.get("state")


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    code_hash: str
    client_id: str
    customer_id: str
    consent_id: str
    redirect_uri: str
    code_challenge: str
    scopes: frozenset[str]
    dpop_jkt: str | None
    expires_at: datetime
    used_at: datetime | None = None
    access_jti: str | None = None
    access_expires_at: datetime | None = None
    refresh_hash: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token_hash: str
    client_id: str
    consent_id: str
    customer_id: str
    dpop_jkt: str | None
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None = None


class GrantStore(Protocol):
    def push(self, id_hash: str, request: PushedRequest) -> None: ...
    def pushed(self, id_hash: str) -> PushedRequest | None: ...
    def open_pushed(self, id_hash: str, *, transaction_hash: str, customer_id: str, now: datetime) -> bool:
        """Mark a request used (once, before expiry) and start its consent-screen transaction."""
        ...

    def by_transaction(self, transaction_hash: str) -> PushedRequest | None: ...
    def decide(self, transaction_hash: str, *, customer_id: str, now: datetime) -> bool:
        """Close the transaction: true for the one caller that decides it."""
        ...

    def add_code(self, code: AuthorizationCode) -> None: ...
    def code(self, code_hash: str) -> AuthorizationCode | None: ...
    def redeem_code(
        self,
        code_hash: str,
        *,
        now: datetime,
        access_jti: str,
        access_expires_at: datetime,
        refresh: RefreshToken,
    ) -> bool:
        """Use the code once, recording what it produced; false if it was used before."""
        ...

    def refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    def revoke_refresh_token(self, token_hash: str, *, now: datetime) -> None: ...
    def revoke_refresh_tokens_of_consent(self, consent_id: str, *, now: datetime) -> int: ...
