from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.errors import NotFoundError, RuleViolationError
from gateway.domain.market.calendar import (
    is_trading_day,
    nav_publication_time,
    previous_trading_day,
    time_zone,
    trading_days,
)
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.money import Currency
from sandbox.prices import PriceFeed, tick_size

CATALOGUE = Catalogue.from_file()
FEED = PriceFeed(CATALOGUE)
BY_SYMBOL = {(instrument.market, instrument.symbol): instrument for instrument in CATALOGUE}
EXCHANGE_TRADED = [instrument for instrument in CATALOGUE if instrument.fund is None]
FUNDS = [instrument for instrument in CATALOGUE if instrument.fund is not None]

CN_STOCK = BY_SYMBOL[Market.CN, "601872"]
CN_ETF = BY_SYMBOL[Market.CN, "159631"]
HK_STOCK = BY_SYMBOL[Market.HK, "1863"]
US_STOCK = BY_SYMBOL[Market.US, "SCSY"]
CN_EQUITY_FUND = BY_SYMBOL[Market.CN, "970104"]
US_EQUITY_FUND = BY_SYMBOL[Market.US, "CRSHX"]
CN_MONEY_MARKET = BY_SYMBOL[Market.CN, "970101"]
US_MONEY_MARKET = BY_SYMBOL[Market.US, "KMMXX"]
HK_MONEY_MARKET = BY_SYMBOL[Market.HK, "5901"]

moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds with a timezone)
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def local(instrument: Instrument, day: str, at: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=time_zone(instrument.market)).astimezone(UTC)


def on_tick(instrument: Instrument, price: Decimal) -> bool:
    return price % tick_size(instrument.market, instrument.instrument_type, price) == 0


# Determinism


def test_pinned_values_are_the_same_on_every_machine() -> None:
    # Golden numbers: a change here changes every sandbox price, so it must be deliberate.
    moment = datetime(2026, 6, 15, 2, 17, tzinfo=UTC)
    assert FEED.reference_price(CN_STOCK, moment) == Decimal("19.33")
    assert FEED.reference_price(HK_STOCK, moment) == Decimal("6.64")
    assert FEED.reference_price(US_STOCK, moment) == Decimal("230.27")
    assert FEED.reference_price(CN_ETF, moment) == Decimal("0.812")
    assert FEED.nav(CN_EQUITY_FUND, date(2026, 6, 15)) == Decimal("2.5918")
    assert FEED.nav(US_EQUITY_FUND, date(2027, 3, 1)) == Decimal("16.2885")
    assert FEED.fx_rate(Currency.USD, Currency.CNY, moment) == Decimal("7.076899")
    assert FEED.fx_rate(Currency.EUR, Currency.USD, moment) == Decimal("1.100057")


def test_same_inputs_give_the_same_prices_in_a_fresh_feed() -> None:
    moment = datetime(2027, 5, 20, 6, 41, 12, tzinfo=UTC)
    fresh = PriceFeed(Catalogue.from_file())
    for instrument in CATALOGUE:
        first = FEED.reference_price(instrument, moment)
        assert FEED.reference_price(instrument, moment) == first
        assert fresh.reference_price(instrument, moment) == first


def test_the_seed_changes_the_paths() -> None:
    moment = datetime(2026, 6, 15, 2, 17, tzinfo=UTC)
    other = PriceFeed(CATALOGUE, seed=1)
    assert other.seed == 1
    assert (
        sum(other.reference_price(i, moment) != FEED.reference_price(i, moment) for i in EXCHANGE_TRADED) > 30
    )


def test_an_instrument_outside_the_catalogue_has_no_price() -> None:
    feed = PriceFeed(Catalogue(instrument for instrument in CATALOGUE if instrument.id != CN_STOCK.id))
    with pytest.raises(NotFoundError):
        feed.reference_price(CN_STOCK, datetime(2026, 6, 15, 2, 17, tzinfo=UTC))


def test_dates_outside_the_modelled_range_are_refused() -> None:
    with pytest.raises(RuleViolationError, match="modelled"):
        FEED.reference_price(CN_STOCK, datetime(1999, 6, 1, 2, 0, tzinfo=UTC))
    with pytest.raises(RuleViolationError, match="modelled"):
        FEED.nav_history(CN_EQUITY_FUND, date(2026, 1, 1), date(2100, 1, 1))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FEED.fx_rate(Currency.USD, Currency.CNY, datetime(2026, 6, 1))  # noqa: DTZ001


# Shape of the path


def test_the_price_stays_at_the_close_outside_trading_hours() -> None:
    close = FEED.reference_price(CN_STOCK, local(CN_STOCK, "2026-03-13", "15:00"))  # a Friday
    for day, at in [
        ("2026-03-13", "15:00:01"),
        ("2026-03-13", "23:59"),
        ("2026-03-14", "12:00"),  # Saturday
        ("2026-03-16", "09:00"),  # Monday before the open
        ("2026-03-16", "09:30:59"),  # Monday's first minute opens at Friday's close
    ]:
        assert FEED.reference_price(CN_STOCK, local(CN_STOCK, day, at)) == close
    assert FEED.reference_price(CN_STOCK, local(CN_STOCK, "2026-03-16", "15:00")) != close


def test_the_price_stands_still_over_lunch_and_within_a_minute() -> None:
    at_break = FEED.reference_price(HK_STOCK, local(HK_STOCK, "2026-03-10", "12:00"))
    assert FEED.reference_price(HK_STOCK, local(HK_STOCK, "2026-03-10", "12:45")) == at_break
    assert FEED.reference_price(HK_STOCK, local(HK_STOCK, "2026-03-10", "13:00:59")) == at_break
    minute = FEED.reference_price(US_STOCK, local(US_STOCK, "2026-03-10", "10:15:00"))
    assert FEED.reference_price(US_STOCK, local(US_STOCK, "2026-03-10", "10:15:59.999")) == minute


def test_the_price_moves_during_the_session() -> None:
    start = local(US_STOCK, "2026-03-10", "09:30")
    prices = {FEED.reference_price(US_STOCK, start + timedelta(minutes=m)) for m in range(0, 390, 15)}
    assert len(prices) > 10


def test_non_trading_days_keep_the_last_close() -> None:
    last_close = FEED.reference_price(CN_STOCK, local(CN_STOCK, "2026-09-30", "15:00"))
    holiday = local(CN_STOCK, "2026-10-05", "10:30")  # National Day week
    assert FEED.reference_price(CN_STOCK, holiday) == last_close


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        ("0.20", "0.001"),
        ("0.25", "0.01"),
        ("9.99", "0.01"),
        ("10.00", "0.02"),
        ("19.98", "0.02"),
        ("20.00", "0.05"),
        ("99.95", "0.05"),
        ("100.00", "0.10"),
        ("199.90", "0.10"),
        ("200.00", "0.20"),
        ("1000.00", "0.20"),
    ],
)
def test_hk_tick_table(price: str, tick: str) -> None:
    assert tick_size(Market.HK, InstrumentType.STOCK, Decimal(price)) == Decimal(tick)


def test_cn_etfs_tick_in_tenths_of_a_cent_and_other_prices_in_cents() -> None:
    assert tick_size(Market.CN, InstrumentType.ETF, Decimal("0.876")) == Decimal("0.001")
    assert tick_size(Market.CN, InstrumentType.STOCK, Decimal("18.42")) == Decimal("0.01")
    assert tick_size(Market.US, InstrumentType.ETF, Decimal("412.37")) == Decimal("0.01")


@settings(max_examples=100, deadline=None, database=None)
@given(instrument=st.sampled_from(EXCHANGE_TRADED), moment=moments)
def test_prices_are_positive_on_tick_and_within_half_to_twice_the_anchor(
    instrument: Instrument, moment: datetime
) -> None:
    price = FEED.reference_price(instrument, moment)
    assert price > 0
    assert on_tick(instrument, price)
    assert instrument.reference_price / 2 <= price <= instrument.reference_price * 2


def test_two_years_of_daily_closes_stay_bounded() -> None:
    for instrument in EXCHANGE_TRADED:
        for day in trading_days(instrument.market, date(2026, 1, 1), date(2027, 12, 31)):
            close = datetime.combine(day, time(23, 0), tzinfo=time_zone(instrument.market))
            price = FEED.reference_price(instrument, close)
            assert instrument.reference_price / 2 <= price <= instrument.reference_price * 2, (
                instrument,
                day,
            )


# Funds


def test_money_market_funds_keep_a_constant_nav() -> None:
    for day in (date(2026, 1, 5), date(2026, 7, 15), date(2027, 12, 31)):
        assert FEED.nav(CN_MONEY_MARKET, day) == Decimal("1.0000")
        assert FEED.nav(US_MONEY_MARKET, day) == Decimal("1.0000")
        assert FEED.nav(HK_MONEY_MARKET, day) == HK_MONEY_MARKET.reference_price


def test_navs_have_four_decimals_and_move() -> None:
    history = FEED.nav_history(CN_EQUITY_FUND, date(2026, 3, 1), date(2026, 3, 31))
    assert [day for day, _ in history] == list(trading_days(Market.CN, date(2026, 3, 1), date(2026, 3, 31)))
    assert all(nav.as_tuple().exponent == -4 and nav > 0 for _, nav in history)
    assert all(FEED.nav(CN_EQUITY_FUND, day) == nav for day, nav in history)
    assert len({nav for _, nav in history}) > 10
    assert FEED.nav_history(CN_EQUITY_FUND, date(2026, 3, 31), date(2026, 3, 1)) == []


def test_a_nav_exists_only_for_funds_on_trading_days() -> None:
    with pytest.raises(RuleViolationError, match="non-trading day"):
        FEED.nav(CN_EQUITY_FUND, date(2026, 10, 1))
    with pytest.raises(RuleViolationError, match="only funds"):
        FEED.nav(CN_STOCK, date(2026, 3, 10))


def test_a_funds_reference_price_is_its_latest_published_nav() -> None:
    day = date(2026, 3, 10)
    published = nav_publication_time(Market.CN, day)
    previous = previous_trading_day(Market.CN, day)
    assert FEED.reference_price(CN_EQUITY_FUND, published) == FEED.nav(CN_EQUITY_FUND, day)
    assert FEED.reference_price(CN_EQUITY_FUND, published - timedelta(seconds=1)) == FEED.nav(
        CN_EQUITY_FUND, previous
    )
    saturday = local(CN_EQUITY_FUND, "2026-03-14", "12:00")
    assert FEED.reference_price(CN_EQUITY_FUND, saturday) == FEED.nav(CN_EQUITY_FUND, date(2026, 3, 13))


@settings(max_examples=100, deadline=None, database=None)
@given(fund=st.sampled_from(FUNDS), day=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)))
def test_navs_are_positive_and_bounded(fund: Instrument, day: date) -> None:
    if not is_trading_day(fund.market, day):
        day = previous_trading_day(fund.market, day)
    nav = FEED.nav(fund, day)
    assert fund.reference_price / 2 <= nav <= fund.reference_price * 2


# FX


def test_a_currency_against_itself_is_one() -> None:
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    for currency in Currency:
        assert FEED.fx_rate(currency, currency, moment) == 1


@settings(max_examples=100, deadline=None, database=None)
@given(base=st.sampled_from(Currency), quote=st.sampled_from(Currency), moment=moments)
def test_a_rate_and_its_inverse_multiply_to_about_one(
    base: Currency, quote: Currency, moment: datetime
) -> None:
    there = FEED.fx_rate(base, quote, moment)
    back = FEED.fx_rate(quote, base, moment)
    assert there.as_tuple().exponent == -6
    assert abs(there * back - 1) < Decimal("0.00001")


def test_rates_stay_near_their_anchors_and_hkd_in_its_band() -> None:
    day = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    for _ in range(730):
        assert Decimal("7.75") <= FEED.fx_rate(Currency.USD, Currency.HKD, day) <= Decimal("7.85")
        assert Decimal("6.70") <= FEED.fx_rate(Currency.USD, Currency.CNY, day) <= Decimal("7.50")
        assert Decimal("0.92") <= FEED.fx_rate(Currency.EUR, Currency.USD, day) <= Decimal("1.26")
        day += timedelta(days=1)


def test_rates_are_daily_and_weekends_keep_fridays_rate() -> None:
    friday = datetime(2026, 3, 13, 1, 0, tzinfo=UTC)
    rate = FEED.fx_rate(Currency.USD, Currency.CNY, friday)
    assert FEED.fx_rate(Currency.USD, Currency.CNY, friday + timedelta(hours=22)) == rate
    assert FEED.fx_rate(Currency.USD, Currency.CNY, friday + timedelta(days=2)) == rate  # Sunday
    assert FEED.fx_rate(Currency.USD, Currency.CNY, friday + timedelta(days=3)) != rate  # Monday
