"""Developer accounts for the developer portal: self-service sign-up, sign-in and signed sessions.

Rules (each pinned by tests/gateway/web/portal/test_portal.py):
- An account is an e-mail address (trimmed, lower-cased, at most 254 characters, one `@`, a dot in
  the domain) and an Argon2id password hash (gateway.auth.passwords). Signing up creates the
  developer partner through the registry, in stage `sandbox`, and the account that belongs to it:
  one account per partner, one partner per account.
- Password policy (NIST SP 800-63B §5.1.1.2 in spirit: length over composition rules): 12 to 128
  characters, at least 5 different characters, not one of a few well-known passwords, and not
  containing the e-mail's local part (when it has 4 or more characters) or the organisation name.
- Sign-up says so when an e-mail is taken: without e-mail verification a sign-up form cannot hide it;
  the sign-up throttle (per e-mail and per address) bounds how fast anyone can ask.
- If the account insert loses a race on the same e-mail after the partner was created, that partner
  is suspended at once (a lifecycle event by `self-service`): no partner without an account stays
  active.
- 5 failed sign-ins in a row lock the account for 15 minutes (as for customers, ADR 0007); an unknown
  e-mail costs one Argon2id verification like a known one, and every refusal reads the same.
- A session is the cookie `__Host-portal-session` (Secure, HttpOnly, Path=/, SameSite=Strict): a random
  session id, the account id and the expiry, MACed with HMAC-SHA256 under its own key
  (`var/keys/production/portal-sessions.key`). Cookie name, key and format differ from the customer
  and staff sessions, so neither of those opens the portal, nor a portal session their pages.
- Sessions last `SESSION_LIFETIME` (2 hours) at most; sign-out revokes the session id in the
  production revocation list, so a copied cookie dies with the sign-out. The CSRF token is
  HMAC(key, "csrf" | session id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.auth.login import LoginRefusedError
from gateway.auth.passwords import hash_password, needs_rehash, verify_password
from gateway.auth.signed_sessions import SessionRevocations, SignedSessions
from gateway.domain.clock import Clock
from gateway.domain.identity.models import Developer
from gateway.domain.identity.ports import DeveloperStore
from gateway.domain.ids import new_id
from partners.service import Registry

SESSION_LIFETIME: Final = timedelta(hours=2)
SESSION_COOKIE: Final = "__Host-portal-session"
SESSION_CLIENT_ID: Final = "portal-session"  # how sign-outs are labelled in the revocation list
LOCK_AFTER: Final = 5
LOCK_FOR: Final = timedelta(minutes=15)
EMAIL_MAX: Final = 254  # RFC 5321 §4.5.3.1.3 path limit, less the angle brackets
PASSWORD_MIN: Final = 12
PASSWORD_MAX: Final = 128
PASSWORD_DISTINCT_MIN: Final = 5
COMMON_PASSWORDS: Final = frozenset(
    {
        "123456789012",
        "1234567890123",
        "password1234",
        "password12345",
        "passwordpassword",
        "qwertyuiop123",
        "qwertyuiopasdf",
        "letmein123456",
        "iloveyou1234",
        "administrator",
        "correcthorsebatterystaple",
    }
)
_EMAIL: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class PortalSession:
    session_id: str
    developer: Developer
    csrf_token: str
    expires_at: datetime


class SignUpRefusedError(Exception):
    """A sign-up form that breaks a rule; `field` names the form field, the message is safe to show."""

    def __init__(self, field: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status  # 409 for a taken e-mail, 429 for a throttled form, 422 for a broken rule


def normal_email(value: str) -> str:
    return value.strip().lower()


def check_email(email: str) -> str:
    """The e-mail, normalised, or a refusal naming the field."""
    email = normal_email(email)
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise SignUpRefusedError("email", "Enter an e-mail address like name@example.com.")
    return email


def check_password(password: str, *, email: str, organisation: str) -> None:
    """The password policy of the module docstring; the first broken rule is the refusal."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise SignUpRefusedError(
            "password", f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters."
        )
    if len(set(password)) < PASSWORD_DISTINCT_MIN:
        raise SignUpRefusedError(
            "password", f"Use at least {PASSWORD_DISTINCT_MIN} different characters in the password."
        )
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        raise SignUpRefusedError("password", "This password is too well known. Choose another one.")
    local_part = email.partition("@")[0]
    organisation = organisation.strip().lower()
    if (len(local_part) >= 4 and local_part in lowered) or (organisation and organisation in lowered):
        raise SignUpRefusedError(
            "password", "The password must not contain your e-mail address or organisation name."
        )


class DeveloperAccounts:
    """Sign-up, sign-in and sessions of the developer portal (rules in the module docstring)."""

    def __init__(
        self,
        store: DeveloperStore,
        registry: Registry,
        key: bytes,
        revocations: SessionRevocations,
        clock: Clock,
    ) -> None:
        self.store = store
        self.registry = registry
        self._clock = clock
        self._sessions = SignedSessions(
            key, revocations, clock, lifetime=SESSION_LIFETIME, jti_prefix="pds", client_id=SESSION_CLIENT_ID
        )

    def sign_up(self, *, email: str, organisation: str, region: str, password: str) -> Developer:
        """A new developer partner (stage `sandbox`) and its account; raises SignUpRefusedError or a
        registry error (InvalidAppError, DuplicatePartnerError) that names the field."""
        email = check_email(email)
        check_password(password, email=email, organisation=organisation)
        if self.store.email_taken(email):
            raise SignUpRefusedError(
                "email", "An account with this e-mail exists already. Sign in instead.", status=409
            )
        password_hash = hash_password(password)  # the slow step before anything is written
        partner = self.registry.create_developer(organisation=organisation, region=region)
        developer = Developer(new_id("dev", random_bytes=8), email, partner.id, self._clock.now())
        if not self.store.add(developer, password_hash):
            self.registry.abandon_developer(partner.id, "sign-up lost a race on its e-mail; no account")
            raise SignUpRefusedError(
                "email", "An account with this e-mail exists already. Sign in instead.", status=409
            )
        return developer

    def authenticate(self, email: str, password: str) -> Developer:
        """The developer for a correct password; every refusal reads the same to a stranger."""
        now = self._clock.now()
        credentials = self.store.credentials(normal_email(email)[:EMAIL_MAX])
        if (
            credentials is not None
            and credentials.locked_until is not None
            and credentials.locked_until > now
        ):
            raise LoginRefusedError(
                "This account is locked after too many failed attempts. Try again in 15 minutes."
            )
        if not verify_password(credentials.password_hash if credentials else None, password):
            if credentials is not None:
                self.store.record_failure(
                    credentials.developer.id, now=now, lock_after=LOCK_AFTER, lock_for=LOCK_FOR
                )
            raise LoginRefusedError("The e-mail or password is not correct.")
        assert credentials is not None  # noqa: S101 (verify_password refuses the unknown account)
        rehashed = hash_password(password) if needs_rehash(credentials.password_hash) else None
        self.store.record_success(credentials.developer.id, password_hash=rehashed)
        return credentials.developer

    def start_session(self, developer: Developer) -> tuple[str, PortalSession]:
        value, claims = self._sessions.issue(developer.id)
        return value, PortalSession(claims.session_id, developer, claims.csrf_token, claims.expires_at)

    def session(self, cookie: str | None) -> PortalSession | None:
        """The live session a cookie proves, or None (forged, expired, signed out, account gone)."""
        claims = self._sessions.read(cookie)
        developer = self.store.get(claims.subject) if claims is not None else None
        if claims is None or developer is None:
            return None
        return PortalSession(claims.session_id, developer, claims.csrf_token, claims.expires_at)

    def end_session(self, session: PortalSession) -> None:
        self._sessions.revoke(session.session_id, session.expires_at)
