"""Trading calendars: the sessions, weekends and exchange holidays of each market.

Rules:
- A market trades Monday to Friday, except on the holidays in `HOLIDAYS`. The table covers 2026 and
  2027; dates beyond it (before 2026 or after 2027) are treated as weekdays-only: every Monday to
  Friday is a trading day.
- Sessions are continuous trading in local time, start included and end excluded (CN 09:30-11:30
  and 13:00-15:00, HK 09:30-12:00 and 13:00-16:00, US 09:30-16:00). Auctions are not modelled and
  half days (HK and US eves) are treated as full days.
- Funds deal once per trading day: an order before the cut-off (15:00 in the fund's time zone) on a
  trading day takes that day's NAV; at or after it, or on a non-trading day, the next trading day's.
  The NAV of a dealing day is published at 20:00 local time on that day.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from gateway.domain.market.models import Market

FUND_CUT_OFF: Final = "15:00"  # DOMAIN.md, "Points-to-fund conversion"
NAV_PUBLICATION: Final = time(20, 0)
HOLIDAY_TABLE_YEARS: Final = range(2026, 2028)


@dataclass(frozen=True, slots=True)
class Session:
    """One continuous trading session in local time: `opens` included, `closes` excluded."""

    opens: time
    closes: time

    @property
    def minutes(self) -> int:
        return (self.closes.hour * 60 + self.closes.minute) - (self.opens.hour * 60 + self.opens.minute)


TIME_ZONES: Final[Mapping[Market, ZoneInfo]] = MappingProxyType(
    {
        Market.CN: ZoneInfo("Asia/Shanghai"),
        Market.HK: ZoneInfo("Asia/Hong_Kong"),
        Market.US: ZoneInfo("America/New_York"),
    }
)

SESSIONS: Final[Mapping[Market, tuple[Session, ...]]] = MappingProxyType(
    {
        Market.CN: (Session(time(9, 30), time(11, 30)), Session(time(13, 0), time(15, 0))),
        Market.HK: (Session(time(9, 30), time(12, 0)), Session(time(13, 0), time(16, 0))),
        Market.US: (Session(time(9, 30), time(16, 0)),),
    }
)


def _table(*entries: tuple[str, str]) -> Mapping[date, str]:
    return MappingProxyType({date.fromisoformat(day): name for day, name in entries})


# Weekdays only: a holiday on a weekend closes nothing more. CN follows the State Council's yearly
# schedule, where exchanges stay closed on the make-up working weekends too; the 2027 schedule is
# published late in 2026, so its CN rows follow the statutory days and the usual bridging pattern.
HOLIDAYS: Final[Mapping[Market, Mapping[date, str]]] = MappingProxyType(
    {
        Market.CN: _table(
            ("2026-01-01", "New Year's Day"),
            ("2026-01-02", "New Year's Day"),
            ("2026-02-16", "Spring Festival"),
            ("2026-02-17", "Spring Festival"),
            ("2026-02-18", "Spring Festival"),
            ("2026-02-19", "Spring Festival"),
            ("2026-02-20", "Spring Festival"),
            ("2026-02-23", "Spring Festival"),
            ("2026-04-06", "Qingming Festival"),
            ("2026-05-01", "Labour Day"),
            ("2026-05-04", "Labour Day"),
            ("2026-05-05", "Labour Day"),
            ("2026-06-19", "Dragon Boat Festival"),
            ("2026-09-25", "Mid-Autumn Festival"),
            ("2026-10-01", "National Day"),
            ("2026-10-02", "National Day"),
            ("2026-10-05", "National Day"),
            ("2026-10-06", "National Day"),
            ("2026-10-07", "National Day"),
            ("2027-01-01", "New Year's Day"),
            ("2027-02-05", "Spring Festival"),
            ("2027-02-08", "Spring Festival"),
            ("2027-02-09", "Spring Festival"),
            ("2027-02-10", "Spring Festival"),
            ("2027-02-11", "Spring Festival"),
            ("2027-02-12", "Spring Festival"),
            ("2027-04-05", "Qingming Festival"),
            ("2027-05-03", "Labour Day"),
            ("2027-05-04", "Labour Day"),
            ("2027-05-05", "Labour Day"),
            ("2027-06-09", "Dragon Boat Festival"),
            ("2027-09-15", "Mid-Autumn Festival"),
            ("2027-10-01", "National Day"),
            ("2027-10-04", "National Day"),
            ("2027-10-05", "National Day"),
            ("2027-10-06", "National Day"),
            ("2027-10-07", "National Day"),
        ),
        # HKEX closes on Hong Kong general holidays; a holiday on a Sunday moves to the next weekday.
        Market.HK: _table(
            ("2026-01-01", "The first day of January"),
            ("2026-02-17", "Lunar New Year's Day"),
            ("2026-02-18", "The second day of Lunar New Year"),
            ("2026-02-19", "The third day of Lunar New Year"),
            ("2026-04-03", "Good Friday"),
            ("2026-04-06", "The day following Ching Ming Festival"),
            ("2026-04-07", "The day following Easter Monday"),
            ("2026-05-01", "Labour Day"),
            ("2026-05-25", "The day following the Birthday of the Buddha"),
            ("2026-06-19", "Tuen Ng Festival"),
            ("2026-07-01", "HKSAR Establishment Day"),
            ("2026-10-01", "National Day"),
            ("2026-10-19", "The day following Chung Yeung Festival"),
            ("2026-12-25", "Christmas Day"),
            ("2027-01-01", "The first day of January"),
            ("2027-02-08", "The third day of Lunar New Year"),
            ("2027-02-09", "The fourth day of Lunar New Year"),
            ("2027-03-26", "Good Friday"),
            ("2027-03-29", "Easter Monday"),
            ("2027-04-05", "Ching Ming Festival"),
            ("2027-05-13", "The Birthday of the Buddha"),
            ("2027-06-09", "Tuen Ng Festival"),
            ("2027-07-01", "HKSAR Establishment Day"),
            ("2027-09-16", "The day following the Chinese Mid-Autumn Festival"),
            ("2027-10-01", "National Day"),
            ("2027-10-08", "Chung Yeung Festival"),
            ("2027-12-27", "The first weekday after Christmas Day"),
        ),
        # NYSE: a Saturday holiday is observed on the Friday, a Sunday one on the Monday, except that
        # New Year's Day on a Saturday (2028) is not observed on the last day of 2027.
        Market.US: _table(
            ("2026-01-01", "New Year's Day"),
            ("2026-01-19", "Martin Luther King, Jr. Day"),
            ("2026-02-16", "Washington's Birthday"),
            ("2026-04-03", "Good Friday"),
            ("2026-05-25", "Memorial Day"),
            ("2026-06-19", "Juneteenth National Independence Day"),
            ("2026-07-03", "Independence Day (observed)"),
            ("2026-09-07", "Labor Day"),
            ("2026-11-26", "Thanksgiving Day"),
            ("2026-12-25", "Christmas Day"),
            ("2027-01-01", "New Year's Day"),
            ("2027-01-18", "Martin Luther King, Jr. Day"),
            ("2027-02-15", "Washington's Birthday"),
            ("2027-03-26", "Good Friday"),
            ("2027-05-31", "Memorial Day"),
            ("2027-06-18", "Juneteenth National Independence Day (observed)"),
            ("2027-07-05", "Independence Day (observed)"),
            ("2027-09-06", "Labor Day"),
            ("2027-11-25", "Thanksgiving Day"),
            ("2027-12-24", "Christmas Day (observed)"),
        ),
    }
)


def time_zone(market: Market) -> ZoneInfo:
    return TIME_ZONES[market]


def holiday_name(market: Market, day: date) -> str | None:
    """The name of the exchange holiday on `day`, or None."""
    return HOLIDAYS[market].get(day)


def is_trading_day(market: Market, day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS[market]  # Saturday is 5, Sunday 6


def next_trading_day(market: Market, day: date) -> date:
    """The first trading day strictly after `day`."""
    candidate = day + timedelta(days=1)
    while not is_trading_day(market, candidate):
        candidate += timedelta(days=1)
    return candidate


def previous_trading_day(market: Market, day: date) -> date:
    """The last trading day strictly before `day`."""
    candidate = day - timedelta(days=1)
    while not is_trading_day(market, candidate):
        candidate -= timedelta(days=1)
    return candidate


def trading_days(market: Market, start: date, end: date) -> Iterator[date]:
    """The trading days from `start` to `end`, both included."""
    day = start
    while day <= end:
        if is_trading_day(market, day):
            yield day
        day += timedelta(days=1)


def trading_day_of(market: Market, moment: datetime) -> date:
    """The market's local calendar date at `moment` (a trading day or not)."""
    return _local(market, moment).date()


def sessions_on(market: Market, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The (open, close) instants of the day's sessions in UTC; none on a non-trading day."""
    if not is_trading_day(market, day):
        return ()
    return tuple((_at(market, day, s.opens), _at(market, day, s.closes)) for s in SESSIONS[market])


def is_open(market: Market, moment: datetime) -> bool:
    return session_close(market, moment) is not None


def session_close(market: Market, moment: datetime) -> datetime | None:
    """The close of the session `moment` falls in (UTC), or None when the market is closed."""
    for opens, closes in sessions_on(market, trading_day_of(market, moment)):
        if opens <= moment < closes:
            return closes
    return None


def next_open(market: Market, moment: datetime) -> datetime:
    """The start (UTC) of the first session opening at or after `moment`; mid-session, the next one."""
    day = trading_day_of(market, moment)
    for opens, _ in sessions_on(market, day):
        if opens >= moment:
            return opens
    following = next_trading_day(market, day)
    return _at(market, following, SESSIONS[market][0].opens)


def fund_dealing_day(
    market: Market, moment: datetime, *, cut_off: str = FUND_CUT_OFF, zone: str | ZoneInfo | None = None
) -> date:
    """The dealing day whose NAV prices a fund order received at `moment`."""
    tz = time_zone(market) if zone is None else zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    local = _aware(moment).astimezone(tz)
    day = local.date()
    if is_trading_day(market, day) and local.time() < _parse_cut_off(cut_off):
        return day
    return next_trading_day(market, day)


def nav_publication_time(market: Market, dealing_day: date) -> datetime:
    """When the dealing day's NAV becomes known (UTC): 20:00 local time on that day."""
    return _at(market, dealing_day, NAV_PUBLICATION)


def _parse_cut_off(cut_off: str) -> time:
    try:
        parsed = time.fromisoformat(cut_off)
    except ValueError:
        raise ValueError(f"cut-off {cut_off!r} is not HH:MM") from None
    if len(cut_off) != len("HH:MM"):
        raise ValueError(f"cut-off {cut_off!r} is not HH:MM")
    return parsed


def _at(market: Market, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=time_zone(market)).astimezone(UTC)


def _local(market: Market, moment: datetime) -> datetime:
    return _aware(moment).astimezone(time_zone(market))


def _aware(moment: datetime) -> datetime:
    # A naive datetime has no instant: reading it as local or UTC would silently shift sessions by hours.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a calendar needs a timezone-aware datetime")
    return moment
