"""Signed session cookies for the browser sign-ins that keep no session table (staff, developers).

A cookie is `v1.<payload>.<mac>`: the payload holds a random session id, the subject and the expiry,
MACed with HMAC-SHA256 under the sign-in's own key (at least 32 bytes), so one sign-in's cookie is
never another's. The CSRF token is HMAC(key, "csrf" | session id): one per session, nothing to store.
Sign-out revokes the session id in the production revocation list (stored in the database, seen by
every worker within a second), so a copied cookie dies with the sign-out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from gateway.domain.clock import Clock

_VERSION: Final = "v1"
MAX_COOKIE_CHARS: Final = 512


class SessionRevocations(Protocol):
    """The part of `gateway.auth.revocation.RevocationList` that sessions need."""

    def revoke(self, *, jti: str, client_id: str, expires_at: datetime) -> None: ...
    def is_revoked(self, jti: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class SessionClaims:
    session_id: str
    subject: str
    csrf_token: str
    expires_at: datetime


class SignedSessions:
    def __init__(
        self,
        key: bytes,
        revocations: SessionRevocations,
        clock: Clock,
        *,
        lifetime: timedelta,
        jti_prefix: str,
        client_id: str,
    ) -> None:
        if len(key) < 32:
            raise ValueError(f"the {client_id} key needs at least 32 bytes")
        self._key = key
        self._revocations = revocations
        self._clock = clock
        self.lifetime = lifetime
        self._jti_prefix = jti_prefix
        self._client_id = client_id  # how sign-outs are labelled in the revocation list

    def issue(self, subject: str) -> tuple[str, SessionClaims]:
        """A new session for `subject`: the cookie value and what it proves."""
        session_id = secrets.token_urlsafe(16)
        expires_at = self._clock.now() + self.lifetime
        payload = {"sid": session_id, "sub": subject, "exp": int(expires_at.timestamp())}
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        value = f"{_VERSION}.{body}.{self._mac(f'{_VERSION}.{body}')}"
        return value, SessionClaims(session_id, subject, self.csrf(session_id), expires_at)

    def read(self, cookie: str | None) -> SessionClaims | None:
        """What a cookie proves, or None (forged, malformed, expired or signed out)."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        version, _, rest = cookie.partition(".")
        body, _, mac = rest.partition(".")
        expected = self._mac(f"{version}.{body}").encode()
        if version != _VERSION or not hmac.compare_digest(mac.encode("utf-8", "replace"), expected):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session_id, subject, expiry = str(payload["sid"]), str(payload["sub"]), int(payload["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        expires_at = datetime.fromtimestamp(expiry, UTC)
        if expires_at <= self._clock.now() or self._revocations.is_revoked(self._jti(session_id)):
            return None
        return SessionClaims(session_id, subject, self.csrf(session_id), expires_at)

    def revoke(self, session_id: str, expires_at: datetime) -> None:
        self._revocations.revoke(jti=self._jti(session_id), client_id=self._client_id, expires_at=expires_at)

    def csrf(self, session_id: str) -> str:
        return self._mac(f"csrf|{session_id}")

    def _jti(self, session_id: str) -> str:
        return f"{self._jti_prefix}_{session_id}"

    def _mac(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
