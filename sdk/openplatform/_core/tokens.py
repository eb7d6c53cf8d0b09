"""Access tokens the client holds: its own (client credentials) and a customer's (delegated)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

# Renew before expiry: a token that dies in flight costs a 401 and a second round trip.
RENEW_MARGIN_SECONDS: Final = 60.0
RENEW_MARGIN_SHARE: Final = 0.25


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    token_type: str
    expires_at: float
    issued_at: float
    scope: str | None = None

    def fresh(self, now: float) -> bool:
        margin = min(RENEW_MARGIN_SECONDS, (self.expires_at - self.issued_at) * RENEW_MARGIN_SHARE)
        return now < self.expires_at - margin

    @classmethod
    def from_response(cls, body: Mapping[str, Any], now: float) -> Token:
        return cls(
            access_token=str(body["access_token"]),
            token_type=str(body.get("token_type", "Bearer")),
            expires_at=now + float(body.get("expires_in", 300)),
            issued_at=now,
            scope=body.get("scope"),
        )


@dataclass(frozen=True, slots=True)
class DelegatedGrant:
    """A customer's grant to the app: the tokens from the code exchange, renewed by refresh.

    Keep it (`to_dict`) with the DPoP key it is bound to (`Client.dpop_key.export()`): a refresh
    token works only with the key that received it (RFC 9449 §5).
    """

    access_token: str
    refresh_token: str | None
    expires_at: float
    issued_at: float
    token_type: str = "DPoP"  # noqa: S105 (a token type, not a secret)
    scope: str | None = None
    consent_id: str | None = None

    @property
    def token(self) -> Token:
        return Token(self.access_token, self.token_type, self.expires_at, self.issued_at, self.scope)

    def refreshed(self, body: Mapping[str, Any], now: float) -> DelegatedGrant:
        token = Token.from_response(body, now)
        return replace(
            self,
            access_token=token.access_token,
            token_type=token.token_type,
            expires_at=token.expires_at,
            issued_at=now,
            scope=token.scope or self.scope,
            refresh_token=body.get("refresh_token") or self.refresh_token,  # RFC 6749 §6: may rotate
        )

    @classmethod
    def from_response(cls, body: Mapping[str, Any], now: float) -> DelegatedGrant:
        token = Token.from_response(body, now)
        return cls(
            access_token=token.access_token,
            refresh_token=body.get("refresh_token"),
            expires_at=token.expires_at,
            issued_at=now,
            token_type=token.token_type,
            scope=token.scope,
            consent_id=body.get("consent_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "token_type": self.token_type,
            "scope": self.scope,
            "consent_id": self.consent_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DelegatedGrant:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


OnRefresh = Callable[[DelegatedGrant], None]
