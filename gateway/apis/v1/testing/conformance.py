"""The sandbox's conformance suite (`sandbox:testing`): the calling app's score now, before it asks
for review, and forged webhook deliveries on demand (docs/sandbox/graduation.md).

The score reads only what the sandbox saw of the app's traffic; nothing here lets an app report
about itself. Production answers 404 (its apps cannot hold the scope).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency

from gateway.apis.schemas import problems
from gateway.apis.v1.partners.schemas import ConformanceOut
from gateway.apis.v1.testing.routes import sandbox_only
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep
from sandbox.conformance import AppProfile, Conformance, ForgedDelivery


class ForgedDeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    subscription_id: str
    url: str
    status_code: int | None  # what the app's receiver answered; None when it did not answer
    error: str | None  # why there was no answer (a timeout, a refused address)
    refused: bool  # answered, and not with a 2xx: what the check asks of a receiver

    @classmethod
    def of(cls, forged: ForgedDelivery) -> ForgedDeliveryOut:
        return cls(
            subscription_id=forged.subscription_id,
            url=forged.url,
            status_code=forged.status,
            error=forged.error,
            refused=forged.refused,
        )


class ForgedDeliveryList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[ForgedDeliveryOut]


class ConformanceController(Controller):
    path = "/v1/testing/conformance"
    tags = ["testing"]

    @get(
        operation_id="getConformance",
        summary="This app's conformance score now: each check, whether it passes, and what the sandbox saw",
        description=(
            "Sandbox only. Scored from the app's own sandbox traffic of the last 30 days; the review "
            "request signs the same score as its evidence pack (docs/sandbox/graduation.md)."
        ),
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def get_conformance(
        self, conformance: NamedDependency[Conformance | None], principal: PrincipalDep
    ) -> ConformanceOut:
        return ConformanceOut.of(sandbox_only(conformance).score(AppProfile.of(principal.client)))

    @post(
        "/forged-webhooks",
        operation_id="sendForgedWebhooks",
        status_code=200,
        summary="Send a forged delivery (a wrong signature) to each of this app's webhook endpoints",
        description=(
            "Sandbox only. One delivery to each of the app's five newest active subscriptions, "
            "signed with a secret that is not the subscription's; the receiver should refuse it. "
            "Each answer counts towards the `forged_webhook` check."
        ),
        responses=problems(404),
        sync_to_thread=True,  # each delivery is a real HTTP request to the app: off the event loop
        **requires(Scope.SANDBOX_TESTING),
    )
    def send_forged_webhooks(
        self, conformance: NamedDependency[Conformance | None], principal: PrincipalDep
    ) -> ForgedDeliveryList:
        sent = sandbox_only(conformance).forge_webhooks(principal.client_id)
        return ForgedDeliveryList(data=[ForgedDeliveryOut.of(forged) for forged in sent])
