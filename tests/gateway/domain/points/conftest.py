"""Fixtures for the points service: a trading desk on a real database plus the points service."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.domain.consent.models import PointsConversionLimit
from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.money import Currency
from gateway.domain.points.models import Valuation
from gateway.domain.points.service import PointsActor, PointsService
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.points import SqlPointsStore
from gateway.storage.tables.outbox import OutboxRow
from sandbox.clock import FrozenClock
from tests.trading import CN_MORNING, Desk, build_desk


@dataclass
class PointsDesk:
    desk: Desk
    service: PointsService
    store: SqlPointsStore

    @property
    def clock(self) -> FrozenClock:
        return self.desk.clock

    def actor(
        self,
        customer: Customer,
        *,
        limit: PointsConversionLimit | None = None,
        partner: str = "",
        consent: str = "",
    ) -> PointsActor:
        partner_id = partner or f"ptn_{secrets.token_hex(5)}"
        return PointsActor(
            partner_id=partner_id,
            client_id=f"live_{partner_id[4:]}",
            customer_id=customer.id,
            consent_id=consent or f"cns_{secrets.token_hex(5)}",
            limit=limit,
        )

    def publish(
        self, partner_id: str, points: int = 100, amount: str = "1.00", currency: str = "CNY"
    ) -> Valuation:
        return self.service.publish_valuation(
            partner_id,
            points=points,
            amount=Decimal(amount),
            currency=Currency(currency),
            valid_from=None,
            valid_until=self.clock.now() + timedelta(days=30),
        )

    def events(self, subject_id: str) -> list[str]:
        table = OutboxRow.__table__
        with self.desk.database.read() as conn:
            rows = conn.execute(
                table.select()
                .where(table.c.subject_id == subject_id)
                .order_by(table.c.created_at, table.c.id)
            )
            return [row.type for row in rows]

    def house_points(self, currency: str = "CNY") -> Decimal:
        from gateway.storage.trading import balances

        with self.desk.database.read() as conn:
            row = conn.execute(
                balances.select().where(
                    (balances.c.account_id == "house:points") & (balances.c.asset == f"cash:{currency}")
                )
            ).first()
        return row.total if row else Decimal(0)


def build_points(database: Database, clock: FrozenClock, *, daily_cap: int = 20_000) -> PointsDesk:
    desk = build_desk(database, clock)
    store = SqlPointsStore(database)
    service = PointsService(
        store=store, funds=desk.dealing, catalogue=desk.catalogue, clock=clock, daily_cap=daily_cap
    )
    return PointsDesk(desk, service, store)


@pytest.fixture
def points_factory() -> Callable[[Database, FrozenClock], PointsDesk]:
    return build_points


@pytest.fixture
def points(backend_settings: Settings) -> Iterator[PointsDesk]:
    database = Database(backend_settings.database(Environment.SANDBOX))
    try:
        yield build_points(database, FrozenClock(CN_MORNING))
    finally:
        database.dispose()
