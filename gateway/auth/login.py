"""Customer sign-in: Argon2id passwords, lockout after repeated failures, server-side sessions
whose cookie holds a random id (only its digest is stored) and a per-session CSRF token."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from gateway.auth.grants import digest
from gateway.auth.passwords import hash_password, needs_rehash, verify_password
from gateway.domain.clock import Clock
from gateway.domain.identity.models import SessionRecord
from gateway.domain.identity.ports import CustomerDirectory

LOCK_AFTER: Final = 5  # consecutive failures (PCI DSS 4.0 8.3.4 allows at most 10)
LOCK_FOR: Final = timedelta(minutes=15)
SESSION_LIFETIME: Final = timedelta(minutes=30)


class LoginRefusedError(Exception):
    """Wrong username or password, or a locked account; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class CustomerLogin:
    directory: CustomerDirectory
    clock: Clock
    # The sandbox's personas have published passwords: a lockout would only let one developer lock
    # a persona for every other; the login throttle still limits attempts per name and address.
    lockout: bool = True

    def authenticate(self, username: str, password: str) -> str:
        """The customer id for a correct password; every refusal reads the same to a stranger."""
        now = self.clock.now()
        credentials = self.directory.credentials(username.strip().lower())
        if (
            credentials is not None
            and credentials.locked_until is not None
            and credentials.locked_until > now
        ):
            raise LoginRefusedError(
                "This account is locked after too many failed attempts. Try again in 15 minutes."
            )
        if not verify_password(credentials.password_hash if credentials else None, password):
            if credentials is not None and self.lockout:
                self.directory.record_failure(
                    credentials.customer_id, now=now, lock_after=LOCK_AFTER, lock_for=LOCK_FOR
                )
            raise LoginRefusedError("The username or password is not correct.")
        assert credentials is not None  # noqa: S101 (verify_password refuses the unknown user)
        rehashed = hash_password(password) if needs_rehash(credentials.password_hash) else None
        self.directory.record_success(credentials.customer_id, password_hash=rehashed)
        return credentials.customer_id

    def start_session(self, customer_id: str) -> tuple[str, SessionRecord]:
        now = self.clock.now()
        value = secrets.token_urlsafe(32)
        record = SessionRecord(customer_id, secrets.token_urlsafe(32), now + SESSION_LIFETIME)
        self.directory.add_session(digest(value), record, now=now)
        return value, record

    def session(self, cookie: str | None) -> SessionRecord | None:
        if not cookie:
            return None
        record = self.directory.session(digest(cookie))
        if record is None or record.expires_at <= self.clock.now():
            return None
        return record

    def end_session(self, cookie: str | None) -> None:
        if cookie:
            self.directory.end_session(digest(cookie))


def same_token(expected: str, given: str | None) -> bool:
    """CSRF tokens and the like: constant-time, and an empty token never matches."""
    return bool(expected) and given is not None and hmac.compare_digest(expected, given)
