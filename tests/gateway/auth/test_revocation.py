"""Revocations reach every worker by polling the store, also when the clock is set back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.auth.revocation import POLL_INTERVAL, RevocationList
from sandbox.clock import FrozenClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Store:
    """The revocation table: what other workers wrote, with their stamps."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, datetime]] = []

    def revoke(self, *, jti: str, client_id: str, expires_at: datetime, revoked_at: datetime) -> None:
        self.rows.append((jti, revoked_at))

    def revoked_since(self, moment: datetime) -> list[tuple[str, datetime]]:
        return [row for row in self.rows if row[1] >= moment]


def test_a_revocation_in_another_worker_is_seen_after_the_poll_interval() -> None:
    clock, store = FrozenClock(START), Store()
    revocations = RevocationList(store, clock)
    assert not revocations.is_revoked("jti-1")
    store.rows.append(("jti-1", clock.now()))  # another worker revokes
    assert not revocations.is_revoked("jti-1")  # not polled again within the interval
    clock.advance(POLL_INTERVAL)
    assert revocations.is_revoked("jti-1")


def test_a_clock_set_back_polls_at_once_and_misses_nothing() -> None:
    clock, store = FrozenClock(START + timedelta(days=2)), Store()
    revocations = RevocationList(store, clock)
    assert not revocations.is_revoked("jti-2")  # polled at the later time
    clock.set(START)
    store.rows.append(("jti-2", clock.now()))  # stamped two days before the last poll
    assert revocations.is_revoked("jti-2")
