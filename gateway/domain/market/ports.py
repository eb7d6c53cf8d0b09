"""What market data the domain and the edge read: the price source port; `sandbox/` simulates it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from gateway.domain.market.models import Instrument
from gateway.domain.money import Currency


# Handlers receive it by type (`NamedDependency`), and Litestar checks the instance against it.
@runtime_checkable
class PriceSource(Protocol):
    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        """The price at `moment`, on tick; for a fund, its latest published NAV."""
        ...

    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal:
        """The fund's NAV for a dealing day (a trading day of its market)."""
        ...

    def nav_history(self, instrument: Instrument, start: date, end: date) -> list[tuple[date, Decimal]]:
        """The fund's NAV on each trading day of its market from `start` to `end`, both included."""
        ...

    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal:
        """Units of `quote` per unit of `base` at `moment`."""
        ...
