"""The records that sign-in and delegated access keep: credentials, sessions, requests, codes and tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    customer_id: str
    password_hash: str
    failed_logins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    customer_id: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Developer:
    id: str
    email: str
    partner_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeveloperCredentials:
    developer: Developer
    password_hash: str
    failed_logins: int
    locked_until: datetime | None


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
