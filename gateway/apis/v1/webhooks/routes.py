"""Webhook subscriptions and their delivery log, for a partner app (client credentials, `webhooks:manage`).

An app sees only its own subscriptions and deliveries; any other id is a 404 (ADR 0010).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from gateway.apis.params import CURSOR_RULE, Cursor, IdempotencyKey, Limit
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
    SubscriptionWithSecret,
)
from gateway.domain.paging import decode_cursor
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep
from partners.webhooks.models import DeliveryQuery, DeliveryState
from partners.webhooks.service import WebhookService

SubscriptionId = Annotated[str, PathParameter(max_length=64)]
DeliveryId = Annotated[str, PathParameter(max_length=64)]
WebhooksDep = NamedDependency[WebhookService]
SubscriptionFilter = Annotated[
    str | None, QueryParameter(name="subscription_id", required=False, pattern=r"^whs_[0-9a-f]{20}$")
]
StateFilter = Annotated[DeliveryState | None, QueryParameter(name="state", required=False)]


class WebhooksController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]

    @post(
        "/subscriptions",
        operation_id="createWebhookSubscription",
        summary="Subscribe an endpoint to events; the signing secret is in this answer only",
        description=(
            "Messages follow Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` "
            "(`v1,` + base64 HMAC-SHA256 over `id.timestamp.body` with the secret). Event types are the "
            "catalogue's names or `family.*` wildcards."
        ),
        responses=problems(
            rules=(
                Rule(
                    "unsafe-webhook-url",
                    "`url` is not https or could reach a private, loopback or metadata address",
                ),
                Rule(
                    "rule-violation",
                    "an event type is neither in the catalogue nor a `family.*` wildcard of"
                    " it (`context.rule` is `unknown_event_type`)",
                ),
            )
        ),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def create_subscription(
        self,
        data: JSONBody[SubscriptionIn],
        webhooks: WebhooksDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> SubscriptionWithSecret:
        subscription = webhooks.subscribe(
            principal.partner_id, principal.client_id, data.url, data.event_types
        )
        return SubscriptionWithSecret.revealing(subscription)

    @get(
        "/subscriptions",
        operation_id="listWebhookSubscriptions",
        summary="List this app's subscriptions, newest first",
        responses=problems(rules=(CURSOR_RULE,)),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def list_subscriptions(
        self, webhooks: WebhooksDep, principal: PrincipalDep, cursor: Cursor = "", limit: Limit = 20
    ) -> SubscriptionList:
        after = decode_cursor(cursor) if cursor else None
        page = webhooks.page_subscriptions(principal.client_id, after, limit)
        return SubscriptionList(
            data=[SubscriptionOut.of(s) for s in page.items],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )

    @get(
        "/subscriptions/{subscription_id:str}",
        operation_id="getWebhookSubscription",
        summary="Read one subscription (never its secret)",
        responses=problems(404),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def get_subscription(
        self, subscription_id: SubscriptionId, webhooks: WebhooksDep, principal: PrincipalDep
    ) -> SubscriptionOut:
        return SubscriptionOut.of(webhooks.subscription(principal.client_id, subscription_id))

    @delete(
        "/subscriptions/{subscription_id:str}",
        operation_id="deleteWebhookSubscription",
        summary="Disable a subscription; it keeps its delivery log and receives nothing more",
        status_code=204,
        responses=problems(404),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def delete_subscription(
        self, subscription_id: SubscriptionId, webhooks: WebhooksDep, principal: PrincipalDep
    ) -> None:
        webhooks.disable(principal.client_id, subscription_id)

    @post(
        "/subscriptions/{subscription_id:str}/secret-rotation",
        operation_id="rotateWebhookSecret",
        summary="Issue a new signing secret; the old one keeps signing beside it for 24 hours",
        status_code=200,
        responses=problems(404, 409),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def rotate_secret(
        self,
        subscription_id: SubscriptionId,
        webhooks: WebhooksDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> SubscriptionWithSecret:
        return SubscriptionWithSecret.revealing(webhooks.rotate_secret(principal.client_id, subscription_id))

    @get(
        "/deliveries",
        operation_id="listWebhookDeliveries",
        summary="List this app's deliveries, newest first",
        responses=problems(404, rules=(CURSOR_RULE,)),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def list_deliveries(
        self,
        webhooks: WebhooksDep,
        principal: PrincipalDep,
        subscription_id: SubscriptionFilter = None,
        delivery_state: StateFilter = None,
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> DeliveryList:
        query = DeliveryQuery(
            client_id=principal.client_id,
            subscription_id=subscription_id,
            state=delivery_state,
            after=decode_cursor(cursor) if cursor else None,
            limit=limit,
        )
        page = webhooks.list_deliveries(query)
        return DeliveryList(
            data=[DeliveryOut.of(d) for d in page.items],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )

    @get(
        "/deliveries/{delivery_id:str}",
        operation_id="getWebhookDelivery",
        summary="Read one delivery with its attempt log",
        responses=problems(404),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def get_delivery(
        self, delivery_id: DeliveryId, webhooks: WebhooksDep, principal: PrincipalDep
    ) -> DeliveryOut:
        delivery = webhooks.delivery(principal.client_id, delivery_id)
        return DeliveryOut.of(delivery, webhooks.attempts(principal.client_id, delivery_id))

    @post(
        "/deliveries/{delivery_id:str}/redelivery",
        operation_id="redeliverWebhook",
        summary="Send a failed or dead delivery again, with the same webhook-id",
        status_code=202,
        responses=problems(404, 409),
        **requires(Scope.WEBHOOKS_MANAGE),
    )
    async def redeliver(
        self,
        delivery_id: DeliveryId,
        webhooks: WebhooksDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> DeliveryOut:
        return DeliveryOut.of(webhooks.redeliver(principal.client_id, delivery_id))
