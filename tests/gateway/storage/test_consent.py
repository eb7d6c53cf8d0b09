"""The consent repository contract, on memory, SQLite and PostgreSQL: a consent and its ledger
event land together or not at all, compare-and-set lets exactly one of concurrent steps win,
pages are stable, and tampering with the stored ledger is found at the first bad event."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from gateway.domain.audit.chain import GENESIS, ChainHead
from gateway.domain.consent.errors import ConsentTransitionError
from gateway.domain.consent.memory import InMemoryConsentRepository
from gateway.domain.consent.models import (
    Consent,
    ConsentEvent,
    ConsentStatus,
    EventKind,
    NewEvent,
    OrderPlacementLimit,
    PointsConversionLimit,
    verify_ledger,
)
from gateway.domain.consent.ports import ConsentRepository
from gateway.domain.consent.service import ConsentService
from gateway.domain.environment import Environment
from gateway.domain.money import Currency, Money
from gateway.domain.scopes import Scope
from gateway.settings import Settings
from gateway.storage.consent import SqlConsentRepository, heads
from gateway.storage.consent import events as event_rows
from gateway.storage.database import Database
from gateway.storage.migrate import migrate
from sandbox.clock import FrozenClock
from tests.conftest import BASE_URL, POSTGRES_URL, require_postgres

T = TypeVar("T")
# Microseconds on purpose: both databases must give back the very instant that was hashed.
T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
BANK, SHOP = "prt_bank", "prt_shop"
BASIC = frozenset({Scope.ACCOUNTS_READ, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.POINTS_CONVERT})
POINTS = PointsConversionLimit(
    funds=("F000001", "F000002"), max_points_per_month=5000, max_points_per_conversion=500
)
ORDERS = OrderPlacementLimit(Money(Decimal("10000.50"), Currency.CNY), instruments=("ETF", "FUND"))
THREADS = 8


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of its own: tampering never leaks into another test."""
    if backend == "postgresql":
        require_postgres()
        settings = Settings(
            base_url=BASE_URL,
            var_dir=tmp_path,
            database_url=POSTGRES_URL,
            database_schema_prefix=f"c{secrets.token_hex(4)}_",
        )
    else:
        settings = Settings(base_url=BASE_URL, var_dir=tmp_path)
    db = Database(settings.database(Environment.PRODUCTION))
    try:
        migrate(db)
        yield db
    finally:
        if db.target.schema:
            with db.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{db.target.schema}" CASCADE'))
        db.dispose()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as db:
        yield db


SQL = pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsentRepository]:
    if request.param == "memory":
        yield InMemoryConsentRepository()
        return
    with fresh_database(request.param, tmp_path) as db:
        yield SqlConsentRepository(db)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def service(repository: ConsentRepository, clock: FrozenClock) -> ConsentService:
    return ConsentService(repository, clock)


def ask(
    service: ConsentService, partner_id: str = BANK, *, cross_border: bool = False, days: int = 30
) -> Consent:
    return service.create(
        partner_id=partner_id,
        client_id=f"live_{partner_id}",
        permissions=BASIC,
        purpose="convert loyalty points into money-market funds",
        expires_at=service.clock.now() + timedelta(days=days),
        limits=(POINTS, ORDERS),
        cross_border=cross_border,
    )


def authorize(service: ConsentService, consent: Consent, customer_id: str = "cus_1") -> Consent:
    return service.authorize(
        consent.id,
        customer_id=customer_id,
        granted=BASIC,
        opted_in_high_risk=False,
        allow_cross_border=consent.cross_border,
    )


def in_parallel(count: int, work: Callable[[int], T]) -> list[T | Exception]:
    """Run `work` in `count` threads released at once; collect results and exceptions."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T | Exception:
        barrier.wait()
        try:
            return work(index)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


# The contract, on every adapter


def test_a_consent_reads_back_exactly(service: ConsentService, repository: ConsentRepository) -> None:
    consent = ask(service, cross_border=True)
    assert repository.get(consent.id) == consent
    stored = repository.get(consent.id)
    assert stored is not None
    assert stored.limits == (POINTS, ORDERS)
    assert stored.limits[1].as_document()["max_notional_per_order"] == "10000.50"
    assert stored.expires_at.tzinfo is UTC
    assert stored.created_at == T0
    assert repository.get("cns_missing") is None


def test_each_step_reads_back_and_the_ledger_verifies(
    service: ConsentService, repository: ConsentRepository, clock: FrozenClock
) -> None:
    first = ask(service, cross_border=True)
    clock.advance(timedelta(minutes=1, microseconds=7))
    authorized = authorize(service, first)
    assert repository.get(first.id) == authorized
    assert authorized.cross_border is True
    clock.advance(timedelta(minutes=1))
    revoked = service.revoke(first.id, by="partner", party_id=BANK)
    assert repository.get(first.id) == revoked
    assert revoked.revoked_by == "partner"
    second = ask(service, SHOP)
    service.reject(second.id, customer_id="cus_2")

    ledger = repository.events()
    assert [(e.seq, e.kind) for e in ledger] == [
        (1, EventKind.CREATED),
        (2, EventKind.AUTHORIZED),
        (3, EventKind.REVOKED),
        (4, EventKind.CREATED),
        (5, EventKind.REJECTED),
    ]
    assert ledger[0].prev_hash == GENESIS
    assert ledger[1].at == T0 + timedelta(minutes=1, microseconds=7)
    assert ledger[0].details["limits"] == [POINTS.as_document(), ORDERS.as_document()]
    assert ledger[1].details["cross_border"] is True
    assert repository.head() == ChainHead(5, ledger[-1].hash)
    assert verify_ledger(ledger, repository.head()) is None
    assert [e.kind for e in repository.events(second.id)] == [EventKind.CREATED, EventKind.REJECTED]


def test_a_lost_compare_and_set_writes_nothing(
    service: ConsentService, repository: ConsentRepository
) -> None:
    consent = ask(service)
    service.reject(consent.id, customer_id="cus_1")
    head = repository.head()
    stale = consent.authorize("cus_1", BASIC, opted_in_high_risk=False, allow_cross_border=False, now=T0)
    event = NewEvent(consent.id, EventKind.AUTHORIZED, T0, "customer:cus_1", {})
    assert repository.transition(stale, expected=ConsentStatus.AWAITING_AUTHORIZATION, event=event) is None
    assert repository.transition(stale, expected=ConsentStatus.AUTHORIZED, event=event) is None
    stored = repository.get(consent.id)
    assert stored is not None
    assert stored.status is ConsentStatus.REJECTED
    assert repository.head() == head
    assert len(repository.events()) == 2


def test_of_concurrent_transitions_from_one_status_exactly_one_wins(
    service: ConsentService, repository: ConsentRepository
) -> None:
    consent = ask(service)
    # Each contender brings its own version (a different customer), so the winner is visible.
    contenders = [
        consent.authorize(f"cus_{i}", BASIC, opted_in_high_risk=False, allow_cross_border=False, now=T0)
        for i in range(THREADS)
    ]

    def step(i: int) -> ConsentEvent | None:
        event = NewEvent(
            consent.id, EventKind.AUTHORIZED, T0, f"customer:cus_{i}", {"customer_id": f"cus_{i}"}
        )
        return repository.transition(
            contenders[i], expected=ConsentStatus.AWAITING_AUTHORIZATION, event=event
        )

    outcomes = in_parallel(THREADS, step)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    winners = [i for i, outcome in enumerate(outcomes) if outcome is not None]
    assert len(winners) == 1
    assert repository.get(consent.id) == contenders[winners[0]]
    ledger = repository.events()
    assert [e.kind for e in ledger] == [EventKind.CREATED, EventKind.AUTHORIZED]
    assert ledger[1].actor == f"customer:cus_{winners[0]}"
    assert verify_ledger(ledger, repository.head()) is None


def test_of_concurrent_revocations_exactly_one_lands(
    service: ConsentService, repository: ConsentRepository
) -> None:
    heard: list[Consent] = []
    listening = replace(service, listeners=(heard.append,))
    consent = authorize(service, ask(service))

    outcomes = in_parallel(THREADS, lambda _: listening.revoke(consent.id, by="partner", party_id=BANK))

    landed = [o for o in outcomes if isinstance(o, Consent)]
    assert len(landed) == 1
    assert all(isinstance(o, ConsentTransitionError) for o in outcomes if not isinstance(o, Consent))
    assert heard == landed
    assert [e.kind for e in repository.events(consent.id)].count(EventKind.REVOKED) == 1
    assert verify_ledger(repository.events(), repository.head()) is None


def test_concurrent_appends_keep_one_unbroken_chain(
    service: ConsentService, repository: ConsentRepository
) -> None:
    created = in_parallel(THREADS, lambda i: ask(service, f"prt_{i}"))
    assert all(isinstance(c, Consent) for c in created), created
    ledger = repository.events()
    assert [e.seq for e in ledger] == list(range(1, THREADS + 1))
    assert verify_ledger(ledger, repository.head()) is None


def test_pages_are_keyset_by_created_at_then_id(
    service: ConsentService, repository: ConsentRepository, clock: FrozenClock
) -> None:
    mine: list[Consent] = []
    for i in range(7):
        mine.append(ask(service))
        if i % 3 == 2:
            clock.advance(timedelta(microseconds=1))  # ties on created_at are broken by the id
    ask(service, SHOP)
    authorize(service, mine[2])
    authorize(service, mine[5])
    expected = sorted(mine, key=lambda c: (c.created_at, c.id))

    seen: list[str] = []
    after: str | None = None
    for _ in range(5):
        page = service.list_for_partner(partner_id=BANK, after=after, limit=3)
        seen += [c.id for c in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [c.id for c in expected]

    authorized = service.list_for_partner(partner_id=BANK, status=ConsentStatus.AUTHORIZED)
    assert [c.id for c in authorized.items] == [c.id for c in expected if c.id in {mine[2].id, mine[5].id}]
    shop_first = service.list_for_partner(partner_id=SHOP).items[0]
    assert repository.list_for_partner(BANK, after=shop_first.id) == []
    assert repository.list_for_partner(BANK, after="cns_unknown") == []


def test_a_customer_sees_the_consents_they_authorized(
    service: ConsentService, repository: ConsentRepository, clock: FrozenClock
) -> None:
    first = authorize(service, ask(service))
    ask(service)
    clock.advance(timedelta(seconds=1))
    second = authorize(service, ask(service, SHOP))
    authorize(service, ask(service), customer_id="cus_2")
    assert repository.list_for_customer("cus_1") == [first, second]


# SQL only: atomicity and tampering in the tables themselves


@SQL
def test_a_failed_append_leaves_neither_the_consent_nor_the_head(database: Database) -> None:
    repository = SqlConsentRepository(database)
    service = ConsentService(repository, FrozenClock(T0))
    first = ask(service)
    # Someone wrote an event behind the head's back: the next append collides with it.
    with database.write() as conn:
        conn.execute(
            event_rows.insert().values(
                seq=2,
                consent_id="cns_x",
                kind="created",
                at=T0,
                actor="x",
                details={},
                prev_hash="0",
                hash="0",
            )
        )
    with pytest.raises(sa.exc.IntegrityError):
        ask(service)
    with pytest.raises(sa.exc.IntegrityError):
        authorize(service, first)
    assert repository.list_for_partner(BANK) == [first]
    assert repository.get(first.id) == first
    assert repository.head() == ChainHead(1, repository.events()[0].hash)


def populate(database: Database) -> tuple[SqlConsentRepository, list[ConsentEvent]]:
    repository = SqlConsentRepository(database)
    clock = FrozenClock(T0)
    service = ConsentService(repository, clock)
    first = authorize(service, ask(service))
    clock.advance(timedelta(hours=1))
    service.revoke(first.id, by="customer", party_id="cus_1")
    second = ask(service, SHOP)
    service.reject(second.id, customer_id="cus_2")
    authorize(service, ask(service))
    ledger = list(repository.events())
    assert len(ledger) == 7
    assert verify_ledger(ledger, repository.head()) is None
    return repository, ledger


def breaks_at(repository: SqlConsentRepository) -> int | None:
    return verify_ledger(repository.events(), repository.head())


@SQL
@pytest.mark.parametrize(
    "change",
    [
        {"details": {"by": "partner"}},
        {"actor": "partner:prt_mallory"},
        {"kind": "rejected"},
        {"at": T0 + timedelta(microseconds=1)},
        {"consent_id": "cns_other"},
        {"hash": "f" * 64},
    ],
)
@pytest.mark.parametrize("seq", [1, 3, 7])
def test_an_edited_row_is_found_at_its_seq(database: Database, change: dict[str, Any], seq: int) -> None:
    repository, _ = populate(database)
    with database.write() as conn:
        conn.execute(event_rows.update().where(event_rows.c.seq == seq).values(**change))
    assert breaks_at(repository) == seq


@SQL
@pytest.mark.parametrize("seq", [1, 4, 7])
def test_a_deleted_row_is_found_at_its_seq(database: Database, seq: int) -> None:
    repository, _ = populate(database)
    with database.write() as conn:
        conn.execute(event_rows.delete().where(event_rows.c.seq == seq))
    assert breaks_at(repository) == seq


@SQL
def test_rows_swapped_with_their_seqs_are_found_at_the_first(database: Database) -> None:
    repository, ledger = populate(database)
    third, fourth = ledger[2], ledger[3]
    with database.write() as conn:
        for seq, row in ((3, fourth), (4, third)):
            conn.execute(
                event_rows.update()
                .where(event_rows.c.seq == seq)
                .values(
                    consent_id=row.consent_id,
                    kind=row.kind.value,
                    at=row.at,
                    actor=row.actor,
                    details=dict(row.details),
                    prev_hash=row.prev_hash,
                    hash=row.hash,
                )
            )
    assert breaks_at(repository) == 3


@SQL
@pytest.mark.parametrize("kept", [0, 2, 6])
def test_a_truncated_tail_is_found_at_the_first_missing_seq(database: Database, kept: int) -> None:
    repository, _ = populate(database)
    with database.write() as conn:
        conn.execute(event_rows.delete().where(event_rows.c.seq > kept))
    assert breaks_at(repository) == kept + 1


@SQL
def test_a_removed_head_is_found(database: Database) -> None:
    repository, _ = populate(database)
    with database.write() as conn:
        conn.execute(heads.delete())
    assert breaks_at(repository) == 1
