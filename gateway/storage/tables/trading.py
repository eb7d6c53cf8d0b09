"""The trading ledger, orders and fills."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, decimal_field, json_field, moment_field


class LedgerBalanceRow(TableRow, table=True):
    """One asset (cash in a currency, units of an instrument) of one ledger account."""

    __tablename__ = "ledger_balances"

    account_id: str = Field(primary_key=True, max_length=40)
    asset: str = Field(primary_key=True, max_length=40)
    total: Decimal = decimal_field()
    held: Decimal = decimal_field()


class JournalEntryRow(TableRow, table=True):
    """A balanced set of postings; append-only."""

    __tablename__ = "journal_entries"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20)
    order_id: str | None = Field(default=None, index=True, max_length=40)
    postings: list[list[str]] = json_field()
    booked_at: datetime = moment_field()


class TradingCounterRow(TableRow, table=True):
    """Sequences that the trading transaction hands out (time priority in the book)."""

    __tablename__ = "trading_counters"

    name: str = Field(primary_key=True, max_length=40)
    value: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class OrderRow(TableRow, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "client_order_id", name="uq_orders_client_order_id"),
        sa.Index("ix_orders_owner_page", "partner_id", "customer_id", "created_at", "id"),
        sa.Index("ix_orders_book", "instrument_id", "side", "status"),
        sa.Index("ix_orders_funds", "status", "dealing_day"),
    )

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    client_order_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=40)
    account_id: str = Field(index=True, max_length=40)
    consent_id: str | None = Field(default=None, max_length=40)
    instrument_id: str = Field(max_length=40)
    market: str = Field(max_length=8)
    currency: str = Field(max_length=3)
    side: str = Field(max_length=4)
    order_type: str = Field(max_length=24)
    quantity: Decimal | None = decimal_field(nullable=True)
    amount: Decimal | None = decimal_field(nullable=True)
    limit_price: Decimal | None = decimal_field(nullable=True)
    status: str = Field(max_length=20)
    filled_quantity: Decimal = decimal_field()
    filled_notional: Decimal = decimal_field()
    fees: Decimal = decimal_field()
    held_cash: Decimal = decimal_field()
    held_quantity: Decimal = decimal_field()
    sequence: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = moment_field()
    updated_at: datetime = moment_field()
    dealing_day: date | None = Field(default=None, sa_column=sa.Column(sa.Date, nullable=True))
    cooling_off_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    reversed_by: str | None = Field(default=None, max_length=40)
    reject_reason: str | None = Field(default=None, max_length=40)
    acknowledged: list[str] = json_field()


class FillRow(TableRow, table=True):
    __tablename__ = "fills"

    id: str = Field(primary_key=True, max_length=40)
    order_id: str = Field(index=True, max_length=40)
    instrument_id: str = Field(max_length=40)
    side: str = Field(max_length=4)
    quantity: Decimal = decimal_field()
    price: Decimal = decimal_field()
    notional: Decimal = decimal_field()
    fees: Decimal = decimal_field()
    liquidity: str = Field(max_length=12)
    counter_order_id: str | None = Field(default=None, max_length=40)
    executed_at: datetime = moment_field()
