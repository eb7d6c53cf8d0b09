"""Points conversion (ADR 0009): valuations, quotes and conversions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, decimal_field, json_field, moment_field


class PointsValuationRow(TableRow, table=True):
    """`points` points of a partner are worth `amount` in `currency` within [valid_from, valid_until)."""

    __tablename__ = "points_valuations"
    __table_args__ = (sa.Index("ix_points_valuations_partner", "partner_id", "currency", "valid_from"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    points: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    amount: Decimal = decimal_field()
    currency: str = Field(max_length=3)
    valid_from: datetime = moment_field()
    valid_until: datetime = moment_field()
    created_at: datetime = moment_field()


class PointsQuoteRow(TableRow, table=True):
    """A price fixed for 60 s; one conversion at most may use it."""

    __tablename__ = "points_quotes"

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=40)
    consent_id: str | None = Field(default=None, max_length=40)
    valuation_id: str = Field(max_length=40)
    instrument_id: str = Field(max_length=40)
    fund_code: str = Field(max_length=16)
    points_requested: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    points: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    amount: Decimal = decimal_field()
    currency: str = Field(max_length=3)
    minimum_subscription: Decimal = decimal_field()
    dealing_day: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    decision: str = Field(max_length=32)
    disclosures: list[str] = json_field()
    created_at: datetime = moment_field()
    expires_at: datetime = moment_field()


class PointsConversionRow(TableRow, table=True):
    """One conversion; `partner_conversion_id` is unique per partner forever, a quote serves one."""

    __tablename__ = "points_conversions"
    __table_args__ = (
        sa.UniqueConstraint("partner_id", "partner_conversion_id", name="uq_points_conversions_partner_id"),
        sa.UniqueConstraint("quote_id", name="uq_points_conversions_quote"),
        sa.Index("ix_points_conversions_owner_page", "partner_id", "customer_id", "created_at", "id"),
        sa.Index("ix_points_conversions_partner_day", "partner_id", "created_at"),
        sa.Index("ix_points_conversions_customer_day", "customer_id", "created_at"),
        sa.Index("ix_points_conversions_consent", "consent_id", "created_at"),
        sa.Index("ix_points_conversions_state", "state"),
    )

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    partner_conversion_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=40)
    consent_id: str | None = Field(default=None, max_length=40)
    quote_id: str = Field(max_length=40)
    valuation_id: str = Field(max_length=40)
    instrument_id: str = Field(max_length=40)
    fund_code: str = Field(max_length=16)
    currency: str = Field(max_length=3)
    points: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    amount: Decimal = decimal_field()
    state: str = Field(max_length=16)
    dealing_day: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    created_at: datetime = moment_field()
    updated_at: datetime = moment_field()
    cooling_off_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    order_id: str | None = Field(default=None, max_length=40)
    account_id: str | None = Field(default=None, max_length=40)
    units: Decimal = decimal_field()
    nav: Decimal | None = decimal_field(nullable=True)
    fees: Decimal = decimal_field()
    cash_remainder: Decimal = decimal_field()
    points_returned: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    redemption_order_id: str | None = Field(default=None, max_length=40)
    reasons: list[dict[str, Any]] = json_field()
