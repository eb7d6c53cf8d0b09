"""Staff sign-in for the supervisor console: compliance officers and supervisors in a browser.

The simplest secure design that needs no new table, reusing the customer sign-in's parts:
- Officers are a JSON file, `var/staff/officers.json` (mode 0600): username, Argon2id hash
  (gateway.auth.passwords) and roles. `gateway seed` writes a demo officer there and its password
  to `var/demo/staff.json` (0600); operators edit the file, the gateway only reads it and rereads it
  when it changes, so removing an officer (or a role) takes effect on their next request.
- Roles: `compliance_officer` reads the alert queue and clears; `supervisor` (a regulator) reads.
- A session is the cookie `__Host-staff-session` (Secure, HttpOnly, Path=/, SameSite=Strict): a
  random session id, the username and the expiry, MACed with HMAC-SHA256 under a key kept beside
  the production signing keys (`var/keys/production/staff-sessions.key`, 0600). Cookie name, key
  and format all differ from the customers' server-side sessions: a customer's session is never an
  officer's, and nothing here reads the customer tables.
- The CSRF token is HMAC(key, "csrf" | session id): one per session, nothing to store.
- Sessions last `SESSION_LIFETIME` at most; sign-out revokes the session id in the production
  revocation list (stored in the database, seen by every worker within a second), so a copied
  cookie dies with the sign-out.
- Password guessing meets the customer sign-in throttle (per username and per address); unknown
  usernames cost one Argon2id verification like known ones.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

from gateway.auth.login import LoginRefusedError
from gateway.auth.passwords import hash_password, verify_password
from gateway.auth.signed_sessions import SessionRevocations, SignedSessions
from gateway.domain.clock import Clock

SESSION_LIFETIME: Final = timedelta(minutes=30)
SESSION_COOKIE: Final = "__Host-staff-session"
SESSION_CLIENT_ID: Final = "staff-session"  # how sign-outs are labelled in the revocation list
_USERNAME_MAX: Final = 100


class Role(StrEnum):
    COMPLIANCE_OFFICER = "compliance_officer"
    SUPERVISOR = "supervisor"


_ROLES: Final = frozenset(role.value for role in Role)
# The demo officers that `gateway seed` creates: one who clears, one regulator who only reads.
DEMO_OFFICERS: Final = (
    ("compliance.officer", (Role.COMPLIANCE_OFFICER,)),
    ("supervisor", (Role.SUPERVISOR,)),
)


@dataclass(frozen=True, slots=True)
class Officer:
    username: str
    password_hash: str
    roles: frozenset[Role]

    @property
    def can_clear(self) -> bool:
        """Only a compliance officer clears alerts and restrictions; a supervisor reads."""
        return Role.COMPLIANCE_OFFICER in self.roles

    @property
    def identity(self) -> str:
        """Who cleared, as recorded with the alert or restriction and in the audit trail."""
        return f"officer:{self.username}"


@dataclass(frozen=True, slots=True)
class StaffSession:
    session_id: str
    officer: Officer
    csrf_token: str
    expires_at: datetime


def officers_file(var_dir: Path) -> Path:
    return var_dir / "staff" / "officers.json"


def session_key_file(keys_dir: Path) -> Path:
    return keys_dir / "production" / "staff-sessions.key"


def write_officers(path: Path, officers: Iterable[Officer]) -> None:
    """Write the directory privately (0600 in a 0700 folder), replacing it atomically."""
    document = [
        {"username": o.username, "password_hash": o.password_hash, "roles": sorted(o.roles)} for o in officers
    ]
    _write_private_json(path, document)


def seed_demo_officers(officers: Path, passwords: Path) -> list[tuple[str, list[str]]]:
    """The demo officers, with passwords written once to `passwords` (0600) and their hashes to the
    directory; officers already in the directory are left as they are."""
    if passwords.exists():
        logins: list[dict[str, object]] = json.loads(passwords.read_text())
    else:
        logins = [
            {"username": name, "password": secrets.token_urlsafe(12), "roles": sorted(roles)}
            for name, roles in DEMO_OFFICERS
        ]
        _write_private_json(passwords, logins)
    directory = OfficerDirectory(officers)
    known = directory.all()
    added = [
        Officer(str(login["username"]), hash_password(str(login["password"])), _roles(login["roles"]))
        for login in logins
        if str(login["username"]) not in {o.username for o in known}
    ]
    if added:
        write_officers(officers, [*known, *added])
    return [(str(login["username"]), sorted(_roles(login["roles"]))) for login in logins]


class OfficerDirectory:
    """The officers file, reread whenever it changes; a missing file means no officers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._officers: Mapping[str, Officer] = {}

    def get(self, username: str) -> Officer | None:
        return self._load().get(username)

    def all(self) -> list[Officer]:
        return list(self._load().values())

    def _load(self) -> Mapping[str, Officer]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._officers = None, {}
            return self._officers
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            items = json.loads(self.path.read_text())
            self._officers = {
                item["username"]: Officer(
                    username=item["username"],
                    password_hash=item["password_hash"],
                    roles=_roles(item.get("roles", ())),
                )
                for item in items
            }
            self._stamp = stamp
        return self._officers


class StaffLogin:
    def __init__(
        self, directory: OfficerDirectory, key: bytes, revocations: SessionRevocations, clock: Clock
    ) -> None:
        self.directory = directory
        self._sessions = SignedSessions(
            key, revocations, clock, lifetime=SESSION_LIFETIME, jti_prefix="sts", client_id=SESSION_CLIENT_ID
        )

    def authenticate(self, username: str, password: str) -> Officer:
        """The officer for a correct password; every refusal reads the same to a stranger."""
        officer = self.directory.get(username.strip().lower())
        if not verify_password(officer.password_hash if officer else None, password) or officer is None:
            raise LoginRefusedError("The username or password is not correct.")
        if not officer.roles:
            raise LoginRefusedError("This account has no staff role.")
        return officer

    def start_session(self, officer: Officer) -> tuple[str, StaffSession]:
        value, claims = self._sessions.issue(officer.username)
        return value, StaffSession(claims.session_id, officer, claims.csrf_token, claims.expires_at)

    def session(self, cookie: str | None) -> StaffSession | None:
        """The live session a cookie proves, or None (forged, expired, signed out, officer gone)."""
        claims = self._sessions.read(cookie)
        officer = self.directory.get(claims.subject) if claims is not None else None
        if claims is None or officer is None or not officer.roles:
            return None
        return StaffSession(claims.session_id, officer, claims.csrf_token, claims.expires_at)

    def end_session(self, session: StaffSession) -> None:
        self._sessions.revoke(session.session_id, session.expires_at)


def normal_username(value: str) -> str:
    return value.strip().lower()[:_USERNAME_MAX]


def _roles(values: object) -> frozenset[Role]:
    """Known roles only: a misspelt role grants nothing."""
    return (
        frozenset(Role(v) for v in values if v in _ROLES) if isinstance(values, list | tuple) else frozenset()
    )


def _write_private_json(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.parent / f".{path.name}.{secrets.token_hex(6)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    draft.replace(path)
