"""Webhook delivery for one partner (a sandbox test clock's), on SQLite and PostgreSQL: a scoped
pass fans out and sends only that partner's events, and `next_due` names its next attempt, the end
of another worker's lease, or now for events not fanned out yet."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.domain.trading.models import EventType, OutboxEvent
from gateway.storage.database import Database
from gateway.storage.trading import SqlTradingStore
from gateway.storage.webhooks import SecretBox, SqlWebhookStore
from partners.webhooks.models import DeliveryState, OutgoingRequest, SendResult, Subscription
from partners.webhooks.service import LEASE, WebhookService
from partners.webhooks.url_guard import UrlPolicy
from sandbox.clock import FrozenClock
from tests.gateway.storage.test_consent import T0, fresh_database

FIRST_RETRY = timedelta(seconds=5)  # the backoff's ceiling after one failure, drawn at 1.0


@dataclass
class Endpoints:
    """Answers 503 while `down`, else 204, and keeps the URLs it was asked to send to."""

    down: bool = False
    sent: list[str] = field(default_factory=list)

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult:
        self.sent.append(request.url)
        return SendResult(status_code=503 if self.down else 204, error=None, duration_ms=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own: the unscoped pass must find this test's events only."""
    with fresh_database(request.param, tmp_path) as db:
        yield db


def subscribed(webhooks: WebhookService) -> Subscription:
    partner_id = f"ptn_{secrets.token_hex(5)}"
    url = f"https://hooks.example.com/{partner_id}"
    return webhooks.subscribe(partner_id, f"app_{partner_id[4:]}", url, ["order.*"])


def emit(database: Database, partner_id: str, clock: FrozenClock) -> None:
    event = OutboxEvent(
        f"evt_{secrets.token_hex(8)}", EventType.ORDER_ACCEPTED, partner_id, "ord_1", {}, clock.now()
    )
    with SqlTradingStore(database).session() as session:
        session.emit(event)


def test_a_scoped_pass_sends_only_its_partners_events_and_next_due_follows_retries_and_leases(
    database: Database,
) -> None:
    clock = FrozenClock(T0)
    store = SqlWebhookStore(database, SecretBox(b"s" * 32))
    webhooks = WebhookService(store=store, clock=clock, policy=UrlPolicy(), random=lambda: 1.0)
    mine, theirs = subscribed(webhooks), subscribed(webhooks)
    assert webhooks.next_due(mine.partner_id, T0) is None  # nothing waits
    emit(database, mine.partner_id, clock)
    emit(database, theirs.partner_id, clock)
    assert webhooks.next_due(mine.partner_id, T0) == T0  # not fanned out yet: due at once
    assert webhooks.fan_out(partner_id=theirs.partner_id) == 1
    assert store.has_undelivered(mine.partner_id)  # mine is still in the outbox
    (waiting,) = webhooks.deliveries(theirs.client_id)
    assert webhooks.next_due(theirs.partner_id, T0) == T0  # due by `after`, not sent: at once

    endpoints = Endpoints(down=True)
    assert webhooks.dispatch(endpoints, "clock", partner_id=mine.partner_id) == 1
    assert endpoints.sent == [mine.url]
    (delivery,) = webhooks.deliveries(mine.client_id)
    assert (delivery.state, delivery.next_attempt_at) == (DeliveryState.FAILED, T0 + FIRST_RETRY)
    assert webhooks.delivery(theirs.client_id, waiting.id) == waiting  # due as well, not in scope
    assert webhooks.next_due(mine.partner_id, T0) == T0 + FIRST_RETRY

    # Another worker leases the retry when it is due: the clock's pass may take it once that ends.
    clock.set(T0 + FIRST_RETRY)
    (leased,) = webhooks.claim("other worker", partner_id=mine.partner_id)
    lease_over = clock.now() + LEASE + timedelta(microseconds=1)
    assert webhooks.next_due(mine.partner_id, clock.now()) == lease_over
    assert webhooks.dispatch(endpoints, "clock", partner_id=mine.partner_id) == 0
    clock.set(lease_over)
    endpoints.down = False
    assert webhooks.dispatch(endpoints, "clock", partner_id=mine.partner_id) == 1
    assert webhooks.delivery(mine.client_id, leased.delivery.id).state is DeliveryState.SUCCEEDED
    assert webhooks.next_due(mine.partner_id, clock.now()) is None
    assert webhooks.next_due(theirs.partner_id, clock.now()) == clock.now()

    emit(database, theirs.partner_id, clock)
    assert webhooks.dispatch(endpoints, "worker") == 2  # unscoped: every partner, as the worker does
    assert endpoints.sent == [mine.url, mine.url, theirs.url, theirs.url]
    assert webhooks.delivery(theirs.client_id, waiting.id).state is DeliveryState.SUCCEEDED
    assert webhooks.next_due(theirs.partner_id, clock.now()) is None
