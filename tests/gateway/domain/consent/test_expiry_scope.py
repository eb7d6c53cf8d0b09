"""Consent expiry for a set of customers (a sandbox test clock's), on memory, SQLite and
PostgreSQL: a scoped sweep expires only their consents, and `next_due` names the next expiry of
their authorized ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.domain.consent.memory import InMemoryConsentRepository
from gateway.domain.consent.models import ConsentStatus, EventKind
from gateway.domain.consent.ports import ConsentRepository
from gateway.domain.consent.service import ConsentService
from gateway.storage.consent import SqlConsentRepository
from sandbox.clock import FrozenClock
from tests.gateway.storage.test_consent import T0, ask, authorize, fresh_database

MINE, OTHER = "cus_mine", "cus_other"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsentRepository]:
    """A store of its own: the unscoped sweep must find this test's consents only."""
    if request.param == "memory":
        yield InMemoryConsentRepository()
        return
    with fresh_database(request.param, tmp_path) as db:
        yield SqlConsentRepository(db)


def test_a_scoped_sweep_expires_only_its_customers_and_next_due_names_the_next_expiry(
    repository: ConsentRepository,
) -> None:
    clock = FrozenClock(T0)
    service = ConsentService(repository, clock)
    assert service.next_due([MINE], T0) is None  # nothing authorized
    ask(service, days=1)  # never authorized: never expires by the sweep
    soon = authorize(service, ask(service, days=2), MINE)
    later = authorize(service, ask(service, days=5), MINE)
    theirs = authorize(service, ask(service, days=2), OTHER)
    assert service.next_due([MINE], T0) == soon.expires_at
    assert service.next_due([MINE, OTHER], T0) == soon.expires_at

    clock.set(soon.expires_at)
    assert service.expire_lapsed([MINE]) == 1
    assert repository.get(soon.id).status is ConsentStatus.EXPIRED  # type: ignore[union-attr]
    assert repository.get(theirs.id).status is ConsentStatus.AUTHORIZED  # type: ignore[union-attr]
    assert [e.kind for e in repository.events(theirs.id)] == [EventKind.CREATED, EventKind.AUTHORIZED]
    assert service.next_due([MINE], clock.now()) == later.expires_at
    # The other customer's consent lapsed and is not swept yet: due at once.
    assert service.next_due([OTHER], clock.now()) == clock.now()

    clock.set(later.expires_at)
    assert service.expire_lapsed() == 2  # unscoped: every customer, as the platform's job
    assert repository.get(theirs.id).status is ConsentStatus.EXPIRED  # type: ignore[union-attr]
    assert repository.get(later.id).status is ConsentStatus.EXPIRED  # type: ignore[union-attr]
    assert service.next_due([MINE, OTHER], clock.now()) is None
    assert service.expire_lapsed([]) == 0
    assert service.next_due([], T0) is None
