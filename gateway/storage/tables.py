"""SQLModel tables. Every environment's database has the same schema; the partner registry
(partners, plans, apps) is the control plane and is read from the production database only."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
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
    # Partner lifecycle (issue 5, ADR 0011): rows from before it are partners in production.
    stage: str = Field(
        default="production",
        sa_column=sa.Column(sa.String(20), nullable=False, server_default="production"),
    )
    pilot_caps: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))


class PlanRow(SQLModel, table=True):
    __tablename__ = "plans"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=100)
    rate_limits: list[str] = _json()
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
    redirect_uris: list[str] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False, server_default="[]")
    )


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


class CustomerRow(SQLModel, table=True):
    """A brokerage customer: login facts as columns, the rest as one document (ADR 0007)."""

    __tablename__ = "customers"

    id: str = Field(primary_key=True, max_length=40)
    username: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    password_hash: str = Field(max_length=200)
    failed_logins: int = 0
    locked_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    document: dict[str, Any] = _json()
    created_at: datetime = _moment()


class CustomerSessionRow(SQLModel, table=True):
    """A signed-in browser; the cookie holds a random id, the table only its hash."""

    __tablename__ = "customer_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(index=True, max_length=40)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _moment()
    expires_at: datetime = _moment(index=True)


class ConsentRow(SQLModel, table=True):
    __tablename__ = "consents"
    # A partner's consents page by the keyset (created_at, id): gateway/storage/consents.py.
    __table_args__ = (sa.Index("ix_consents_partner_page", "partner_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(index=True, max_length=40)
    client_id: str = Field(max_length=64)
    customer_id: str | None = Field(default=None, index=True, max_length=40)
    permissions: list[str] = _json()
    purpose: str = Field(max_length=500)
    expires_at: datetime = _moment()
    limits: list[dict[str, Any]] = _json()
    cross_border: bool = False
    status: str = Field(max_length=30, index=True)
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
    revoked_by: str | None = Field(default=None, max_length=20)


class ConsentEventRow(SQLModel, table=True):
    """The consent ledger: append-only, hash-chained across all consents of an environment."""

    __tablename__ = "consent_events"

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    consent_id: str = Field(index=True, max_length=40)
    kind: str = Field(max_length=30)
    at: datetime = _moment()
    actor: str = Field(max_length=200)
    details: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ConsentHeadRow(SQLModel, table=True):
    __tablename__ = "consent_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class PushedRequestRow(SQLModel, table=True):
    """RFC 9126 pushed authorization requests; single use, short-lived."""

    __tablename__ = "pushed_requests"

    id_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=64)
    parameters: dict[str, Any] = _json()
    dpop_jkt: str | None = Field(default=None, max_length=64)
    expires_at: datetime = _moment(index=True)
    used_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    # Set when a signed-in customer opens the request: the consent screen's transaction.
    transaction_hash: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(64), nullable=True, unique=True, index=True)
    )
    customer_id: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class AuthorizationCodeRow(SQLModel, table=True):
    __tablename__ = "authorization_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=40)
    consent_id: str = Field(index=True, max_length=40)
    redirect_uri: str = Field(max_length=500)
    code_challenge: str = Field(max_length=128)
    scopes: list[str] = _json()
    dpop_jkt: str | None = Field(default=None, max_length=64)
    expires_at: datetime = _moment(index=True)
    used_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    access_jti: str | None = Field(default=None, max_length=64)
    access_expires_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    refresh_hash: str | None = Field(default=None, max_length=64)


class RefreshTokenRow(SQLModel, table=True):
    """Opaque refresh tokens, stored hashed; bound to the client, the DPoP key and the consent."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=64)
    consent_id: str = Field(index=True, max_length=40)
    customer_id: str = Field(max_length=40)
    dpop_jkt: str | None = Field(default=None, max_length=64)
    scopes: list[str] = _json()
    created_at: datetime = _moment()
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class DisclosureRow(SQLModel, table=True):
    """Every read of customer data under a consent: who read what, when, and the policy outcome."""

    __tablename__ = "disclosures"

    id: str = Field(primary_key=True, max_length=40)
    consent_id: str = Field(index=True, max_length=40)
    customer_id: str = Field(index=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    resource: str = Field(max_length=200)
    categories: list[str] = _json()
    fields: list[str] = _json()
    masked: list[str] = _json()
    withheld: list[str] = _json()
    decisions: list[dict[str, Any]] = _json()
    at: datetime = _moment(index=True)


class DecimalText(sa.types.TypeDecorator[Decimal]):
    """Decimal stored as its exact text: SQLite has no decimal type and would round through a float."""

    impl = sa.String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else format(value, "f")

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def _decimal(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(DecimalText(), nullable=nullable))


class LedgerBalanceRow(SQLModel, table=True):
    """One asset (cash in a currency, units of an instrument) of one ledger account."""

    __tablename__ = "ledger_balances"

    account_id: str = Field(primary_key=True, max_length=40)
    asset: str = Field(primary_key=True, max_length=40)
    total: Decimal = _decimal()
    held: Decimal = _decimal()


class JournalEntryRow(SQLModel, table=True):
    """A balanced set of postings; append-only."""

    __tablename__ = "journal_entries"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20)
    order_id: str | None = Field(default=None, index=True, max_length=40)
    postings: list[list[str]] = _json()
    booked_at: datetime = _moment()


class TradingCounterRow(SQLModel, table=True):
    """Sequences that the trading transaction hands out (time priority in the book)."""

    __tablename__ = "trading_counters"

    name: str = Field(primary_key=True, max_length=40)
    value: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "client_order_id", name="uq_orders_client_order_id"),
        sa.Index("ix_orders_owner_page", "partner_id", "customer_id", "created_at", "id"),
        sa.Index("ix_orders_book", "instrument_id", "side", "status"),
        sa.Index("ix_orders_funds", "status", "dealing_day"),
    )

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    client_order_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=40)
    account_id: str = Field(index=True, max_length=40)
    consent_id: str | None = Field(default=None, max_length=40)
    instrument_id: str = Field(max_length=40)
    market: str = Field(max_length=8)
    currency: str = Field(max_length=3)
    side: str = Field(max_length=4)
    order_type: str = Field(max_length=24)
    quantity: Decimal | None = _decimal(nullable=True)
    amount: Decimal | None = _decimal(nullable=True)
    limit_price: Decimal | None = _decimal(nullable=True)
    status: str = Field(max_length=20)
    filled_quantity: Decimal = _decimal()
    filled_notional: Decimal = _decimal()
    fees: Decimal = _decimal()
    held_cash: Decimal = _decimal()
    held_quantity: Decimal = _decimal()
    sequence: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
    dealing_day: date | None = Field(default=None, sa_column=sa.Column(sa.Date, nullable=True))
    cooling_off_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    reversed_by: str | None = Field(default=None, max_length=40)
    reject_reason: str | None = Field(default=None, max_length=40)
    acknowledged: list[str] = _json()


class FillRow(SQLModel, table=True):
    __tablename__ = "fills"

    id: str = Field(primary_key=True, max_length=40)
    order_id: str = Field(index=True, max_length=40)
    instrument_id: str = Field(max_length=40)
    side: str = Field(max_length=4)
    quantity: Decimal = _decimal()
    price: Decimal = _decimal()
    notional: Decimal = _decimal()
    fees: Decimal = _decimal()
    liquidity: str = Field(max_length=12)
    counter_order_id: str | None = Field(default=None, max_length=40)
    executed_at: datetime = _moment()


class OutboxRow(SQLModel, table=True):
    """Events written with the change they report; `gateway worker` delivers them (issue 5)."""

    __tablename__ = "outbox"

    id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=60)
    partner_id: str = Field(index=True, max_length=40)
    subject_id: str = Field(index=True, max_length=40)
    payload: dict[str, Any] = _json()
    created_at: datetime = _moment(index=True)
    delivered_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )


class OrderEventRow(SQLModel, table=True):
    """What surveillance looks back on: every placement, cancellation and fill per account."""

    __tablename__ = "order_events"
    __table_args__ = (sa.Index("ix_order_events_account_at", "account_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)
    order_id: str = Field(max_length=40)
    account_id: str = Field(max_length=40)
    customer_id: str = Field(max_length=40)
    instrument_id: str = Field(max_length=40)
    side: str = Field(max_length=4)
    quantity: Decimal = _decimal()
    price: Decimal | None = _decimal(nullable=True)
    at: datetime = _moment()


class AlertRow(SQLModel, table=True):
    __tablename__ = "surveillance_alerts"
    __table_args__ = (sa.Index("ix_alerts_account_at", "account_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    rule: str = Field(max_length=20)
    code: str = Field(max_length=40)
    severity: str = Field(max_length=10)
    status: str = Field(index=True, max_length=10)
    account_id: str = Field(max_length=40)
    customer_id: str = Field(index=True, max_length=40)
    instrument_id: str | None = Field(default=None, max_length=40)
    message: str = Field(max_length=500)
    facts: dict[str, Any] = _json()
    order_ids: list[str] = _json()
    created_at: datetime = _moment(index=True)
    cleared_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    cleared_by: str | None = Field(default=None, max_length=200)
    clear_reason: str | None = Field(default=None, max_length=500)


class RestrictionRow(SQLModel, table=True):
    """An account surveillance restricted; active while `cleared_at` is empty."""

    __tablename__ = "account_restrictions"

    id: str = Field(primary_key=True, max_length=40)
    account_id: str = Field(index=True, max_length=40)
    customer_id: str = Field(max_length=40)
    reason: str = Field(max_length=500)
    alert_ids: list[str] = _json()
    restricted_at: datetime = _moment()
    cleared_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    cleared_by: str | None = Field(default=None, max_length=200)
    clear_reason: str | None = Field(default=None, max_length=500)


class ProposalRow(SQLModel, table=True):
    """Advisory proposals, suitability-checked and kept as the rules require."""

    __tablename__ = "advisory_proposals"
    __table_args__ = (sa.Index("ix_proposals_owner", "partner_id", "customer_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    customer_id: str | None = Field(default=None, max_length=40)
    document: dict[str, Any] = _json()
    created_at: datetime = _moment()


# -- developer portal (issue 5, helper E) ---------------------------------------------------------


class DeveloperAccountRow(SQLModel, table=True):
    """A developer's portal sign-in (production control plane): login facts as columns, like customers."""

    __tablename__ = "developer_accounts"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    partner_id: str = Field(index=True, max_length=40)
    password_hash: str = Field(max_length=200)
    failed_logins: int = 0
    locked_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = _moment()


# -- partner lifecycle (issue 5, helper C) ------------------------------------------------------


class PartnerLifecycleEventRow(SQLModel, table=True):
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
    details: dict[str, Any] = _json()
    at: datetime = _moment()


# -- webhooks from the outbox (issue 5, helper B; ADR 0010) -------------------------------------


class WebhookSubscriptionRow(SQLModel, table=True):
    """An app's webhook endpoint; secrets are sealed with the environment's key (never plain text)."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (sa.Index("ix_webhook_subscriptions_page", "client_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(index=True, max_length=40)
    client_id: str = Field(max_length=64)
    url: str = Field(max_length=2048)
    event_types: list[str] = _json()
    status: str = Field(max_length=20)
    secret: str = Field(max_length=200)
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    disabled_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = _moment()
    updated_at: datetime = _moment()


class WebhookDeliveryRow(SQLModel, table=True):
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
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
    delivered_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )


class WebhookAttemptRow(SQLModel, table=True):
    """The delivery log: every attempt, with at most a short snippet of the answer."""

    __tablename__ = "webhook_attempts"

    delivery_id: str = Field(primary_key=True, max_length=40)
    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _moment()
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=200)
    duration_ms: int
    response_snippet: str = Field(max_length=200)


# -- usage metering (issue 5, ADR 0012) ------------------------------------------------------------


class UsageCounterRow(SQLModel, table=True):
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


# -- points conversion (issue 5, helper A, ADR 0009) -------------------------------------------------


class PointsValuationRow(SQLModel, table=True):
    """`points` points of a partner are worth `amount` in `currency` within [valid_from, valid_until)."""

    __tablename__ = "points_valuations"
    __table_args__ = (sa.Index("ix_points_valuations_partner", "partner_id", "currency", "valid_from"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    points: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    amount: Decimal = _decimal()
    currency: str = Field(max_length=3)
    valid_from: datetime = _moment()
    valid_until: datetime = _moment()
    created_at: datetime = _moment()


class PointsQuoteRow(SQLModel, table=True):
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
    amount: Decimal = _decimal()
    currency: str = Field(max_length=3)
    minimum_subscription: Decimal = _decimal()
    dealing_day: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    decision: str = Field(max_length=32)
    disclosures: list[str] = _json()
    created_at: datetime = _moment()
    expires_at: datetime = _moment()


class PointsConversionRow(SQLModel, table=True):
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
    amount: Decimal = _decimal()
    state: str = Field(max_length=16)
    dealing_day: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    created_at: datetime = _moment()
    updated_at: datetime = _moment()
    cooling_off_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    order_id: str | None = Field(default=None, max_length=40)
    account_id: str | None = Field(default=None, max_length=40)
    units: Decimal = _decimal()
    nav: Decimal | None = _decimal(nullable=True)
    fees: Decimal = _decimal()
    cash_remainder: Decimal = _decimal()
    points_returned: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    redemption_order_id: str | None = Field(default=None, max_length=40)
    reasons: list[dict[str, Any]] = _json()
