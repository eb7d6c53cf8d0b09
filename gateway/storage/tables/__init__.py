"""SQLModel tables, one module per repository; every environment's database has the same schema."""

from __future__ import annotations

from sqlmodel import SQLModel

# Importing every module registers its tables: Alembic and the schema test compare the whole metadata.
from gateway.storage.tables import (
    audit,
    compliance,
    conformance,
    consent,
    customers,
    developers,
    grants,
    idempotency,
    outbox,
    partners,
    points,
    proposals,
    revocations,
    sandbox,
    surveillance,
    trading,
    usage,
    webhooks,
)

metadata = SQLModel.metadata

__all__ = [
    "audit",
    "compliance",
    "conformance",
    "consent",
    "customers",
    "developers",
    "grants",
    "idempotency",
    "metadata",
    "outbox",
    "partners",
    "points",
    "proposals",
    "revocations",
    "sandbox",
    "surveillance",
    "trading",
    "usage",
    "webhooks",
]
