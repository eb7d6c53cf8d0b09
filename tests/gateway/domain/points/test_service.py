"""The points service on a real ledger (SQLite and PostgreSQL): valuations, quotes, exactly-once
conversions, consent limits and the daily cap under the trading lock, the clock-driven states,
cooling-off and the reconciliation identity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest

from gateway.domain.consent.models import PointsConversionLimit
from gateway.domain.money import Currency
from gateway.domain.points.errors import (
    ConversionNotFoundError,
    ConversionRejectedError,
    ConversionStateError,
    DuplicateConversionError,
    InvalidQuoteError,
    InvalidValuationError,
    NoValuationError,
    PointsLimitExceededError,
    QuoteExpiredError,
    QuoteNotFoundError,
    ValuationOverlapError,
)
from gateway.domain.points.models import ConversionState
from gateway.domain.points.ports import ConversionQuery
from gateway.domain.points.service import ConversionRequest, PointsActor
from gateway.domain.trading.errors import OrderLimitExceededError
from gateway.domain.trading.fees import estimate_fees
from gateway.domain.trading.models import OrderStatus, OrderType, Side
from tests.gateway.domain.points.conftest import PointsDesk
from tests.trading import CN_EQUITY_FUND, CN_MONEY_MARKET, assert_ledger_balanced

CN_R3_FUND = "ins_4oesudybjk"  # F000003, R3: one level above li.wei (C2)
CN_BOND_FUND = "ins_lq72t5v5r5"  # F000002, R2
HK_MONEY_MARKET = "ins_3nu2kuiplv"  # F000007, HKD
CN_STOCK = "ins_br6lly2jbc"


def convert(points: PointsDesk, actor: PointsActor, instrument: str, amount: int, pcid: str = "", **kw: str):  # type: ignore[no-untyped-def]
    quote = points.service.quote(actor, instrument, amount)
    request = ConversionRequest(pcid or f"pc-{quote.quote.id}", quote.quote.id, kw.get("token"))
    return points.service.convert(actor, request)


# -- valuations ------------------------------------------------------------------------------------


def test_valuations_refuse_overlapping_windows_of_one_currency(points: PointsDesk) -> None:
    actor = points.actor(points.desk.customer("li.wei"))
    first = points.publish(actor.partner_id)
    with pytest.raises(ValuationOverlapError) as refused:
        points.publish(actor.partner_id, points=50)
    assert refused.value.context["valuation_id"] == first.id
    # Another currency, and a window that starts where the first ends, are fine (half-open windows).
    points.publish(actor.partner_id, currency="HKD")
    later = points.service.publish_valuation(
        actor.partner_id,
        points=200,
        amount=Decimal("1.00"),
        currency=Currency.CNY,
        valid_from=first.valid_until,
        valid_until=first.valid_until + timedelta(days=1),
    )
    assert {v.id for v in points.service.valuations(actor.partner_id)} >= {first.id, later.id}


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"points": 0}, "points"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"valid_until": -1}, "valid_until"),
        ({"valid_until": 400}, "valid_until"),
        ({"valid_from": -1}, "valid_from"),
    ],
)
def test_a_malformed_valuation_names_its_field(
    points: PointsDesk, terms: dict[str, object], field: str
) -> None:
    now = points.clock.now()
    values: dict[str, object] = {
        "points": 100,
        "amount": Decimal("1.00"),
        "currency": Currency.CNY,
        "valid_from": None,
        "valid_until": now + timedelta(days=1),
    }
    for name, value in terms.items():
        values[name] = (
            now + timedelta(days=value) if name.startswith("valid") and isinstance(value, int) else value
        )
    with pytest.raises(InvalidValuationError) as refused:
        points.service.publish_valuation("ptn_aaaaaaaaaa", **values)  # type: ignore[arg-type]
    assert refused.value.context["field"] == field


# -- quotes ----------------------------------------------------------------------------------------


def test_a_quote_takes_only_points_that_make_whole_cents(points: PointsDesk) -> None:
    actor = points.actor(points.desk.customer("li.wei"))
    points.publish(actor.partner_id, points=150, amount="1.00")  # 1.5 points a cent
    result = points.service.quote(actor, CN_MONEY_MARKET, 1000)
    quote = result.quote
    assert (quote.points_requested, quote.points, quote.amount) == (1000, 999, Decimal("6.66"))
    assert quote.minimum_subscription == Decimal("1.00")
    assert quote.expires_at == points.clock.now() + timedelta(seconds=60)
    assert quote.dealing_day == date(2026, 11, 23)  # 10:00 in Shanghai, before the 15:00 cut-off
    assert result.cut_off == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert quote.decision == "suitable"
    assert result.acknowledgement_token is None


def test_a_quote_after_the_cut_off_deals_on_the_next_trading_day(points: PointsDesk) -> None:
    actor = points.actor(points.desk.customer("li.wei"))
    points.publish(actor.partner_id)
    points.clock.set(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))  # Friday 16:00 Shanghai
    assert points.service.quote(actor, CN_MONEY_MARKET, 500).quote.dealing_day == date(2026, 11, 30)


def test_quote_refusals_name_the_rule(points: PointsDesk) -> None:
    actor = points.actor(points.desk.customer("li.wei"))
    with pytest.raises(NoValuationError):
        points.service.quote(actor, CN_MONEY_MARKET, 500)
    points.publish(actor.partner_id)
    with pytest.raises(NoValuationError):  # a CNY valuation does not price an HKD fund
        points.service.quote(actor, HK_MONEY_MARKET, 500)
    with pytest.raises(InvalidQuoteError) as not_fund:
        points.service.quote(actor, CN_STOCK, 500)
    assert not_fund.value.context["field"] == "instrument_id"
    with pytest.raises(InvalidQuoteError) as minimum:
        points.service.quote(actor, CN_BOND_FUND, 999)  # 9.99 < 10.00
    assert minimum.value.context["rule"] == "PTS-05"
    with pytest.raises(InvalidQuoteError) as too_few:
        points.service.quote(actor, CN_MONEY_MARKET, 99)  # 0.99 < 1.00
    assert too_few.value.context["minimum_subscription"] == "1.00"


def test_a_quote_outside_the_consent_is_a_limit_refusal(points: PointsDesk) -> None:
    limit = PointsConversionLimit(
        funds=("F000001",), max_points_per_month=5000, max_points_per_conversion=500
    )
    actor = points.actor(points.desk.customer("li.wei"), limit=limit)
    points.publish(actor.partner_id)
    with pytest.raises(PointsLimitExceededError) as fund:
        points.service.quote(actor, CN_BOND_FUND, 1000)
    assert fund.value.context["limit"] == "points_conversion.funds"
    with pytest.raises(OrderLimitExceededError) as size:  # the same problem as orders: limit-exceeded
        points.service.quote(actor, CN_MONEY_MARKET, 501)
    assert size.value.context["limit"] == "points_conversion.max_points_per_conversion"


# -- conversions -----------------------------------------------------------------------------------


def test_a_conversion_credits_cash_places_one_fund_order_and_emits_accepted(points: PointsDesk) -> None:
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer)
    points.publish(actor.partner_id)
    house_before = points.house_points()
    cash_before, held_before = points.desk.cash(customer, "CNY", market="CN")
    outcome = convert(points, actor, CN_MONEY_MARKET, 1234, "order-1")
    conversion = outcome.conversion
    assert outcome.created
    assert conversion.id.startswith("cnv_")
    assert (conversion.state, conversion.points, conversion.amount) == (
        ConversionState.ACCEPTED,
        1234,
        Decimal("12.34"),
    )
    assert points.house_points() == house_before - Decimal("12.34")
    assert points.desk.cash(customer, "CNY", market="CN") == (
        cash_before + Decimal("12.34"),
        held_before + Decimal("12.34"),
    )
    orders = [o for o in points.desk.orders() if o.customer_id == customer.id]
    assert len(orders) == 1
    order = orders[0]
    assert order.id == conversion.order_id
    assert (order.order_type, order.side, order.amount) == (
        OrderType.FUND_SUBSCRIPTION,
        Side.BUY,
        Decimal("12.34"),
    )
    assert order.client_order_id == f"points-{conversion.id}"
    assert conversion.cooling_off_until == points.clock.now() + timedelta(hours=48)
    assert points.events(conversion.id) == ["conversion.accepted"]
    assert_ledger_balanced(points.desk)


def test_the_same_partner_conversion_id_converts_once(points: PointsDesk) -> None:
    actor = points.actor(points.desk.customer("li.wei"))
    points.publish(actor.partner_id)
    quote = points.service.quote(actor, CN_MONEY_MARKET, 500).quote
    first = points.service.convert(actor, ConversionRequest("pc-1", quote.id))
    again = points.service.convert(actor, ConversionRequest("pc-1", quote.id))
    assert again.conversion == first.conversion
    assert (first.created, again.created) == (True, False)
    other = points.service.quote(actor, CN_MONEY_MARKET, 600).quote
    with pytest.raises(DuplicateConversionError) as clash:
        points.service.convert(actor, ConversionRequest("pc-1", other.id))
    assert clash.value.context["field"] == "partner_conversion_id"
    with pytest.raises(DuplicateConversionError) as reused:
        points.service.convert(actor, ConversionRequest("pc-2", quote.id))
    assert reused.value.context["field"] == "quote_id"
    # Another partner may use the same id: it is unique per partner.
    stranger = points.actor(points.desk.customer("li.wei"))
    points.publish(stranger.partner_id)
    assert convert(points, stranger, CN_MONEY_MARKET, 500, "pc-1").created
    assert len([o for o in points.desk.orders() if o.partner_id == actor.partner_id]) == 1


def test_quotes_expire_and_belong_to_their_customer(points: PointsDesk) -> None:
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer)
    points.publish(actor.partner_id)
    quote = points.service.quote(actor, CN_MONEY_MARKET, 500).quote
    other_customer = PointsActor(
        actor.partner_id, actor.client_id, points.desk.customer("li.wei").id, None, None
    )
    with pytest.raises(QuoteNotFoundError):
        points.service.convert(other_customer, ConversionRequest("pc-x", quote.id))
    points.clock.advance(timedelta(seconds=60))
    with pytest.raises(QuoteExpiredError):
        points.service.convert(actor, ConversionRequest("pc-y", quote.id))


def test_the_monthly_limit_rejects_and_stores_the_refusal(points: PointsDesk) -> None:
    limit = PointsConversionLimit(
        funds=("F000001",), max_points_per_month=1000, max_points_per_conversion=600
    )
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer, limit=limit)
    points.publish(actor.partner_id)
    convert(points, actor, CN_MONEY_MARKET, 600)
    quote = points.service.quote(actor, CN_MONEY_MARKET, 500).quote
    with pytest.raises(PointsLimitExceededError) as refused:
        points.service.convert(actor, ConversionRequest("over", quote.id))
    assert refused.value.context["limit"] == "points_conversion.max_points_per_month"
    rejected = points.service.get(actor, str(refused.value.context["conversion_id"]))
    assert rejected.state is ConversionState.REJECTED
    assert [r.code for r in rejected.reasons] == ["max_points_per_month"]
    assert rejected.order_id is None
    assert points.events(rejected.id) == ["conversion.rejected"]
    with pytest.raises(PointsLimitExceededError) as again:  # a retry gets the same answer, no new row
        points.service.convert(actor, ConversionRequest("over", quote.id))
    assert again.value.context["conversion_id"] == rejected.id
    # The rejected one took nothing: 400 more still fit the month.
    assert convert(points, actor, CN_MONEY_MARKET, 400).conversion.state is ConversionState.ACCEPTED
    # Next month the limit starts again.
    points.clock.set(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    assert convert(points, actor, CN_MONEY_MARKET, 600).created


def test_the_daily_cap_counts_every_partner_of_the_customer(points: PointsDesk, points_factory) -> None:  # type: ignore[no-untyped-def]
    capped = points_factory(points.desk.database, points.clock, daily_cap=1000)
    customer = capped.desk.customer("li.wei")
    first, second = capped.actor(customer), capped.actor(customer)
    capped.publish(first.partner_id)
    capped.publish(second.partner_id)
    convert(capped, first, CN_MONEY_MARKET, 700)
    with pytest.raises(PointsLimitExceededError) as refused:
        convert(capped, second, CN_MONEY_MARKET, 301)
    assert refused.value.context["limit"] == "daily_points_cap"
    assert convert(capped, second, CN_MONEY_MARKET, 300).created
    capped.clock.advance(timedelta(days=1))
    assert convert(capped, second, CN_MONEY_MARKET, 1000).created


def test_one_level_above_needs_the_quotes_acknowledgement(points: PointsDesk) -> None:
    actor = points.actor(points.desk.customer("li.wei"))  # C2
    points.publish(actor.partner_id)
    result = points.service.quote(actor, CN_R3_FUND, 2000)
    assert result.quote.decision == "requires_acknowledgement"
    assert result.quote.disclosures == ("risk_mismatch_disclosure",)
    assert result.acknowledgement_token is not None
    with pytest.raises(ConversionRejectedError) as refused:
        points.service.convert(actor, ConversionRequest("no-ack", result.quote.id))
    assert [r["code"] for r in refused.value.context["reasons"]] == ["acknowledgement_required"]  # type: ignore[attr-defined]
    again = points.service.quote(actor, CN_R3_FUND, 2000)
    accepted = points.service.convert(
        actor, ConversionRequest("ack", again.quote.id, again.acknowledgement_token)
    )
    assert accepted.conversion.state is ConversionState.ACCEPTED
    order = points.desk.store.get_order(str(accepted.conversion.order_id))
    assert order is not None
    assert order.acknowledged == ("risk_mismatch_disclosure",)


def test_two_levels_above_is_rejected(points: PointsDesk) -> None:
    actor = points.actor(points.desk.customer("li.wei"))
    points.publish(actor.partner_id)
    result = points.service.quote(actor, CN_EQUITY_FUND, 2000)  # R4 for a C2 customer
    assert result.quote.decision == "unsuitable"
    with pytest.raises(ConversionRejectedError) as refused:
        points.service.convert(actor, ConversionRequest("r4", result.quote.id))
    assert [r["code"] for r in refused.value.context["reasons"]] == ["unsuitable"]  # type: ignore[attr-defined]


# -- the clock-driven states -----------------------------------------------------------------------


def test_states_follow_the_cut_off_the_nav_and_settlement(points: PointsDesk) -> None:
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer)
    points.publish(actor.partner_id)
    units_before = points.desk.units(customer, CN_BOND_FUND)[0]
    conversion = convert(points, actor, CN_BOND_FUND, 1234).conversion
    points.service.advance()
    assert points.service.get(actor, conversion.id).state is ConversionState.ACCEPTED
    points.clock.set(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))  # 15:00 Shanghai: the cut-off
    points.service.advance()
    assert points.service.get(actor, conversion.id).state is ConversionState.PRICED
    points.clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # 20:00: the NAV is out
    assert points.desk.dealing.deal() >= 1
    points.service.advance()
    allotted = points.service.get(actor, conversion.id)
    assert allotted.state is ConversionState.ALLOTTED
    nav = allotted.nav
    assert nav is not None
    instrument = points.desk.instrument(CN_BOND_FUND)
    fee = estimate_fees(instrument, Side.BUY, None, None, Decimal("12.34")).total.amount
    assert allotted.fees == fee
    assert allotted.units == ((Decimal("12.34") - fee) / nav).quantize(Decimal("0.01"), ROUND_DOWN)
    assert allotted.cash_remainder == Decimal("12.34") - fee - (allotted.units * nav).quantize(
        Decimal("0.01")
    )
    assert allotted.cash_remainder >= 0
    assert points.desk.units(customer, CN_BOND_FUND)[0] == units_before + allotted.units
    assert points.service.advance() == 0  # idempotent
    points.clock.set(datetime(2026, 11, 23, 15, 59, tzinfo=UTC))  # 23:59 Shanghai: not yet
    points.service.advance()
    assert points.service.get(actor, conversion.id).state is ConversionState.ALLOTTED
    points.clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))  # 00:00 Tuesday, the next trading day
    assert points.service.advance() >= 1
    assert points.service.get(actor, conversion.id).state is ConversionState.SETTLED
    assert points.events(conversion.id) == [
        "conversion.accepted",
        "conversion.priced",
        "conversion.allotted",
        "conversion.settled",
    ]
    assert_ledger_balanced(points.desk)


# -- cooling-off -----------------------------------------------------------------------------------


def test_cooling_off_before_allotment_returns_the_points(points: PointsDesk) -> None:
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer)
    points.publish(actor.partner_id)
    house_before = points.house_points()
    cash_before = points.desk.cash(customer, "CNY", market="CN")
    conversion = convert(points, actor, CN_MONEY_MARKET, 800).conversion
    points.clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))  # after the cut-off: priced, not allotted
    reversed_ = points.service.cool_off(actor, conversion.id)
    assert reversed_.state is ConversionState.REVERSED
    assert reversed_.points_returned == 800
    assert points.house_points() == house_before
    assert points.desk.cash(customer, "CNY", market="CN") == cash_before
    order = points.desk.store.get_order(str(conversion.order_id))
    assert order is not None
    assert order.status is OrderStatus.CANCELLED
    assert points.events(conversion.id)[-1] == "conversion.reversed"
    with pytest.raises(ConversionStateError):
        points.service.cool_off(actor, conversion.id)
    assert_ledger_balanced(points.desk)


def test_cooling_off_after_allotment_redeems_and_keeps_the_points_converted(points: PointsDesk) -> None:
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer)
    points.publish(actor.partner_id)
    conversion = convert(points, actor, CN_MONEY_MARKET, 5000).conversion
    points.clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    points.desk.dealing.deal()
    reversed_ = points.service.cool_off(actor, conversion.id)  # advances to allotted first
    assert reversed_.state is ConversionState.REVERSED
    assert reversed_.units > 0
    assert (reversed_.points_returned, reversed_.redemption_order_id is not None) == (0, True)
    redemption = points.desk.store.get_order(str(reversed_.redemption_order_id))
    assert redemption is not None
    assert (redemption.order_type, redemption.quantity) == (OrderType.FUND_REDEMPTION, reversed_.units)
    assert points.events(conversion.id)[-2:] == ["conversion.allotted", "conversion.reversed"]
    assert_ledger_balanced(points.desk)


def test_cooling_off_ends_after_48_hours_and_never_applies_to_a_rejection(points: PointsDesk) -> None:
    limit = PointsConversionLimit(
        funds=("F000001",), max_points_per_month=1000, max_points_per_conversion=1000
    )
    actor = points.actor(points.desk.customer("li.wei"), limit=limit)
    points.publish(actor.partner_id)
    conversion = convert(points, actor, CN_MONEY_MARKET, 900).conversion
    with pytest.raises(PointsLimitExceededError) as refused:
        convert(points, actor, CN_MONEY_MARKET, 200)
    with pytest.raises(ConversionStateError):
        points.service.cool_off(actor, str(refused.value.context["conversion_id"]))
    points.clock.advance(timedelta(hours=48, seconds=1))
    with pytest.raises(ConversionStateError):
        points.service.cool_off(actor, conversion.id)


# -- reads and reconciliation ----------------------------------------------------------------------


def test_conversions_are_visible_to_their_partner_and_customer_only(points: PointsDesk) -> None:
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer)
    points.publish(actor.partner_id)
    conversion = convert(points, actor, CN_MONEY_MARKET, 500).conversion
    stranger = points.actor(customer)
    with pytest.raises(ConversionNotFoundError):
        points.service.get(stranger, conversion.id)
    with pytest.raises(ConversionNotFoundError):
        points.service.cool_off(stranger, conversion.id)
    page = points.service.list_conversions(ConversionQuery(actor.partner_id, customer.id))
    assert [c.id for c in page.items] == [conversion.id]
    assert points.service.list_conversions(ConversionQuery(stranger.partner_id, customer.id)).items == ()


def test_reconciliation_counts_by_state_and_balances_to_the_point(points: PointsDesk) -> None:
    limit = PointsConversionLimit(
        funds=("F000001",), max_points_per_month=3000, max_points_per_conversion=1500
    )
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer, limit=limit)
    points.publish(actor.partner_id, points=150, amount="1.00")
    kept = convert(points, actor, CN_MONEY_MARKET, 1000).conversion  # 999 taken, 6.66
    undone = convert(points, actor, CN_MONEY_MARKET, 1500).conversion  # 1500 taken, 10.00
    points.service.cool_off(actor, undone.id)
    with pytest.raises(PointsLimitExceededError):
        convert(points, actor, CN_MONEY_MARKET, 1500)
    report = points.service.reconciliation(actor.partner_id, date(2026, 11, 23))
    assert (report.points_taken, report.points_converted, report.points_returned) == (2499, 999, 1500)
    assert report.points_rejected == 1500
    assert report.balanced
    lines = {line.state: line for line in report.lines}
    assert (lines[ConversionState.ACCEPTED].count, lines[ConversionState.ACCEPTED].amount) == (1, kept.amount)
    assert lines[ConversionState.REVERSED].points_returned == 1500
    assert lines[ConversionState.REJECTED].count == 1
    assert points.service.reconciliation(actor.partner_id, date(2026, 11, 24)).lines == ()


def test_the_demo_seed_publishes_one_running_valuation_per_shop(points: PointsDesk) -> None:
    from gateway.storage.points import seed_demo_valuations

    shop = points.actor(points.desk.customer("li.wei"))
    first = seed_demo_valuations(points.desk.database, [shop.partner_id], points.clock)
    assert [(v.points, v.amount, v.currency) for v in first] == [(100, Decimal("1.00"), Currency.CNY)]
    assert seed_demo_valuations(points.desk.database, [shop.partner_id], points.clock) == []  # idempotent
    assert points.service.quote(shop, CN_MONEY_MARKET, 1000).quote.amount == Decimal("10.00")


def test_a_fund_order_cancelled_through_the_orders_api_reverses_the_conversion_keeping_the_cash(
    points: PointsDesk,
) -> None:
    customer = points.desk.customer("li.wei")
    actor = points.actor(customer)
    points.publish(actor.partner_id)
    house_before = points.house_points()
    conversion = convert(points, actor, CN_MONEY_MARKET, 700).conversion
    points.desk.entry.cancel(actor.trader, str(conversion.order_id))
    assert points.service.advance() == 1
    reversed_ = points.service.get(actor, conversion.id)
    assert (reversed_.state, reversed_.points_returned) == (ConversionState.REVERSED, 0)
    assert points.house_points() == house_before - Decimal("7.00")  # the customer keeps the cash
    report = points.service.reconciliation(actor.partner_id, date(2026, 11, 23))
    assert (report.points_taken, report.points_converted, report.balanced) == (700, 700, True)
    assert_ledger_balanced(points.desk)
