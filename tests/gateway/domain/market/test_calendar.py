from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.market.calendar import (
    HOLIDAY_TABLE_YEARS,
    HOLIDAYS,
    fund_dealing_day,
    holiday_name,
    is_open,
    is_trading_day,
    nav_publication_time,
    next_open,
    next_trading_day,
    previous_trading_day,
    session_close,
    sessions_on,
    time_zone,
    trading_day_of,
    trading_days,
)
from gateway.domain.market.models import Market

SHANGHAI = ZoneInfo("Asia/Shanghai")
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
NEW_YORK = ZoneInfo("America/New_York")

moments = st.datetimes(
    min_value=datetime(2025, 12, 1),  # noqa: DTZ001 (hypothesis wants naive bounds with a timezone)
    max_value=datetime(2028, 1, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def cn(day: str, at: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=SHANGHAI)


def hk(day: str, at: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=HONG_KONG)


def ny(day: str, at: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=NEW_YORK)


# Sessions


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        ("09:29:59", False),
        ("09:30:00", True),
        ("11:29:59", True),
        ("11:30:00", False),  # lunch break
        ("12:00:00", False),
        ("12:59:59", False),
        ("13:00:00", True),
        ("14:59:59", True),
        ("15:00:00", False),  # the close itself is closed
        ("20:00:00", False),
    ],
)
def test_cn_sessions_close_for_lunch_and_at_three(at: str, open_: bool) -> None:
    assert is_open(Market.CN, cn("2026-03-10", at)) is open_


@pytest.mark.parametrize(
    ("at", "open_"),
    [("09:30:00", True), ("11:59:59", True), ("12:00:00", False), ("12:30:00", False), ("15:30:00", True)],
)
def test_hk_sessions_close_for_lunch_from_noon(at: str, open_: bool) -> None:
    assert is_open(Market.HK, hk("2026-03-10", at)) is open_
    assert is_open(Market.HK, hk("2026-03-10", "16:00:00")) is False


def test_us_session_follows_new_york_time_across_daylight_saving() -> None:
    # 2026-03-08 starts EDT: 09:30 in New York is 14:30 UTC the Friday before, 13:30 UTC after.
    assert is_open(Market.US, datetime(2026, 3, 6, 14, 30, tzinfo=UTC))
    assert not is_open(Market.US, datetime(2026, 3, 6, 13, 30, tzinfo=UTC))
    assert is_open(Market.US, datetime(2026, 3, 9, 13, 30, tzinfo=UTC))
    assert is_open(Market.US, ny("2026-03-09", "15:59:59"))
    assert not is_open(Market.US, ny("2026-03-09", "16:00:00"))


def test_weekends_are_closed_everywhere() -> None:
    saturday, sunday = date(2026, 3, 14), date(2026, 3, 15)
    for market in Market:
        assert not is_trading_day(market, saturday)
        assert not is_trading_day(market, sunday)
        assert sessions_on(market, saturday) == ()
    assert not is_open(Market.CN, cn("2026-03-14", "10:00"))


@pytest.mark.parametrize(
    ("market", "day", "name"),
    [
        (Market.CN, date(2026, 10, 1), "National Day"),
        (Market.CN, date(2026, 2, 17), "Spring Festival"),
        (Market.CN, date(2026, 4, 6), "Qingming Festival"),
        (Market.HK, date(2026, 2, 17), "Lunar New Year's Day"),
        (Market.HK, date(2026, 7, 1), "HKSAR Establishment Day"),
        (Market.US, date(2026, 11, 26), "Thanksgiving Day"),
        (Market.US, date(2026, 7, 3), "Independence Day (observed)"),
        (Market.US, date(2027, 12, 24), "Christmas Day (observed)"),
    ],
)
def test_named_holidays_are_closed(market: Market, day: date, name: str) -> None:
    assert holiday_name(market, day) == name
    assert not is_trading_day(market, day)
    assert not is_open(market, datetime.combine(day, time(10, 0), tzinfo=time_zone(market)))


def test_a_holiday_of_one_market_is_a_trading_day_in_another() -> None:
    assert not is_trading_day(Market.CN, date(2026, 10, 2))
    assert is_trading_day(Market.HK, date(2026, 10, 2))
    assert is_trading_day(Market.US, date(2026, 10, 2))
    assert holiday_name(Market.US, date(2026, 10, 2)) is None


def test_the_holiday_table_covers_weekdays_of_2026_and_2027_only() -> None:
    for market, table in HOLIDAYS.items():
        assert {day.year for day in table} == set(HOLIDAY_TABLE_YEARS), market
        assert all(day.weekday() < 5 for day in table), market
        assert all(name for name in table.values())


def test_dates_beyond_the_table_are_weekdays_only() -> None:
    # 2028-10-02 would be National Day week in CN, and 2025-12-25 is Christmas: beyond the table.
    assert is_trading_day(Market.CN, date(2028, 10, 2))
    assert is_trading_day(Market.US, date(2025, 12, 25))
    assert not is_trading_day(Market.US, date(2028, 1, 1))  # a Saturday


def test_time_zones() -> None:
    assert time_zone(Market.CN) == SHANGHAI
    assert time_zone(Market.HK) == HONG_KONG
    assert time_zone(Market.US) == NEW_YORK


def test_trading_day_of_is_the_local_date() -> None:
    moment = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert trading_day_of(Market.US, moment) == date(2026, 3, 9)
    assert trading_day_of(Market.CN, moment) == date(2026, 3, 10)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(Market.CN, datetime(2026, 3, 10, 10, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        fund_dealing_day(Market.CN, datetime(2026, 3, 10, 10, 0))  # noqa: DTZ001


# Next open, session close, next trading day


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (cn("2026-03-10", "08:00"), cn("2026-03-10", "09:30")),
        (cn("2026-03-10", "09:30"), cn("2026-03-10", "09:30")),  # at the open: that open
        (cn("2026-03-10", "10:00"), cn("2026-03-10", "13:00")),  # mid-session: the next session
        (cn("2026-03-10", "12:00"), cn("2026-03-10", "13:00")),  # lunch
        (cn("2026-03-13", "15:00"), cn("2026-03-16", "09:30")),  # Friday close to Monday
        (cn("2026-03-14", "11:00"), cn("2026-03-16", "09:30")),  # Saturday
        (cn("2026-09-30", "15:30"), cn("2026-10-08", "09:30")),  # National Day week
        (cn("2026-02-13", "16:00"), cn("2026-02-24", "09:30")),  # Spring Festival
        (ny("2026-11-25", "16:00"), ny("2026-11-27", "09:30")),  # Thanksgiving
        (hk("2026-04-02", "16:00"), hk("2026-04-08", "09:30")),  # Easter and Ching Ming
    ],
)
def test_next_open(moment: datetime, expected: datetime) -> None:
    market = (
        Market.CN if moment.tzinfo is SHANGHAI else Market.HK if moment.tzinfo is HONG_KONG else Market.US
    )
    result = next_open(market, moment.astimezone(UTC))
    assert result == expected
    assert result.tzinfo is UTC


def test_session_close() -> None:
    assert session_close(Market.CN, cn("2026-03-10", "10:00")) == cn("2026-03-10", "11:30")
    assert session_close(Market.CN, cn("2026-03-10", "13:00")) == cn("2026-03-10", "15:00")
    assert session_close(Market.CN, cn("2026-03-10", "12:00")) is None
    assert session_close(Market.US, ny("2026-03-10", "10:00")) == ny("2026-03-10", "16:00")


def test_next_and_previous_trading_day_skip_weekends_and_holidays() -> None:
    assert next_trading_day(Market.CN, date(2026, 2, 13)) == date(2026, 2, 24)
    assert next_trading_day(Market.CN, date(2026, 3, 10)) == date(2026, 3, 11)
    assert next_trading_day(Market.US, date(2026, 12, 24)) == date(2026, 12, 28)
    assert previous_trading_day(Market.CN, date(2026, 10, 8)) == date(2026, 9, 30)
    assert list(trading_days(Market.HK, date(2026, 4, 2), date(2026, 4, 8))) == [
        date(2026, 4, 2),
        date(2026, 4, 8),
    ]


# Fund dealing day and NAV publication


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (cn("2026-03-10", "09:00"), date(2026, 3, 10)),
        (cn("2026-03-10", "14:59:59"), date(2026, 3, 10)),
        (cn("2026-03-10", "15:00:00"), date(2026, 3, 11)),  # at the cut-off: the next day's NAV
        (cn("2026-03-10", "23:00"), date(2026, 3, 11)),
        (cn("2026-03-13", "15:00"), date(2026, 3, 16)),  # Friday after cut-off: Monday
        (cn("2026-03-14", "10:00"), date(2026, 3, 16)),  # Saturday, before 15:00: still Monday
        (cn("2026-10-01", "10:00"), date(2026, 10, 8)),  # holiday
    ],
)
def test_fund_dealing_day_by_the_15_00_cut_off(moment: datetime, expected: date) -> None:
    assert fund_dealing_day(Market.CN, moment.astimezone(UTC)) == expected
    assert fund_dealing_day(Market.CN, moment, cut_off="15:00", zone="Asia/Shanghai") == expected


def test_fund_dealing_day_uses_the_funds_time_zone() -> None:
    # 19:30 UTC is 15:30 in New York (EDT): past the US cut-off, though still before it in UTC terms.
    assert fund_dealing_day(Market.US, datetime(2026, 3, 10, 19, 30, tzinfo=UTC)) == date(2026, 3, 11)
    assert fund_dealing_day(Market.US, datetime(2026, 3, 10, 18, 59, tzinfo=UTC)) == date(2026, 3, 10)
    assert fund_dealing_day(Market.CN, cn("2026-03-10", "11:00"), cut_off="10:30") == date(2026, 3, 11)


def test_fund_cut_off_must_be_hh_mm() -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        fund_dealing_day(Market.CN, cn("2026-03-10", "11:00"), cut_off="3pm")


def test_nav_is_published_at_eight_in_the_evening_local_time() -> None:
    assert nav_publication_time(Market.CN, date(2026, 3, 10)) == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert nav_publication_time(Market.US, date(2026, 3, 10)) == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)


# Properties


@settings(max_examples=100, deadline=None, database=None)
@given(market=st.sampled_from(Market), moment=moments)
def test_next_open_is_an_open_instant_at_or_after_the_moment(market: Market, moment: datetime) -> None:
    opens = next_open(market, moment)
    assert opens >= moment
    assert is_open(market, opens)
    assert not is_open(market, opens - timedelta(seconds=1))
    assert is_trading_day(market, trading_day_of(market, opens))
    close = session_close(market, moment)
    assert (close is not None) is is_open(market, moment)
    if close is not None:  # mid-session: the next open is a later session
        assert moment < close <= opens


@settings(max_examples=100, deadline=None, database=None)
@given(market=st.sampled_from(Market), moment=moments)
def test_the_dealing_day_is_the_first_trading_day_still_before_its_cut_off(
    market: Market, moment: datetime
) -> None:
    dealing_day = fund_dealing_day(market, moment)
    local_day = trading_day_of(market, moment)
    assert is_trading_day(market, dealing_day)
    assert dealing_day >= local_day
    assert moment < cut_off_on(market, dealing_day)
    for day in trading_days(market, local_day, dealing_day - timedelta(days=1)):
        assert moment >= cut_off_on(market, day)  # every earlier trading day had already cut off


def cut_off_on(market: Market, day: date) -> datetime:
    return datetime.combine(day, time(15, 0), tzinfo=time_zone(market))
