"""Deterministic reference prices, fund NAVs and FX rates: same seed and inputs, same numbers anywhere.

Rules:
- Every path is a mean-reverting random walk of the log price around an anchor: the catalogue's
  reference price (or NAV) at the close of `ANCHOR_DATE`. The log offset lives in integer millionths,
  moves once per trading day by a bounded step drawn from a BLAKE2b hash of (seed, instrument, day),
  reverts 0.5 % towards the anchor each move and is clamped to +-0.65, so a price always stays
  within about 0.51x..1.96x of its anchor. Integers and correctly rounded Decimal `exp` keep the
  numbers identical on every machine; neither the wall clock nor Python's `hash()` is involved.
- Within a trading day the price moves by the trading minute from the previous close to the day's
  close along a Brownian bridge (per-minute steps from SHAKE-256, clamped to a third of a daily
  step), so it opens at the previous close and closes at the day's close. It is constant within a
  minute, during the lunch break and outside trading hours (the last session's close).
- Prices are rounded half up to the tick: CN 0.01 (ETFs 0.001, as on SSE and SZSE), US 0.01, HK
  by a simplified spread table (`tick_size`). A price is never below one tick.
- Funds: the NAV of a dealing day follows the same daily walk, rounded half up to 4 decimals; a
  fund's reference price is its latest published NAV (`calendar.nav_publication_time`).
  Money-market funds keep a constant NAV (their reference NAV, 1.0000 for most): their yield is
  not modelled.
- FX: one reference rate per UTC calendar day (weekends keep Friday's), each currency walking
  against USD around USD/CNY 7.10, USD/HKD 7.80 (kept inside the 7.75-7.85 peg band) and EUR/USD
  1.08; cross rates go through USD and are rounded half up to 6 decimals.
- Dates from `EARLIEST_DATE` to `LATEST_DATE` are modelled; others are refused.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType
from typing import Final

from gateway.domain.errors import RuleViolationError
from gateway.domain.market import calendar
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.money import Currency

DEFAULT_SEED: Final = 20260101
ANCHOR_DATE: Final = date(2026, 1, 1)
EARLIEST_DATE: Final = date(2000, 1, 1)
LATEST_DATE: Final = date(2099, 12, 31)
NAV_STEP: Final = Decimal("0.0001")
FX_STEP: Final = Decimal("0.000001")

_LOG_UNIT: Final = Decimal(1_000_000)  # log offsets are integers in millionths
_LOG_LIMIT: Final = 650_000  # |offset| <= 0.65: exp(+-0.65) is 0.52x..1.92x of the anchor
_KEEP_PER_MILLE: Final = 995  # each move keeps 99.5 % of the offset, so walks drift back to the anchor
_CONTEXT: Final = Context(prec=28, rounding=ROUND_HALF_EVEN)

# Largest daily log step, in millionths; steps are uniform, so 20_000 is about 1.15 % a day (18 % a year).
_DAILY_STEP: Final[Mapping[InstrumentType, int]] = MappingProxyType(
    {InstrumentType.STOCK: 20_000, InstrumentType.ETF: 15_000}
)
_FUND_DAILY_STEP: Final[Mapping[str, int]] = MappingProxyType(
    {"money_market": 0, "bond": 2_000, "balanced": 8_000, "index": 12_000, "equity": 12_000}
)
_MINUTES_PER_DAILY_STEP: Final = 60  # a minute's step is 1/60 of a daily one
_INTRADAY_LIMIT_DIVISOR: Final = 3  # intraday excursions stay within a third of a daily step

_HK_TICKS: Final = (
    (Decimal("0.25"), Decimal("0.001")),
    (Decimal("10"), Decimal("0.01")),
    (Decimal("20"), Decimal("0.02")),
    (Decimal("100"), Decimal("0.05")),
    (Decimal("200"), Decimal("0.10")),
)
_HK_TOP_TICK: Final = Decimal("0.20")
_CENT_TICK: Final = Decimal("0.01")
_CN_FUND_TICK: Final = Decimal("0.001")

# Units of each currency per USD at the anchor, with the daily step and the clamp of its walk.
_FX_ANCHORS: Final[Mapping[Currency, Decimal]] = MappingProxyType(
    {
        Currency.CNY: Decimal("7.10"),
        Currency.HKD: Decimal("7.80"),
        Currency.EUR: _CONTEXT.divide(Decimal(1), Decimal("1.08")),
    }
)
_FX_DAILY_STEP: Final[Mapping[Currency, int]] = MappingProxyType(
    {Currency.CNY: 1_500, Currency.HKD: 100, Currency.EUR: 4_000}
)
_FX_LIMIT: Final[Mapping[Currency, int]] = MappingProxyType(
    # HKD: +-0.5 % of 7.80 is 7.761..7.839, inside the Linked Exchange Rate System's band.
    {Currency.CNY: 50_000, Currency.HKD: 5_000, Currency.EUR: 150_000}
)


def tick_size(market: Market, instrument_type: InstrumentType, price: Decimal) -> Decimal:
    """The price step of an exchange-traded instrument at `price`."""
    if market is Market.HK:
        for below, tick in _HK_TICKS:
            if price < below:
                return tick
        return _HK_TOP_TICK
    if market is Market.CN and instrument_type is InstrumentType.ETF:
        return _CN_FUND_TICK
    return _CENT_TICK


class PriceFeed:
    """Seeded price paths for the catalogue's instruments: same seed and inputs, same prices."""

    __slots__ = ("_catalogue", "_fx_walks", "_seed", "_walks")

    def __init__(self, catalogue: Catalogue, *, seed: int = DEFAULT_SEED) -> None:
        self._catalogue = catalogue
        self._seed = seed
        self._walks = {
            instrument.id: _Walk(
                f"{seed}|{instrument.id}",
                _daily_step(instrument),
                functools.partial(calendar.is_trading_day, instrument.market),
            )
            for instrument in catalogue
        }
        self._fx_walks = {
            currency: _Walk(
                f"{seed}|fx|{currency}", _FX_DAILY_STEP[currency], _is_weekday, _FX_LIMIT[currency]
            )
            for currency in _FX_ANCHORS
        }

    @property
    def seed(self) -> int:
        return self._seed

    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        """The price at `moment`, on tick; for a fund, its latest published NAV."""
        known = self._known(instrument)
        if known.fund is not None:
            return self._latest_nav(known, moment)
        market = known.market
        day = calendar.trading_day_of(market, moment)
        _check_range(day)
        walk = self._walks[known.id]
        if not calendar.is_trading_day(market, day):
            log = walk.at(day)  # non-trading days do not move: the last session's close
        else:
            total = _session_minutes(market)
            minute = _elapsed_minutes(market, moment)
            previous_close = walk.at(day - timedelta(days=1))
            if minute == 0:
                log = previous_close
            elif minute >= total:
                log = walk.at(day)
            else:
                close = walk.at(day)
                excursion = _bridge(
                    f"{self._seed}|{known.id}|{day.isoformat()}",
                    total,
                    max(1, walk.max_step // _MINUTES_PER_DAILY_STEP),
                    walk.max_step // _INTRADAY_LIMIT_DIVISOR,
                )[minute]
                log = previous_close + ((close - previous_close) * minute) // total + excursion
        price = _scale(known.reference_price, log)
        return _round_to_tick(price, tick_size(market, known.instrument_type, price))

    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal:
        """The fund's NAV for a dealing day (a trading day of its market), 4 decimals."""
        fund = self._fund(instrument)
        _check_range(dealing_day)
        if not calendar.is_trading_day(fund.market, dealing_day):
            raise RuleViolationError(
                "a fund has no NAV on a non-trading day",
                field="dealing_day",
                dealing_day=dealing_day.isoformat(),
                market=str(fund.market),
            )
        return self._nav(fund, dealing_day)

    def nav_history(self, instrument: Instrument, start: date, end: date) -> list[tuple[date, Decimal]]:
        """The fund's NAV on each trading day of its market from `start` to `end`, both included."""
        fund = self._fund(instrument)
        _check_range(start)
        _check_range(end)
        return [(day, self._nav(fund, day)) for day in calendar.trading_days(fund.market, start, end)]

    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal:
        """Units of `quote` per unit of `base` on the UTC day of `moment`, 6 decimals."""
        day = _utc_date(moment)
        _check_range(day)
        if base is quote:
            return Decimal(1).quantize(FX_STEP)
        rate = _CONTEXT.divide(self._per_usd(quote, day), self._per_usd(base, day))
        return rate.quantize(FX_STEP, rounding=ROUND_HALF_UP, context=_CONTEXT)

    def _per_usd(self, currency: Currency, day: date) -> Decimal:
        if currency is Currency.USD:
            return Decimal(1)
        return _scale(_FX_ANCHORS[currency], self._fx_walks[currency].at(day))

    def _latest_nav(self, fund: Instrument, moment: datetime) -> Decimal:
        day = calendar.trading_day_of(fund.market, moment)
        _check_range(day)
        if calendar.is_trading_day(fund.market, day) and moment >= calendar.nav_publication_time(
            fund.market, day
        ):
            return self._nav(fund, day)
        return self._nav(fund, calendar.previous_trading_day(fund.market, day))

    def _nav(self, fund: Instrument, day: date) -> Decimal:
        walk = self._walks[fund.id]
        log = 0 if walk.max_step == 0 else walk.at(day)
        return _scale(fund.reference_price, log).quantize(NAV_STEP, rounding=ROUND_HALF_UP, context=_CONTEXT)

    def _known(self, instrument: Instrument) -> Instrument:
        # The catalogue's own record anchors the path, so a stale or edited copy cannot move prices.
        return self._catalogue.get(instrument.id)

    def _fund(self, instrument: Instrument) -> Instrument:
        known = self._known(instrument)
        if known.fund is None:
            raise RuleViolationError("only funds have a NAV", instrument_id=known.id)
        return known


class _Walk:
    """Log offsets from the anchor, in millionths, at the close of each calendar day; memoised."""

    __slots__ = ("_backward", "_forward", "_key", "_limit", "_lock", "_moves", "max_step")

    def __init__(
        self, key: str, max_step: int, moves: Callable[[date], bool], limit: int = _LOG_LIMIT
    ) -> None:
        self._key = key
        self.max_step = max_step
        self._moves = moves
        self._limit = limit
        self._forward = [0]  # index i: the close of ANCHOR_DATE + i days
        self._backward = [0]  # index i: the close of ANCHOR_DATE - i days
        self._lock = threading.Lock()

    def at(self, day: date) -> int:
        offset = (day - ANCHOR_DATE).days
        path, index = (self._forward, offset) if offset >= 0 else (self._backward, -offset)
        if index >= len(path):
            with self._lock:  # sync handlers may run in threads; extend each list once
                self._extend(path, index, forward=offset >= 0)
        return path[index]

    def _extend(self, path: list[int], index: int, *, forward: bool) -> None:
        while len(path) <= index:
            i = len(path)
            # Forward, day i's own move leads to its close; backward, the close of day -i is the
            # close of the day after it with that day's move undone by the same rule.
            mover = ANCHOR_DATE + timedelta(days=i) if forward else ANCHOR_DATE - timedelta(days=i - 1)
            last = path[-1]
            if self._moves(mover):
                kept = (last * _KEEP_PER_MILLE + 500) // 1000
                step = _uniform(f"{self._key}|{mover.isoformat()}", self.max_step)
                last = max(-self._limit, min(self._limit, kept + step))
            path.append(last)


def _uniform(key: str, bound: int) -> int:
    """A uniform integer in [-bound, bound] drawn from the key's BLAKE2b digest."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2 * bound + 1) - bound


@functools.lru_cache(maxsize=4096)
def _bridge(key: str, minutes: int, step: int, limit: int) -> tuple[int, ...]:
    """Intraday excursions by trading minute: a Brownian bridge, zero at the open and at the close."""
    raw = hashlib.shake_256(f"{key}|intraday".encode()).digest(4 * minutes)
    path = [0]
    for minute in range(minutes):
        draw = int.from_bytes(raw[4 * minute : 4 * minute + 4], "big")
        path.append(path[-1] + draw % (2 * step + 1) - step)
    end = path[-1]
    return tuple(
        max(-limit, min(limit, value - (end * minute) // minutes)) for minute, value in enumerate(path)
    )


def _daily_step(instrument: Instrument) -> int:
    if instrument.fund is not None:
        return 0 if instrument.fund.money_market else _FUND_DAILY_STEP[instrument.fund.category]
    return _DAILY_STEP[instrument.instrument_type]


def _session_minutes(market: Market) -> int:
    return sum(session.minutes for session in calendar.SESSIONS[market])


def _elapsed_minutes(market: Market, moment: datetime) -> int:
    """Whole trading minutes of the local day gone by at `moment` (lunch and after-hours count none)."""
    local = moment.astimezone(calendar.time_zone(market))
    now = local.hour * 3600 + local.minute * 60 + local.second
    elapsed = 0
    for session in calendar.SESSIONS[market]:
        opens = session.opens.hour * 3600 + session.opens.minute * 60
        elapsed += max(0, min(now, opens + session.minutes * 60) - opens)
    return elapsed // 60


def _scale(anchor: Decimal, log: int) -> Decimal:
    return _CONTEXT.multiply(anchor, _CONTEXT.exp(_CONTEXT.divide(Decimal(log), _LOG_UNIT)))


def _round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    ticks = _CONTEXT.divide(price, tick).to_integral_value(rounding=ROUND_HALF_UP)
    return (max(ticks, Decimal(1)) * tick).quantize(tick)


def _is_weekday(day: date) -> bool:
    return day.weekday() < 5  # Saturday is 5, Sunday 6


def _utc_date(moment: datetime) -> date:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a price feed needs a timezone-aware datetime")
    return moment.astimezone(UTC).date()


def _check_range(day: date) -> None:
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise RuleViolationError(
            f"prices are modelled from {EARLIEST_DATE} to {LATEST_DATE}",
            field="date",
            date=day.isoformat(),
        )
