"""Which access tokens were revoked, known to every worker within a second."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from gateway.domain.clock import Clock

POLL_INTERVAL = timedelta(seconds=1)
OVERLAP = timedelta(seconds=5)


class RevocationStore(Protocol):
    def revoke(self, *, jti: str, client_id: str, expires_at: datetime, revoked_at: datetime) -> None: ...
    def revoked_since(self, moment: datetime) -> list[tuple[str, datetime]]: ...


class RevocationList:
    """Local set of revoked `jti`s; a revocation in this process applies at once, one in another
    worker within `POLL_INTERVAL` (the store is polled, never read per request)."""

    def __init__(self, store: RevocationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._revoked: dict[str, datetime] = {}
        self._polled_at: datetime | None = None

    def revoke(self, *, jti: str, client_id: str, expires_at: datetime) -> None:
        now = self._clock.now()
        self._store.revoke(jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=now)
        self._revoked[jti] = now

    def is_revoked(self, jti: str) -> bool:
        now = self._clock.now()
        # A clock set back (NTP, a sandbox test clock) stamps new revocations before the last poll:
        # read them all again rather than wait for the clock to catch up.
        went_back = self._polled_at is not None and now < self._polled_at
        if self._polled_at is None or went_back or now - self._polled_at >= POLL_INTERVAL:
            since = (
                (self._polled_at - OVERLAP)
                if self._polled_at and not went_back
                else datetime.min.replace(tzinfo=now.tzinfo)
            )
            self._revoked.update(self._store.revoked_since(since))
            self._polled_at = now
        return jti in self._revoked
