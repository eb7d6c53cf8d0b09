"""The partner registry: partners, plans, apps and lifecycle events (the production control plane)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class PartnerRow(TableRow, table=True):
    __tablename__ = "partners"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    type: str = Field(max_length=40)
    region: str = Field(max_length=8)
    status: str = Field(max_length=20)
    operator: bool = False
    created_at: datetime = moment_field()
    # Partner lifecycle (ADR 0011): rows from before it are partners in production.
    stage: str = Field(
        default="production",
        sa_column=sa.Column(sa.String(20), nullable=False, server_default="production"),
    )
    pilot_caps: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))


class PlanRow(TableRow, table=True):
    __tablename__ = "plans"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    rate_limits: list[str] = json_field()
    description: str = Field(default="", max_length=500)
    # Business quotas (ADR 0012); the defaults are the starter plan's (partners/models.py).
    orders_per_minute: int = Field(
        default=600, sa_column=sa.Column(sa.Integer, nullable=False, server_default="600")
    )
    notional_per_day: str = Field(  # CNY, a decimal as exact text
        default="10000000.00",
        sa_column=sa.Column(sa.String(48), nullable=False, server_default="10000000.00"),
    )
    points_per_day: int = Field(
        default=5_000_000, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="5000000")
    )


class AppRow(TableRow, table=True):
    __tablename__ = "apps"

    client_id: str = Field(primary_key=True, max_length=64)
    partner_id: str = Field(foreign_key="partners.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    environment: str = Field(max_length=20)
    jwks: dict[str, Any] = json_field()
    scopes: list[str] = json_field()
    plan_id: str = Field(foreign_key="plans.id", max_length=40)
    status: str = Field(max_length=20)
    created_at: datetime = moment_field()
    redirect_uris: list[str] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False, server_default="[]")
    )


class PartnerLifecycleEventRow(TableRow, table=True):
    """A partner's lifecycle history, append-only: who moved it from which stage to which, and why."""

    __tablename__ = "partner_lifecycle_events"
    __table_args__ = (sa.Index("ix_partner_lifecycle_events_partner", "partner_id", "at", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=40, sa_column_kwargs={"unique": True})
    partner_id: str = Field(foreign_key="partners.id", max_length=40)
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    from_stage: str | None = Field(default=None, max_length=20)
    to_stage: str = Field(max_length=20)
    reason: str = Field(max_length=500)
    details: dict[str, Any] = json_field()
    at: datetime = moment_field()
