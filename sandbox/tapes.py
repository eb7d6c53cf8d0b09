"""Price tapes: a seeded path of reference prices for one instrument, played for one scenario run.

Rules (docs/sandbox/scenarios.md):
- A tape starts at `opens_at` from the instrument's previous close (the sandbox feed's price at that
  moment) and has one reference price per wall-clock minute. The log price moves from the open by a
  bounded step per minute drawn from a BLAKE2b hash of (seed, instrument, minute): same seed, same
  tape, on every machine; Python's `random` and the wall clock play no part.
- A gap moves the whole tape from the open (`gap=-0.10`: the open is the previous close less 10 %,
  rounded half up to the tick). During a halt the price stands still: the instrument resumes at the
  price it halted at and walks on from the minute after.
- Before its open a tape answers the previous close; after its last minute, the last price.
- A tape plays only inside `TapeRouter.playing`: a context variable, like the test clocks' time, so
  it reaches the run that binds it and nothing else. While it plays, the sandbox's venue (`TapeVenue`)
  refuses orders in the instrument during a halt (`trading_halted`, PTC-03), fills half of each
  order during a drought (the `sbx_partial_` behaviour of sandbox/magic.py), and never meets the
  platform's shared book: a run trades against its tape alone, so no other app's resting order
  reaches into it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from typing import Final

from gateway.domain.clock import Clock
from gateway.domain.market.models import Instrument
from gateway.domain.market.ports import PriceSource
from gateway.domain.money import Currency
from gateway.domain.trading.models import Order, OrderRequest
from gateway.domain.trading.ports import ForcedRefusal
from gateway.domain.trading.venue import VenueAnswer
from sandbox.magic import PARTIAL, PREFIXES, MagicVenue
from sandbox.prices import tick_size

MINUTE: Final = timedelta(minutes=1)
MAX_MINUTES: Final = 24 * 60
# Largest step of the log price per minute, in millionths: about 0.2 % a minute at most.
MINUTE_STEP: Final = 2_000
_LOG_UNIT: Final = Decimal(1_000_000)
_CONTEXT: Final = Context(prec=28, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Window:
    """A span of a tape, from `start` included to `end` excluded."""

    start: datetime
    end: datetime

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class TapeShape:
    """What a scenario asks of its tape, in minutes from the open."""

    minutes: int = 120
    gap: Decimal = Decimal(0)  # the move at the open as a fraction: -0.10 is a 10 % gap down
    halts: tuple[tuple[int, int], ...] = ()  # (from, to) minutes: halted from `from` until `to`
    droughts: tuple[tuple[int, int], ...] = ()  # (from, to) minutes: orders fill half

    def __post_init__(self) -> None:
        if not 1 <= self.minutes <= MAX_MINUTES:
            raise ValueError(f"a tape has 1 to {MAX_MINUTES} minutes")
        if not Decimal(-1) < self.gap < Decimal(1):
            raise ValueError("a gap is a fraction between -1 and 1")
        for start, end in (*self.halts, *self.droughts):
            if not 0 <= start < end <= self.minutes:
                raise ValueError("a window lies within the tape and ends after it starts")


@dataclass(frozen=True, slots=True)
class Tape:
    instrument_id: str
    seed: int
    opens_at: datetime
    previous_close: Decimal
    prices: tuple[Decimal, ...]  # the reference price of each minute from the open
    halts: tuple[Window, ...] = ()
    droughts: tuple[Window, ...] = ()

    @classmethod
    def record(
        cls,
        instrument: Instrument,
        *,
        previous_close: Decimal,
        opens_at: datetime,
        seed: int,
        shape: TapeShape,
    ) -> Tape:
        """The tape of `instrument` for this seed and shape."""
        if instrument.fund is not None:
            raise ValueError("funds are dealt at their NAV: a tape is for exchange-traded instruments")
        if opens_at.utcoffset() is None:
            raise ValueError("a tape opens at a timezone-aware moment")
        halted = [False] * shape.minutes
        for start, end in shape.halts:
            halted[start:end] = [True] * (end - start)
        opening = _CONTEXT.multiply(previous_close, Decimal(1) + shape.gap)
        walk = 0  # the log price's move since the open, in millionths
        prices: list[Decimal] = []
        for minute in range(shape.minutes):
            if minute > 0 and not halted[minute] and not halted[minute - 1]:
                walk += _uniform(f"{seed}|{instrument.id}|{minute}", MINUTE_STEP)
            price = _CONTEXT.multiply(opening, _CONTEXT.exp(_CONTEXT.divide(Decimal(walk), _LOG_UNIT)))
            prices.append(on_tick(price, tick_size(instrument.market, instrument.instrument_type, price)))
        return cls(
            instrument_id=instrument.id,
            seed=seed,
            opens_at=opens_at,
            previous_close=previous_close,
            prices=tuple(prices),
            halts=_windows(opens_at, shape.halts),
            droughts=_windows(opens_at, shape.droughts),
        )

    @property
    def open(self) -> Decimal:
        return self.prices[0]

    @property
    def closes_at(self) -> datetime:
        return self.opens_at + MINUTE * len(self.prices)

    def price_at(self, moment: datetime) -> Decimal:
        if moment < self.opens_at:
            return self.previous_close
        minute = min(int((moment - self.opens_at) // MINUTE), len(self.prices) - 1)
        return self.prices[minute]

    def halted(self, moment: datetime) -> bool:
        return any(window.covers(moment) for window in self.halts)

    def dry(self, moment: datetime) -> bool:
        return any(window.covers(moment) for window in self.droughts)


class TapeRouter:
    """The sandbox's price source: the playing tape's price for its instrument, the base feed's for
    everything else. The binding is a context variable, so it follows one run only."""

    def __init__(self, base: PriceSource) -> None:
        self._base = base
        self._playing: ContextVar[Tape | None] = ContextVar("price_tape", default=None)

    @contextmanager
    def playing(self, tape: Tape) -> Iterator[None]:
        token = self._playing.set(tape)
        try:
            yield
        finally:
            self._playing.reset(token)

    def tape_for(self, instrument_id: str) -> Tape | None:
        """The tape playing for this instrument in the current run, if any."""
        tape = self._playing.get()
        return tape if tape is not None and tape.instrument_id == instrument_id else None

    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        tape = self.tape_for(instrument.id)
        return tape.price_at(moment) if tape is not None else self._base.reference_price(instrument, moment)

    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal:
        return self._base.nav(instrument, dealing_day)

    def nav_history(self, instrument: Instrument, start: date, end: date) -> list[tuple[date, Decimal]]:
        return self._base.nav_history(instrument, start, end)

    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal:
        return self._base.fx_rate(base, quote, moment)


class TapeVenue:
    """The sandbox's venue and forced outcomes: the magic venue, and the playing tape's halts and
    droughts. Pass it to `OrderEntry` as both the venue and the forced-outcomes port."""

    def __init__(self, inner: MagicVenue, tapes: TapeRouter, clock: Clock) -> None:
        self._inner = inner
        self._tapes = tapes
        self._clock = clock  # the sandbox's clock: a run binds its time

    def refusal(self, request: OrderRequest) -> ForcedRefusal | None:
        tape = self._tapes.tape_for(request.instrument_id)
        if tape is not None and tape.halted(self._clock.now()):
            return ForcedRefusal.TRADING_HALTED
        return self._inner.refusal(request)

    def submit(
        self,
        order: Order,
        instrument: Instrument,
        book: Sequence[Order],
        excluded: frozenset[str],
        now: datetime,
    ) -> VenueAnswer:
        tape = self._tapes.tape_for(instrument.id)
        if tape is None:
            return self._inner.submit(order, instrument, book, excluded, now)
        if tape.dry(now) and not order.client_order_id.startswith(PREFIXES):
            # The magic partial fill, for the venue's eyes only: the stored order keeps its id.
            order = replace(order, client_order_id=PARTIAL + order.client_order_id)
        return self._inner.submit(order, instrument, (), excluded, now)

    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal:
        return self._inner.nav(instrument, dealing_day)


def _windows(opens_at: datetime, spans: tuple[tuple[int, int], ...]) -> tuple[Window, ...]:
    return tuple(Window(opens_at + MINUTE * start, opens_at + MINUTE * end) for start, end in spans)


def _uniform(key: str, bound: int) -> int:
    """A uniform integer in [-bound, bound] drawn from the key's BLAKE2b digest."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2 * bound + 1) - bound


def on_tick(price: Decimal, tick: Decimal) -> Decimal:
    """The price rounded half up to a whole number of ticks, at least one tick."""
    ticks = _CONTEXT.divide(price, tick).to_integral_value(rounding=ROUND_HALF_UP)
    return (max(ticks, Decimal(1)) * tick).quantize(tick)
