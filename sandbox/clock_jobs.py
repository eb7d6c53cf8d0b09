"""The clock-driven jobs a test clock runs for its own objects (sandbox/clocks.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.domain.consent.service import ConsentService
from gateway.domain.points.service import PointsService
from gateway.domain.trading.dealing import FundDealing
from partners.webhooks.ports import Sender
from partners.webhooks.service import WebhookService
from sandbox.clocks import ClockedJob, Scope

# A clock's webhook pass claims at most this many due deliveries per step.
WEBHOOK_BATCH = 100


@dataclass(frozen=True, slots=True)
class FundDealingJob:
    dealing: FundDealing
    name: str = "fund_orders_dealt"

    def next_due(self, scope: Scope, after: datetime) -> datetime | None:
        return self.dealing.next_due(scope.account_ids, after)

    def run(self, scope: Scope) -> int:
        return self.dealing.deal(scope.account_ids)


@dataclass(frozen=True, slots=True)
class ConversionsJob:
    points: PointsService
    name: str = "conversions_moved"

    def next_due(self, scope: Scope, after: datetime) -> datetime | None:
        return self.points.next_due(scope.customer_ids, after)

    def run(self, scope: Scope) -> int:
        return self.points.advance(scope.customer_ids)


@dataclass(frozen=True, slots=True)
class ConsentExpiryJob:
    consents: ConsentService
    name: str = "consents_expired"

    def next_due(self, scope: Scope, after: datetime) -> datetime | None:
        return self.consents.next_due(scope.customer_ids, after)

    def run(self, scope: Scope) -> int:
        return self.consents.expire_lapsed(scope.customer_ids)


@dataclass(frozen=True, slots=True)
class WebhookJob:
    """Delivers the app's partner's due webhooks, retries included, in the clock's time."""

    webhooks: WebhookService
    sender: Sender
    owner: str
    name: str = "webhook_attempts"

    def next_due(self, scope: Scope, after: datetime) -> datetime | None:
        return self.webhooks.next_due(scope.partner_id, after)

    def run(self, scope: Scope) -> int:
        return self.webhooks.dispatch(self.sender, self.owner, WEBHOOK_BATCH, partner_id=scope.partner_id)


def clocked_jobs(
    dealing: FundDealing,
    points: PointsService,
    consents: ConsentService,
    webhooks: WebhookService,
    sender: Sender,
) -> tuple[ClockedJob, ...]:
    """In the order a step runs them: deal funds before conversions read their orders, expire
    consents, then deliver what all of that emitted."""
    return (
        FundDealingJob(dealing),
        ConversionsJob(points),
        ConsentExpiryJob(consents),
        WebhookJob(webhooks, sender, owner="test-clock"),
    )
