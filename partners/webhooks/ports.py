"""What the webhook service needs from storage and from the network; adapters live in gateway/."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from partners.webhooks.models import (
    Attempt,
    Delivery,
    DeliveryQuery,
    OutboxMessage,
    OutgoingRequest,
    SendResult,
    Subscription,
)
from partners.webhooks.url_guard import UrlPolicy


class FanOutSession(Protocol):
    """One write transaction that turns outbox rows into deliveries; other workers skip its rows."""

    def undelivered(self, limit: int, partner_id: str | None = None) -> Sequence[OutboxMessage]:
        """The oldest rows not fanned out yet, of one partner unless None; others skip them."""
        ...

    def subscriptions_of(self, partner_ids: Sequence[str]) -> Sequence[Subscription]: ...
    def add_delivery(self, delivery: Delivery) -> None: ...
    def mark_fanned_out(self, message_ids: Sequence[str], at: datetime) -> None: ...


class WebhookStore(Protocol):
    def add_subscription(self, subscription: Subscription) -> None: ...
    def save_subscription(self, subscription: Subscription) -> None: ...
    def get_subscription(self, subscription_id: str) -> Subscription | None: ...
    def list_subscriptions(self, client_id: str, after: str | None, limit: int) -> Sequence[Subscription]: ...
    def has_undelivered(self, partner_id: str | None = None) -> bool: ...
    def fan_out(self) -> AbstractContextManager[FanOutSession]: ...
    def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int, partner_id: str | None = None
    ) -> Sequence[Delivery]:
        """Lease up to `limit` due deliveries (of one partner unless None) to `owner`."""
        ...

    def next_claimable(self, partner_id: str) -> datetime | None:
        """The earliest moment at which `claim` would find a due delivery of the partner: its next
        attempt, or just after a lease another worker holds on it ends."""
        ...

    def finish(self, delivery: Delivery, attempt: Attempt, owner: str) -> bool: ...
    def requeue(self, delivery: Delivery) -> bool: ...
    def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    def list_deliveries(self, query: DeliveryQuery) -> Sequence[Delivery]: ...
    def attempts(self, delivery_id: str) -> Sequence[Attempt]: ...


class Sender(Protocol):
    """POSTs one signed message; resolves the host and re-checks every address under `policy` first."""

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult: ...
