"""Subscriptions, deliveries and their attempts, and the catalogue of event types the outbox emits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from partners.webhooks.signing import WebhookSecret

# What the outbox emits today (grep `outbox.insert` / `emit(`): trading's EventType, the consent
# ledger's `consent.<kind>` and the points conversion states. tests/partners/webhooks/test_rules.py
# fails when one of those enums grows a member this catalogue does not know.
EVENT_CATALOGUE: Final = frozenset(
    {
        "order.accepted",
        "order.filled",
        "order.partially_filled",
        "order.cancelled",
        "order.rejected",
        "order.cooling_off_cancelled",
        "fill.created",
        "consent.created",
        "consent.authorized",
        "consent.rejected",
        "consent.revoked",
        "consent.expired",
        "conversion.accepted",
        "conversion.priced",
        "conversion.allotted",
        "conversion.settled",
        "conversion.rejected",
        "conversion.reversed",
    }
)
EVENT_FAMILIES: Final = frozenset(name.split(".", 1)[0] for name in EVENT_CATALOGUE)
MAX_EVENT_TYPES: Final = 50
SNIPPET_LIMIT: Final = 200  # characters of a receiver's answer kept in the delivery log


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # deleted by the partner, or the endpoint answered 410 Gone


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its first attempt, or re-queued by a redelivery
    FAILED = "failed"  # the last attempt failed; the next one is scheduled at `next_attempt_at`
    SUCCEEDED = "succeeded"  # a 2xx answer
    DEAD = "dead"  # out of attempts (or the subscription is gone); only a redelivery revives it


DUE_STATES: Final = frozenset({DeliveryState.PENDING, DeliveryState.FAILED})
REDELIVERABLE_STATES: Final = frozenset({DeliveryState.FAILED, DeliveryState.DEAD})


def matches(pattern: str, event_type: str) -> bool:
    """`order.*` matches every `order.` event; anything else matches itself only."""
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


@dataclass(frozen=True, slots=True)
class Subscription:
    """One endpoint of one app, for the events of its partner in the app's environment."""

    id: str
    partner_id: str
    client_id: str
    url: str
    event_types: tuple[str, ...]
    status: SubscriptionStatus
    secret: WebhookSecret
    previous_secret: WebhookSecret | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    disabled_reason: str | None = None

    def receives(self, event_type: str) -> bool:
        return self.status is SubscriptionStatus.ACTIVE and any(
            matches(pattern, event_type) for pattern in self.event_types
        )

    def signing_secrets(self, now: datetime) -> tuple[WebhookSecret, ...]:
        """The new secret, and the old one while its grace period after a rotation lasts."""
        if (
            self.previous_secret is not None
            and self.previous_secret_expires_at is not None
            and now < self.previous_secret_expires_at
        ):
            return (self.secret, self.previous_secret)
        return (self.secret,)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One outbox row as the webhook fan-out reads it."""

    id: str
    type: str
    partner_id: str
    payload: dict[str, Any]
    created_at: datetime

    def body(self) -> bytes:
        """The Standard Webhooks payload `{type, timestamp, data}`; built once, the same on every retry."""
        document = {"type": self.type, "timestamp": self.created_at.isoformat(), "data": self.payload}
        return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str).encode()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one subscription; `message_id` is the `webhook-id`, stable across retries."""

    id: str
    subscription_id: str
    client_id: str
    partner_id: str
    message_id: str
    event_type: str
    body: bytes
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: when, what came back (a status code or an error class), how long it took."""

    delivery_id: str
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_snippet: str


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    attempt: int = 1  # which attempt of the delivery this is, 1-based within its attempt budget


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the sender saw; `error` is a class name (`ConnectTimeout`, `ssrf:private_address`)."""

    status_code: int | None
    error: str | None
    duration_ms: int
    snippet: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """One page of an app's deliveries, newest first, after a keyset position."""

    client_id: str
    subscription_id: str | None = None
    state: DeliveryState | None = None
    after: str | None = None  # the id of the last delivery of the previous page
    limit: int = 20
