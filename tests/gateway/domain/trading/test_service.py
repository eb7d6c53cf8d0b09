"""The trading service on a real ledger (SQLite and PostgreSQL): fills, holds, the book, funds,
cooling-off, the pre-trade matrix, exactly-once client order ids and surveillance blocks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from gateway.domain.consent.models import OrderPlacementLimit
from gateway.domain.environment import Environment
from gateway.domain.market.models import InstrumentType
from gateway.domain.money import Currency, Money
from gateway.domain.trading.errors import (
    AccountRestrictedError,
    DuplicateOrderError,
    InvalidOrderError,
    OrderLimitExceededError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateError,
)
from gateway.domain.trading.ledger import HOUSE_STREET, EntryKind, JournalEntry, transfer
from gateway.domain.trading.models import Actor, Liquidity, OrderStatus
from gateway.domain.trading.ports import OrderQuery
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.tables.outbox import OutboxRow
from gateway.storage.trading import LedgerInvariantError
from sandbox.clock import FrozenClock
from tests.trading import (
    CN_EQUITY_FUND,
    CN_MONEY_MARKET,
    CN_MORNING,
    CN_STOCK,
    CN_STOCK_R4,
    US_MORNING,
    US_STOCK,
    Desk,
    actor_for,
    assert_ledger_balanced,
    build_desk,
    request,
)


@pytest.fixture
def desk(backend_settings: Settings) -> Iterator[Desk]:
    database = Database(backend_settings.database(Environment.SANDBOX))
    try:
        yield build_desk(database, FrozenClock(CN_MORNING))
    finally:
        database.dispose()


# No test leaves resting orders in this stock, so a market buy meets only the reference feed.
QUIET_STOCK = "ins_az37mebeym"


def reasons(exc: pytest.ExceptionInfo[Exception]) -> set[str]:
    return {str(reason["code"]) for reason in exc.value.context["reasons"]}  # type: ignore[attr-defined]


# -- fills on the ledger ---------------------------------------------------------------------------


def test_market_buy_fills_at_the_reference_price_and_books_cash_units_and_fees(desk: Desk) -> None:
    customer = desk.customer()
    before, _ = desk.cash(customer, "CNY")
    reference = desk.reference(QUIET_STOCK)
    placement = desk.place(actor_for(customer), instrument_id=QUIET_STOCK, quantity=100)
    order = placement.order
    assert placement.created
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == 100
    assert order.filled_notional == reference * 100
    assert order.fees > 0
    after, held = desk.cash(customer, "CNY")
    assert after == before - order.filled_notional - order.fees
    assert held == 0
    assert desk.units(customer, QUIET_STOCK) == (Decimal(100), Decimal(0))
    (fill,) = desk.store.fills(order.id)
    assert fill.liquidity is Liquidity.REFERENCE
    assert fill.price == reference
    assert_ledger_balanced(desk)


def test_a_limit_below_the_reference_rests_with_its_cost_held_and_cancel_releases_it(desk: Desk) -> None:
    customer = desk.customer()
    actor = actor_for(customer)
    limit = (desk.reference(CN_STOCK) * Decimal("0.95")).quantize(Decimal("0.01"))
    order = desk.place(
        actor, instrument_id=CN_STOCK, order_type="limit", quantity=100, limit_price=limit
    ).order
    assert order.status is OrderStatus.OPEN
    total, held = desk.cash(customer, "CNY")
    assert held == order.held_cash >= limit * 100
    assert_ledger_balanced(desk)
    cancelled = desk.entry.cancel(actor, order.id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert desk.cash(customer, "CNY") == (total, Decimal(0))
    with pytest.raises(OrderStateError):
        desk.entry.cancel(actor, order.id)
    assert_ledger_balanced(desk)


def test_two_customers_trade_with_each_other_in_the_book_at_the_makers_price(desk: Desk) -> None:
    seller, buyer = desk.customer(), desk.customer()
    desk.place(actor_for(seller), instrument_id=CN_STOCK, quantity=300)  # the seller buys shares first
    reference = desk.reference(CN_STOCK)
    ask = (reference * Decimal("0.99")).quantize(Decimal("0.01"))  # below the reference: only the book
    maker = desk.place(
        actor_for(seller),
        instrument_id=CN_STOCK,
        side="sell",
        order_type="limit",
        quantity=200,
        limit_price=ask,
    ).order
    # A sell limit below the reference reaches the reference feed and fills at once: this one does.
    assert maker.status is OrderStatus.FILLED
    # Now a resting ask above the reference, met by a buy limit at the same price.
    ask = (reference * Decimal("1.02")).quantize(Decimal("0.01"))
    maker = desk.place(
        actor_for(seller),
        instrument_id=CN_STOCK,
        side="sell",
        order_type="limit",
        quantity=100,
        limit_price=ask,
    ).order
    assert maker.status is OrderStatus.OPEN
    assert desk.units(seller, CN_STOCK) == (Decimal(100), Decimal(100))
    taker = desk.place(
        actor_for(buyer), instrument_id=CN_STOCK, order_type="limit", quantity=100, limit_price=ask + 1
    ).order
    assert taker.status is OrderStatus.FILLED
    (fill,) = desk.store.fills(taker.id)
    assert fill.liquidity is Liquidity.BOOK
    assert fill.price == ask
    assert fill.counter_order_id == maker.id
    assert desk.store.get_order(maker.id).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert desk.units(seller, CN_STOCK) == (Decimal(0), Decimal(0))
    assert desk.units(buyer, CN_STOCK) == (Decimal(100), Decimal(0))
    assert_ledger_balanced(desk)


def test_opposite_crossing_orders_of_one_customer_are_a_blocked_wash_trade(desk: Desk) -> None:
    customer = desk.customer()
    actor = actor_for(customer)
    desk.place(actor, instrument_id=CN_STOCK, quantity=100)
    ask = (desk.reference(CN_STOCK) * Decimal("1.02")).quantize(Decimal("0.01"))
    resting = desk.place(
        actor, instrument_id=CN_STOCK, side="sell", order_type="limit", quantity=100, limit_price=ask
    ).order
    desk.clock.advance(timedelta(seconds=30))
    blocked = desk.place(
        actor, instrument_id=CN_STOCK, order_type="limit", quantity=100, limit_price=ask
    ).order
    assert blocked.status is OrderStatus.REJECTED
    assert blocked.reject_reason == "wash_trade"
    assert desk.store.get_order(resting.id).status is OrderStatus.OPEN  # type: ignore[union-attr]
    assert_ledger_balanced(desk)
    # Retrying the same client order id returns the one rejected order, never a second.
    again = desk.entry.place(actor, request(**_terms_of(blocked)))
    assert again.order.id == blocked.id
    assert not again.created


def _terms_of(order: object) -> dict[str, object]:
    return {
        "client_order_id": order.client_order_id,  # type: ignore[attr-defined]
        "instrument_id": order.instrument_id,  # type: ignore[attr-defined]
        "side": order.side.value,  # type: ignore[attr-defined]
        "order_type": order.order_type.value,  # type: ignore[attr-defined]
        "quantity": order.quantity,  # type: ignore[attr-defined]
        "limit_price": order.limit_price,  # type: ignore[attr-defined]
    }


def test_three_high_alerts_restrict_the_account(desk: Desk) -> None:
    customer = desk.customer()
    actor = actor_for(customer)
    desk.place(actor, instrument_id=CN_STOCK, quantity=400)
    ask = (desk.reference(CN_STOCK) * Decimal("1.02")).quantize(Decimal("0.01"))
    desk.place(actor, instrument_id=CN_STOCK, side="sell", order_type="limit", quantity=100, limit_price=ask)
    for _ in range(3):
        desk.clock.advance(timedelta(seconds=5))
        blocked = desk.place(actor, instrument_id=CN_STOCK, order_type="limit", quantity=100, limit_price=ask)
        assert blocked.order.status is OrderStatus.REJECTED
    with pytest.raises(AccountRestrictedError):
        desk.place(actor, instrument_id=CN_STOCK, quantity=100)


# -- exactly once ----------------------------------------------------------------------------------


def test_a_client_order_id_places_one_order_and_refuses_other_terms(desk: Desk) -> None:
    customer = desk.customer()
    actor = actor_for(customer)
    first = desk.place(actor, client_order_id="once", instrument_id=CN_STOCK, quantity=100)
    second = desk.place(actor, client_order_id="once", instrument_id=CN_STOCK, quantity=100)
    assert second.order.id == first.order.id
    assert not second.created
    with pytest.raises(DuplicateOrderError):
        desk.place(actor, client_order_id="once", instrument_id=CN_STOCK, quantity=200)
    assert desk.units(customer, CN_STOCK) == (Decimal(100), Decimal(0))


# -- the pre-trade matrix --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "terms", "code"),
    [
        ("zhang.min", {"instrument_id": CN_STOCK, "quantity": 150}, "lot_size"),
        ("zhang.min", {"instrument_id": CN_STOCK, "quantity": 100000}, "insufficient_buying_power"),
        ("zhang.min", {"instrument_id": CN_STOCK, "side": "sell", "quantity": 100}, "insufficient_units"),
        ("zhang.min", {"instrument_id": US_STOCK, "quantity": 1}, "market_closed"),
        ("li.wei", {"instrument_id": CN_STOCK_R4, "quantity": 100}, "unsuitable"),
        ("li.wei", {"instrument_id": CN_STOCK, "quantity": 100}, "acknowledgement_required"),
        ("john.doe", {"instrument_id": CN_STOCK, "quantity": 100}, "no_account_for_market"),
        ("zhang.min", {"instrument_id": CN_MONEY_MARKET, "order_type": "fund_subscription", "amount": "0.50"},
         "below_minimum_subscription"),
        ("zhang.min", {"instrument_id": CN_MONEY_MARKET, "quantity": 100}, "order_type_not_allowed"),
        ("zhang.min", {"instrument_id": CN_STOCK, "order_type": "limit", "quantity": 100,
                       "limit_price": "1.00"}, "price_out_of_band"),
    ],
)  # fmt: skip
def test_each_pre_trade_check_refuses_with_its_reason(
    desk: Desk, persona: str, terms: dict[str, object], code: str
) -> None:
    customer = desk.customer(persona)
    actor = actor_for(customer)
    preview = desk.entry.preview(actor, request(**terms))
    assert code in {check.code for check in preview.report.failures + preview.report.unacknowledged}
    assert not preview.report.can_place
    with pytest.raises(OrderRejectedError) as refused:
        desk.entry.place(actor, request(**terms))
    assert code in reasons(refused)
    assert list(desk.store.list_orders(_query(actor))) == []


def _query(actor: Actor) -> OrderQuery:
    return OrderQuery(partner_id=actor.partner_id, customer_id=actor.customer_id)


def test_an_acknowledged_preview_token_lets_the_one_level_above_order_through(desk: Desk) -> None:
    customer = desk.customer("li.wei")  # C2, ordinary, CN; the stock is R3
    actor = actor_for(customer)
    preview = desk.entry.preview(actor, request(instrument_id=CN_STOCK, quantity=100))
    assert [d.code for d in preview.report.required_acknowledgements] == ["risk_mismatch_disclosure"]
    token = preview.acknowledgement_token
    assert token is not None
    order = desk.place(actor, instrument_id=CN_STOCK, quantity=100, acknowledgement_token=token).order
    assert order.status is OrderStatus.FILLED
    assert order.acknowledged == ("risk_mismatch_disclosure",)
    # The token belongs to this customer, app, instrument and side only.
    other = actor_for(desk.customer("li.wei"))
    with pytest.raises(InvalidOrderError, match="another order"):
        desk.place(other, instrument_id=CN_STOCK, quantity=100, acknowledgement_token=token)
    desk.clock.advance(timedelta(minutes=11))
    with pytest.raises(InvalidOrderError, match="expired"):
        desk.place(actor, instrument_id=CN_STOCK, quantity=100, acknowledgement_token=token)


def test_the_consent_limit_refuses_notional_and_instrument_types_naming_the_limit(desk: Desk) -> None:
    customer = desk.customer()
    limit = OrderPlacementLimit(Money(Decimal("1000.00"), Currency.CNY), ("etf", "fund"))
    actor = actor_for(customer, limit=limit)
    with pytest.raises(OrderLimitExceededError) as stock:
        desk.place(actor, instrument_id=CN_STOCK, quantity=100)
    assert stock.value.context["limit"] == "order_placement.instruments"
    with pytest.raises(OrderLimitExceededError) as notional:
        desk.place(actor, instrument_id=CN_MONEY_MARKET, order_type="fund_subscription", amount="1000.01")
    assert notional.value.context["limit"] == "order_placement.max_notional_per_order"
    order = desk.place(
        actor, instrument_id=CN_MONEY_MARKET, order_type="fund_subscription", amount="1000.00"
    ).order
    assert order.status is OrderStatus.OPEN
    assert InstrumentType.FUND in limit.instruments


def test_preview_shows_fees_fx_buying_power_and_a_concentration_warning(desk: Desk) -> None:
    customer = desk.customer("chan.tai-man")  # HK master (HKD) with a US sub-account holding 15 USD
    desk.clock.set(desk.clock.now().replace(hour=15, minute=30))  # New York is open
    actor = actor_for(customer)
    preview = desk.entry.preview(actor, request(instrument_id=US_STOCK, quantity=1))
    assert preview.fees.total.amount == Decimal("1.00")  # the US minimum commission
    assert {c.code for c in preview.report.checks} >= {"buying_power", "trading_hours", "suitable"}
    # 15 USD in the US account is short: the HKD of the master account covers the rest.
    fx = preview.fx
    assert fx is not None
    quote = fx.quote
    assert (quote.source.currency, quote.converted.currency) == (Currency.HKD, Currency.USD)
    assert quote.converted.amount >= preview.max_cost - Decimal("15.00")
    gross = quote.source.amount * quote.rate
    assert quote.spread.amount.amount == (gross * Decimal("0.001")).quantize(
        Decimal("0.01"), rounding="ROUND_HALF_UP"
    )
    assert quote.converted.amount == (gross - quote.spread.amount.amount).quantize(
        Decimal("0.01"), rounding="ROUND_DOWN"
    )
    hkd_before, _ = desk.cash(customer, "HKD", market="HK")
    order = desk.place(actor, instrument_id=US_STOCK, quantity=1).order
    assert order.status is OrderStatus.FILLED
    assert desk.cash(customer, "HKD", market="HK")[0] == hkd_before - quote.source.amount
    usd_total, _ = desk.cash(customer, "USD", market="US")
    assert usd_total == Decimal("15.00") + quote.converted.amount - order.filled_notional - order.fees
    assert_ledger_balanced(desk)
    # 30 % of the portfolio in one position is flagged, not refused.
    big = desk.entry.preview(actor, request(instrument_id=US_STOCK, quantity=30))
    warnings = {c.code: c.inputs for c in big.report.checks if c.status == "warning"}
    assert "concentration" in warnings, [c for c in big.report.checks if c.code == "concentration"]


# -- funds and cooling-off -------------------------------------------------------------------------


def test_a_subscription_is_allotted_at_the_dealing_days_nav_with_the_remainder_left_as_cash(
    desk: Desk,
) -> None:
    customer = desk.customer()
    actor = actor_for(customer)
    before, _ = desk.cash(customer, "CNY")
    order = desk.place(
        actor, instrument_id=CN_EQUITY_FUND, order_type="fund_subscription", amount="1000.00"
    ).order
    assert order.status is OrderStatus.OPEN
    assert order.dealing_day == CN_MORNING.date()
    assert desk.cash(customer, "CNY")[1] == Decimal("1000.00")
    desk.dealing.deal()
    assert desk.store.get_order(order.id).status is OrderStatus.OPEN  # type: ignore[union-attr]  # no NAV yet
    desk.clock.advance(timedelta(hours=11))  # 21:00 in Shanghai: after the 20:00 publication
    assert desk.dealing.deal() >= 1
    allotted = desk.store.get_order(order.id)
    assert allotted is not None
    assert allotted.status is OrderStatus.FILLED
    nav = desk.prices.nav(desk.instrument(CN_EQUITY_FUND), CN_MORNING.date())
    fee = Decimal("15.00")  # 1.5 % subscription fee of an equity fund
    units = ((Decimal("1000.00") - fee) / nav).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    assert allotted.filled_quantity == units
    assert desk.units(customer, CN_EQUITY_FUND) == (units, Decimal(0))
    cost = (units * nav).quantize(Decimal("0.01"))
    assert desk.cash(customer, "CNY") == (before - cost - fee, Decimal(0))
    assert_ledger_balanced(desk)


@pytest.mark.parametrize(("elapsed", "allowed"), [(timedelta(hours=47, minutes=59), True),
                                                  (timedelta(hours=48, minutes=1), False)])  # fmt: skip
def test_cooling_off_is_open_for_48_hours_after_acceptance(
    desk: Desk, elapsed: timedelta, allowed: bool
) -> None:
    customer = desk.customer()
    actor = actor_for(customer)
    order = desk.place(
        actor, instrument_id=CN_EQUITY_FUND, order_type="fund_subscription", amount="500.00"
    ).order
    desk.clock.advance(timedelta(hours=11))
    desk.dealing.deal()
    desk.clock.set(order.created_at + elapsed)
    if not allowed:
        with pytest.raises(OrderStateError, match="cooling-off period has ended"):
            desk.entry.cool_off(actor, order.id)
        return
    undone = desk.entry.cool_off(actor, order.id)
    assert undone.reversed_by is not None
    redemption = desk.store.get_order(undone.reversed_by)
    assert redemption is not None
    assert redemption.quantity == undone.filled_quantity
    assert desk.units(customer, CN_EQUITY_FUND)[1] == undone.filled_quantity  # held for the redemption
    with pytest.raises(OrderStateError, match="already undone"):
        desk.entry.cool_off(actor, order.id)
    assert_ledger_balanced(desk)


def test_cooling_off_before_allotment_is_a_full_reversal(desk: Desk) -> None:
    customer = desk.customer()
    actor = actor_for(customer)
    before = desk.cash(customer, "CNY")
    order = desk.place(
        actor, instrument_id=CN_MONEY_MARKET, order_type="fund_subscription", amount="200.00"
    ).order
    desk.clock.advance(timedelta(hours=6))  # past the 15:00 cut-off, before the NAV
    with pytest.raises(OrderStateError, match="cut-off"):
        desk.entry.cancel(actor, order.id)
    undone = desk.entry.cool_off(actor, order.id)
    assert undone.status is OrderStatus.CANCELLED
    assert desk.cash(customer, "CNY") == before
    assert_ledger_balanced(desk)


# -- visibility ------------------------------------------------------------------------------------


def test_an_order_is_invisible_to_other_partners_and_other_customers(desk: Desk) -> None:
    customer = desk.customer()
    owner = actor_for(customer)
    order = desk.place(owner, instrument_id=CN_STOCK, quantity=100).order
    stranger = actor_for(customer)  # another partner, same customer
    other_customer = actor_for(desk.customer(), partner=owner.partner_id)
    for actor in (stranger, other_customer):
        with pytest.raises(OrderNotFoundError):
            desk.entry.get(actor, order.id)
        with pytest.raises(OrderNotFoundError):
            desk.entry.cancel(actor, order.id)
        assert list(desk.store.list_orders(_query(actor))) == []


@pytest.mark.parametrize(
    ("persona", "terms", "at_us_open", "status", "reason"),
    [
        # EU retail (anna.schmidt, C4) buying a fund acknowledges its key information document (EU-02).
        ("anna.schmidt", {"instrument_id": "ins_xdyslw7cib", "order_type": "fund_subscription",
                          "amount": "100.00"}, True, "requires_acknowledgement", "eu_fund_kid_required"),
        # HK ordinary (chan.tai-man, C3) and a leveraged ETF: no derivative knowledge record (HK-01).
        ("chan.tai-man", {"instrument_id": "ins_jkirpwgzyb", "quantity": 200}, False, "failed",
         "hk_complex_needs_derivative_knowledge"),
        # US: a self-directed order is not assessed against the risk levels (US-01), even for C1.
        ("john.doe", {"instrument_id": US_STOCK, "quantity": 1}, True, "passed",
         "us_self_directed_not_assessed"),
        # CN: an ordinary C2 customer two levels below an R4 stock is refused (SUIT-05).
        ("li.wei", {"instrument_id": CN_STOCK_R4, "quantity": 100}, False, "failed",
         "risk_two_or_more_levels_above"),
    ],
)  # fmt: skip
def test_suitability_per_jurisdiction_in_the_pre_trade_checks(
    desk: Desk, persona: str, terms: dict[str, object], at_us_open: bool, status: str, reason: str
) -> None:
    if at_us_open:
        desk.clock.set(US_MORNING)
    customer = desk.customer(persona)
    preview = desk.entry.preview(actor_for(customer), request(**terms))
    (check,) = [c for c in preview.report.checks if c.rule == "PTC-08"]
    assert check.status == status, check
    assert reason in check.inputs["reasons"].split(",")


def test_order_and_fill_events_go_to_the_outbox_with_the_order(desk: Desk) -> None:
    order = desk.place(actor_for(desk.customer()), instrument_id=QUIET_STOCK, quantity=100).order
    outbox = OutboxRow.__table__
    with desk.database.read() as conn:
        rows = list(conn.execute(outbox.select().where(outbox.c.subject_id == order.id)))
    assert sorted(row.type for row in rows) == ["fill.created", "order.accepted", "order.filled"]
    assert {row.partner_id for row in rows} == {order.partner_id}


def test_storage_refuses_a_posting_that_would_overdraw_a_customer_and_writes_nothing(desk: Desk) -> None:
    customer = desk.customer()
    account = customer.master_account.id
    before = desk.cash(customer, "CNY")
    overdraw = JournalEntry(
        "jrn_test_overdraw",
        EntryKind.TRADE,
        None,
        transfer(account, HOUSE_STREET, "cash:CNY", before[0] + Decimal("0.01")),
        desk.clock.now(),
    )
    with pytest.raises(LedgerInvariantError), desk.store.session() as session:
        session.post(overdraw)
    assert desk.cash(customer, "CNY") == before
    with desk.store.session() as session:
        assert not session.has_entry("jrn_test_overdraw")
