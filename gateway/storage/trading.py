"""Orders, fills, the ledger, surveillance records and the outbox on SQL, one transaction per change.

Trading writes are serialised per environment: SQLite's BEGIN IMMEDIATE already does it, and on
PostgreSQL `lock_trading` takes a transaction-scoped advisory lock. The book, the balances and the
surveillance history are therefore read and written by one trading transaction at a time, which
is what keeps the book uncrossed and every balance exact across worker processes (ADR 0008).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.domain.compliance.surveillance import AlertDraft, OrderEvent, OrderEventKind, Severity
from gateway.domain.market.models import Market
from gateway.domain.money import Currency
from gateway.domain.trading.ledger import EMPTY, HOUSE_ACCOUNTS, Balance, JournalEntry, net_by_asset
from gateway.domain.trading.models import (
    FUND_ORDER_TYPES,
    LIVE_STATUSES,
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    OutboxEvent,
    Side,
)
from gateway.domain.trading.ports import AlertStamp, OrderQuery, Restriction
from gateway.storage.database import Database, as_utc
from gateway.storage.paging import keyset_page
from gateway.storage.tables.outbox import OutboxRow
from gateway.storage.tables.surveillance import AlertRow, OrderEventRow, RestrictionRow
from gateway.storage.tables.trading import (
    FillRow,
    JournalEntryRow,
    LedgerBalanceRow,
    OrderRow,
    TradingCounterRow,
)

balances = LedgerBalanceRow.__table__
journal = JournalEntryRow.__table__
counters = TradingCounterRow.__table__
orders = OrderRow.__table__
fills = FillRow.__table__
outbox = OutboxRow.__table__
order_events = OrderEventRow.__table__
alerts = AlertRow.__table__
restrictions = RestrictionRow.__table__

TRADING_LOCK: Final = 0x7472_6164  # "trad": the PostgreSQL advisory lock key of trading writes
SEQUENCE: Final = "order_sequence"


class LedgerInvariantError(RuntimeError):
    """A write would leave a customer balance negative or below its holds: a bug, never user input."""


class SqlTradingSession:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock_trading(self) -> None:
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": TRADING_LOCK})

    # -- ledger --------------------------------------------------------------------------------

    def balance(self, account_id: str, asset: str) -> Balance:
        row = self._conn.execute(
            balances.select().where((balances.c.account_id == account_id) & (balances.c.asset == asset))
        ).first()
        return Balance(row.total, row.held) if row else EMPTY

    def balances(self, account_ids: Sequence[str]) -> dict[tuple[str, str], Balance]:
        rows = self._conn.execute(balances.select().where(balances.c.account_id.in_(list(account_ids))))
        return {(row.account_id, row.asset): Balance(row.total, row.held) for row in rows}

    def hold(self, account_id: str, asset: str, delta: Decimal) -> None:
        current = self.balance(account_id, asset)
        self._write_balance(account_id, asset, current, Balance(current.total, current.held + delta))

    def post(self, entry: JournalEntry) -> None:
        for (account_id, asset), change in net_by_asset(entry.postings).items():
            current = self.balance(account_id, asset)
            self._write_balance(account_id, asset, current, Balance(current.total + change, current.held))
        self._conn.execute(
            journal.insert().values(
                id=entry.id,
                kind=entry.kind.value,
                order_id=entry.order_id,
                postings=[[p.account_id, p.asset, format(p.amount, "f")] for p in entry.postings],
                booked_at=entry.booked_at,
            )
        )

    def has_entry(self, entry_id: str) -> bool:
        return self._conn.execute(sa.select(journal.c.id).where(journal.c.id == entry_id)).first() is not None

    def _write_balance(self, account_id: str, asset: str, before: Balance, after: Balance) -> None:
        if account_id not in HOUSE_ACCOUNTS and (
            after.total < 0 or after.held < 0 or after.held > after.total
        ):
            raise LedgerInvariantError(f"{account_id} {asset}: total {after.total}, held {after.held}")
        key = (balances.c.account_id == account_id) & (balances.c.asset == asset)
        if before is EMPTY and self._conn.execute(sa.select(balances.c.asset).where(key)).first() is None:
            self._conn.execute(
                balances.insert().values(
                    account_id=account_id, asset=asset, total=after.total, held=after.held
                )
            )
        else:
            self._conn.execute(balances.update().where(key).values(total=after.total, held=after.held))

    # -- orders and fills ----------------------------------------------------------------------

    def next_sequence(self) -> int:
        updated = self._conn.execute(
            counters.update().where(counters.c.name == SEQUENCE).values(value=counters.c.value + 1)
        )
        if updated.rowcount == 0:
            self._conn.execute(counters.insert().values(name=SEQUENCE, value=1))
            return 1
        return int(
            self._conn.execute(sa.select(counters.c.value).where(counters.c.name == SEQUENCE)).scalar_one()
        )

    def add_order(self, order: Order) -> None:
        self._conn.execute(orders.insert().values(**_order_columns(order)))

    def save_order(self, order: Order) -> None:
        self._conn.execute(orders.update().where(orders.c.id == order.id).values(**_order_columns(order)))

    def order(self, order_id: str) -> Order | None:
        row = self._conn.execute(orders.select().where(orders.c.id == order_id)).first()
        return _order(row) if row else None

    def orders_by_id(self, order_ids: Collection[str]) -> dict[str, Order]:
        rows = self._conn.execute(orders.select().where(orders.c.id.in_(list(order_ids))))
        return {row.id: _order(row) for row in rows}

    def order_by_client_id(self, client_id: str, client_order_id: str) -> Order | None:
        query = orders.select().where(
            (orders.c.client_id == client_id) & (orders.c.client_order_id == client_order_id)
        )
        row = self._conn.execute(query).first()
        return _order(row) if row else None

    def resting(self, instrument_id: str, side: Side) -> Sequence[Order]:
        query = orders.select().where(
            (orders.c.instrument_id == instrument_id)
            & (orders.c.side == side.value)
            & (orders.c.status.in_([s.value for s in LIVE_STATUSES]))
            & (orders.c.order_type == OrderType.LIMIT.value)
        )
        return [_order(row) for row in self._conn.execute(query)]

    def live_orders(self, account_ids: Sequence[str], since: datetime) -> Sequence[Order]:
        query = orders.select().where(
            orders.c.account_id.in_(list(account_ids))
            & orders.c.status.in_([s.value for s in LIVE_STATUSES])
            & (orders.c.created_at >= since)
        )
        return [_order(row) for row in self._conn.execute(query)]

    def due_fund_orders(
        self, dealing_day_before: date, account_ids: Collection[str] | None = None
    ) -> Sequence[Order]:
        query = (
            live_fund_orders(account_ids)
            .where(orders.c.dealing_day <= dealing_day_before)
            .order_by(orders.c.sequence)
        )
        return [_order(row) for row in self._conn.execute(query)]

    def add_fill(self, fill: Fill) -> None:
        self._conn.execute(
            fills.insert().values(
                id=fill.id,
                order_id=fill.order_id,
                instrument_id=fill.instrument_id,
                side=fill.side.value,
                quantity=fill.quantity,
                price=fill.price,
                notional=fill.notional,
                fees=fill.fees,
                liquidity=fill.liquidity.value,
                counter_order_id=fill.counter_order_id,
                executed_at=fill.executed_at,
            )
        )

    def emit(self, event: OutboxEvent) -> None:
        self._conn.execute(
            outbox.insert().values(
                id=event.id,
                type=event.type.value,
                partner_id=event.partner_id,
                subject_id=event.subject_id,
                payload=event.payload,
                created_at=event.created_at,
            )
        )

    # -- surveillance --------------------------------------------------------------------------

    def record_event(self, event: OrderEvent) -> None:
        self._conn.execute(
            order_events.insert().values(
                kind=event.kind.value,
                order_id=event.order_id,
                account_id=event.account_id,
                customer_id=event.customer_id,
                instrument_id=event.instrument_id,
                side=event.side,
                quantity=event.quantity,
                price=event.price,
                at=event.at,
            )
        )

    def events(self, account_ids: Sequence[str], since: datetime) -> Sequence[OrderEvent]:
        query = (
            order_events.select()
            .where(order_events.c.account_id.in_(list(account_ids)) & (order_events.c.at >= since))
            .order_by(order_events.c.id)
        )
        return [
            OrderEvent(
                kind=OrderEventKind(row.kind),
                order_id=row.order_id,
                account_id=row.account_id,
                customer_id=row.customer_id,
                instrument_id=row.instrument_id,
                side=row.side,
                quantity=row.quantity,
                price=row.price,
                at=as_utc(row.at),
            )
            for row in self._conn.execute(query)
        ]

    def add_alert(self, alert_id: str, draft: AlertDraft) -> None:
        self._conn.execute(
            alerts.insert().values(
                id=alert_id,
                rule=draft.rule,
                code=draft.code,
                severity=draft.severity.value,
                status="open",
                account_id=draft.account_id,
                customer_id=draft.customer_id,
                instrument_id=draft.instrument_id,
                message=draft.message[:500],
                facts=dict(draft.facts),
                order_ids=list(draft.order_ids),
                created_at=draft.at,
            )
        )

    def alerts_since(self, account_id: str, since: datetime) -> Sequence[AlertStamp]:
        query = alerts.select().where((alerts.c.account_id == account_id) & (alerts.c.created_at >= since))
        return [
            AlertStamp(row.id, Severity(row.severity), as_utc(row.created_at))
            for row in self._conn.execute(query)
        ]

    def last_clearance(self, account_id: str) -> datetime | None:
        value = self._conn.execute(
            sa.select(sa.func.max(restrictions.c.cleared_at)).where(restrictions.c.account_id == account_id)
        ).scalar()
        return as_utc(value) if value is not None else None

    def restriction(self, account_id: str) -> Restriction | None:
        return active_restriction(self._conn, account_id)

    def restrict(self, restriction_id: str, restriction: Restriction) -> None:
        self._conn.execute(
            restrictions.insert().values(
                id=restriction_id,
                account_id=restriction.account_id,
                customer_id=restriction.customer_id,
                reason=restriction.reason,
                alert_ids=list(restriction.alert_ids),
                restricted_at=restriction.restricted_at,
            )
        )


class SqlTradingStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    @contextmanager
    def session(self) -> Iterator[SqlTradingSession]:
        with self._db.write() as conn:
            yield SqlTradingSession(conn)

    def open(self, entry: JournalEntry) -> bool:
        """Post an opening entry unless it is already booked (seeding is idempotent)."""
        with self.session() as session:
            session.lock_trading()
            if session.has_entry(entry.id):
                return False
            session.post(entry)
        return True

    def get_order(self, order_id: str) -> Order | None:
        with self._db.read() as conn:
            row = conn.execute(orders.select().where(orders.c.id == order_id)).first()
        return _order(row) if row else None

    def list_orders(self, query: OrderQuery) -> Sequence[Order]:
        select = orders.select().where(
            (orders.c.partner_id == query.partner_id) & (orders.c.customer_id == query.customer_id)
        )
        for column, value in (
            (orders.c.status, query.status),
            (orders.c.instrument_id, query.instrument_id),
            (orders.c.side, query.side),
            (orders.c.order_type, query.order_type),
        ):
            if value is not None:
                select = select.where(column == str(value))
        owner = {"partner_id": query.partner_id, "customer_id": query.customer_id}
        select = keyset_page(select, orders, query.after, query.limit, owner=owner)
        with self._db.read() as conn:
            return [_order(row) for row in conn.execute(select)]

    def pending_fund_orders(self, account_ids: Collection[str]) -> Sequence[Order]:
        query = (
            live_fund_orders(account_ids)
            .where(orders.c.dealing_day.is_not(None))
            .order_by(orders.c.dealing_day, orders.c.sequence)
        )
        with self._db.read() as conn:
            return [_order(row) for row in conn.execute(query)]

    def fills(self, order_id: str) -> Sequence[Fill]:
        query = fills.select().where(fills.c.order_id == order_id).order_by(fills.c.executed_at, fills.c.id)
        with self._db.read() as conn:
            return [_fill(row) for row in conn.execute(query)]

    def balances(self, account_ids: Sequence[str]) -> dict[tuple[str, str], Balance]:
        with self._db.read() as conn:
            return SqlTradingSession(conn).balances(account_ids)

    def purchases(self, account_ids: Sequence[str]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        """Units bought and their notional, per (account, instrument), over every buy fill."""
        query = (
            sa.select(orders.c.account_id, fills.c.instrument_id, fills.c.quantity, fills.c.notional)
            .select_from(fills.join(orders, fills.c.order_id == orders.c.id))
            .where(orders.c.account_id.in_(list(account_ids)) & (fills.c.side == Side.BUY.value))
        )
        bought: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        with self._db.read() as conn:
            for row in conn.execute(query):
                quantity, notional = bought.get((row.account_id, row.instrument_id), (Decimal(0), Decimal(0)))
                bought[(row.account_id, row.instrument_id)] = (
                    quantity + row.quantity,
                    notional + row.notional,
                )
        return bought

    def asset_totals(self) -> dict[str, Decimal]:
        """Every asset summed over all ledger accounts: zero for each, or the ledger lost something."""
        totals: dict[str, Decimal] = {}
        with self._db.read() as conn:
            for row in conn.execute(sa.select(balances.c.asset, balances.c.total)):
                totals[row.asset] = totals.get(row.asset, Decimal(0)) + row.total
        return totals


def live_fund_orders(account_ids: Collection[str] | None) -> sa.Select[Any]:
    """Live subscriptions and redemptions, of these accounts only unless None."""
    query = orders.select().where(
        orders.c.status.in_([s.value for s in LIVE_STATUSES])
        & orders.c.order_type.in_([t.value for t in FUND_ORDER_TYPES])
    )
    if account_ids is not None:
        query = query.where(orders.c.account_id.in_(list(account_ids)))
    return query


def active_restriction(conn: Connection, account_id: str) -> Restriction | None:
    row = conn.execute(
        restrictions.select().where(
            (restrictions.c.account_id == account_id) & restrictions.c.cleared_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return Restriction(
        account_id=row.account_id,
        customer_id=row.customer_id,
        reason=row.reason,
        alert_ids=tuple(row.alert_ids),
        restricted_at=as_utc(row.restricted_at),
    )


def _order_columns(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "partner_id": order.partner_id,
        "client_id": order.client_id,
        "client_order_id": order.client_order_id,
        "customer_id": order.customer_id,
        "account_id": order.account_id,
        "consent_id": order.consent_id,
        "instrument_id": order.instrument_id,
        "market": order.market.value,
        "currency": order.currency.value,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "quantity": order.quantity,
        "amount": order.amount,
        "limit_price": order.limit_price,
        "status": order.status.value,
        "filled_quantity": order.filled_quantity,
        "filled_notional": order.filled_notional,
        "fees": order.fees,
        "held_cash": order.held_cash,
        "held_quantity": order.held_quantity,
        "sequence": order.sequence,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "dealing_day": order.dealing_day,
        "cooling_off_until": order.cooling_off_until,
        "reversed_by": order.reversed_by,
        "reject_reason": order.reject_reason,
        "acknowledged": list(order.acknowledged),
    }


def _order(row: Any) -> Order:
    return Order(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        client_order_id=row.client_order_id,
        customer_id=row.customer_id,
        account_id=row.account_id,
        consent_id=row.consent_id,
        instrument_id=row.instrument_id,
        market=Market(row.market),
        currency=Currency(row.currency),
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        quantity=row.quantity,
        amount=row.amount,
        limit_price=row.limit_price,
        status=OrderStatus(row.status),
        filled_quantity=row.filled_quantity,
        filled_notional=row.filled_notional,
        fees=row.fees,
        held_cash=row.held_cash,
        held_quantity=row.held_quantity,
        sequence=row.sequence,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        dealing_day=row.dealing_day,
        cooling_off_until=as_utc(row.cooling_off_until) if row.cooling_off_until else None,
        reversed_by=row.reversed_by,
        reject_reason=row.reject_reason,
        acknowledged=tuple(row.acknowledged),
    )


def _fill(row: Any) -> Fill:
    return Fill(
        id=row.id,
        order_id=row.order_id,
        instrument_id=row.instrument_id,
        side=Side(row.side),
        quantity=row.quantity,
        price=row.price,
        notional=row.notional,
        fees=row.fees,
        liquidity=Liquidity(row.liquidity),
        counter_order_id=row.counter_order_id,
        executed_at=as_utc(row.executed_at),
    )
