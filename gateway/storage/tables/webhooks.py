"""Webhooks from the outbox (ADR 0010): subscriptions, deliveries and attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class WebhookSubscriptionRow(TableRow, table=True):
    """An app's webhook endpoint; secrets are sealed with the environment's key (never plain text)."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (sa.Index("ix_webhook_subscriptions_page", "client_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(index=True, max_length=40)
    client_id: str = Field(max_length=64)
    url: str = Field(max_length=2048)
    event_types: list[str] = json_field()
    status: str = Field(max_length=20)
    secret: str = Field(max_length=200)
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    disabled_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = moment_field()
    updated_at: datetime = moment_field()


class WebhookDeliveryRow(TableRow, table=True):
    """One outbox message to one subscription; a worker leases it while it sends."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "message_id", name="uq_webhook_deliveries_message"),
        sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_page", "client_id", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    subscription_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    partner_id: str = Field(max_length=40)
    message_id: str = Field(max_length=40)
    event_type: str = Field(max_length=60)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    state: str = Field(max_length=20)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=200)
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = moment_field()
    updated_at: datetime = moment_field()
    delivered_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )


class WebhookAttemptRow(TableRow, table=True):
    """The delivery log: every attempt, with at most a short snippet of the answer."""

    __tablename__ = "webhook_attempts"

    delivery_id: str = Field(primary_key=True, max_length=40)
    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = moment_field()
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=200)
    duration_ms: int
    response_snippet: str = Field(max_length=200)
