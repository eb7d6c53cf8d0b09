"""Usage metering (ADR 0012)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow


class UsageCounterRow(TableRow, table=True):
    """Calls of one app on one UTC day to one operation of one API version, in this environment;
    workers add their buffered counts by upsert-increment (gateway/storage/usage.py)."""

    __tablename__ = "usage_counters"
    __table_args__ = (sa.Index("ix_usage_counters_partner_day", "partner_id", "day"),)

    client_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(sa_column=sa.Column(sa.Date, primary_key=True))
    api_version: str = Field(primary_key=True, max_length=16)
    operation: str = Field(primary_key=True, max_length=100)
    partner_id: str = Field(max_length=40)
    requests: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    throttled: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    errors: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
