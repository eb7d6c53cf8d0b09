"""The supervisor console's sandbox pages: every partner's sandbox cohort, and one partner's numbers
per day with its cap breaches, two charts and the CSV and JSON downloads.

Read only: any officer reads them (a compliance officer and a supervisor alike), so there is no
form to post and no CSRF token to check. The rules of the numbers: sandbox/supervision.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from markupsafe import Markup

from gateway.apis.admin.sandbox import cohort_export
from gateway.auth.staff import StaffLogin, StaffSession
from gateway.domain.errors import NotFoundError
from gateway.web.console import DetourError
from gateway.web.portal.chart import THROTTLED_COLOUR, UsageChart, usage_chart
from gateway.web.supervisor import BASE, OPTIONS, STAFF
from sandbox.supervision import (
    CUSTOMERS_CAP,
    EXPOSURE_CAP,
    Breach,
    CohortReport,
    InvalidPeriodError,
    Period,
    SandboxCohorts,
    parse_day,
)

SANDBOX: Final = f"{BASE}/sandbox"
ANSWERED: Final = "calls without error"
ERRORS: Final = "errors (4xx/5xx, not 429)"
ORDERS: Final = "orders"
ExportFormat = Annotated[Literal["csv", "json"], QueryParameter(name="format")]


@dataclass(frozen=True, slots=True)
class ChartLine:
    """One day's count of one series, as the usage chart reads it."""

    day: date
    operation: str
    requests: int
    throttled: int = 0


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _query(period: Period, **more: str) -> str:
    return urlencode({"from": period.first.isoformat(), "to": period.last.isoformat(), **more})


def _period(cohorts: SandboxCohorts, session: StaffSession, first: str | None, last: str | None) -> Period:
    try:
        return cohorts.period(parse_day(first, "from"), parse_day(last, "to"))
    except InvalidPeriodError as exc:
        raise DetourError(STAFF.message("Not a period", exc.detail, status=422, session=session)) from None


def _report(cohorts: SandboxCohorts, session: StaffSession, partner_id: str, period: Period) -> CohortReport:
    try:
        return cohorts.report(partner_id, period)
    except NotFoundError:
        raise DetourError(
            STAFF.message("Not found", "There is no such partner.", status=404, session=session)
        ) from None


def _titled(chart: UsageChart, key: str, title: str, description: str, unit: str) -> Markup:
    """The usage chart's SVG under its own ids, title, description and unit, so that two charts can
    share a page and each says what it counts."""
    svg = str(chart.svg)
    replaced = 0
    for pattern, replacement in (
        (r'data-testid="usage-chart"', f'data-testid="{key}"'),
        (
            r'aria-labelledby="usage-chart-title usage-chart-desc"',
            f'aria-labelledby="{key}-title {key}-desc"',
        ),
        (r'<title id="usage-chart-title">[^<]*</title>', f'<title id="{key}-title">{escape(title)}</title>'),
        (r'<desc id="usage-chart-desc">[^<]*</desc>', f'<desc id="{key}-desc">{escape(description)}</desc>'),
    ):
        svg, count = re.subn(pattern, replacement, svg)
        replaced += count
    if replaced != 4:  # the chart's markup changed: fail loudly rather than draw a mislabelled chart
        raise RuntimeError("the usage chart's markup is not the one this page retitles")
    return Markup(svg.replace(" requests</title>", f" {escape(unit)}</title>"))  # noqa: S704 (escaped above)


def _legend(chart: UsageChart) -> list[tuple[str, str]]:
    return [(series.colour, series.name) for series in chart.series]


def _calls_chart(report: CohortReport) -> tuple[Markup, list[tuple[str, str]]]:
    lines = [
        line
        for day in report.days
        for line in (
            ChartLine(day.day, ANSWERED, day.calls - day.errors, day.throttled),
            ChartLine(day.day, ERRORS, day.errors),
        )
    ]
    chart = usage_chart(lines, report.period.first, report.period.last)
    calls = report.calls
    svg = _titled(
        chart,
        "calls-chart",
        "Calls per day: without error, errors, and throttled (429)",
        f"{calls.requests} calls, {calls.errors} errors and {calls.throttled} throttled (429) "
        f"from {report.period.first} to {report.period.last}; the table below lists each day.",
        "calls",
    )
    return svg, [*_legend(chart), (THROTTLED_COLOUR, "throttled (429), beside each day's calls")]


def _orders_chart(report: CohortReport) -> tuple[Markup, list[tuple[str, str]]]:
    lines = [ChartLine(day.day, ORDERS, day.orders) for day in report.days]
    chart = usage_chart(lines, report.period.first, report.period.last)
    svg = _titled(
        chart,
        "orders-chart",
        "Orders per day",
        f"{report.order_count} orders from {report.period.first} to {report.period.last}; "
        "the table below lists each day.",
        "orders",
    )
    return svg, _legend(chart)


def _breach_line(breach: Breach) -> dict[str, str]:
    """A breach as a sentence's parts: what the day did, the cap, and by how much it went over."""
    if breach.cap == EXPOSURE_CAP:
        value, limit, excess = (
            f"{_money(amount)} {breach.unit}" for amount in (breach.value, breach.limit, breach.excess)
        )
        what = f"exposure of {value}"
    else:
        value, limit, excess = (str(int(n)) for n in (breach.value, breach.limit, breach.excess))
        what = f"{value} distinct customers"
    return {"day": breach.day.isoformat(), "what": what, "limit": limit, "excess": excess}


@get(SANDBOX, sync_to_thread=True, **OPTIONS)
def cohort_list(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    sandbox_cohorts: NamedDependency[SandboxCohorts],
    first: Annotated[str | None, QueryParameter(name="from", required=False, max_length=10)] = None,
    last: Annotated[str | None, QueryParameter(name="to", required=False, max_length=10)] = None,
) -> Response[Any]:
    session = STAFF.signed_in(request, staff)
    period = _period(sandbox_cohorts, session, first, last)
    reports = sandbox_cohorts.cohorts(period)
    caps = sandbox_cohorts.caps
    return STAFF.render(
        "supervisor_sandbox.html",
        session=session,
        start=period.first.isoformat(),
        end=period.last.isoformat(),
        query=_query(period),
        caps={"customers": caps.daily_customers, "exposure": _money(caps.daily_exposure)},
        currency=caps.currency.value,
        cohorts=[
            {
                "partner_id": r.partner_id,
                "name": r.partner_name or "(not in the registry)",
                "stage": r.stage or "",
                "calls": r.calls.requests,
                "errors": r.calls.errors,
                "throttled": r.calls.throttled,
                "orders": r.order_count,
                "exposure": _money(r.exposure),
                "customers": r.customers,
                "alerts": r.alert_count,
                "webhooks": r.webhooks.failed + r.webhooks.dead,
                "breaches": len(r.breaches),
            }
            for r in reports
        ],
    )


@get(f"{SANDBOX}/{{partner_id:str}}", sync_to_thread=True, **OPTIONS)
def cohort_page(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    sandbox_cohorts: NamedDependency[SandboxCohorts],
    partner_id: FromPath[str],
    first: Annotated[str | None, QueryParameter(name="from", required=False, max_length=10)] = None,
    last: Annotated[str | None, QueryParameter(name="to", required=False, max_length=10)] = None,
) -> Response[Any]:
    session = STAFF.signed_in(request, staff)
    period = _period(sandbox_cohorts, session, first, last)
    report = _report(sandbox_cohorts, session, partner_id, period)
    breached = {(b.cap, b.day) for b in report.breaches}
    calls_chart, calls_legend = _calls_chart(report)
    orders_chart, orders_legend = _orders_chart(report)
    return STAFF.render(
        "supervisor_sandbox_partner.html",
        session=session,
        partner={"id": report.partner_id, "name": report.partner_name or report.partner_id},
        stage=report.stage or "",
        start=period.first.isoformat(),
        end=period.last.isoformat(),
        query=_query(period),
        currency=report.caps.currency.value,
        caps={"customers": report.caps.daily_customers, "exposure": _money(report.caps.daily_exposure)},
        totals={
            "calls": report.calls.requests,
            "errors": report.calls.errors,
            "throttled": report.calls.throttled,
            "orders": report.order_count,
            "exposure": _money(report.exposure),
            "customers": report.customers,
            "alerts": report.alert_count,
        },
        breaches=[_breach_line(b) for b in report.breaches],
        consents=list(report.consents.items()),
        orders=[
            {"status": o.status, "currency": o.currency, "orders": o.orders, "notional": _money(o.notional)}
            for o in report.orders
        ],
        conversions=report.conversions,
        alerts=report.alerts,
        webhooks=report.webhooks,
        complaints=report.complaints,
        days=[
            {
                "day": d.day.isoformat(),
                "calls": d.calls,
                "errors": d.errors,
                "throttled": d.throttled,
                "orders": d.orders,
                "exposure": _money(d.exposure),
                "customers": d.customers,
                "exposure_breach": (EXPOSURE_CAP, d.day) in breached,
                "customers_breach": (CUSTOMERS_CAP, d.day) in breached,
            }
            for d in report.days
        ],
        calls_chart=calls_chart,
        calls_legend=calls_legend,
        orders_chart=orders_chart,
        orders_legend=orders_legend,
    )


@get(f"{SANDBOX}/{{partner_id:str}}/export", sync_to_thread=True, **OPTIONS)
def cohort_download(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    sandbox_cohorts: NamedDependency[SandboxCohorts],
    partner_id: FromPath[str],
    format: ExportFormat,
    first: Annotated[str | None, QueryParameter(name="from", required=False, max_length=10)] = None,
    last: Annotated[str | None, QueryParameter(name="to", required=False, max_length=10)] = None,
) -> Response[Any]:
    session = STAFF.signed_in(request, staff)
    period = _period(sandbox_cohorts, session, first, last)
    download = cohort_export(_report(sandbox_cohorts, session, partner_id, period), format)
    download.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
    return download


ROUTES: Final = [cohort_list, cohort_page, cohort_download]
