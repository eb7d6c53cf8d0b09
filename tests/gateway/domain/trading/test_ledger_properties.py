"""Property test of the venue and the ledger: under any sequence of orders, cancels, fills, fund
dealing and cooling-off across several customers, every asset sums to zero over all accounts,
no customer balance is negative or over-held, holds equal what live orders reserve, each order's
fills add up to its filled quantity, and the book is never crossed."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from gateway.domain.customers.models import Customer
from gateway.domain.errors import DomainError
from gateway.domain.trading.models import LIVE_STATUSES, Actor, OrderType, Side
from gateway.settings import DatabaseTarget
from gateway.storage.database import Database
from gateway.storage.migrate import migrate
from sandbox.clock import FrozenClock
from tests.trading import (
    CN_EQUITY_FUND,
    CN_MONEY_MARKET,
    CN_MORNING,
    CN_STOCK,
    Desk,
    actor_for,
    assert_ledger_balanced,
    build_desk,
    request,
)

STOCKS = (CN_STOCK, "ins_oni77l6bpq")  # R3 stocks, lot 100
FUNDS = (CN_MONEY_MARKET, CN_EQUITY_FUND)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path: Path = tmp_path_factory.mktemp("ledger") / "ledger.db"
    db = Database(DatabaseTarget(f"sqlite:///{path}"))
    migrate(db)
    return db


class LedgerMachine(RuleBasedStateMachine):
    database: Database

    @initialize()
    def open_desk(self) -> None:
        self.desk: Desk = build_desk(self.database, FrozenClock(CN_MORNING))
        self.customers: list[Customer] = [self.desk.customer("zhang.min") for _ in range(3)]
        self.actors: list[Actor] = [actor_for(c) for c in self.customers]
        self.placed: list[tuple[Actor, str]] = []

    def _try(self, actor: Actor, **terms: object) -> None:
        try:
            order = self.desk.entry.place(actor, request(**terms)).order
        except DomainError:
            return  # refused by a pre-trade check: nothing may have changed, the invariants say so
        self.placed.append((actor, order.id))

    @rule(
        who=st.integers(0, 2),
        stock=st.sampled_from(STOCKS),
        side=st.sampled_from(Side),
        lots=st.integers(1, 5),
    )
    def market(self, who: int, stock: str, side: Side, lots: int) -> None:
        self._try(self.actors[who], instrument_id=stock, side=side.value, quantity=100 * lots)

    @rule(
        who=st.integers(0, 2),
        stock=st.sampled_from(STOCKS),
        side=st.sampled_from(Side),
        lots=st.integers(1, 5),
        offset=st.integers(-5, 5),
    )
    def limit(self, who: int, stock: str, side: Side, lots: int, offset: int) -> None:
        price = (self.desk.reference(stock) * (1 + Decimal(offset) / 100)).quantize(Decimal("0.01"))
        self._try(
            self.actors[who], instrument_id=stock, side=side.value, order_type="limit", quantity=100 * lots,
            limit_price=price,
        )  # fmt: skip

    @rule(who=st.integers(0, 2), fund=st.sampled_from(FUNDS), cents=st.integers(100, 300_000))
    def subscribe(self, who: int, fund: str, cents: int) -> None:
        amount = Decimal(cents) / 100
        self._try(self.actors[who], instrument_id=fund, order_type="fund_subscription", amount=amount)

    @rule(pick=st.integers(0, 10_000))
    def cancel(self, pick: int) -> None:
        if self.placed:
            actor, order_id = self.placed[pick % len(self.placed)]
            with contextlib.suppress(DomainError):
                self.desk.entry.cancel(actor, order_id)

    @rule(pick=st.integers(0, 10_000))
    def cool_off(self, pick: int) -> None:
        if self.placed:
            actor, order_id = self.placed[pick % len(self.placed)]
            with contextlib.suppress(DomainError):
                self.desk.entry.cool_off(actor, order_id)

    @rule(minutes=st.integers(1, 8 * 60))
    def time_passes_and_funds_are_dealt(self, minutes: int) -> None:
        self.desk.clock.advance(timedelta(minutes=minutes))
        self.desk.dealing.deal()

    @invariant()
    def the_ledger_balances(self) -> None:
        if hasattr(self, "desk"):
            assert_ledger_balanced(self.desk)

    @invariant()
    def orders_add_up_and_the_book_is_not_crossed(self) -> None:
        if not hasattr(self, "desk"):
            return
        bids: defaultdict[str, list[Decimal]] = defaultdict(list)
        asks: defaultdict[str, list[Decimal]] = defaultdict(list)
        for order in self.desk.orders():
            fills = self.desk.store.fills(order.id)
            assert sum((f.quantity for f in fills), Decimal(0)) == order.filled_quantity
            assert sum((f.notional for f in fills), Decimal(0)) == order.filled_notional
            if order.quantity is not None:
                assert 0 <= order.filled_quantity <= order.quantity
            if order.status in LIVE_STATUSES and order.order_type is OrderType.LIMIT:
                assert order.limit_price is not None
                (bids if order.side is Side.BUY else asks)[order.instrument_id].append(order.limit_price)
        for instrument, prices in bids.items():
            if asks[instrument]:
                assert max(prices) < min(asks[instrument]), instrument


def test_the_ledger_never_loses_a_unit_or_a_cent(database: Database) -> None:
    LedgerMachine.database = database
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
