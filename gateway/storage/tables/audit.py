"""The audit log: hash-chained records and the chain's head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class AuditRecordRow(TableRow, table=True):
    __tablename__ = "audit_records"

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    occurred_at: datetime = moment_field()
    actor: str = Field(max_length=200)
    action: str = Field(max_length=200)
    resource: str = Field(max_length=500)
    outcome: int
    request_id: str = Field(max_length=64)
    details: dict[str, Any] = json_field()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(TableRow, table=True):
    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    hash: str = Field(max_length=64)
