"""Order magic values: a `client_order_id` prefix forces the order's outcome, in the sandbox only.

Rules (docs/sandbox/magic-values.md has the table that tests/sandbox/test_magic_values.py runs):
- The prefix is matched case-sensitively at the start of `client_order_id`; anything may follow.
  Any other id trades as the venue it wraps would have it.
- `sbx_reject_`: the venue rejects the order. It was accepted and held its cash or units first;
  it ends `rejected` with `reject_reason` `venue_rejected`, nothing filled, every hold released.
- `sbx_partial_`: half the quantity, rounded down to whole lots, fills at the reference price
  (a limit order that does not reach the reference fills at its limit: a fill never breaks it).
  The rest of a limit order rests in the book; the rest of a market order is cancelled. The
  forced half never meets the platform's book. An order of one lot fills nothing.
- `sbx_halt_`: refused before the venue as halted: `trading_halted` (PTC-03), a 422 like every
  pre-trade refusal. Any order type, funds included.
- `sbx_nofunds_`: refused as if the available cash (a buy, a fund subscription) or units (a sell,
  a redemption) were nil: `insufficient_buying_power` or `insufficient_units` (PTC-05), exactly
  as the real check refuses.
- `sbx_reject_` and `sbx_partial_` do not apply to fund orders: the venue never executes them
  (they are dealt at the NAV of their dealing day), so they are accepted and dealt as usual.

Production builds the plain venue and no forced outcomes, so these prefixes mean nothing there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from gateway.domain.market.models import Instrument
from gateway.domain.trading.models import Liquidity, Order, OrderRequest, OrderType, Side
from gateway.domain.trading.ports import ForcedRefusal
from gateway.domain.trading.venue import Execution, Prices, Venue, VenueAnswer

REJECT: Final = "sbx_reject_"
PARTIAL: Final = "sbx_partial_"
HALT: Final = "sbx_halt_"
NO_FUNDS: Final = "sbx_nofunds_"
PREFIXES: Final = (REJECT, PARTIAL, HALT, NO_FUNDS)
VENUE_REJECTED: Final = "venue_rejected"

_REFUSALS: Final = {HALT: ForcedRefusal.TRADING_HALTED, NO_FUNDS: ForcedRefusal.INSUFFICIENT_FUNDS}


class MagicVenue:
    """The sandbox's venue: another venue, with the outcomes the magic prefixes force.

    It is both the venue port and the forced-outcomes port of `OrderEntry`: pass it as both.
    """

    def __init__(self, inner: Venue, prices: Prices) -> None:
        self._inner = inner
        self._prices = prices

    def refusal(self, request: OrderRequest) -> ForcedRefusal | None:
        return next(
            (r for prefix, r in _REFUSALS.items() if request.client_order_id.startswith(prefix)), None
        )

    def submit(
        self,
        order: Order,
        instrument: Instrument,
        book: Sequence[Order],
        excluded: frozenset[str],
        now: datetime,
    ) -> VenueAnswer:
        if order.client_order_id.startswith(REJECT):
            return VenueAnswer(executions=(), rests=False, rejected=VENUE_REJECTED)
        if order.client_order_id.startswith(PARTIAL):
            return self._half(order, instrument, now)
        return self._inner.submit(order, instrument, book, excluded, now)

    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal:
        return self._inner.nav(instrument, dealing_day)

    def _half(self, order: Order, instrument: Instrument, now: datetime) -> VenueAnswer:
        lot = Decimal(instrument.lot_size)
        half = (order.remaining / 2 // lot) * lot
        rests = order.order_type is OrderType.LIMIT
        if half <= 0:
            return VenueAnswer(executions=(), rests=rests)
        price = self._prices.reference_price(instrument, now)
        if order.limit_price is not None:  # never through the limit
            better = min if order.side is Side.BUY else max
            price = better(price, order.limit_price)
        return VenueAnswer((Execution(half, price, Liquidity.REFERENCE),), rests=rests)
