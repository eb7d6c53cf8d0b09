"""Customer passwords: Argon2id, a memory-hard KDF (RFC 9106; OWASP's first choice)."""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# RFC 9106 §4 second recommended option (64 MiB, 3 passes), with 2 lanes for this 2-core machine.
HASHER: Final = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)
# Verified against when the username is unknown, so both answers take the same time.
_DUMMY_HASH: Final = HASHER.hash("an unknown user's password is never this")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; an unknown user (`None`) costs as much as a known one."""
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)
