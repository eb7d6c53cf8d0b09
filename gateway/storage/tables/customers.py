"""Customers, their browser sessions and the log of what partners read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class CustomerRow(TableRow, table=True):
    """A brokerage customer: login facts as columns, the rest as one document (ADR 0007)."""

    __tablename__ = "customers"

    id: str = Field(primary_key=True, max_length=40)
    username: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    password_hash: str = Field(max_length=200)
    failed_logins: int = 0
    locked_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    document: dict[str, Any] = json_field()
    created_at: datetime = moment_field()


class CustomerSessionRow(TableRow, table=True):
    """A signed-in browser; the cookie holds a random id, the table only its hash."""

    __tablename__ = "customer_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(index=True, max_length=40)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = moment_field()
    expires_at: datetime = moment_field(index=True)


class DisclosureRow(TableRow, table=True):
    """Every read of customer data under a consent: who read what, when, and the policy outcome."""

    __tablename__ = "disclosures"

    id: str = Field(primary_key=True, max_length=40)
    consent_id: str = Field(index=True, max_length=40)
    customer_id: str = Field(index=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    resource: str = Field(max_length=200)
    categories: list[str] = json_field()
    fields: list[str] = json_field()
    masked: list[str] = json_field()
    withheld: list[str] = json_field()
    decisions: list[dict[str, Any]] = json_field()
    at: datetime = moment_field(index=True)
