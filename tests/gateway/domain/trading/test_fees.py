from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.errors import RuleViolationError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.money import CENT, Currency, Money
from gateway.domain.trading.fees import FEE_SCHEDULES, FeeEstimate, estimate_fees, fx_conversion
from gateway.domain.trading.models import Side

CATALOGUE = Catalogue.from_file()
BY_SYMBOL = {(instrument.market, instrument.symbol): instrument for instrument in CATALOGUE}
EXCHANGE_TRADED = [instrument for instrument in CATALOGUE if instrument.fund is None]

CN_STOCK = BY_SYMBOL[Market.CN, "601872"]
CN_GROWTH_STOCK = BY_SYMBOL[Market.CN, "300865"]
CN_ETF = BY_SYMBOL[Market.CN, "510980"]
HK_STOCK = BY_SYMBOL[Market.HK, "1863"]
HK_STOCK_2 = BY_SYMBOL[Market.HK, "0972"]
HK_ETF = BY_SYMBOL[Market.HK, "3027"]
US_STOCK = BY_SYMBOL[Market.US, "SCSY"]
US_CHEAP_STOCK = BY_SYMBOL[Market.US, "TDMR"]


def lines(estimate: FeeEstimate) -> dict[str, str]:
    return {line.code: str(line.amount.amount) for line in estimate.lines}


def fee(
    instrument: Instrument, side: Side, quantity: str, price: str, paying_currency: Currency | None = None
) -> FeeEstimate:
    return estimate_fees(instrument, side, Decimal(quantity), Decimal(price), paying_currency=paying_currency)


# CN: commission 0.025 % (min 5.00), stamp duty 0.05 % on sells, transfer fee 0.001 %


def test_cn_small_buy_pays_the_minimum_commission() -> None:
    estimate = fee(CN_STOCK, Side.BUY, "100", "18.42")  # notional 1842.00
    # commission 0.4605 -> minimum 5.00; transfer fee 0.01842 -> 0.02; no stamp duty on a buy
    assert lines(estimate) == {"commission": "5.00", "transfer_fee": "0.02"}
    assert estimate.notional == Money(Decimal("1842.00"), Currency.CNY)
    assert estimate.total == Money(Decimal("5.02"), Currency.CNY)


def test_cn_sell_adds_stamp_duty() -> None:
    estimate = fee(CN_STOCK, Side.SELL, "100", "18.42")
    # stamp duty 0.921 -> 0.92
    assert lines(estimate) == {"commission": "5.00", "stamp_duty": "0.92", "transfer_fee": "0.02"}
    assert estimate.total.amount == Decimal("5.94")


def test_cn_large_sell_pays_the_rate() -> None:
    estimate = fee(CN_GROWTH_STOCK, Side.SELL, "10000", "47.30")  # notional 473000
    # commission 118.25, stamp duty 236.50, transfer fee 4.73
    assert lines(estimate) == {"commission": "118.25", "stamp_duty": "236.50", "transfer_fee": "4.73"}
    assert estimate.total.amount == Decimal("359.48")


def test_cn_etfs_pay_no_stamp_duty_and_no_transfer_fee() -> None:
    estimate = fee(CN_ETF, Side.SELL, "1000", "4.125")  # notional 4125; commission 1.03125 -> 5.00
    assert lines(estimate) == {"commission": "5.00"}
    assert estimate.total.amount == Decimal("5.00")


# HK: commission 0.03 % (min 3.00), stamp duty 0.1 % both sides up to the dollar, trading fee, SFC levy


def test_hk_buy_rounds_stamp_duty_up_to_the_dollar() -> None:
    estimate = fee(HK_STOCK, Side.BUY, "500", "7.42")  # notional 3710
    # commission 1.113 -> 3.00; stamp duty 3.71 -> 4.00; trading fee 0.209615 -> 0.21; SFC 0.10017 -> 0.10
    assert lines(estimate) == {
        "commission": "3.00",
        "stamp_duty": "4.00",
        "trading_fee": "0.21",
        "sfc_levy": "0.10",
    }
    assert estimate.total == Money(Decimal("7.31"), Currency.HKD)


def test_hk_sell_pays_stamp_duty_too_and_half_up_cents() -> None:
    estimate = fee(HK_STOCK_2, Side.SELL, "1000", "23.15")  # notional 23150
    # commission 6.945 -> 6.95; stamp duty 23.15 -> 24.00; trading fee 1.307975 -> 1.31; SFC 0.62505 -> 0.63
    assert lines(estimate) == {
        "commission": "6.95",
        "stamp_duty": "24.00",
        "trading_fee": "1.31",
        "sfc_levy": "0.63",
    }
    assert estimate.total.amount == Decimal("32.89")


def test_hk_stamp_duty_on_a_whole_dollar_is_not_rounded_further() -> None:
    assert lines(fee(HK_STOCK_2, Side.BUY, "1000", "23.00"))["stamp_duty"] == "23.00"


def test_hk_etfs_pay_no_stamp_duty() -> None:
    estimate = fee(HK_ETF, Side.BUY, "500", "24.85")  # notional 12425
    # commission 3.7275 -> 3.73; trading fee 0.7020125 -> 0.70; SFC 0.335475 -> 0.34
    assert lines(estimate) == {"commission": "3.73", "trading_fee": "0.70", "sfc_levy": "0.34"}
    assert estimate.total.amount == Decimal("4.77")


# US: 0.005 per share (min 1.00, capped at 1 % of the notional), SEC fee on sells


def test_us_small_buy_pays_the_minimum() -> None:
    estimate = fee(US_STOCK, Side.BUY, "100", "187.42")  # per share 0.50 -> minimum 1.00
    assert lines(estimate) == {"commission": "1.00"}
    assert estimate.total == Money(Decimal("1.00"), Currency.USD)


def test_us_sell_adds_the_sec_fee() -> None:
    estimate = fee(US_STOCK, Side.SELL, "100", "187.42")  # SEC fee 18742 x 0.0000278 = 0.5210276
    assert lines(estimate) == {"commission": "1.00", "sec_fee": "0.52"}
    assert estimate.total.amount == Decimal("1.52")


def test_us_cap_of_one_percent_beats_the_minimum() -> None:
    estimate = fee(US_CHEAP_STOCK, Side.BUY, "5", "12.67")  # notional 63.35: min 1.00, cap 0.6335
    assert lines(estimate) == {"commission": "0.63"}


def test_us_per_share_commission_above_the_minimum() -> None:
    estimate = fee(US_CHEAP_STOCK, Side.SELL, "1000", "12.67")  # 5.00; SEC fee 0.352226 -> 0.35
    assert lines(estimate) == {"commission": "5.00", "sec_fee": "0.35"}
    assert estimate.total.amount == Decimal("5.35")


# Funds


@pytest.mark.parametrize(
    ("symbol", "category", "expected"),
    [
        ("970101", "money_market", "0.00"),
        ("970102", "bond", "6.00"),
        ("970103", "balanced", "10.00"),
        ("970105", "index", "10.00"),
        ("970104", "equity", "15.00"),
    ],
)
def test_fund_subscription_fee_by_category(symbol: str, category: str, expected: str) -> None:
    fund = BY_SYMBOL[Market.CN, symbol]
    assert fund.fund is not None
    assert fund.fund.category == category
    estimate = estimate_fees(fund, Side.BUY, amount=Decimal("1000.00"))
    assert lines(estimate) == {"subscription_fee": expected}
    assert estimate.notional.amount == Decimal("1000.00")


def test_fund_redemption_fee() -> None:
    equity = BY_SYMBOL[Market.CN, "970104"]
    by_units = estimate_fees(equity, Side.SELL, Decimal("100"), Decimal("2.3086"))  # 230.86 x 0.5 % = 1.1543
    assert lines(by_units) == {"redemption_fee": "1.15"}
    by_amount = estimate_fees(equity, Side.SELL, amount=Decimal("1000"))
    assert lines(by_amount) == {"redemption_fee": "5.00"}
    money_market = BY_SYMBOL[Market.US, "KMMXX"]
    assert lines(estimate_fees(money_market, Side.SELL, amount=Decimal("500"))) == {"redemption_fee": "0.00"}


def test_fund_orders_take_the_right_inputs() -> None:
    equity = BY_SYMBOL[Market.CN, "970104"]
    with pytest.raises(RuleViolationError, match="amount of cash"):
        estimate_fees(equity, Side.BUY, Decimal("100"), Decimal("2.3086"))
    with pytest.raises(RuleViolationError, match="either units"):
        estimate_fees(equity, Side.SELL, Decimal("100"), Decimal("2.3086"), Decimal("100"))
    with pytest.raises(RuleViolationError, match="units and the NAV"):
        estimate_fees(equity, Side.SELL, Decimal("100"))


def test_exchange_orders_need_a_positive_quantity_and_price() -> None:
    with pytest.raises(RuleViolationError, match="quantity and a price"):
        estimate_fees(CN_STOCK, Side.BUY, Decimal("100"))
    with pytest.raises(RuleViolationError, match="quantity and a price"):
        estimate_fees(CN_STOCK, Side.BUY, amount=Decimal("1000"))
    with pytest.raises(RuleViolationError, match="positive"):
        estimate_fees(CN_STOCK, Side.BUY, Decimal("-100"), Decimal("18.42"))
    with pytest.raises(RuleViolationError, match="positive"):
        estimate_fees(CN_STOCK, Side.BUY, Decimal("100"), Decimal("NaN"))
    with pytest.raises(RuleViolationError, match="must not exceed"):
        estimate_fees(CN_STOCK, Side.BUY, Decimal("1e20"), Decimal("1e20"))


# FX


def test_paying_in_another_currency_adds_the_spread_on_the_converted_amount() -> None:
    buy = fee(CN_STOCK, Side.BUY, "100", "18.42", paying_currency=Currency.HKD)
    # converted: 1842.00 + 5.02 = 1847.02; spread 1.84702 -> 1.85
    assert lines(buy) == {"commission": "5.00", "transfer_fee": "0.02", "fx_spread": "1.85"}
    assert buy.total.amount == Decimal("6.87")
    sell = fee(CN_STOCK, Side.SELL, "100", "18.42", paying_currency=Currency.USD)
    # converted: 1842.00 - 5.94 = 1836.06; spread 1.83606 -> 1.84
    assert lines(sell)["fx_spread"] == "1.84"
    assert sell.total.amount == Decimal("7.78")
    fund = BY_SYMBOL[Market.CN, "970104"]
    subscription = estimate_fees(fund, Side.BUY, amount=Decimal("1000.00"), paying_currency=Currency.USD)
    # the 15.00 fee is inside the 1000.00 converted, so the spread is 1.00
    assert lines(subscription) == {"subscription_fee": "15.00", "fx_spread": "1.00"}
    same = fee(CN_STOCK, Side.BUY, "100", "18.42", paying_currency=Currency.CNY)
    assert "fx_spread" not in lines(same)


def test_fx_conversion_rounds_down_after_the_spread() -> None:
    quote = fx_conversion(Money(Decimal("1000.00"), Currency.CNY), Currency.USD, Decimal("0.140845"))
    # gross 140.845; spread 0.140845 -> 0.14; 140.705 rounded down -> 140.70
    assert quote.spread.amount == Money(Decimal("0.14"), Currency.USD)
    assert quote.converted == Money(Decimal("140.70"), Currency.USD)
    assert quote.rate == Decimal("0.140845")
    tiny = fx_conversion(Money(Decimal("0.01"), Currency.CNY), Currency.USD, Decimal("0.140845"))
    assert tiny.converted.amount == Decimal("0.00")


def test_fx_conversion_into_the_same_currency_is_free() -> None:
    quote = fx_conversion(Money(Decimal("10.00"), Currency.EUR), Currency.EUR, Decimal(1))
    assert quote.converted == Money(Decimal("10.00"), Currency.EUR)
    assert quote.spread.amount.amount == 0
    with pytest.raises(RuleViolationError, match="rate 1"):
        fx_conversion(Money(Decimal("10.00"), Currency.EUR), Currency.EUR, Decimal("1.1"))
    with pytest.raises(RuleViolationError, match="positive"):
        fx_conversion(Money(Decimal("10.00"), Currency.EUR), Currency.USD, Decimal(0))


# Properties


@settings(max_examples=100, deadline=None, database=None)
@given(
    instrument=st.sampled_from(EXCHANGE_TRADED),
    side=st.sampled_from(Side),
    lots=st.integers(min_value=1, max_value=10_000),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2),
)
def test_fees_add_up_and_respect_minimum_and_cap(
    instrument: Instrument, side: Side, lots: int, price: Decimal
) -> None:
    quantity = Decimal(lots * instrument.lot_size)
    estimate = estimate_fees(instrument, side, quantity, price)
    schedule = FEE_SCHEDULES[instrument.market]
    assert estimate.total.amount == sum(line.amount.amount for line in estimate.lines)
    assert all(line.amount.currency is instrument.currency for line in estimate.lines)
    commission = next(line.amount.amount for line in estimate.lines if line.code == "commission")
    if schedule.commission_cap_rate is None:
        assert commission >= schedule.minimum_commission
    else:  # the 1 % cap wins over both the per-share price and the minimum
        cap = (quantity * price * schedule.commission_cap_rate).quantize(CENT, rounding=ROUND_HALF_UP)
        assert commission <= cap
        assert commission >= schedule.minimum_commission or commission == cap
    stamp_duty = [line for line in estimate.lines if line.code == "stamp_duty"]
    if instrument.market is Market.HK and instrument.instrument_type is InstrumentType.STOCK:
        assert stamp_duty[0].amount.amount == stamp_duty[0].amount.amount.to_integral_value()
    if side is Side.BUY and instrument.market is Market.CN:
        assert stamp_duty == []


@settings(max_examples=100, deadline=None, database=None)
@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2),
    rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10"), places=6),
)
def test_a_conversion_never_pays_out_more_than_the_rate_less_the_spread(
    amount: Decimal, rate: Decimal
) -> None:
    quote = fx_conversion(Money(amount, Currency.CNY), Currency.USD, rate)
    gross = amount * rate
    leftover = gross - quote.spread.amount.amount - quote.converted.amount
    assert Decimal(0) <= leftover < Decimal("0.01") or quote.converted.amount == 0
