"""Surveillance: the order events it looks back on, its alerts and account restrictions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, decimal_field, json_field, moment_field


class OrderEventRow(TableRow, table=True):
    """What surveillance looks back on: every placement, cancellation and fill per account."""

    __tablename__ = "order_events"
    __table_args__ = (sa.Index("ix_order_events_account_at", "account_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)
    order_id: str = Field(max_length=40)
    account_id: str = Field(max_length=40)
    customer_id: str = Field(max_length=40)
    instrument_id: str = Field(max_length=40)
    side: str = Field(max_length=4)
    quantity: Decimal = decimal_field()
    price: Decimal | None = decimal_field(nullable=True)
    at: datetime = moment_field()


class AlertRow(TableRow, table=True):
    __tablename__ = "surveillance_alerts"
    __table_args__ = (sa.Index("ix_alerts_account_at", "account_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    rule: str = Field(max_length=20)
    code: str = Field(max_length=40)
    severity: str = Field(max_length=10)
    status: str = Field(index=True, max_length=10)
    account_id: str = Field(max_length=40)
    customer_id: str = Field(index=True, max_length=40)
    instrument_id: str | None = Field(default=None, max_length=40)
    message: str = Field(max_length=500)
    facts: dict[str, Any] = json_field()
    order_ids: list[str] = json_field()
    created_at: datetime = moment_field(index=True)
    cleared_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    cleared_by: str | None = Field(default=None, max_length=200)
    clear_reason: str | None = Field(default=None, max_length=500)


class RestrictionRow(TableRow, table=True):
    """An account surveillance restricted; active while `cleared_at` is empty."""

    __tablename__ = "account_restrictions"

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(index=True, max_length=40)
    customer_id: str = Field(max_length=40)
    reason: str = Field(max_length=500)
    alert_ids: list[str] = json_field()
    restricted_at: datetime = moment_field()
    cleared_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    cleared_by: str | None = Field(default=None, max_length=200)
    clear_reason: str | None = Field(default=None, max_length=500)
