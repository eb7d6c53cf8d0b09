"""The simulated venue behind the domain's venue port, until a real upstream broker serves it.

The in-process venue matches an incoming order against the platform's own book first (price-time
priority, self-trades of one customer skipped), then fills what is left of a marketable order at
the reference price feed, which stands for the outside market and has unlimited depth. A limit
order that does not reach the reference price rests in the book. Resting orders fill only when
an incoming order meets them; nothing sweeps the book when the reference price moves.

Market orders are protected by a collar: they fill at most 5 % through the reference price.
Funds are dealt once a day at the NAV of the dealing day, after it is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from gateway.domain.market.models import Instrument
from gateway.domain.trading.book import IncomingOrder, RestingOrder, match
from gateway.domain.trading.models import Liquidity, Order, OrderType, Side
from gateway.domain.trading.venue import Execution, Prices, VenueAnswer, collar


class InProcessVenue:
    def __init__(self, prices: Prices) -> None:
        self._prices = prices

    def submit(
        self,
        order: Order,
        instrument: Instrument,
        book: Sequence[Order],
        excluded: frozenset[str],
        now: datetime,
    ) -> VenueAnswer:
        reference = self._prices.reference_price(instrument, now)
        limit = order.limit_price if order.order_type is OrderType.LIMIT else collar(order.side, reference)
        quantity = order.remaining
        result = match(
            IncomingOrder(order.id, order.account_id, order.side, limit, quantity),
            (_resting(maker) for maker in book),
            exclude_accounts=excluded,
        )
        executions = [
            Execution(m.quantity, m.price, Liquidity.BOOK, counter_order_id=m.maker_order_id)
            for m in result.matches
        ]
        left = result.remaining
        if left > 0 and _reaches(order.side, limit, reference):
            executions.append(Execution(left, reference, Liquidity.REFERENCE))
            left = Decimal(0)
        return VenueAnswer(tuple(executions), rests=left > 0 and order.order_type is OrderType.LIMIT)

    def nav(self, instrument: Instrument, dealing_day: date) -> Decimal:
        return self._prices.nav(instrument, dealing_day)


def _reaches(side: Side, limit: Decimal | None, reference: Decimal) -> bool:
    if limit is None:
        return True
    return limit >= reference if side is Side.BUY else limit <= reference


def _resting(order: Order) -> RestingOrder:
    if order.limit_price is None or order.quantity is None:
        raise ValueError(f"order {order.id} cannot rest in the book without a limit and a quantity")
    return RestingOrder(
        order_id=order.id,
        account_id=order.account_id,
        side=order.side,
        limit_price=order.limit_price,
        remaining=order.remaining,
        sequence=order.sequence,
    )
