"""What the trading services need from storage, one focused Protocol per concern.

Order entry, fund dealing and points conversions share one unit of work: a `TradingSession`, the
one write transaction at a time per environment (ADR 0008). Reads outside it run in autocommit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from gateway.domain.compliance.surveillance import AlertDraft, OrderEvent, Severity
from gateway.domain.customers.models import Customer
from gateway.domain.money import Currency
from gateway.domain.trading.ledger import Balance, JournalEntry
from gateway.domain.trading.models import (
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OutboxEvent,
    Side,
)


@dataclass(frozen=True, slots=True)
class Restriction:
    account_id: str
    customer_id: str
    reason: str
    alert_ids: tuple[str, ...]
    restricted_at: datetime


@dataclass(frozen=True, slots=True)
class AlertStamp:
    """What restriction decisions read of a recorded alert."""

    id: str
    severity: Severity
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """One page of a partner's orders for one customer, newest first, after a keyset position."""

    partner_id: str
    customer_id: str
    status: OrderStatus | None = None
    instrument_id: str | None = None
    side: Side | None = None
    order_type: OrderType | None = None
    after: str | None = None  # the id of the last order of the previous page
    limit: int = 20


class CustomerDirectory(Protocol):
    def get(self, customer_id: str) -> Customer | None: ...


class FxRates(Protocol):
    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal: ...


class ForcedRefusal(StrEnum):
    """A pre-trade refusal that a simulated venue imposes, judged like the real check it stands for."""

    TRADING_HALTED = "trading_halted"  # PTC-03: the instrument does not trade now
    INSUFFICIENT_FUNDS = "insufficient_funds"  # PTC-05: no available cash (a buy) or units (a sell)


class ForcedOutcomes(Protocol):
    """Refusals a simulated venue imposes before it sees the order; production passes none.

    The sandbox keys them on the `client_order_id` (docs/sandbox/magic-values.md); the domain only
    knows the refusal, never the key.
    """

    def refusal(self, request: OrderRequest) -> ForcedRefusal | None: ...


# -- inside the trading transaction ----------------------------------------------------------------


class Ledger(Protocol):
    """Balances, holds and balanced journal entries (ADR 0008)."""

    def balance(self, account_id: str, asset: str) -> Balance: ...
    def balances(self, account_ids: Sequence[str]) -> dict[tuple[str, str], Balance]: ...
    def hold(self, account_id: str, asset: str, delta: Decimal) -> None: ...
    def post(self, entry: JournalEntry) -> None: ...
    def has_entry(self, entry_id: str) -> bool: ...


class OrderRecords(Protocol):
    """Orders, their time priority, the live book and their fills."""

    def next_sequence(self) -> int: ...
    def add_order(self, order: Order) -> None: ...
    def save_order(self, order: Order) -> None: ...
    def order(self, order_id: str) -> Order | None: ...
    def order_by_client_id(self, client_id: str, client_order_id: str) -> Order | None: ...
    def resting(self, instrument_id: str, side: Side) -> Sequence[Order]: ...
    def live_orders(self, account_ids: Sequence[str], since: datetime) -> Sequence[Order]: ...
    def due_fund_orders(
        self, dealing_day_before: date, account_ids: Collection[str] | None = None
    ) -> Sequence[Order]:
        """Live fund orders of a dealing day up to `dealing_day_before`, of these accounts (None:
        of every account), in time priority."""
        ...

    def add_fill(self, fill: Fill) -> None: ...


class SurveillanceRecords(Protocol):
    """Order events, the alerts they raise and the account restrictions that follow."""

    def record_event(self, event: OrderEvent) -> None: ...
    def events(self, account_ids: Sequence[str], since: datetime) -> Sequence[OrderEvent]: ...
    def add_alert(self, alert_id: str, draft: AlertDraft) -> None: ...
    def alerts_since(self, account_id: str, since: datetime) -> Sequence[AlertStamp]: ...
    def last_clearance(self, account_id: str) -> datetime | None: ...
    def restriction(self, account_id: str) -> Restriction | None: ...
    def restrict(self, restriction_id: str, restriction: Restriction) -> None: ...


class Outbox(Protocol):
    def emit(self, event: OutboxEvent) -> None: ...


class TradingSession(Ledger, OrderRecords, SurveillanceRecords, Outbox, Protocol):
    """One write transaction: every read sees, and every write joins, the same atomic change."""

    def lock_trading(self) -> None: ...


# -- the stores ------------------------------------------------------------------------------------


class TradingTransactions(Protocol):
    """The unit of work every trading change runs in."""

    def session(self) -> AbstractContextManager[TradingSession]: ...


class FundOrderStore(TradingTransactions, Protocol):
    """Fund dealing's transactions and its read of what is still to deal."""

    def pending_fund_orders(self, account_ids: Collection[str]) -> Sequence[Order]:
        """Live fund orders of these accounts that have a dealing day, read in autocommit."""
        ...


class OrderStore(TradingTransactions, Protocol):
    """Order entry's transactions and its reads of orders and fills."""

    def get_order(self, order_id: str) -> Order | None: ...
    def list_orders(self, query: OrderQuery) -> Sequence[Order]: ...
    def fills(self, order_id: str) -> Sequence[Fill]: ...


class LedgerStore(Protocol):
    """The ledger read in autocommit, and the opening entry that funds a new customer."""

    def open(self, entry: JournalEntry) -> bool: ...
    def balances(self, account_ids: Sequence[str]) -> dict[tuple[str, str], Balance]: ...
    def purchases(self, account_ids: Sequence[str]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]: ...
