"""One app's usage: requests per day by operation as a chart, and totals per operation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, Final

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from gateway.auth.developers import DeveloperAccounts
from gateway.domain.clock import Clock
from gateway.services import services_in
from gateway.web.portal.app_head import app_head, own_app
from gateway.web.portal.chart import usage_chart
from gateway.web.portal.site import APPS, OPTIONS, PORTAL
from partners.service import Registry
from partners.usage import UsageCount

USAGE_DAYS: Final = 14


@get(f"{APPS}/{{client_id:str}}/usage", **OPTIONS)
async def usage_page(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    registry: NamedDependency[Registry],
    clock: NamedDependency[Clock],
    issuer: NamedDependency[str],
    client_id: FromPath[str],
    days: Annotated[int, QueryParameter(ge=7, le=90)] = USAGE_DAYS,
) -> Response[Any]:
    session = PORTAL.signed_in(request, developers)
    client = own_app(registry, session, client_id)
    until = clock.now().date()
    since = until - timedelta(days=days - 1)
    # The meter of the app's environment writes this worker's buffer before it reads.
    lines = services_in(request, client.app.environment).usage.daily(client.app.client_id, since, until)
    return PORTAL.render(
        "portal_usage.html",
        session=session,
        chart=usage_chart(lines, since, until),
        operations=_operation_table(lines),
        days=days,
        since=since.isoformat(),
        until=until.isoformat(),
        **app_head(client, client.app.environment.issuer(issuer), "usage"),
    )


def _operation_table(lines: Sequence[UsageCount]) -> list[dict[str, Any]]:
    """Totals per API version and operation over the range, busiest first."""
    totals: dict[tuple[str, str], list[int]] = {}
    for line in lines:
        row = totals.setdefault((str(line.api_version), str(line.operation)), [0, 0, 0])
        row[0] += int(line.requests)
        row[1] += int(line.throttled)
        row[2] += int(line.errors)
    return [
        {"api_version": v, "operation": o, "requests": r, "throttled": t, "errors": e}
        for (v, o), (r, t, e) in sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    ]
