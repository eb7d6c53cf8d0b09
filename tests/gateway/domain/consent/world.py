"""The consent world the tests share: a service on an in-memory repository at a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway.domain.consent.memory import InMemoryConsentRepository
from gateway.domain.consent.models import (
    Consent,
    ConsentLimit,
    OrderPlacementLimit,
    PointsConversionLimit,
    verify_ledger,
)
from gateway.domain.consent.service import ConsentService
from gateway.domain.money import Currency, Money
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope
from sandbox.clock import FrozenClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BANK, SHOP = "prt_bank", "prt_shop"
BASIC = frozenset({Scope.ACCOUNTS_READ, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.POINTS_CONVERT})
EVERYTHING = frozenset(CUSTOMER_DELEGATED)
POINTS = PointsConversionLimit(funds=("F000001",), max_points_per_month=5000, max_points_per_conversion=500)
ORDERS = OrderPlacementLimit(Money(Decimal("10000.00"), Currency.CNY), instruments=("ETF", "FUND"))


class World:
    def __init__(self) -> None:
        self.clock = FrozenClock(T0)
        self.repository = InMemoryConsentRepository()
        self.notified: list[Consent] = []
        self.service = ConsentService(self.repository, self.clock, listeners=(self.notified.append,))

    def create(
        self,
        partner_id: str = BANK,
        permissions: frozenset[Scope] = BASIC,
        expires_in: timedelta = timedelta(days=90),
        limits: tuple[ConsentLimit, ...] = (),
        purpose: str = "convert loyalty points into money-market funds",
        cross_border: bool = False,
    ) -> Consent:
        return self.service.create(
            partner_id=partner_id,
            client_id=f"live_{partner_id}",
            permissions=permissions,
            purpose=purpose,
            expires_at=self.clock.now() + expires_in,
            limits=limits,
            cross_border=cross_border,
        )

    def authorized(self, permissions: frozenset[Scope] = BASIC, **kwargs: Any) -> Consent:
        consent = self.create(permissions=permissions, **kwargs)
        return self.service.authorize(
            consent.id,
            customer_id="cus_1",
            granted=permissions,
            opted_in_high_risk=True,
            allow_cross_border=consent.cross_border,
        )

    def ledger_breaks_at(self) -> int | None:
        return verify_ledger(self.repository.events(), self.repository.head())
