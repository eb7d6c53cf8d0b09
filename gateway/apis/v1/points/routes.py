"""Points into fund shares: partner valuations, quotes and conversions for a customer, cooling-off,
and the daily reconciliation (ADR 0009).

Valuations and reconciliation are the partner's own (client credentials); quotes and conversions
act for one customer under a consent with `points:convert`, and a conversion is visible only to
the partner that made it, for that customer.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from gateway.apis.params import CURSOR_RULE, Cursor, IdempotencyKey, Limit
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.points.schemas import (
    ConversionIn,
    ConversionList,
    ConversionOut,
    QuoteIn,
    QuoteOut,
    ReconciliationOut,
    ValuationIn,
    ValuationList,
    ValuationOut,
    reconciliation_csv,
)
from gateway.domain.consent.models import PointsConversionLimit
from gateway.domain.paging import decode_cursor
from gateway.domain.points.models import ConversionState
from gateway.domain.points.ports import ConversionQuery
from gateway.domain.points.service import PointsActor, PointsService
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.edge.faults import FaultPoints
from gateway.edge.principal import Principal
from gateway.edge.quotas import BusinessQuotas
from gateway.services import PrincipalDep

ConversionId = Annotated[str, PathParameter(max_length=64)]
StateFilter = Annotated[ConversionState | None, QueryParameter(name="state", required=False)]
Day = Annotated[date, QueryParameter(name="date", description="The UTC day the conversions were made")]

PointsDep = NamedDependency[PointsService]


def actor_of(principal: Principal) -> PointsActor:
    """The lifestyle platform's app and the customer it acts for; no customer, no conversions."""
    refusal = "points conversions need a token delegated by a customer"
    customer_id, consent = principal.delegation(refusal=refusal)
    limit = consent.limit_of(PointsConversionLimit)
    return PointsActor(principal.partner_id, principal.client_id, customer_id, consent.id, limit)


class PointsController(Controller):
    path = "/v1/points"
    tags = ["points"]

    @post(
        "/valuations",
        operation_id="createPointsValuation",
        summary="Publish what your points are worth for a validity window",
        description=(
            "`points` points are worth `amount` in `currency` from `valid_from` (default: now) until "
            "`valid_until` (excluded). Windows of one currency never overlap (409 names the clash)."
        ),
        responses=problems(
            409,
            rules=(
                Rule(
                    "rule-violation",
                    "`valid_from` is in the past, `valid_until` is not after it, or the "
                    "window exceeds 366 days",
                ),
            ),
        ),
        **requires(Scope.POINTS_VALUATIONS_WRITE),
    )
    async def create_valuation(
        self,
        data: JSONBody[ValuationIn],
        points: PointsDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> ValuationOut:
        valuation = points.publish_valuation(
            principal.partner_id,
            points=data.points,
            amount=Decimal(data.amount),
            currency=data.currency,
            valid_from=data.valid_from,
            valid_until=data.valid_until,
        )
        return ValuationOut.of(valuation)

    @get(
        "/valuations",
        operation_id="listPointsValuations",
        summary="List your valuations, latest window first",
        responses=problems(),
        **requires(Scope.POINTS_VALUATIONS_WRITE),
    )
    async def list_valuations(self, points: PointsDep, principal: PrincipalDep) -> ValuationList:
        return ValuationList(data=[ValuationOut.of(v) for v in points.valuations(principal.partner_id)])

    @post(
        "/quotes",
        operation_id="createPointsQuote",
        summary="Price the customer's points into a fund for 60 seconds",
        description=(
            "Locks the valuation and the fund: the points taken (only whole cents), the cash rounded "
            "down to the cent, the fund's minimum, the dealing day and the suitability verdict, with an "
            "acknowledgement token when a disclosure must be acknowledged."
        ),
        responses=problems(
            404,
            rules=(
                Rule(
                    "rule-violation",
                    "no valuation covers the partner now, or the points make less than a cent",
                ),
            ),
        ),
        **requires(Scope.POINTS_CONVERT),
    )
    async def create_quote(
        self, data: JSONBody[QuoteIn], points: PointsDep, principal: PrincipalDep
    ) -> QuoteOut:
        return QuoteOut.of(points.quote(actor_of(principal), data.instrument_id, data.points))

    @post(
        "/conversions",
        operation_id="convertPoints",
        summary="Convert the quoted points into a fund subscription, exactly once",
        description=(
            "201 for a new conversion; 200 with the first conversion when you sent this "
            "`partner_conversion_id` before with the same quote; 409 for other terms. A conversion "
            "refused by a consent limit or the daily cap (403 `limit-exceeded`) or by suitability "
            "(422) is stored as `rejected` and answered the same way on a retry."
        ),
        responses={
            **problems(
                403,
                404,
                409,
                rules=(
                    Rule(
                        "rule-violation",
                        "the quote has expired, no valuation covers the partner, or the "
                        "conversion is rejected (stored as `rejected`)",
                    ),
                ),
            ),
            200: ResponseSpec(
                data_container=ConversionOut,
                description="You sent this partner_conversion_id before: the first conversion",
                generate_examples=False,
            ),
        },
        **requires(Scope.POINTS_CONVERT),
    )
    async def convert_points(
        self,
        data: JSONBody[ConversionIn],
        points: PointsDep,
        quotas: NamedDependency[BusinessQuotas],
        faults: NamedDependency[FaultPoints],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> Response[ConversionOut]:
        actor, request = actor_of(principal), data.to_domain()
        await quotas.charge_points(principal, points.points_to_charge(actor, request))
        outcome = points.convert(actor, request)
        faults.reached("conversion_committed")
        return Response(ConversionOut.of(outcome.conversion), status_code=201 if outcome.created else 200)

    @get(
        "/conversions",
        operation_id="listPointsConversions",
        summary="List the customer's conversions made by this partner, newest first",
        responses=problems(404, rules=(CURSOR_RULE,)),
        **requires(Scope.POINTS_CONVERT),
    )
    async def list_conversions(
        self,
        points: PointsDep,
        principal: PrincipalDep,
        state_filter: StateFilter = None,  # `state` is a reserved Litestar kwarg
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> ConversionList:
        actor = actor_of(principal)
        query = ConversionQuery(
            partner_id=actor.partner_id,
            customer_id=actor.customer_id,
            state=state_filter,
            after=decode_cursor(cursor) if cursor else None,
            limit=limit,
        )
        page = points.list_conversions(query)
        return ConversionList(
            data=[ConversionOut.of(c) for c in page.items],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )

    @get(
        "/conversions/{conversion_id:str}",
        operation_id="getPointsConversion",
        summary="Read one conversion",
        responses=problems(404),
        **requires(Scope.POINTS_CONVERT),
    )
    async def get_conversion(
        self, conversion_id: ConversionId, points: PointsDep, principal: PrincipalDep
    ) -> ConversionOut:
        return ConversionOut.of(points.get(actor_of(principal), conversion_id))

    @post(
        "/conversions/{conversion_id:str}/cooling-off-cancellation",
        operation_id="coolOffPointsConversion",
        summary="Undo a conversion within 48 hours of acceptance, without a reason",
        description=(
            "Before allotment a full reversal: the cash goes back and the points are returned "
            "(`points_returned`). After allotment the units are redeemed at the next NAV with the "
            "proceeds to cash (`redemption_order_id`); the points stay converted."
        ),
        status_code=200,
        responses=problems(404, 409),
        **requires(Scope.POINTS_CONVERT),
    )
    async def cool_off_conversion(
        self,
        conversion_id: ConversionId,
        points: PointsDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> ConversionOut:
        return ConversionOut.of(points.cool_off(actor_of(principal), conversion_id))

    @get(
        "/reconciliation",
        operation_id="getPointsReconciliation",
        summary="Your conversions of one UTC day by state, and where every point went",
        description=(
            "Counts and sums of points, amounts and units by state and currency for the conversions "
            "made on `date`, and the identity points_taken == points_converted + points_returned. "
            "The same report as CSV: getPointsReconciliationCsv."
        ),
        responses=problems(),
        **requires(Scope.REPORTS_READ),
    )
    async def reconciliation(
        self, date: Day, points: PointsDep, principal: PrincipalDep
    ) -> ReconciliationOut:
        return ReconciliationOut.of(points.reconciliation(principal.partner_id, date))

    @get(
        "/reconciliation.csv",
        operation_id="getPointsReconciliationCsv",
        summary="The daily reconciliation as CSV (RFC 4180)",
        media_type="text/csv",
        responses=problems(),
        **requires(Scope.REPORTS_READ),
    )
    async def reconciliation_csv(
        self, date: Day, points: PointsDep, principal: PrincipalDep
    ) -> Response[str]:
        report = points.reconciliation(principal.partner_id, date)
        return Response(
            reconciliation_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="points-reconciliation-{date.isoformat()}.csv"'
            },
        )
