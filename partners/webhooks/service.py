"""Subscriptions of partner apps, and the delivery of outbox events to them (ADR 0010).

Rules where the issue is silent (each pinned by a test in tests/partners/test_webhooks_*.py):
- An app sees and manages only its own subscriptions and their deliveries (404 for any other).
- A subscription receives the events of its partner emitted at or after its creation, in its
  app's environment (each environment has its own database, outbox and subscriptions).
- Deleting a subscription disables it: it keeps its delivery log, receives nothing more, and its
  undelivered messages go `dead` with `subscription_disabled` at their next attempt.
- 2xx is success. 410 Gone disables the subscription at once (the receiver said the endpoint is
  gone for good) and the delivery goes `dead`. Any other answer, a timeout, a refused address or a
  redirect (never followed) is a failure, retried with backoff until `max_attempts`, then `dead`.
- A rotation keeps the old secret valid for `grace` (24 h): messages carry both signatures.
- A redelivery re-queues a `failed` or `dead` delivery with the same `webhook-id` and a fresh
  attempt budget; the log keeps every earlier attempt.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from gateway.domain.clock import Clock
from gateway.domain.ids import new_id
from gateway.domain.paging import Page

from partners.webhooks.backoff import Backoff
from partners.webhooks.errors import (
    DeliveryNotFoundError,
    DeliveryStateError,
    EventTypeError,
    SubscriptionNotFoundError,
    SubscriptionStateError,
)
from partners.webhooks.models import (
    EVENT_CATALOGUE,
    EVENT_FAMILIES,
    MAX_EVENT_TYPES,
    REDELIVERABLE_STATES,
    SNIPPET_LIMIT,
    Attempt,
    Delivery,
    DeliveryQuery,
    DeliveryState,
    OutgoingRequest,
    SendResult,
    Subscription,
    SubscriptionStatus,
)
from partners.webhooks.ports import Sender, WebhookStore
from partners.webhooks.signing import WebhookSecret, headers
from partners.webhooks.url_guard import UrlPolicy, check_url

SECRET_GRACE: Final = timedelta(hours=24)
LEASE: Final = timedelta(seconds=60)  # well above the sender's timeout: one worker per message at a time
GONE: Final = 410


def normalise_event_types(event_types: Sequence[str]) -> tuple[str, ...]:
    """Known event types and `family.*` wildcards only; duplicates dropped, order kept."""
    if not event_types:
        raise EventTypeError("name at least one event type", field="event_types", rule="not_empty")
    if len(event_types) > MAX_EVENT_TYPES:
        raise EventTypeError(f"at most {MAX_EVENT_TYPES} event types", field="event_types", rule="too_many")
    for index, name in enumerate(event_types):
        known = name in EVENT_CATALOGUE or (name.endswith(".*") and name[:-2] in EVENT_FAMILIES)
        if not known:
            raise EventTypeError(
                f"{name!r} is not an event type the platform emits",
                field=f"event_types.{index}",
                rule="unknown_event_type",
                known=sorted(EVENT_CATALOGUE | {f"{family}.*" for family in EVENT_FAMILIES}),
            )
    return tuple(dict.fromkeys(event_types))


@dataclass(frozen=True, slots=True)
class Claim:
    delivery: Delivery
    subscription: Subscription | None


@dataclass(frozen=True, slots=True)
class WebhookService:
    store: WebhookStore
    clock: Clock
    policy: UrlPolicy
    backoff: Backoff = field(default_factory=Backoff)
    random: Callable[[], float] = field(default=secrets.SystemRandom().random)
    grace: timedelta = SECRET_GRACE
    lease: timedelta = LEASE

    # -- subscriptions (the partner API and the developer portal) ------------------------------

    def subscribe(
        self, partner_id: str, client_id: str, url: str, event_types: Sequence[str]
    ) -> Subscription:
        """A new active subscription; its secret is shown to the caller once, in this answer."""
        check_url(url, self.policy)
        now = self.clock.now()
        subscription = Subscription(
            id=new_id("whs"),
            partner_id=partner_id,
            client_id=client_id,
            url=url,
            event_types=normalise_event_types(event_types),
            status=SubscriptionStatus.ACTIVE,
            secret=WebhookSecret.generate(),
            previous_secret=None,
            previous_secret_expires_at=None,
            created_at=now,
            updated_at=now,
        )
        self.store.add_subscription(subscription)
        return subscription

    def subscriptions(self, client_id: str) -> list[Subscription]:
        """Every subscription of the app, newest first (the developer portal's list)."""
        return list(self.store.list_subscriptions(client_id, None, 1000))

    def page_subscriptions(self, client_id: str, after: str | None, limit: int) -> Page[Subscription]:
        return Page.of(self.store.list_subscriptions(client_id, after, limit + 1), limit)

    def subscription(self, client_id: str, subscription_id: str) -> Subscription:
        found = self.store.get_subscription(subscription_id)
        if found is None or found.client_id != client_id:
            raise SubscriptionNotFoundError("no such subscription", subscription_id=subscription_id)
        return found

    def disable(
        self, client_id: str, subscription_id: str, reason: str = "deleted by the partner"
    ) -> Subscription:
        found = self.subscription(client_id, subscription_id)
        if found.status is SubscriptionStatus.DISABLED:
            return found
        disabled = replace(
            found, status=SubscriptionStatus.DISABLED, disabled_reason=reason, updated_at=self.clock.now()
        )
        self.store.save_subscription(disabled)
        return disabled

    def rotate_secret(self, client_id: str, subscription_id: str) -> Subscription:
        """A new secret; the current one keeps signing beside it until the grace period ends."""
        found = self.subscription(client_id, subscription_id)
        if found.status is not SubscriptionStatus.ACTIVE:
            raise SubscriptionStateError(
                "a disabled subscription has no secret to rotate", status=found.status
            )
        now = self.clock.now()
        rotated = replace(
            found,
            secret=WebhookSecret.generate(),
            previous_secret=found.secret,
            previous_secret_expires_at=now + self.grace,
            updated_at=now,
        )
        self.store.save_subscription(rotated)
        return rotated

    # -- deliveries ------------------------------------------------------------------------------

    def deliveries(self, client_id: str, *, limit: int = 50) -> list[Delivery]:
        """The app's most recent deliveries, newest first (the developer portal's list)."""
        return list(self.store.list_deliveries(DeliveryQuery(client_id=client_id, limit=limit)))

    def list_deliveries(self, query: DeliveryQuery) -> Page[Delivery]:
        if query.subscription_id is not None:
            self.subscription(query.client_id, query.subscription_id)  # 404 for another app's id
        return Page.of(self.store.list_deliveries(replace(query, limit=query.limit + 1)), query.limit)

    def delivery(self, client_id: str, delivery_id: str) -> Delivery:
        found = self.store.get_delivery(delivery_id)
        if found is None or found.client_id != client_id:
            raise DeliveryNotFoundError("no such delivery", delivery_id=delivery_id)
        return found

    def attempts(self, client_id: str, delivery_id: str) -> list[Attempt]:
        return list(self.store.attempts(self.delivery(client_id, delivery_id).id))

    def redeliver(self, client_id: str, delivery_id: str) -> Delivery:
        """Send a failed or dead delivery again, now, with the same webhook-id and a fresh budget."""
        found = self.delivery(client_id, delivery_id)
        if found.state not in REDELIVERABLE_STATES:
            raise DeliveryStateError(
                f"a {found.state.value} delivery cannot be sent again", state=found.state.value
            )
        subscription = self.subscription(client_id, found.subscription_id)
        if subscription.status is not SubscriptionStatus.ACTIVE:
            raise SubscriptionStateError(
                "the subscription is disabled", subscription_id=subscription.id, status=subscription.status
            )
        now = self.clock.now()
        queued = replace(found, state=DeliveryState.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        if not self.store.requeue(queued):
            raise DeliveryStateError("the delivery changed meanwhile; read it again", state=found.state.value)
        return queued

    # -- the worker ------------------------------------------------------------------------------

    def fan_out(self, limit: int = 200, partner_id: str | None = None) -> int:
        """Turn new outbox rows into one delivery per matching subscription; answers the rows taken.

        `partner_id` takes that partner's rows only (a test clock's); None takes every partner's.
        """
        if not self.store.has_undelivered(partner_id):  # an idle pass takes no write lock
            return 0
        now = self.clock.now()
        with self.store.fan_out() as session:
            messages = session.undelivered(limit, partner_id)
            if not messages:
                return 0
            subscriptions = session.subscriptions_of(sorted({m.partner_id for m in messages}))
            for message in messages:
                body = message.body()
                for subscription in subscriptions:
                    if (
                        subscription.partner_id == message.partner_id
                        and subscription.created_at <= message.created_at
                        and subscription.receives(message.type)
                    ):
                        session.add_delivery(
                            Delivery(
                                id=new_id("whd"),
                                subscription_id=subscription.id,
                                client_id=subscription.client_id,
                                partner_id=subscription.partner_id,
                                message_id=message.id,
                                event_type=message.type,
                                body=body,
                                state=DeliveryState.PENDING,
                                attempts=0,
                                last_status_code=None,
                                last_error=None,
                                next_attempt_at=now,
                                created_at=now,
                                updated_at=now,
                            )
                        )
            session.mark_fanned_out([m.id for m in messages], now)
            return len(messages)

    def claim(self, owner: str, limit: int = 20, partner_id: str | None = None) -> list[Claim]:
        """Lease due deliveries (of one partner unless None) to this worker; another worker skips
        them until the lease ends."""
        now = self.clock.now()
        claimed = self.store.claim(owner, now, now + self.lease, limit, partner_id)
        return [Claim(d, self.store.get_subscription(d.subscription_id)) for d in claimed]

    def request(self, claim: Claim) -> OutgoingRequest:
        """The signed request of one attempt: the timestamp is now, the id and body never change."""
        assert claim.subscription is not None  # noqa: S101 (checked by `attempt`)
        now = self.clock.now()
        timestamp = int(now.timestamp())
        signed = headers(
            claim.subscription.signing_secrets(now), claim.delivery.message_id, timestamp, claim.delivery.body
        )
        signed["content-type"] = "application/json"
        return OutgoingRequest(
            url=claim.subscription.url,
            headers=signed,
            body=claim.delivery.body,
            attempt=claim.delivery.attempts + 1,
        )

    def attempt(self, claim: Claim, owner: str, sender: Sender) -> Delivery:
        """Send one claimed delivery and record the attempt."""
        subscription = claim.subscription
        if subscription is None or subscription.status is not SubscriptionStatus.ACTIVE:
            result = SendResult(status_code=None, error="subscription_disabled", duration_ms=0)
        else:
            result = sender.send(self.request(claim), self.policy)
        return self.record(claim, owner, result)

    def record(self, claim: Claim, owner: str, result: SendResult) -> Delivery:
        now = self.clock.now()
        delivery = claim.delivery
        attempts = delivery.attempts + 1
        gone = result.status_code == GONE
        disabled = result.error == "subscription_disabled"
        if result.succeeded:
            state, next_at, delivered = DeliveryState.SUCCEEDED, None, now
        elif gone or disabled or self.backoff.exhausted(attempts):
            state, next_at, delivered = DeliveryState.DEAD, None, None
        else:
            state, delivered = DeliveryState.FAILED, None
            next_at = now + self.backoff.delay(attempts, self.random)
        updated = replace(
            delivery,
            state=state,
            attempts=attempts,
            last_status_code=result.status_code,
            last_error=result.error,
            next_attempt_at=next_at,
            updated_at=now,
            delivered_at=delivered,
        )
        log = Attempt(
            delivery_id=delivery.id,
            number=0,  # the store numbers attempts in the log
            at=now,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            response_snippet=result.snippet[:SNIPPET_LIMIT],
        )
        self.store.finish(updated, log, owner)
        if gone and claim.subscription is not None and claim.subscription.status is SubscriptionStatus.ACTIVE:
            self.disable(
                claim.subscription.client_id, claim.subscription.id, "the endpoint answered 410 Gone"
            )
        return updated

    def dispatch(self, sender: Sender, owner: str, limit: int = 20, partner_id: str | None = None) -> int:
        """One worker pass: fan out new events, then send what is due; answers the attempts made.

        `partner_id` fans out and sends that partner's only (a test clock's); None, everyone's.
        """
        self.fan_out(partner_id=partner_id)
        claims = self.claim(owner, limit, partner_id)
        for claim in claims:
            self.attempt(claim, owner, sender)
        return len(claims)

    def next_due(self, partner_id: str, after: datetime) -> datetime | None:
        """When `dispatch` next has something of the partner to send: the earliest next attempt
        strictly after `after` of its pending or failed deliveries (just after the lease ends, for
        one another worker holds), or None when nothing of the partner waits.

        Outbox events of the partner not fanned out yet, and deliveries due by `after` but not
        sent yet, are due at once: the answer is `after` itself, and a pass then sends them.
        """
        if self.store.has_undelivered(partner_id):
            return after
        claimable = self.store.next_claimable(partner_id)
        return max(claimable, after) if claimable is not None else None
