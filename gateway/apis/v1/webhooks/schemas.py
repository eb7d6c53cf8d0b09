"""Wire shapes of webhook subscriptions and deliveries; a secret travels only in the answer that makes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from gateway.apis.schemas import RequestBody
from partners.webhooks.models import Attempt, Delivery, DeliveryState, Subscription, SubscriptionStatus

EventTypePattern = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-z_]{1,30}\.([a-z_]{1,40}|\*)$",
        description="An event type (`order.filled`) or a family wildcard (`order.*`).",
        examples=["order.*"],
    ),
]


class SubscriptionIn(RequestBody):
    url: Annotated[
        str,
        msgspec.Meta(
            min_length=8,
            max_length=2048,
            description="Your https endpoint; private, loopback and metadata addresses are refused.",
            examples=["https://partner.example.com/webhooks"],
        ),
    ]
    event_types: Annotated[list[EventTypePattern], msgspec.Meta(min_length=1, max_length=50)]


class SubscriptionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    url: str
    event_types: list[str]
    status: SubscriptionStatus
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None  # while set, messages carry two signatures
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return cls(
            id=subscription.id,
            url=subscription.url,
            event_types=list(subscription.event_types),
            status=subscription.status,
            disabled_reason=subscription.disabled_reason,
            previous_secret_expires_at=subscription.previous_secret_expires_at,
            created_at=subscription.created_at,
            updated_at=subscription.updated_at,
        )


class SubscriptionWithSecret(SubscriptionOut, frozen=True, kw_only=True):
    secret: str  # `whsec_...`; shown here once, never again

    @classmethod
    def revealing(cls, subscription: Subscription) -> SubscriptionWithSecret:
        plain = SubscriptionOut.of(subscription)
        fields = {name: getattr(plain, name) for name in SubscriptionOut.__struct_fields__}
        return msgspec.convert({**fields, "secret": subscription.secret.reveal()}, cls, from_attributes=True)


class SubscriptionList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[SubscriptionOut]
    has_more: bool
    next_cursor: str | None


class AttemptOut(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_snippet: str

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            number=attempt.number,
            at=attempt.at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            response_snippet=attempt.response_snippet,
        )


class DeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    subscription_id: str
    webhook_id: str  # the `webhook-id` header: the same on every attempt and redelivery
    event_type: str
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptOut] | None = None

    @classmethod
    def of(cls, delivery: Delivery, attempts: list[Attempt] | None = None) -> DeliveryOut:
        return cls(
            id=delivery.id,
            subscription_id=delivery.subscription_id,
            webhook_id=delivery.message_id,
            event_type=delivery.event_type,
            state=delivery.state,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            attempt_log=[AttemptOut.of(a) for a in attempts] if attempts is not None else None,
        )


class DeliveryList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[DeliveryOut]
    has_more: bool
    next_cursor: str | None
