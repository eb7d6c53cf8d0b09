"""A continuous limit order book with price-time priority: a pure matching function and an in-memory book."""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Final

from gateway.domain.errors import ConflictError, RuleViolationError
from gateway.domain.trading.models import Side

# Rules (the resting orders live in the database; `match` is the pure step run inside one transaction):
# - Price-time priority: a buy takes the lowest ask first, then the earliest sequence at that price, while
#   the ask is at or below the buy's limit (any price for a market order); a sell mirrors it.
# - The execution price is always the resting (maker) order's price.
# - Self-trade prevention: orders of `exclude_accounts`, and always of the incoming order's own account,
#   are skipped and keep their place in the queue.
# - Cancel newest: if a limit order's remainder would cross a skipped (excluded) order, the remainder
#   does not rest (`MatchResult.rests` is False), so the book is never crossed; a market remainder never
#   rests either. Whatever did trade with other customers stands (DOMAIN.md, wash trade: the second
#   order is blocked).
# - Prices and quantities are Decimal, positive, at most 10^12 and at most 8 decimals, so every sum and
#   difference the book takes is exact in a 40-digit context (which traps, rather than rounds, if not).

MAX_VALUE: Final = Decimal("1000000000000")
MAX_DECIMALS: Final = 8
_STEP: Final = Decimal(1).scaleb(-MAX_DECIMALS)
# A private context: the caller's thread context (its precision, its traps) never touches the arithmetic.
_EXACT: Final = Context(prec=40, traps=[Inexact, InvalidOperation, Overflow])


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """An open limit order in the book; `remaining` is 0 only in `MatchResult.makers_after`."""

    order_id: str
    account_id: str
    side: Side
    limit_price: Decimal
    remaining: Decimal
    sequence: int  # arrival order: the time in price-time priority

    def __post_init__(self) -> None:
        _require_id(self.order_id, "order_id")
        _require_id(self.account_id, "account_id")
        _require_side(self.side)
        _require_positive(self.limit_price, "limit_price")
        if _require_finite(self.remaining, "remaining") < 0:
            raise RuleViolationError("remaining must not be negative", field="remaining")
        if not isinstance(self.sequence, int) or isinstance(self.sequence, bool):
            raise RuleViolationError("sequence must be an integer", field="sequence")


@dataclass(frozen=True, slots=True)
class IncomingOrder:
    """An order arriving at the book; `limit_price` None makes it a market order."""

    order_id: str
    account_id: str
    side: Side
    limit_price: Decimal | None
    quantity: Decimal

    def __post_init__(self) -> None:
        _require_id(self.order_id, "order_id")
        _require_id(self.account_id, "account_id")
        _require_side(self.side)
        if self.limit_price is not None:
            _require_positive(self.limit_price, "limit_price")
        _require_positive(self.quantity, "quantity")


@dataclass(frozen=True, slots=True)
class Match:
    """One fill between a resting maker and the incoming taker, at the maker's price."""

    maker_order_id: str
    taker_order_id: str
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The fills of one incoming order, what is left of it, and the makers it touched."""

    matches: tuple[Match, ...]
    remaining: Decimal  # of the incoming order, after matching inside the book
    makers_after: tuple[RestingOrder, ...]  # touched makers in fill order, new remaining (0 = filled)
    rests: bool  # True when the caller should rest `remaining` as a new limit order


def match(
    incoming: IncomingOrder,
    resting: Iterable[RestingOrder],
    *,
    exclude_accounts: frozenset[str] = frozenset(),
) -> MatchResult:
    """Match an incoming order against resting orders by price-time priority, without changing them."""
    excluded = exclude_accounts | {incoming.account_id}
    order_ids = {incoming.order_id}
    sequences: set[int] = set()
    makers: list[RestingOrder] = []
    queue: list[tuple[Decimal, int, int]] = []
    for order in resting:
        if order.remaining <= 0:
            raise RuleViolationError(
                "a resting order must have a positive remaining quantity",
                field="remaining",
                order_id=order.order_id,
            )
        if order.order_id in order_ids:
            raise RuleViolationError("order ids must be unique", field="order_id", order_id=order.order_id)
        if order.sequence in sequences:
            raise RuleViolationError("sequences must be unique", field="sequence", sequence=order.sequence)
        order_ids.add(order.order_id)
        sequences.add(order.sequence)
        if order.side is not incoming.side:
            queue.append((*_priority(order), len(makers)))
            makers.append(order)
    heapq.heapify(queue)  # O(n), then O(log n) per touched maker: a sweep rarely reads the whole book

    remaining = incoming.quantity
    fills: list[Match] = []
    touched: list[RestingOrder] = []
    blocked = False
    while queue and remaining > 0:
        maker = makers[heapq.heappop(queue)[2]]
        if not _crosses(incoming, maker):
            break  # every later maker has a worse price
        if maker.account_id in excluded:
            blocked = True  # skipped, keeps its place; it stops a crossing remainder from resting
            continue
        quantity = min(remaining, maker.remaining)
        remaining = _EXACT.subtract(remaining, quantity)
        fills.append(Match(maker.order_id, incoming.order_id, quantity, maker.limit_price))
        touched.append(replace(maker, remaining=_EXACT.subtract(maker.remaining, quantity)))
    rests = incoming.limit_price is not None and remaining > 0 and not blocked
    return MatchResult(tuple(fills), remaining, tuple(touched), rests)


class OrderBook:
    """An in-memory book for tests, simulations and the sandbox; every fill goes through `match`."""

    def __init__(self) -> None:
        self._orders: dict[str, RestingOrder] = {}
        # Each side sorted by (price key, sequence, order id), best first; sequences are unique.
        self._queues: dict[Side, list[tuple[Decimal, int, str]]] = {Side.BUY: [], Side.SELL: []}
        self._last_sequence: int | None = None

    def submit(
        self, incoming: IncomingOrder, sequence: int, *, exclude_accounts: frozenset[str] = frozenset()
    ) -> MatchResult:
        """Match an incoming order, then rest a limit remainder under `sequence`."""
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            raise RuleViolationError("sequence must be an integer", field="sequence")
        if self._last_sequence is not None and sequence <= self._last_sequence:
            raise RuleViolationError(
                "sequence must increase with every submission", field="sequence", last=self._last_sequence
            )
        if incoming.order_id in self._orders:
            raise ConflictError("the order is already in the book", order_id=incoming.order_id)
        excluded = exclude_accounts | {incoming.account_id}
        result = match(incoming, self._candidates(incoming, excluded), exclude_accounts=exclude_accounts)
        rested = (
            RestingOrder(
                incoming.order_id,
                incoming.account_id,
                incoming.side,
                incoming.limit_price,
                result.remaining,
                sequence,
            )
            if result.rests and incoming.limit_price is not None
            else None
        )
        for maker in result.makers_after:
            if maker.remaining > 0:
                self._orders[maker.order_id] = maker  # same price and sequence: its place is unchanged
            else:
                self._remove(maker)
        if rested is not None:
            self._add(rested)
        self._last_sequence = sequence
        return result

    def cancel(self, order_id: str) -> RestingOrder | None:
        """Take an order out of the book and return it, or None if it is not resting."""
        order = self._orders.get(order_id)
        if order is not None:
            self._remove(order)
        return order

    def best_bid(self) -> Decimal | None:
        return self._best(Side.BUY)

    def best_ask(self) -> Decimal | None:
        return self._best(Side.SELL)

    def depth(self, side: Side) -> list[RestingOrder]:
        """The resting orders of one side in priority order."""
        return [self._orders[order_id] for _, _, order_id in self._queues[side]]

    def is_crossed(self) -> bool:
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def _candidates(self, incoming: IncomingOrder, excluded: frozenset[str]) -> Iterator[RestingOrder]:
        # Only the prefix of the opposite queue that `match` can reach: stop at the first price that does
        # not cross, or once the orders that may trade cover the quantity. Skipped orders are passed on
        # too, so `match` sees the ones that block a crossing remainder.
        available = Decimal(0)
        for _, _, order_id in self._queues[incoming.side.opposite]:
            order = self._orders[order_id]
            if not _crosses(incoming, order):
                return
            yield order
            if order.account_id not in excluded:
                available = _EXACT.add(available, order.remaining)
                if available >= incoming.quantity:
                    return

    def _best(self, side: Side) -> Decimal | None:
        queue = self._queues[side]
        return self._orders[queue[0][2]].limit_price if queue else None

    def _add(self, order: RestingOrder) -> None:
        self._orders[order.order_id] = order
        insort(self._queues[order.side], (*_priority(order), order.order_id))

    def _remove(self, order: RestingOrder) -> None:
        del self._orders[order.order_id]
        queue = self._queues[order.side]
        key = (*_priority(order), order.order_id)
        index = bisect_left(queue, key)
        if index == len(queue) or queue[index] != key:  # pragma: no cover (an internal invariant)
            raise AssertionError(f"order {order.order_id} is missing from its queue")
        del queue[index]


def _priority(order: RestingOrder) -> tuple[Decimal, int]:
    # Best price first (lowest ask, highest bid), then earliest arrival; copy_negate is exact.
    price = order.limit_price if order.side is Side.SELL else order.limit_price.copy_negate()
    return price, order.sequence


def _crosses(incoming: IncomingOrder, maker: RestingOrder) -> bool:
    if incoming.limit_price is None:
        return True
    if incoming.side is Side.BUY:
        return maker.limit_price <= incoming.limit_price
    return maker.limit_price >= incoming.limit_price


def _require_id(value: object, field: str) -> None:
    if not isinstance(value, str) or not value:
        raise RuleViolationError(f"{field} must be a non-empty string", field=field)


def _require_side(value: object) -> None:
    if not isinstance(value, Side):
        raise RuleViolationError("side must be buy or sell", field="side")


def _require_finite(value: object, field: str) -> Decimal:
    # Floats (and ints) are refused outright: prices and quantities are Decimal end to end.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RuleViolationError(f"{field} must be a finite Decimal", field=field)
    if value.copy_abs() > MAX_VALUE:
        raise RuleViolationError(f"{field} must not exceed {MAX_VALUE}", field=field)
    try:
        _EXACT.quantize(value, _STEP)  # dropping only trailing zeros is exact; anything else traps
    except Inexact:
        raise RuleViolationError(f"{field} has at most {MAX_DECIMALS} decimals", field=field) from None
    return value


def _require_positive(value: object, field: str) -> None:
    if _require_finite(value, field) <= 0:
        raise RuleViolationError(f"{field} must be positive", field=field)
