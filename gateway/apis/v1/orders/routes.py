"""Orders: preview every pre-trade check, place, read, list, cancel, and cool off a fund order.

Only a token a customer delegated (with `orders:read` or `orders:write` in its consent) reaches
these routes; an order is visible to the partner that placed it and only for that customer.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from gateway.apis.params import CURSOR_RULE, Cursor, IdempotencyKey, Limit
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.orders.schemas import OrderIn, OrderList, OrderOut, OrderPreviewOut, OrderTermsIn
from gateway.domain.consent.models import OrderPlacementLimit
from gateway.domain.paging import decode_cursor
from gateway.domain.scopes import Scope
from gateway.domain.trading.entry import OrderEntry
from gateway.domain.trading.models import Actor, Order, OrderStatus, OrderType, Side
from gateway.domain.trading.ports import OrderQuery
from gateway.edge.access import requires
from gateway.edge.faults import FaultPoints
from gateway.edge.principal import Principal
from gateway.edge.quotas import BusinessQuotas
from gateway.services import PrincipalDep

OrderId = Annotated[str, PathParameter(max_length=64)]
StatusFilter = Annotated[OrderStatus | None, QueryParameter(name="status", required=False)]
SideFilter = Annotated[Side | None, QueryParameter(name="side", required=False)]
TypeFilter = Annotated[OrderType | None, QueryParameter(name="order_type", required=False)]
InstrumentFilter = Annotated[
    str | None, QueryParameter(name="instrument_id", required=False, pattern=r"^ins_[a-z0-9]{10}$")
]


def actor_of(principal: Principal) -> Actor:
    """The partner app and the customer it acts for; a token without a customer has no orders."""
    customer_id, consent = principal.delegation(refusal="orders need a token delegated by a customer")
    limit = consent.limit_of(OrderPlacementLimit)
    return Actor(principal.partner_id, principal.client_id, customer_id, consent.id, limit)


def _out(orders: OrderEntry, order: Order) -> OrderOut:
    return OrderOut.of(order, list(orders.fills(order)))


class OrdersController(Controller):
    path = "/v1/orders"
    tags = ["orders"]

    @post(
        "/preview",
        operation_id="previewOrder",
        summary="Run every pre-trade check without placing the order",
        description=(
            "Returns each check with a machine-readable verdict, the fee estimate, FX, buying power "
            "and, when a disclosure must be acknowledged, an acknowledgement token for placeOrder."
        ),
        status_code=200,
        responses=problems(
            404,
            rules=(
                Rule(
                    "rule-violation",
                    "the instrument is unknown or a quantity or price breaks the instrument's step",
                ),
            ),
        ),
        **requires(Scope.ORDERS_WRITE),
    )
    async def preview_order(
        self, data: JSONBody[OrderTermsIn], orders: NamedDependency[OrderEntry], principal: PrincipalDep
    ) -> OrderPreviewOut:
        actor = actor_of(principal)
        return OrderPreviewOut.of(orders.preview(actor, data.to_domain("preview")))

    @post(
        operation_id="placeOrder",
        summary="Place an order",
        description=(
            "Re-runs every pre-trade check (a preview is never trusted). 201 for a new order; 200 with "
            "the first order when this app already placed the same `client_order_id` with the same terms."
        ),
        responses={
            **problems(
                403,
                404,
                409,
                rules=(
                    Rule(
                        "rule-violation",
                        "the instrument is unknown, a quantity or price breaks the "
                        "instrument's step, or a pre-trade check rejects the order "
                        "(`context.reasons`)",
                    ),
                ),
            ),
            200: ResponseSpec(
                data_container=OrderOut,
                description="This app placed the same client_order_id before: the first order",
                generate_examples=False,
            ),
        },
        **requires(Scope.ORDERS_WRITE),
    )
    async def place_order(
        self,
        data: JSONBody[OrderIn],
        orders: NamedDependency[OrderEntry],
        quotas: NamedDependency[BusinessQuotas],
        faults: NamedDependency[FaultPoints],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> Response[OrderOut]:
        await quotas.charge_placement(principal, data.to_domain(data.client_order_id))
        placement = orders.place(actor_of(principal), data.to_domain(data.client_order_id))
        faults.reached("order_committed")
        return Response(_out(orders, placement.order), status_code=201 if placement.created else 200)

    @get(
        operation_id="listOrders",
        summary="List the customer's orders placed by this partner, newest first",
        responses=problems(404, rules=(CURSOR_RULE,)),
        **requires(Scope.ORDERS_READ),
    )
    async def list_orders(
        self,
        orders: NamedDependency[OrderEntry],
        principal: PrincipalDep,
        status: StatusFilter = None,
        side: SideFilter = None,
        order_type: TypeFilter = None,
        instrument_id: InstrumentFilter = None,
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> OrderList:
        actor = actor_of(principal)
        query = OrderQuery(
            partner_id=actor.partner_id,
            customer_id=actor.customer_id,
            status=status,
            side=side,
            order_type=order_type,
            instrument_id=instrument_id,
            after=decode_cursor(cursor) if cursor else None,
            limit=limit,
        )
        page = orders.list(query)
        return OrderList(
            data=[_out(orders, order) for order in page.items],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )

    @get(
        "/{order_id:str}",
        operation_id="getOrder",
        summary="Read one order with its fills",
        responses=problems(404),
        **requires(Scope.ORDERS_READ),
    )
    async def get_order(
        self, order_id: OrderId, orders: NamedDependency[OrderEntry], principal: PrincipalDep
    ) -> OrderOut:
        return _out(orders, orders.get(actor_of(principal), order_id))

    @post(
        "/{order_id:str}/cancel",
        operation_id="cancelOrder",
        summary="Cancel what is left of an open order",
        status_code=200,
        responses=problems(404, 409),
        **requires(Scope.ORDERS_WRITE),
    )
    async def cancel_order(
        self,
        order_id: OrderId,
        orders: NamedDependency[OrderEntry],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> OrderOut:
        return _out(orders, orders.cancel(actor_of(principal), order_id))

    @post(
        "/{order_id:str}/cooling-off-cancellation",
        operation_id="coolOffOrder",
        summary="Undo a fund subscription within 48 hours of acceptance, without a reason",
        description=(
            "Before allotment the subscription is reversed in full; after allotment its units are "
            "redeemed at the next NAV, with the proceeds to cash (`reversed_by` names the redemption)."
        ),
        status_code=200,
        responses=problems(404, 409),
        **requires(Scope.ORDERS_WRITE),
    )
    async def cool_off_order(
        self,
        order_id: OrderId,
        orders: NamedDependency[OrderEntry],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> OrderOut:
        return _out(orders, orders.cool_off(actor_of(principal), order_id))
