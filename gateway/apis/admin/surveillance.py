"""Staff API (production control plane): the surveillance alert queue and account restrictions.

Alerts and restrictions live in each environment's database; `environment` picks which one, as on
the audit trail. A clearing names the officer: the staff app's client id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from gateway.apis.params import CURSOR_RULE, Cursor, Limit
from gateway.apis.schemas import RequestBody, Rule, problems
from gateway.domain.compliance.alerts import (
    REASON_MAX,
    REASON_MIN,
    Alert,
    AlertQuery,
    AlertStatus,
    Restriction,
    RestrictionQuery,
)
from gateway.domain.compliance.service import SurveillanceService
from gateway.domain.compliance.surveillance import Severity
from gateway.domain.environment import Environment
from gateway.domain.paging import decode_cursor
from gateway.domain.scopes import Scope
from gateway.edge.access import staff
from gateway.services import PrincipalDep, services_in

RESTRICTION_STATES: Final = {"active": True, "cleared": False, "all": None}

EnvironmentParam = Annotated[
    Environment, QueryParameter(name="environment", description="Whose alerts: production or sandbox.")
]
AlertId = Annotated[str, PathParameter(max_length=40)]
AccountId = Annotated[str, PathParameter(max_length=40)]
IdFilter = Annotated[str | None, QueryParameter(required=False, min_length=1, max_length=40)]


class ClearIn(RequestBody):
    reason: Annotated[
        str,
        msgspec.Meta(
            min_length=REASON_MIN,
            max_length=REASON_MAX,
            # At least REASON_MIN characters between the first and the last that are not blank.
            pattern=rf"^\s*\S[\s\S]{{{REASON_MIN - 2},}}\S\s*$",
            description="Why the officer clears it; kept with the record for the audit.",
        ),
    ]


class AlertOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["surveillance_alert"] = "surveillance_alert"
    rule: str
    rule_text: str
    code: str
    severity: Severity
    status: AlertStatus
    account_id: str
    customer_id: str
    instrument_id: str | None
    message: str
    facts: dict[str, str]
    order_ids: list[str]
    created_at: datetime
    cleared_at: datetime | None
    cleared_by: str | None
    clear_reason: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        clearance = alert.clearance
        return cls(
            id=alert.id,
            rule=alert.rule,
            rule_text=alert.rule_text,
            code=alert.code,
            severity=alert.severity,
            status=alert.status,
            account_id=alert.account_id,
            customer_id=alert.customer_id,
            instrument_id=alert.instrument_id,
            message=alert.message,
            facts=dict(alert.facts),
            order_ids=list(alert.order_ids),
            created_at=alert.created_at,
            cleared_at=clearance.at if clearance else None,
            cleared_by=clearance.officer if clearance else None,
            clear_reason=clearance.reason if clearance else None,
        )


class AlertList(msgspec.Struct, frozen=True, kw_only=True):
    environment: Environment
    data: list[AlertOut]
    has_more: bool
    next_cursor: str | None


class RestrictionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["account_restriction"] = "account_restriction"
    account_id: str
    customer_id: str
    reason: str
    alert_ids: list[str]
    restricted_at: datetime
    active: bool
    cleared_at: datetime | None
    cleared_by: str | None
    clear_reason: str | None

    @classmethod
    def of(cls, restriction: Restriction) -> RestrictionOut:
        clearance = restriction.clearance
        return cls(
            id=restriction.id,
            account_id=restriction.account_id,
            customer_id=restriction.customer_id,
            reason=restriction.reason,
            alert_ids=list(restriction.alert_ids),
            restricted_at=restriction.restricted_at,
            active=restriction.active,
            cleared_at=clearance.at if clearance else None,
            cleared_by=clearance.officer if clearance else None,
            clear_reason=clearance.reason if clearance else None,
        )


class RestrictionList(msgspec.Struct, frozen=True, kw_only=True):
    environment: Environment
    data: list[RestrictionOut]
    has_more: bool
    next_cursor: str | None


def queried_surveillance(
    request: Request[Any, Any, Any], environment: EnvironmentParam = Environment.PRODUCTION
) -> SurveillanceService:
    """The queue of the environment that the officer names."""
    return services_in(request, environment).surveillance


class SurveillanceController(Controller):
    path = "/admin/surveillance"
    tags = ["admin"]
    dependencies = {"surveillance": Provide(queried_surveillance, sync_to_thread=False)}

    @get(
        "/alerts",
        operation_id="adminListAlerts",
        summary="List surveillance alerts, newest first",
        responses=problems(rules=(CURSOR_RULE,)),
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    async def list_alerts(
        self,
        surveillance: NamedDependency[SurveillanceService],
        environment: EnvironmentParam = Environment.PRODUCTION,
        status: Annotated[AlertStatus | None, QueryParameter(name="status", required=False)] = None,
        severity: Annotated[Severity | None, QueryParameter(name="severity", required=False)] = None,
        customer_id: IdFilter = None,
        account_id: IdFilter = None,
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> AlertList:
        page = surveillance.list_alerts(
            AlertQuery(
                status=status,
                severity=severity,
                customer_id=customer_id,
                account_id=account_id,
                after=decode_cursor(cursor) if cursor else None,
                limit=limit,
            )
        )
        return AlertList(
            environment=environment,
            data=[AlertOut.of(alert) for alert in page.items],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )

    @get(
        "/alerts/{alert_id:str}",
        operation_id="adminGetAlert",
        summary="Read one alert: its facts, orders and the rule it applies",
        responses=problems(404),
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    async def get_alert(
        self,
        alert_id: AlertId,
        surveillance: NamedDependency[SurveillanceService],
    ) -> AlertOut:
        return AlertOut.of(surveillance.get_alert(alert_id))

    @post(
        "/alerts/{alert_id:str}/clear",
        operation_id="adminClearAlert",
        summary="Clear an open alert after review",
        status_code=200,
        responses=problems(
            404,
            409,
            rules=(
                Rule(
                    "rule-violation",
                    "the clearing names no officer or its reason is too short or too long "
                    "(`context.rule` is `CLR-03`)",
                ),
            ),
        ),
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    async def clear_alert(
        self,
        alert_id: AlertId,
        data: JSONBody[ClearIn],
        surveillance: NamedDependency[SurveillanceService],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> AlertOut:
        request.scope["state"]["object_id"] = alert_id
        return AlertOut.of(
            surveillance.clear_alert(alert_id, officer=principal.client_id, reason=data.reason)
        )

    @get(
        "/restrictions",
        operation_id="adminListRestrictions",
        summary="List account restrictions, newest first (active ones unless told otherwise)",
        responses=problems(rules=(CURSOR_RULE,)),
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    async def list_restrictions(
        self,
        surveillance: NamedDependency[SurveillanceService],
        environment: EnvironmentParam = Environment.PRODUCTION,
        status: Annotated[
            Literal["active", "cleared", "all"], QueryParameter(name="status", required=False)
        ] = "active",
        customer_id: IdFilter = None,
        account_id: IdFilter = None,
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> RestrictionList:
        page = surveillance.restrictions(
            RestrictionQuery(
                active=RESTRICTION_STATES[status],
                customer_id=customer_id,
                account_id=account_id,
                after=decode_cursor(cursor) if cursor else None,
                limit=limit,
            )
        )
        return RestrictionList(
            environment=environment,
            data=[RestrictionOut.of(r) for r in page.items],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )

    @post(
        "/restrictions/{account_id:str}/clear",
        operation_id="adminClearRestriction",
        summary="Clear an account's active restriction: it may place orders again",
        status_code=200,
        responses=problems(404, 409),
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    async def clear_restriction(
        self,
        account_id: AccountId,
        data: JSONBody[ClearIn],
        surveillance: NamedDependency[SurveillanceService],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> RestrictionOut:
        request.scope["state"]["object_id"] = account_id
        restriction = surveillance.clear_restriction(
            account_id, officer=principal.client_id, reason=data.reason
        )
        return RestrictionOut.of(restriction)
