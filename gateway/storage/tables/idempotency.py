"""Stored responses for `Idempotency-Key`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class IdempotencyRow(TableRow, table=True):
    __tablename__ = "idempotency_records"

    client_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=20)
    status_code: int | None = None
    response_headers: list[list[str]] = json_field()
    response_body: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = moment_field()
    expires_at: datetime = moment_field(index=True)
