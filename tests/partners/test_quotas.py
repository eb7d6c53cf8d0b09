"""The quota rules: which quotas a charge meets, at what cost, and the notional an order is charged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.domain.environment import Environment
from gateway.domain.money import Currency
from gateway.domain.trading.models import OrderRequest, OrderType, Side
from partners.models import Partner, PartnerStage, PartnerStatus, PartnerType, PilotCaps, Plan
from partners.quotas import (
    CountedPer,
    Window,
    cents_of,
    order_notional,
    order_quotas,
    pilot_caps,
    points_quotas,
    quota_currencies,
    units,
)

CAPS = PilotCaps(customers=3, daily_notional=Decimal("5000.00"), currency="USD", daily_points=900)
PLAN = Plan(id="plan_x", name="x", rate_limits=(), orders_per_minute=7, notional_per_day=Decimal("100.005"))
PARTNER = Partner(
    id="ptn_1",
    name="Bank",
    type=PartnerType.INSTITUTION,
    region="CN",
    status=PartnerStatus.ACTIVE,
    operator=False,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    stage=PartnerStage.PILOT,
    pilot_caps=CAPS,
)


def test_pilot_caps_bind_a_pilot_partner_in_production_only() -> None:
    assert pilot_caps(PARTNER, Environment.PRODUCTION) == CAPS
    assert pilot_caps(PARTNER, Environment.SANDBOX) is None
    assert pilot_caps(replace(PARTNER, stage=PartnerStage.PRODUCTION), Environment.PRODUCTION) is None


def test_an_order_meets_the_plan_and_the_pilot_caps_with_the_moving_window_last() -> None:
    quotas = order_quotas(PLAN, CAPS, {Currency.CNY: 70_000, Currency.USD: 10_000})
    assert [(q.name, q.scope, q.window, q.cost, q.limit) for q in quotas] == [
        ("notional_per_day", CountedPer.APP, Window.DAY, 70_000, 10_001),  # limit rounded up to the cent
        ("pilot_daily_notional", CountedPer.PARTNER, Window.DAY, 10_000, 500_000),
        ("orders_per_minute", CountedPer.APP, Window.MINUTE, 1, 7),
    ]
    assert quota_currencies(CAPS) == {Currency.CNY, Currency.USD}
    assert [q.name for q in order_quotas(PLAN, None, {Currency.CNY: 1})] == [
        "notional_per_day",
        "orders_per_minute",
    ]


def test_a_conversion_meets_the_points_quotas() -> None:
    quotas = points_quotas(PLAN, CAPS, 250)
    assert [(q.name, q.scope, q.cost, q.limit) for q in quotas] == [
        ("points_per_day", CountedPer.APP, 250, PLAN.points_per_day),
        ("pilot_daily_points", CountedPer.PARTNER, 250, 900),
    ]


def test_the_notional_is_the_amount_or_quantity_times_the_limit_or_reference_price() -> None:
    subscription = OrderRequest(
        "c1", "ins_0000000001", Side.BUY, OrderType.FUND_SUBSCRIPTION, amount=Decimal(50)
    )
    limit = OrderRequest(
        "c2", "ins_0000000001", Side.SELL, OrderType.LIMIT, quantity=Decimal(3), limit_price=Decimal("2.5")
    )
    market = OrderRequest("c3", "ins_0000000001", Side.BUY, OrderType.MARKET, quantity=Decimal(4))

    def unused() -> Decimal:
        raise AssertionError("the reference price is read only for a market order")

    assert order_notional(subscription, unused) == Decimal(50)
    assert order_notional(limit, unused) == Decimal("7.5")
    assert order_notional(market, lambda: Decimal("1.25")) == Decimal(5)


@pytest.mark.parametrize(("amount", "cents"), [("0.001", 1), ("1.00", 100), ("1.011", 102)])
def test_money_is_counted_in_whole_cents_rounded_up(amount: str, cents: int) -> None:
    assert cents_of(Decimal(amount)) == cents


def test_counts_stay_integers_and_money_goes_back_to_currency_units() -> None:
    assert units(7, 1) == 7
    assert units(10_001, 100) == "100.01"
