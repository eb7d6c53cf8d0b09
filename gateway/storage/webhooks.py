"""Webhook subscriptions, deliveries and the delivery log on SQL; secrets sealed at rest (ADR 0010).

Claims are atomic on both backends: a delivery is leased by a conditional UPDATE (`state` due,
lease free or lapsed), so two workers never send the same message at the same time. The fan-out
reads outbox rows under `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite's BEGIN IMMEDIATE
serialises writers anyway) and marks them `delivered_at` (handed to the webhook deliveries).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection

from gateway.storage.database import Database, as_utc
from gateway.storage.paging import keyset_page
from gateway.storage.tables.outbox import OutboxRow
from gateway.storage.tables.webhooks import WebhookAttemptRow, WebhookDeliveryRow, WebhookSubscriptionRow
from partners.webhooks.models import (
    DUE_STATES,
    REDELIVERABLE_STATES,
    Attempt,
    Delivery,
    DeliveryQuery,
    DeliveryState,
    OutboxMessage,
    Subscription,
    SubscriptionStatus,
)
from partners.webhooks.signing import WebhookSecret

subscriptions = WebhookSubscriptionRow.__table__
deliveries = WebhookDeliveryRow.__table__
attempts = WebhookAttemptRow.__table__
outbox = OutboxRow.__table__
SEAL_VERSION: Final = "s1"
LEASE_OVER: Final = timedelta(microseconds=1)  # the first instant after a lease ends


class SecretBox:
    """AES-256-GCM for signing secrets at rest, bound to their subscription id (the AAD)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key[:32])

    def seal(self, secret: WebhookSecret, subscription_id: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.key, subscription_id.encode())
        return f"{SEAL_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, subscription_id: str) -> WebhookSecret:
        version, _, data = sealed.partition(".")
        if version != SEAL_VERSION:
            raise ValueError("unknown sealed secret version")
        raw = base64.urlsafe_b64decode(data)
        return WebhookSecret(self._aead.decrypt(raw[:12], raw[12:], subscription_id.encode()))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _maybe(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


class SqlFanOutSession:
    def __init__(self, conn: Connection, box: SecretBox) -> None:
        self._conn = conn
        self._box = box

    def undelivered(self, limit: int, partner_id: str | None = None) -> Sequence[OutboxMessage]:
        query = (
            outbox.select()
            .where(_undelivered(partner_id))
            .order_by(outbox.c.created_at, outbox.c.id)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [
            OutboxMessage(
                id=row.id,
                type=row.type,
                partner_id=row.partner_id,
                payload=dict(row.payload),
                created_at=as_utc(row.created_at),
            )
            for row in self._conn.execute(query)
        ]

    def subscriptions_of(self, partner_ids: Sequence[str]) -> Sequence[Subscription]:
        query = subscriptions.select().where(
            subscriptions.c.partner_id.in_(list(partner_ids))
            & (subscriptions.c.status == SubscriptionStatus.ACTIVE.value)
        )
        return [_subscription(row, self._box) for row in self._conn.execute(query)]

    def add_delivery(self, delivery: Delivery) -> None:
        self._conn.execute(deliveries.insert().values(**_delivery_values(delivery)))

    def mark_fanned_out(self, message_ids: Sequence[str], at: datetime) -> None:
        self._conn.execute(
            outbox.update().where(outbox.c.id.in_(list(message_ids))).values(delivered_at=_utc(at))
        )


class SqlWebhookStore:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self._db = database
        self._box = box

    # -- subscriptions ---------------------------------------------------------------------------

    def add_subscription(self, subscription: Subscription) -> None:
        with self._db.write() as conn:
            conn.execute(subscriptions.insert().values(**self._subscription_values(subscription)))

    def save_subscription(self, subscription: Subscription) -> None:
        values = self._subscription_values(subscription)
        values.pop("id")
        with self._db.write() as conn:
            conn.execute(subscriptions.update().where(subscriptions.c.id == subscription.id).values(**values))

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        with self._db.read() as conn:
            row = conn.execute(subscriptions.select().where(subscriptions.c.id == subscription_id)).first()
        return _subscription(row, self._box) if row else None

    def list_subscriptions(self, client_id: str, after: str | None, limit: int) -> Sequence[Subscription]:
        query = subscriptions.select().where(subscriptions.c.client_id == client_id)
        query = keyset_page(query, subscriptions, after, limit, owner={"client_id": client_id})
        with self._db.read() as conn:
            return [_subscription(row, self._box) for row in conn.execute(query)]

    def _subscription_values(self, subscription: Subscription) -> dict[str, Any]:
        previous = subscription.previous_secret
        return {
            "id": subscription.id,
            "partner_id": subscription.partner_id,
            "client_id": subscription.client_id,
            "url": subscription.url,
            "event_types": list(subscription.event_types),
            "status": subscription.status.value,
            "secret": self._box.seal(subscription.secret, subscription.id),
            "previous_secret": self._box.seal(previous, subscription.id) if previous else None,
            "previous_secret_expires_at": (
                _utc(subscription.previous_secret_expires_at)
                if subscription.previous_secret_expires_at
                else None
            ),
            "disabled_reason": subscription.disabled_reason,
            "created_at": _utc(subscription.created_at),
            "updated_at": _utc(subscription.updated_at),
        }

    # -- the worker ------------------------------------------------------------------------------

    def has_undelivered(self, partner_id: str | None = None) -> bool:
        with self._db.read() as conn:
            return (
                conn.execute(sa.select(outbox.c.id).where(_undelivered(partner_id)).limit(1)).first()
                is not None
            )

    @contextmanager
    def fan_out(self) -> Iterator[SqlFanOutSession]:
        with self._db.write() as conn:
            yield SqlFanOutSession(conn, self._box)

    def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int, partner_id: str | None = None
    ) -> Sequence[Delivery]:
        now = _utc(now)
        due = (
            _waiting(partner_id)
            & (deliveries.c.next_attempt_at <= now)
            & (deliveries.c.lease_until.is_(None) | (deliveries.c.lease_until < now))
        )
        claimed: list[Delivery] = []
        with self._db.read() as conn:  # an idle pass takes no write lock
            if conn.execute(sa.select(deliveries.c.id).where(due).limit(1)).first() is None:
                return claimed
        with self._db.write() as conn:
            candidates = (
                sa.select(deliveries.c.id).where(due).order_by(deliveries.c.next_attempt_at).limit(limit)
            )
            if conn.dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            for (delivery_id,) in conn.execute(candidates).all():
                # The condition is re-checked by the UPDATE itself: a row another worker leased
                # meanwhile no longer matches, and rowcount says so.
                leased = conn.execute(
                    deliveries.update()
                    .where((deliveries.c.id == delivery_id) & due)
                    .values(lease_owner=owner, lease_until=_utc(lease_until))
                )
                if leased.rowcount == 1:
                    row = conn.execute(deliveries.select().where(deliveries.c.id == delivery_id)).one()
                    claimed.append(_delivery(row))
        return claimed

    def next_claimable(self, partner_id: str) -> datetime | None:
        query = sa.select(deliveries.c.next_attempt_at, deliveries.c.lease_until).where(
            _waiting(partner_id) & deliveries.c.next_attempt_at.is_not(None)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        # `claim` takes a leased delivery only once the lease is over (strictly after it ends).
        return min(
            (
                max(as_utc(row.next_attempt_at), as_utc(row.lease_until) + LEASE_OVER)
                if row.lease_until is not None
                else as_utc(row.next_attempt_at)
                for row in rows
            ),
            default=None,
        )

    def finish(self, delivery: Delivery, attempt: Attempt, owner: str) -> bool:
        """Log the attempt and, if this worker still holds the lease, store the delivery's new state."""
        with self._db.write() as conn:
            last = conn.execute(
                sa.select(sa.func.max(attempts.c.number)).where(attempts.c.delivery_id == delivery.id)
            ).scalar()
            conn.execute(
                attempts.insert().values(
                    delivery_id=delivery.id,
                    number=(last or 0) + 1,
                    at=_utc(attempt.at),
                    status_code=attempt.status_code,
                    error=attempt.error[:200] if attempt.error else None,
                    duration_ms=attempt.duration_ms,
                    response_snippet=attempt.response_snippet[:200],
                )
            )
            values = _delivery_values(delivery)
            for key in (
                "id",
                "subscription_id",
                "client_id",
                "partner_id",
                "message_id",
                "event_type",
                "body",
            ):
                values.pop(key)
            stored = conn.execute(
                deliveries.update()
                .where((deliveries.c.id == delivery.id) & (deliveries.c.lease_owner == owner))
                .values(**values, lease_owner=None, lease_until=None)
            )
            return bool(stored.rowcount == 1)

    def requeue(self, delivery: Delivery) -> bool:
        with self._db.write() as conn:
            queued = conn.execute(
                deliveries.update()
                .where(
                    (deliveries.c.id == delivery.id)
                    & deliveries.c.state.in_([state.value for state in REDELIVERABLE_STATES])
                )
                .values(
                    state=delivery.state.value,
                    attempts=delivery.attempts,
                    next_attempt_at=_utc(delivery.next_attempt_at) if delivery.next_attempt_at else None,
                    updated_at=_utc(delivery.updated_at),
                    lease_owner=None,
                    lease_until=None,
                )
            )
            return bool(queued.rowcount == 1)

    # -- reads -----------------------------------------------------------------------------------

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        with self._db.read() as conn:
            row = conn.execute(deliveries.select().where(deliveries.c.id == delivery_id)).first()
        return _delivery(row) if row else None

    def list_deliveries(self, query: DeliveryQuery) -> Sequence[Delivery]:
        owner = {"client_id": query.client_id}
        select = deliveries.select().where(deliveries.c.client_id == query.client_id)
        if query.subscription_id is not None:
            select = select.where(deliveries.c.subscription_id == query.subscription_id)
        if query.state is not None:
            select = select.where(deliveries.c.state == query.state.value)
        select = keyset_page(select, deliveries, query.after, query.limit, owner=owner)
        with self._db.read() as conn:
            return [_delivery(row) for row in conn.execute(select)]

    def attempts(self, delivery_id: str) -> Sequence[Attempt]:
        query = attempts.select().where(attempts.c.delivery_id == delivery_id).order_by(attempts.c.number)
        with self._db.read() as conn:
            return [
                Attempt(
                    delivery_id=row.delivery_id,
                    number=row.number,
                    at=as_utc(row.at),
                    status_code=row.status_code,
                    error=row.error,
                    duration_ms=row.duration_ms,
                    response_snippet=row.response_snippet,
                )
                for row in conn.execute(query)
            ]


def _undelivered(partner_id: str | None) -> sa.ColumnElement[bool]:
    condition = outbox.c.delivered_at.is_(None)
    return condition if partner_id is None else condition & (outbox.c.partner_id == partner_id)


def _waiting(partner_id: str | None) -> sa.ColumnElement[bool]:
    """Deliveries still to send (pending or failed), of one partner unless None."""
    condition = deliveries.c.state.in_([state.value for state in DUE_STATES])
    return condition if partner_id is None else condition & (deliveries.c.partner_id == partner_id)


def _subscription(row: Any, box: SecretBox) -> Subscription:
    return Subscription(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        url=row.url,
        event_types=tuple(row.event_types),
        status=SubscriptionStatus(row.status),
        secret=box.open(row.secret, row.id),
        previous_secret=box.open(row.previous_secret, row.id) if row.previous_secret else None,
        previous_secret_expires_at=_maybe(row.previous_secret_expires_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        disabled_reason=row.disabled_reason,
    )


def _delivery_values(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription_id": delivery.subscription_id,
        "client_id": delivery.client_id,
        "partner_id": delivery.partner_id,
        "message_id": delivery.message_id,
        "event_type": delivery.event_type,
        "body": delivery.body.decode(),
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error[:200] if delivery.last_error else None,
        "next_attempt_at": _utc(delivery.next_attempt_at) if delivery.next_attempt_at else None,
        "created_at": _utc(delivery.created_at),
        "updated_at": _utc(delivery.updated_at),
        "delivered_at": _utc(delivery.delivered_at) if delivery.delivered_at else None,
    }


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        client_id=row.client_id,
        partner_id=row.partner_id,
        message_id=row.message_id,
        event_type=row.event_type,
        body=row.body.encode(),
        state=DeliveryState(row.state),
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=_maybe(row.next_attempt_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        delivered_at=_maybe(row.delivered_at),
    )
