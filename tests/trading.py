"""Test helpers for trading: a trading desk on a real database, its instruments and its invariants."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from gateway.domain.consent.models import OrderPlacementLimit
from gateway.domain.customers.models import Customer
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.trading.acknowledgements import AcknowledgementSigner
from gateway.domain.trading.dealing import FundDealing
from gateway.domain.trading.entry import OrderEntry
from gateway.domain.trading.ledger import HOUSE_ACCOUNTS
from gateway.domain.trading.models import (
    LIVE_STATUSES,
    Actor,
    Order,
    OrderRequest,
    OrderType,
    Placement,
    Side,
)
from gateway.domain.trading.positions import Positions
from gateway.domain.trading.venue import Venue
from gateway.storage.customers import SqlCustomerStore
from gateway.storage.database import Database
from gateway.storage.tables.trading import OrderRow
from gateway.storage.trading import SqlTradingStore
from sandbox.clock import FrozenClock
from sandbox.magic import MagicVenue
from sandbox.prices import PriceFeed
from sandbox.venue import InProcessVenue
from tests.delegation import fresh_customer, password_hash

# Monday 23 November 2026, 10:00 in Shanghai and Hong Kong (both open); New York is closed.
CN_MORNING: Final = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
# Monday 23 November 2026, 10:30 in New York.
US_MORNING: Final = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)

CN_STOCK: Final = "ins_br6lly2jbc"  # Huaxia Lighting, R3, lot 100
CN_STOCK_R4: Final = "ins_5iqync6yuo"  # R4, lot 100
CN_MONEY_MARKET: Final = "ins_ssgwntu23g"  # F000001, R1
CN_EQUITY_FUND: Final = "ins_azuddb3yty"  # R4
HK_STOCK: Final = "ins_qcnlshsgen"  # R3, lot 1000
US_STOCK: Final = "ins_bs64uazcmq"  # R3


@dataclass
class Desk:
    """The trading services of one environment, with a customer directory and a frozen clock."""

    entry: OrderEntry
    dealing: FundDealing
    positions: Positions
    store: SqlTradingStore
    customers: SqlCustomerStore
    catalogue: Catalogue
    prices: PriceFeed
    clock: FrozenClock
    database: Database

    def customer(self, persona: str = "zhang.min") -> Customer:
        customer = fresh_customer(persona)
        self.customers.upsert(customer, password_hash=password_hash(), now=self.clock.now())
        self.positions.open_accounts(customer)
        return customer

    def instrument(self, instrument_id: str) -> Instrument:
        return self.catalogue.get(instrument_id)

    def reference(self, instrument_id: str) -> Decimal:
        return self.prices.reference_price(self.instrument(instrument_id), self.clock.now())

    def place(self, actor: Actor, **terms: object) -> Placement:
        return self.entry.place(actor, request(**terms))

    def cash(
        self, customer: Customer, currency: str, *, market: str | None = None
    ) -> tuple[Decimal, Decimal]:
        """(total, held) of one currency in the customer's account for `market` (default: the master)."""
        account = next(a for a in customer.accounts if market is None or a.jurisdiction.value == market)
        balance = self.store.balances([account.id]).get((account.id, f"cash:{currency}"))
        return (balance.total, balance.held) if balance else (Decimal(0), Decimal(0))

    def units(self, customer: Customer, instrument_id: str) -> tuple[Decimal, Decimal]:
        ids = [a.id for a in customer.accounts]
        found = [b for (a, asset), b in self.store.balances(ids).items() if asset == f"units:{instrument_id}"]
        return (sum((b.total for b in found), Decimal(0)), sum((b.held for b in found), Decimal(0)))

    def orders(self) -> Iterator[Order]:
        from gateway.storage.trading import _order

        with self.database.read() as conn:
            for row in conn.execute(OrderRow.__table__.select()):
                yield _order(row)


def actor_for(customer: Customer, *, limit: OrderPlacementLimit | None = None, partner: str = "") -> Actor:
    partner_id = partner or f"ptn_{secrets.token_hex(5)}"
    return Actor(
        partner_id=partner_id,
        client_id=f"live_{partner_id[4:]}",
        customer_id=customer.id,
        consent_id=f"cns_{secrets.token_hex(5)}",
        limit=limit,
    )


def request(**terms: object) -> OrderRequest:
    values: dict[str, object] = {"client_order_id": f"co-{secrets.token_hex(6)}", **terms}
    for name in ("quantity", "amount", "limit_price"):
        if values.get(name) is not None:
            values[name] = Decimal(str(values[name]))
    values["side"] = Side(str(values.get("side", "buy")))
    values["order_type"] = OrderType(str(values.get("order_type", "market")))
    return OrderRequest(**values)  # type: ignore[arg-type]


def build_desk(database: Database, clock: FrozenClock, *, magic: bool = False) -> Desk:
    """Order entry, dealing and positions on `database`; `magic` wires them as the sandbox does."""
    catalogue = Catalogue.from_file()
    prices = PriceFeed(catalogue)
    store = SqlTradingStore(database)
    customers = SqlCustomerStore(database)
    forced = MagicVenue(InProcessVenue(prices), prices) if magic else None
    venue: Venue = forced or InProcessVenue(prices)
    entry = OrderEntry(
        store=store,
        customers=customers,
        catalogue=catalogue,
        prices=prices,
        fx=prices,
        venue=venue,
        clock=clock,
        signer=AcknowledgementSigner(b"k" * 32),
        forced=forced,
    )
    dealing = FundDealing(
        store=store, orders=entry, customers=customers, catalogue=catalogue, venue=venue, clock=clock
    )
    positions = Positions(store=store, catalogue=catalogue, prices=prices, clock=clock)
    return Desk(entry, dealing, positions, store, customers, catalogue, prices, clock, database)


def assert_ledger_balanced(desk: Desk) -> None:
    """Every asset sums to zero over all accounts, no customer balance is negative or over-held,
    and each customer's holds are exactly what their live orders reserve."""
    totals = desk.store.asset_totals()
    assert all(total == 0 for total in totals.values()), {a: t for a, t in totals.items() if t != 0}
    expected: dict[tuple[str, str], Decimal] = {}
    for order in desk.orders():
        if order.status in LIVE_STATUSES:
            if order.held_cash:
                key = (order.account_id, f"cash:{order.currency.value}")
                expected[key] = expected.get(key, Decimal(0)) + order.held_cash
            if order.held_quantity:
                key = (order.account_id, f"units:{order.instrument_id}")
                expected[key] = expected.get(key, Decimal(0)) + order.held_quantity
    accounts = {key[0] for key in expected}
    with desk.database.read() as conn:
        from gateway.storage.trading import balances

        rows = list(conn.execute(balances.select()))
    for row in rows:
        if row.account_id in HOUSE_ACCOUNTS:
            continue
        assert row.total >= 0, (row.account_id, row.asset, row.total)
        assert 0 <= row.held <= row.total, (row.account_id, row.asset, row.held, row.total)
        if row.account_id in accounts or row.held:
            assert row.held == expected.get((row.account_id, row.asset), Decimal(0)), (
                row.account_id,
                row.asset,
            )
