"""The venue port: where orders execute and funds are dealt; the simulated venue lives in `sandbox/`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from gateway.domain.market.models import Instrument
from gateway.domain.trading.models import Liquidity, Order, Side
from gateway.domain.trading.pretrade import MARKET_ORDER_COLLAR


@dataclass(frozen=True, slots=True)
class Execution:
    quantity: Decimal
    price: Decimal
    liquidity: Liquidity
    counter_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class VenueAnswer:
    executions: tuple[Execution, ...]
    rests: bool  # what is left stays open in the book
    rejected: str | None = None  # the venue refused the whole order: its reason code

    def __post_init__(self) -> None:
        if self.rejected is not None and (self.executions or self.rests):
            raise ValueError("a rejected order neither fills nor rests")


class Prices(Protocol):
    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal: ...
    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal: ...


class Venue(Protocol):
    """Where orders execute; `book` is the platform's resting opposite side, which an upstream may ignore."""

    def submit(
        self,
        order: Order,
        instrument: Instrument,
        book: Sequence[Order],
        excluded: frozenset[str],
        now: datetime,
    ) -> VenueAnswer: ...

    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal: ...


def collar(side: Side, reference: Decimal) -> Decimal:
    """The worst price a market order accepts."""
    factor = 1 + MARKET_ORDER_COLLAR if side is Side.BUY else 1 - MARKET_ORDER_COLLAR
    return reference * factor
