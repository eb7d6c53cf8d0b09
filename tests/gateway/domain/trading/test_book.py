from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gateway.domain.errors import ConflictError, DomainError, RuleViolationError
from gateway.domain.trading.book import (
    IncomingOrder,
    Match,
    MatchResult,
    OrderBook,
    RestingOrder,
    match,
)
from gateway.domain.trading.models import Side

BUY, SELL = Side.BUY, Side.SELL
D = Decimal


def resting(
    order_id: str, side: Side, price: str, remaining: str, sequence: int, account: str = "acc_m"
) -> RestingOrder:
    return RestingOrder(order_id, account, side, D(price), D(remaining), sequence)


def limit(order_id: str, side: Side, price: str, quantity: str, account: str = "acc_t") -> IncomingOrder:
    return IncomingOrder(order_id, account, side, D(price), D(quantity))


def market(order_id: str, side: Side, quantity: str, account: str = "acc_t") -> IncomingOrder:
    return IncomingOrder(order_id, account, side, None, D(quantity))


def reference_match(
    incoming: IncomingOrder, orders: list[RestingOrder], exclude: frozenset[str]
) -> tuple[list[tuple[str, Decimal, Decimal]], Decimal, bool]:
    """A deliberately naive matcher: sort everything, walk it."""
    excluded = exclude | {incoming.account_id}
    opposite = [o for o in orders if o.side is not incoming.side]
    sign = 1 if incoming.side is BUY else -1
    opposite.sort(key=lambda o: (sign * o.limit_price, o.sequence))
    left = incoming.quantity
    fills: list[tuple[str, Decimal, Decimal]] = []
    blocked = False
    for order in opposite:
        if left == 0:
            break
        if incoming.limit_price is not None and sign * (order.limit_price - incoming.limit_price) > 0:
            break
        if order.account_id in excluded:
            blocked = True
            continue
        quantity = min(left, order.remaining)
        left -= quantity
        fills.append((order.order_id, quantity, order.limit_price))
    return fills, left, incoming.limit_price is not None and left > 0 and not blocked


# Hand-worked examples


def test_a_buy_fills_partly_across_two_price_levels_at_the_makers_prices() -> None:
    book = [
        resting("s1", SELL, "10.00", "3", 1),
        resting("s2", SELL, "10.01", "4", 2),
        resting("s3", SELL, "10.02", "5", 3),
        resting("b1", BUY, "9.99", "5", 4),
    ]

    result = match(limit("t", BUY, "10.01", "10"), book)

    assert result.matches == (Match("s1", "t", D(3), D("10.00")), Match("s2", "t", D(4), D("10.01")))
    assert result.remaining == D(3)
    assert [(m.order_id, m.remaining) for m in result.makers_after] == [("s1", D(0)), ("s2", D(0))]
    assert result.rests is True


def test_the_same_price_fills_first_in_first_out() -> None:
    book = [
        resting("late", BUY, "10.00", "5", 9),
        resting("early", BUY, "10.00", "5", 2),
        resting("middle", BUY, "10.00", "5", 5),
    ]

    result = match(limit("t", SELL, "10.00", "7"), book)

    assert [(m.maker_order_id, m.quantity) for m in result.matches] == [("early", D(5)), ("middle", D(2))]
    assert result.makers_after[-1] == dataclasses.replace(book[2], remaining=D(3))
    assert result.remaining == 0
    assert result.rests is False


def test_a_market_order_sweeps_every_level_and_its_remainder_does_not_rest() -> None:
    book = OrderBook()
    book.submit(limit("s1", SELL, "10.05", "2", "acc_a"), 1)
    book.submit(limit("s2", SELL, "9.95", "1", "acc_b"), 2)
    book.submit(limit("s3", SELL, "10.10", "2", "acc_c"), 3)

    result = book.submit(market("m", BUY, "6.5", "acc_d"), 4)

    assert [(m.maker_order_id, m.price) for m in result.matches] == [
        ("s2", D("9.95")),
        ("s1", D("10.05")),
        ("s3", D("10.10")),
    ]
    assert sum(m.quantity for m in result.matches) == D(5)
    assert result.remaining == D("1.5")
    assert result.rests is False
    assert book.depth(BUY) == []
    assert book.depth(SELL) == []
    assert book.best_ask() is None


def test_a_limit_that_does_not_cross_rests_at_its_own_price() -> None:
    book = OrderBook()
    book.submit(limit("s1", SELL, "10.02", "4", "acc_a"), 1)

    result = book.submit(limit("b1", BUY, "10.01", "3", "acc_b"), 2)

    assert result == MatchResult((), D(3), (), True)
    assert book.depth(BUY) == [RestingOrder("b1", "acc_b", BUY, D("10.01"), D(3), 2)]
    assert (book.best_bid(), book.best_ask()) == (D("10.01"), D("10.02"))
    assert not book.is_crossed()


def test_a_partly_filled_maker_keeps_its_place_in_the_queue() -> None:
    book = OrderBook()
    book.submit(limit("s1", SELL, "10.00", "5", "acc_a"), 1)
    book.submit(limit("s2", SELL, "10.00", "5", "acc_b"), 2)

    book.submit(limit("b1", BUY, "10.00", "2", "acc_c"), 3)

    assert [(o.order_id, o.remaining) for o in book.depth(SELL)] == [("s1", D(3)), ("s2", D(5))]
    assert book.submit(limit("b2", BUY, "10.00", "4", "acc_c"), 4).matches == (
        Match("s1", "b2", D(3), D("10.00")),
        Match("s2", "b2", D(1), D("10.00")),
    )


def test_excluded_accounts_are_skipped_and_keep_their_priority() -> None:
    book = [
        resting("mine", SELL, "10.00", "5", 1, account="acc_sister"),
        resting("theirs", SELL, "10.01", "5", 2, account="acc_other"),
    ]

    skipped = match(limit("t", BUY, "10.01", "3"), book, exclude_accounts=frozenset({"acc_sister"}))
    plain = match(limit("t", BUY, "10.01", "3"), book)

    assert skipped.matches == (Match("theirs", "t", D(3), D("10.01")),)
    assert plain.matches == (Match("mine", "t", D(3), D("10.00")),)


def test_an_account_never_trades_with_itself() -> None:
    result = match(limit("t", BUY, "10.00", "3", "acc_1"), [resting("s", SELL, "10.00", "3", 1, "acc_1")])

    assert result.matches == ()
    assert result.remaining == D(3)


def test_a_remainder_that_would_cross_an_excluded_order_does_not_rest() -> None:
    book = OrderBook()
    book.submit(limit("s1", SELL, "10.00", "2", "acc_1"), 1)
    book.submit(limit("s2", SELL, "10.02", "2", "acc_9"), 2)

    result = book.submit(limit("b1", BUY, "10.05", "5", "acc_2"), 3, exclude_accounts=frozenset({"acc_1"}))

    assert result.matches == (Match("s2", "b1", D(2), D("10.02")),)
    assert result.remaining == D(3)
    assert result.rests is False  # cancel newest: resting at 10.05 would cross acc_1's ask at 10.00
    assert book.depth(BUY) == []
    assert [o.order_id for o in book.depth(SELL)] == ["s1"]
    assert not book.is_crossed()


def test_cancel_returns_the_resting_order_once() -> None:
    book = OrderBook()
    book.submit(limit("b1", BUY, "9.99", "3", "acc_1"), 1)
    book.submit(limit("b2", BUY, "10.00", "3", "acc_1"), 2)

    assert book.cancel("b2") == RestingOrder("b2", "acc_1", BUY, D("10.00"), D(3), 2)
    assert book.cancel("b2") is None
    assert book.cancel("nope") is None
    assert book.best_bid() == D("9.99")


def test_match_leaves_its_inputs_alone_and_ignores_the_same_side() -> None:
    book = [resting("b1", BUY, "10.50", "5", 1), resting("s1", SELL, "10.00", "1", 2)]
    before = list(book)

    result = match(limit("t", BUY, "10.00", "5"), iter(book))

    assert book == before
    assert [m.maker_order_id for m in result.matches] == ["s1"]


# Validation


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: limit("t", BUY, "10", "0"), "quantity"),
        (lambda: limit("t", BUY, "10", "-1"), "quantity"),
        (lambda: limit("t", BUY, "0", "1"), "limit_price"),
        (lambda: limit("t", BUY, "-0.01", "1"), "limit_price"),
        (lambda: limit("t", BUY, "NaN", "1"), "limit_price"),
        (lambda: limit("t", BUY, "sNaN", "1"), "limit_price"),
        (lambda: limit("t", BUY, "10", "Infinity"), "quantity"),
        (lambda: limit("t", BUY, "10", "0.000000001"), "quantity"),
        (lambda: limit("t", BUY, "1000000000000.01", "1"), "limit_price"),
        (lambda: IncomingOrder("t", "a", BUY, D(10), 1.5), "quantity"),  # type: ignore[arg-type]
        (lambda: IncomingOrder("t", "a", BUY, 10.0, D(1)), "limit_price"),  # type: ignore[arg-type]
        (lambda: IncomingOrder("", "a", BUY, D(10), D(1)), "order_id"),
        (lambda: IncomingOrder("t", "a", "buy", D(10), D(1)), "side"),  # type: ignore[arg-type]
        (lambda: resting("r", SELL, "10", "-1", 1), "remaining"),
        (lambda: resting("r", SELL, "0", "1", 1), "limit_price"),
        (lambda: RestingOrder("r", "a", SELL, D(10), D(1), True), "sequence"),
    ],
)
def test_invalid_orders_are_refused(build: object, field: str) -> None:
    with pytest.raises(RuleViolationError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.context["field"] == field


def test_trailing_zeros_beyond_eight_decimals_are_fine() -> None:
    assert limit("t", BUY, "10.0000000000", "1.000000000000").quantity == 1


def test_match_refuses_an_inconsistent_book() -> None:
    filled = resting("s", SELL, "10", "0", 1)
    with pytest.raises(RuleViolationError, match="positive remaining"):
        match(limit("t", BUY, "10", "1"), [filled])
    with pytest.raises(RuleViolationError, match="order ids"):
        match(
            limit("t", BUY, "10", "1"), [resting("s", SELL, "10", "1", 1), resting("s", SELL, "11", "1", 2)]
        )
    with pytest.raises(RuleViolationError, match="order ids"):
        match(limit("t", BUY, "10", "1"), [resting("t", SELL, "10", "1", 1)])
    with pytest.raises(RuleViolationError, match="sequences"):
        match(limit("t", BUY, "10", "1"), [resting("a", SELL, "10", "1", 1), resting("b", BUY, "9", "1", 1)])


def test_the_book_refuses_old_sequences_and_duplicate_ids_without_changing() -> None:
    book = OrderBook()
    book.submit(limit("b1", BUY, "10", "1", "acc_1"), 5)

    with pytest.raises(RuleViolationError) as caught:
        book.submit(limit("b2", BUY, "10", "1", "acc_1"), 5)
    assert caught.value.context["field"] == "sequence"
    with pytest.raises(ConflictError):
        book.submit(limit("b1", SELL, "10", "1", "acc_2"), 6)

    assert [o.order_id for o in book.depth(BUY)] == ["b1"]
    assert book.depth(SELL) == []


def test_arithmetic_ignores_the_callers_decimal_context() -> None:
    book = [resting("s", SELL, "10.12345678", "999999999999.99999999", 1)]
    with localcontext() as ctx:
        ctx.prec = 3
        result = match(limit("t", BUY, "11", "123456789012.12345678"), book)
    assert result.makers_after[0].remaining == D("876543210987.87654321")
    assert result.matches[0].quantity == D("123456789012.12345678")
    assert result.remaining == 0


# Properties of the pure function against a naive reference

ACCOUNTS = ("acc_1", "acc_2", "acc_3", "acc_4")
CUSTOMER_ACCOUNTS = {"acc_1": frozenset({"acc_1", "acc_2"}), "acc_2": frozenset({"acc_1", "acc_2"})}
prices = st.integers(min_value=990, max_value=1010).map(lambda cents: D(cents).scaleb(-2))
quantities = st.one_of(
    st.integers(min_value=1, max_value=20).map(D),
    st.integers(min_value=1, max_value=2000).map(lambda tenths: D(tenths).scaleb(-1)),
)
sides = st.sampled_from(Side)


@st.composite
def books(draw: st.DrawFn) -> list[RestingOrder]:
    count = draw(st.integers(min_value=0, max_value=25))
    sequences = draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count, unique=True))
    return [
        RestingOrder(
            f"r{i}", draw(st.sampled_from(ACCOUNTS)), draw(sides), draw(prices), draw(quantities), seq
        )
        for i, seq in enumerate(sequences)
    ]


incoming_orders = st.builds(
    IncomingOrder,
    order_id=st.just("taker"),
    account_id=st.sampled_from(ACCOUNTS),
    side=sides,
    limit_price=st.none() | prices,
    quantity=quantities,
)


@settings(max_examples=200, deadline=None, database=None)
@given(incoming_orders, books(), st.frozensets(st.sampled_from(ACCOUNTS)))
def test_match_agrees_with_a_naive_reference(
    incoming: IncomingOrder, book: list[RestingOrder], exclude: frozenset[str]
) -> None:
    result = match(incoming, book, exclude_accounts=exclude)
    fills, left, rests = reference_match(incoming, book, exclude)

    assert [(m.maker_order_id, m.quantity, m.price) for m in result.matches] == fills
    assert result.remaining == left
    assert result.rests is rests
    assert all(m.taker_order_id == "taker" for m in result.matches)
    by_id = {o.order_id: o for o in book}
    for fill, after in zip(result.matches, result.makers_after, strict=True):
        maker = by_id[fill.maker_order_id]
        assert after == dataclasses.replace(maker, remaining=maker.remaining - fill.quantity)
        assert maker.account_id not in exclude | {incoming.account_id}
    assert incoming.quantity == result.remaining + sum((m.quantity for m in result.matches), D(0))


@settings(max_examples=200, deadline=None, database=None)
@given(incoming_orders, books())
def test_shuffling_the_book_changes_nothing(incoming: IncomingOrder, book: list[RestingOrder]) -> None:
    assert match(incoming, book) == match(incoming, reversed(book))


# Properties of the book over random submit and cancel sequences


@dataclasses.dataclass
class Ledger:
    account_id: str
    side: Side
    quantity: Decimal
    is_market: bool
    filled: Decimal = dataclasses.field(default_factory=Decimal)
    cancelled: Decimal = dataclasses.field(default_factory=Decimal)
    unrested: Decimal = dataclasses.field(
        default_factory=Decimal
    )  # a market remainder, or a remainder stopped by self-trade prevention


class BookMachine(RuleBasedStateMachine):
    """Random submits and cancels against a shadow ledger: never crossed, nothing created or lost."""

    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook()
        self.ledger: dict[str, Ledger] = {}
        self.sequence = 0
        self.bought = D(0)
        self.sold = D(0)
        self.cash: dict[str, Decimal] = defaultdict(Decimal)
        self.units: dict[str, Decimal] = defaultdict(Decimal)

    def _resting(self) -> dict[str, RestingOrder]:
        return {o.order_id: o for side in Side for o in self.book.depth(side)}

    @rule(
        account=st.sampled_from(ACCOUNTS),
        side=sides,
        price=st.none() | prices,
        quantity=quantities,
        prevent_self_trade=st.booleans(),
    )
    def submit(
        self, account: str, side: Side, price: Decimal | None, quantity: Decimal, prevent_self_trade: bool
    ) -> None:
        self.sequence += 1
        order_id = f"o{self.sequence}"
        incoming = IncomingOrder(order_id, account, side, price, quantity)
        exclude = CUSTOMER_ACCOUNTS.get(account, frozenset()) if prevent_self_trade else frozenset()
        excluded = exclude | {account}
        before = self._resting()
        expected = match(incoming, before.values(), exclude_accounts=exclude)

        result = self.book.submit(incoming, self.sequence, exclude_accounts=exclude)

        # The book and the pure function are the same matching, even though the book passes a prefix.
        assert result == expected
        assert D(0) <= result.remaining <= quantity
        assert all(m.quantity > 0 for m in result.matches)
        self.ledger[order_id] = Ledger(account, side, quantity, price is None)

        # Price-time priority: the fills are exactly the best eligible makers, in order, none skipped.
        opposite = self.book_order(before, side.opposite)
        eligible = [
            o
            for o in opposite
            if o.account_id not in excluded
            and (price is None or (o.limit_price - price) * self.sign(side) <= 0)
        ]
        touched = eligible[: len(result.matches)]
        assert [m.maker_order_id for m in result.matches] == [o.order_id for o in touched]
        for fill, maker in zip(result.matches, touched, strict=True):
            assert fill.price == maker.limit_price
            if price is not None:
                assert fill.price <= price if side is BUY else fill.price >= price
        assert all(m.quantity == o.remaining for m, o in zip(result.matches[:-1], touched, strict=False))
        if result.remaining > 0:
            assert touched == eligible
        for fill in result.matches:
            assert before[fill.maker_order_id].account_id not in excluded
            self.record(fill, before[fill.maker_order_id], side, account)

        after = self._resting()
        if result.rests:
            assert price is not None
            assert after[order_id] == RestingOrder(
                order_id, account, side, price, result.remaining, self.sequence
            )
        else:
            assert order_id not in after
            self.ledger[order_id].unrested = result.remaining
            if price is not None and result.remaining > 0:  # only self-trade prevention stops a limit
                assert any(
                    o.account_id in excluded and (o.limit_price - price) * self.sign(side) <= 0
                    for o in opposite
                )

    @staticmethod
    def sign(side: Side) -> int:
        return 1 if side is BUY else -1

    @staticmethod
    def book_order(orders: dict[str, RestingOrder], side: Side) -> list[RestingOrder]:
        return sorted(
            (o for o in orders.values() if o.side is side),
            key=lambda o: (o.limit_price * (-1 if side is BUY else 1), o.sequence),
        )

    def record(self, fill: Match, maker: RestingOrder, taker_side: Side, taker_account: str) -> None:
        self.ledger[fill.maker_order_id].filled += fill.quantity
        self.ledger[fill.taker_order_id].filled += fill.quantity
        buyer, seller = (
            (taker_account, maker.account_id) if taker_side is BUY else (maker.account_id, taker_account)
        )
        bought_by = fill.taker_order_id if taker_side is BUY else fill.maker_order_id
        sold_by = fill.maker_order_id if taker_side is BUY else fill.taker_order_id
        assert self.ledger[bought_by].side is BUY
        assert self.ledger[sold_by].side is SELL
        self.bought += fill.quantity
        self.sold += fill.quantity
        self.cash[buyer] -= fill.quantity * fill.price
        self.cash[seller] += fill.quantity * fill.price
        self.units[buyer] += fill.quantity
        self.units[seller] -= fill.quantity

    @precondition(lambda self: self.ledger)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.ledger)))
        was = self._resting().get(order_id)

        cancelled = self.book.cancel(order_id)

        assert cancelled == was
        if cancelled is not None:
            self.ledger[order_id].cancelled += cancelled.remaining
        assert order_id not in self._resting()

    @rule()
    def cancel_unknown(self) -> None:
        assert self.book.cancel("never") is None

    @precondition(lambda self: self.sequence > 0)
    @rule(quantity=quantities)
    def refused_order_changes_nothing(self, quantity: Decimal) -> None:
        snapshot = {side: self.book.depth(side) for side in Side}
        with pytest.raises(DomainError):
            self.book.submit(IncomingOrder("late", "acc_1", BUY, None, quantity), self.sequence)
        assert {side: self.book.depth(side) for side in Side} == snapshot

    @invariant()
    def never_crossed(self) -> None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert not self.book.is_crossed()
        if bid is not None and ask is not None:
            assert bid < ask

    @invariant()
    def depth_is_in_priority_order(self) -> None:
        for side in Side:
            depth = self.book.depth(side)
            assert depth == self.book_order({o.order_id: o for o in depth}, side)
            assert all(o.remaining > 0 for o in depth)
            best = self.book.best_bid() if side is BUY else self.book.best_ask()
            assert best == (depth[0].limit_price if depth else None)

    @invariant()
    def quantity_is_conserved(self) -> None:
        resting = self._resting()
        for order_id, entry in self.ledger.items():
            left = resting[order_id].remaining if order_id in resting else D(0)
            assert entry.filled + left + entry.cancelled + entry.unrested == entry.quantity
            assert min(entry.filled, left, entry.cancelled, entry.unrested) >= 0
            if entry.is_market:
                assert order_id not in resting
        assert self.bought == self.sold

    @invariant()
    def cash_and_units_are_conserved(self) -> None:
        assert sum(self.cash.values(), D(0)) == 0
        assert sum(self.units.values(), D(0)) == 0


def test_the_book_keeps_its_invariants() -> None:
    run_state_machine_as_test(
        BookMachine, settings=settings(max_examples=200, deadline=None, database=None, stateful_step_count=30)
    )


def test_the_book_scales_to_thousands_of_orders() -> None:
    book = OrderBook()
    for i in range(5000):
        side = BUY if i % 2 else SELL
        cents = 1000 - 1 - i % 50 if side is BUY else 1000 + i % 50
        book.submit(IncomingOrder(f"o{i}", f"acc_{i % 7}", side, D(cents).scaleb(-2), D(1)), i)

    result = book.submit(market("sweep", BUY, "2000", "acc_x"), 10_000)

    assert sum(m.quantity for m in result.matches) == 2000
    assert [m.price for m in result.matches] == sorted(m.price for m in result.matches)
    assert len(book.depth(SELL)) == 500
    assert not book.is_crossed()
