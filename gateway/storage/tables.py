"""SQLModel tables. Every environment's database has the same schema; the partner registry
(partners, plans, apps) is the control plane and is read from the production database only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


def _json() -> Any:
    return Field(sa_column=sa.Column(sa.JSON, nullable=False))


def _moment(*, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=index))


class PartnerRow(SQLModel, table=True):
    __tablename__ = "partners"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    type: str = Field(max_length=40)
    region: str = Field(max_length=8)
    status: str = Field(max_length=20)
    operator: bool = False
    created_at: datetime = _moment()


class PlanRow(SQLModel, table=True):
    __tablename__ = "plans"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    rate_limits: list[str] = _json()
    description: str = Field(default="", max_length=500)


class AppRow(SQLModel, table=True):
    __tablename__ = "apps"

    client_id: str = Field(primary_key=True, max_length=64)
    partner_id: str = Field(foreign_key="partners.id", index=True, max_length=40)
    name: str = Field(max_length=200)
    environment: str = Field(max_length=20)
    jwks: dict[str, Any] = _json()
    scopes: list[str] = _json()
    plan_id: str = Field(foreign_key="plans.id", max_length=40)
    status: str = Field(max_length=20)
    created_at: datetime = _moment()


class IdempotencyRow(SQLModel, table=True):
    __tablename__ = "idempotency_records"

    client_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=20)
    status_code: int | None = None
    response_headers: list[list[str]] = _json()
    response_body: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = _moment()
    expires_at: datetime = _moment(index=True)


class AuditRecordRow(SQLModel, table=True):
    __tablename__ = "audit_records"

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    occurred_at: datetime = _moment()
    actor: str = Field(max_length=200)
    action: str = Field(max_length=200)
    resource: str = Field(max_length=500)
    outcome: int
    request_id: str = Field(max_length=64)
    details: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class RevokedTokenRow(SQLModel, table=True):
    __tablename__ = "revoked_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=64)
    revoked_at: datetime = _moment(index=True)
    expires_at: datetime = _moment()


class ComplianceRecordRow(SQLModel, table=True):
    """Suitability assessments and screenings, recorded as the rules require."""

    __tablename__ = "compliance_records"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20)
    partner_id: str = Field(index=True, max_length=40)
    client_id: str = Field(max_length=64)
    decision: str = Field(max_length=40)
    request: dict[str, Any] = _json()
    result: dict[str, Any] = _json()
    created_at: datetime = _moment()
