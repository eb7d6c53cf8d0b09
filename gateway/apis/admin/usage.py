"""Staff view of usage: every app's counts in one environment, optionally one partner's or app's."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.usage.routes import From, To, usage_period
from gateway.apis.v1.usage.schemas import AdminUsageReport, AppUsageCountOut, UsageTotalsOut
from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.edge.access import staff
from gateway.edge.metering import UsageMeter
from gateway.services import services_in
from partners.usage import totals

EnvironmentParam = Annotated[Environment, QueryParameter(name="environment")]


def queried_usage(
    request: Request[Any, Any, Any], environment: EnvironmentParam = Environment.PRODUCTION
) -> UsageMeter:
    """The usage meter of the environment that the staff member names."""
    return services_in(request, environment).usage


class UsageAdminController(Controller):
    path = "/admin/usage"
    tags = ["admin"]
    dependencies = {"usage": Provide(queried_usage, sync_to_thread=False)}

    @get(
        operation_id="adminGetUsage",
        summary="Usage of every app (or one partner's, or one app's) per UTC day, version and operation",
        responses=problems(
            rules=(Rule("rule-violation", "`from` is after `to` or the period covers more than 366 days"),)
        ),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def get_usage(
        self,
        usage: NamedDependency[UsageMeter],
        clock: NamedDependency[Clock],
        environment: EnvironmentParam = Environment.PRODUCTION,
        partner_id: Annotated[
            str | None, QueryParameter(name="partner_id", required=False, max_length=40)
        ] = None,
        client_id: Annotated[
            str | None, QueryParameter(name="client_id", required=False, max_length=64)
        ] = None,
        start: From = None,
        end: To = None,
    ) -> AdminUsageReport:
        first, last = usage_period(clock.now().date(), start, end)
        rows = usage.by_app(first, last, partner_id=partner_id, client_id=client_id)
        counts = [count for _, _, count in rows]
        return AdminUsageReport(
            environment=environment.value,
            start=first,
            end=last,
            totals=UsageTotalsOut.of(totals(counts)),
            data=[
                AppUsageCountOut(
                    partner_id=partner,
                    client_id=client,
                    day=count.day,
                    api_version=count.api_version,
                    operation=count.operation,
                    requests=count.requests,
                    throttled=count.throttled,
                    errors=count.errors,
                )
                for partner, client, count in rows
            ],
        )
