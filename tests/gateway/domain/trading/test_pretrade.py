"""Rule PTC-12: a purchase needs a risk assessment from the last 24 months; sells never do."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.money import Currency
from gateway.domain.trading.errors import OrderRejectedError
from gateway.domain.trading.models import OrderType, Side
from gateway.domain.trading.ports import OrderQuery
from gateway.domain.trading.pretrade import (
    RULES,
    CheckStatus,
    OrderFacts,
    risk_assessment_expires_on,
    run_checks,
)
from gateway.settings import Settings
from gateway.storage.database import Database
from sandbox.clock import FrozenClock
from tests.delegation import fresh_customer, password_hash
from tests.trading import CN_MONEY_MARKET, CN_MORNING, CN_STOCK, Desk, actor_for, build_desk, request

FUND = Catalogue.from_file().get(CN_MONEY_MARKET)
TODAY = CN_MORNING.date()  # 2026-11-23


def facts(*, assessed: date | None, today: date = TODAY, side: Side = Side.BUY) -> OrderFacts:
    """A fund order that passes every other check, so that PTC-12 alone decides."""
    return OrderFacts(
        instrument=FUND,
        side=side,
        order_type=OrderType.FUND_SUBSCRIPTION if side is Side.BUY else OrderType.FUND_REDEMPTION,
        quantity=None if side is Side.BUY else Decimal(10),
        amount=Decimal(100) if side is Side.BUY else None,
        limit_price=None,
        reference_price=Decimal(1),
        market_open=True,
        next_open=None,
        account_id="acc_test01",
        max_cost=Decimal(100) if side is Side.BUY else Decimal(0),
        cost_currency=Currency.CNY,
        available_cash=Decimal(1000),
        available_units=Decimal(1000),
        notional=Decimal(100),
        notional_in_limit_currency=None,
        position_share_after=None,
        suitability=None,
        limit=None,
        restricted=False,
        risk_assessed_on=assessed,
        today=today,
    )


def ptc12(report_facts: OrderFacts) -> list[tuple[str, CheckStatus]]:
    return [(c.code, c.status) for c in run_checks(report_facts).checks if c.rule == "PTC-12"]


def test_the_rule_is_in_the_rule_table() -> None:
    assert "24 months" in RULES["PTC-12"]


@pytest.mark.parametrize(
    ("assessed", "expires"),
    [
        (date(2024, 5, 10), date(2026, 5, 10)),
        (date(2024, 2, 29), date(2026, 2, 28)),  # no 29 February in 2026
        (date(2024, 12, 31), date(2026, 12, 31)),
        (date(2025, 1, 31), date(2027, 1, 31)),
    ],
)
def test_an_assessment_expires_24_calendar_months_after_it_was_taken(assessed: date, expires: date) -> None:
    assert risk_assessment_expires_on(assessed) == expires


@pytest.mark.parametrize(
    ("assessed", "today", "expected"),
    [
        (date(2024, 5, 10), date(2026, 5, 9), ("risk_assessment_current", CheckStatus.PASSED)),
        (date(2024, 5, 10), date(2026, 5, 10), ("risk_assessment_expired", CheckStatus.FAILED)),
        (date(2023, 5, 10), date(2026, 12, 7), ("risk_assessment_expired", CheckStatus.FAILED)),
        (date(2026, 12, 8), date(2026, 12, 7), ("risk_assessment_current", CheckStatus.PASSED)),
        (None, date(2026, 12, 7), ("risk_assessment_expired", CheckStatus.FAILED)),
    ],
)
def test_a_purchase_needs_an_assessment_younger_than_24_months(
    assessed: date | None, today: date, expected: tuple[str, CheckStatus]
) -> None:
    assert ptc12(facts(assessed=assessed, today=today)) == [expected]


def test_the_refusal_names_the_date_and_the_24_months() -> None:
    report = run_checks(facts(assessed=date(2023, 5, 10), today=date(2026, 12, 7)))
    (check,) = report.failures
    assert (check.code, check.rule) == ("risk_assessment_expired", "PTC-12")
    assert dict(check.inputs) == {
        "risk_assessed_on": "2023-05-10",
        "validity_months": "24",
        "expires_on": "2025-05-10",
        "today": "2026-12-07",
    }
    assert "2023-05-10" in check.message
    assert "24 months" in check.message
    assert not report.can_place


def test_without_an_assessment_on_file_the_refusal_says_so() -> None:
    (check,) = run_checks(facts(assessed=None)).failures
    assert check.code == "risk_assessment_expired"
    assert check.inputs["risk_assessed_on"] == "none"
    assert "24 months" in check.message


@pytest.mark.parametrize("assessed", [None, date(2020, 1, 1)])
def test_a_sell_or_redemption_needs_no_assessment(assessed: date | None) -> None:
    report = run_checks(facts(assessed=assessed, side=Side.SELL))
    assert ptc12(facts(assessed=assessed, side=Side.SELL)) == []
    assert report.can_place


# -- on the order path ------------------------------------------------------------------------------


@pytest.fixture
def desk(backend_settings: Settings) -> Iterator[Desk]:
    database = Database(backend_settings.database(Environment.SANDBOX))
    try:
        yield build_desk(database, FrozenClock(CN_MORNING))
    finally:
        database.dispose()


def onboard(desk: Desk, assessed: date | None) -> Customer:
    """li.wei with the given assessment date, signed up and with her opening balances."""
    customer = dataclasses.replace(fresh_customer("li.wei"), risk_assessed_on=assessed)
    desk.customers.upsert(customer, password_hash=password_hash(), now=desk.clock.now())
    desk.positions.open_accounts(customer)
    return customer


def codes(exc: pytest.ExceptionInfo[OrderRejectedError]) -> set[str]:
    return {str(reason["code"]) for reason in exc.value.context["reasons"]}  # type: ignore[attr-defined]


SUBSCRIPTION = {"instrument_id": CN_MONEY_MARKET, "order_type": "fund_subscription", "amount": "100.00"}
STOCK_BUY = {"instrument_id": CN_STOCK, "quantity": 100}


@pytest.mark.parametrize("terms", [SUBSCRIPTION, STOCK_BUY])
def test_preview_shows_and_placing_refuses_a_purchase_on_an_expired_assessment(
    desk: Desk, terms: dict[str, object]
) -> None:
    customer = onboard(desk, date(2024, 11, 23))  # expired on the desk's day, 2026-11-23
    actor = actor_for(customer)
    preview = desk.entry.preview(actor, request(**terms))
    assert "risk_assessment_expired" in {c.code for c in preview.report.failures}
    with pytest.raises(OrderRejectedError) as refused:
        desk.entry.place(actor, request(**terms))
    assert "risk_assessment_expired" in codes(refused)
    assert (
        list(desk.store.list_orders(OrderQuery(partner_id=actor.partner_id, customer_id=customer.id))) == []
    )


def test_a_day_younger_assessment_lets_the_same_purchase_through(desk: Desk) -> None:
    customer = onboard(desk, date(2024, 11, 24))
    placement = desk.place(actor_for(customer), **SUBSCRIPTION)
    assert placement.created


def test_an_expired_assessment_still_redeems(desk: Desk) -> None:
    customer = onboard(desk, None)
    actor = actor_for(customer)
    terms = {
        "instrument_id": CN_MONEY_MARKET,
        "side": "sell",
        "order_type": "fund_redemption",
        "quantity": 10,
    }
    preview = desk.entry.preview(actor, request(**terms))
    assert [c for c in preview.report.checks if c.rule == "PTC-12"] == []
    assert desk.place(actor, **terms).created


def test_a_points_conversion_subscription_is_refused_too(desk: Desk) -> None:
    customer = onboard(desk, date(2023, 5, 10))
    with desk.store.session() as session:
        session.lock_trading()
        with pytest.raises(OrderRejectedError) as refused:
            desk.dealing.subscribe_in(
                session,
                actor_for(customer),
                client_order_id="points-cnv_test",
                instrument_id=CN_MONEY_MARKET,
                amount=Decimal("100.00"),
                acknowledgement_token=None,
            )
    assert codes(refused) == {"risk_assessment_expired"}
