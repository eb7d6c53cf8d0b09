"""Consents and their hash-chained ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class ConsentRow(TableRow, table=True):
    __tablename__ = "consents"
    # A partner's consents page by the keyset (created_at, id): gateway/storage/consent.py.
    __table_args__ = (sa.Index("ix_consents_partner_page", "partner_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(index=True, max_length=40)
    client_id: str = Field(max_length=64)
    customer_id: str | None = Field(default=None, index=True, max_length=40)
    permissions: list[str] = json_field()
    purpose: str = Field(max_length=500)
    expires_at: datetime = moment_field()
    limits: list[dict[str, Any]] = json_field()
    cross_border: bool = False
    status: str = Field(max_length=30, index=True)
    created_at: datetime = moment_field()
    updated_at: datetime = moment_field()
    revoked_by: str | None = Field(default=None, max_length=20)


class ConsentEventRow(TableRow, table=True):
    """The consent ledger: append-only, hash-chained across all consents of an environment."""

    __tablename__ = "consent_events"

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    consent_id: str = Field(index=True, max_length=40)
    kind: str = Field(max_length=30)
    at: datetime = moment_field()
    actor: str = Field(max_length=200)
    details: dict[str, Any] = json_field()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ConsentHeadRow(TableRow, table=True):
    __tablename__ = "consent_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    hash: str = Field(max_length=64)
