"""The sandbox's conformance observations (sandbox/conformance.py); only the sandbox writes them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, moment_field


class ConformanceObservationRow(TableRow, table=True):
    """One fact about an app's sandbox traffic, append-only; scores read an app's recent rows."""

    __tablename__ = "sandbox_conformance_observations"
    __table_args__ = (sa.Index("ix_sandbox_conformance_observations_client_at", "client_id", "at"),)

    seq: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    at: datetime = moment_field()
    status: int | None = None
    idempotency_key: str | None = Field(default=None, max_length=255)
    resource: str | None = Field(default=None, max_length=300)
    consent_id: str | None = Field(default=None, max_length=64)
    retry_after: int | None = None
    grant: str | None = Field(default=None, max_length=60)
    dpop: bool | None = None
    client_auth: str | None = Field(default=None, max_length=40)
    scope_refused: bool = False
    count: int = 1
