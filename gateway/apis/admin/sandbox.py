"""Staff API (production control plane, read only): each partner's sandbox cohort and its caps.

The report's rules live in sandbox/supervision.py; this module is its wire format: the summary list,
one partner's report, and its export as CSV (one row per day and metric) or JSON (the report).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference
from litestar.params import PathParameter, QueryParameter

from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.usage.routes import From, To
from gateway.domain.compliance.surveillance import Severity
from gateway.domain.money import Currency
from gateway.domain.points.models import ConversionState
from gateway.domain.scopes import Scope
from gateway.domain.trading.models import OrderStatus
from gateway.edge.access import staff
from sandbox.supervision import (
    CUSTOMERS_CAP,
    EXPOSURE_CAP,
    Breach,
    CohortReport,
    DayActivity,
    SandboxCaps,
    SandboxCohorts,
    metric_days,
    parse_day,
)

PartnerId = Annotated[str, PathParameter(max_length=40)]
ExportFormat = Annotated[
    Literal["csv", "json"],
    QueryParameter(
        name="format",
        description=(
            "`csv`: one row per day and metric (RFC 4180); `json`: the report as adminGetSandboxCohort"
        ),
        required=True,
    ),
]
PERIOD_RULE: Final = Rule(
    "rule-violation",
    "`from` or `to` is not a date as YYYY-MM-DD, `from` is after `to`, or the period covers more "
    "than 366 days",
)
REPORT_SCHEMA: Final = "SandboxCohortReport"
CSV_COLUMNS: Final = ("partner_id", "day", "metric", "value", "cap", "excess")
CapName = Literal["daily_customers", "daily_exposure"]


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


class CohortCapsOut(msgspec.Struct, frozen=True, kw_only=True):
    """What one partner may do in the sandbox per UTC day, over all its sandbox apps."""

    daily_customers: int
    daily_exposure: str
    currency: Currency

    @classmethod
    def of(cls, caps: SandboxCaps) -> CohortCapsOut:
        return cls(
            daily_customers=caps.daily_customers,
            daily_exposure=_money(caps.daily_exposure),
            currency=caps.currency,
        )


class CohortCallsOut(msgspec.Struct, frozen=True, kw_only=True):
    calls: int  # every metered call
    errors: int  # answered 4xx or 5xx other than 429
    throttled: int  # answered 429


class CohortOrderLineOut(msgspec.Struct, frozen=True, kw_only=True):
    status: OrderStatus
    currency: Currency
    orders: int
    notional: str  # what the orders would trade, in `currency`


class CohortConversionLineOut(msgspec.Struct, frozen=True, kw_only=True):
    state: ConversionState
    conversions: int
    points: int


class CohortAlertLineOut(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    severity: Severity
    alerts: int


class CohortWebhooksOut(msgspec.Struct, frozen=True, kw_only=True):
    deliveries: int
    failed: int  # the last attempt failed; another is scheduled
    dead: int  # out of attempts


class CohortComplaintsOut(msgspec.Struct, frozen=True, kw_only=True):
    """Complaints are not recorded by the platform: no count is given, rather than a false zero."""

    recorded: Literal[False] = False
    detail: str


class CohortBreachOut(msgspec.Struct, frozen=True, kw_only=True):
    cap: CapName
    day: date
    limit: str
    value: str
    excess: str
    unit: str  # "customers", or the currency of the exposure

    @classmethod
    def of(cls, breach: Breach) -> CohortBreachOut:
        money = breach.cap == EXPOSURE_CAP
        show = _money if money else (lambda v: str(int(v)))
        return cls(
            cap=EXPOSURE_CAP if money else CUSTOMERS_CAP,
            day=breach.day,
            limit=show(breach.limit),
            value=show(breach.value),
            excess=show(breach.excess),
            unit=breach.unit,
        )


class CohortDayOut(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    calls: int
    errors: int
    throttled: int
    orders: int
    exposure: str  # in CNY
    customers: int

    @classmethod
    def of(cls, day: DayActivity) -> CohortDayOut:
        return cls(
            day=day.day,
            calls=day.calls,
            errors=day.errors,
            throttled=day.throttled,
            orders=day.orders,
            exposure=_money(day.exposure),
            customers=day.customers,
        )


class SandboxCohortReport(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["sandbox_cohort"] = "sandbox_cohort"
    partner_id: str
    partner_name: str | None
    stage: str | None
    start: date
    end: date
    calls: CohortCallsOut
    consents: dict[str, int]  # by status
    orders: list[CohortOrderLineOut]
    exposure: str  # the period's exposure, in `caps.currency`
    conversions: list[CohortConversionLineOut]
    alerts: list[CohortAlertLineOut]
    webhooks: CohortWebhooksOut
    customers: int  # distinct customers served in the period
    complaints: CohortComplaintsOut
    caps: CohortCapsOut
    breaches: list[CohortBreachOut]
    days: list[CohortDayOut]

    @classmethod
    def of(cls, report: CohortReport) -> SandboxCohortReport:
        return cls(
            partner_id=report.partner_id,
            partner_name=report.partner_name,
            stage=report.stage,
            start=report.period.first,
            end=report.period.last,
            calls=CohortCallsOut(
                calls=report.calls.requests, errors=report.calls.errors, throttled=report.calls.throttled
            ),
            consents=dict(report.consents),
            orders=[
                CohortOrderLineOut(
                    status=OrderStatus(line.status),
                    currency=Currency(line.currency),
                    orders=line.orders,
                    notional=_money(line.notional),
                )
                for line in report.orders
            ],
            exposure=_money(report.exposure),
            conversions=[
                CohortConversionLineOut(
                    state=ConversionState(line.state), conversions=line.conversions, points=line.points
                )
                for line in report.conversions
            ],
            alerts=[
                CohortAlertLineOut(rule=line.rule, severity=Severity(line.severity), alerts=line.alerts)
                for line in report.alerts
            ],
            webhooks=CohortWebhooksOut(
                deliveries=report.webhooks.deliveries,
                failed=report.webhooks.failed,
                dead=report.webhooks.dead,
            ),
            customers=report.customers,
            complaints=CohortComplaintsOut(detail=report.complaints),
            caps=CohortCapsOut.of(report.caps),
            breaches=[CohortBreachOut.of(breach) for breach in report.breaches],
            days=[CohortDayOut.of(day) for day in report.days],
        )


class SandboxCohortSummary(msgspec.Struct, frozen=True, kw_only=True):
    partner_id: str
    partner_name: str | None
    stage: str | None
    calls: int
    errors: int
    throttled: int
    orders: int
    exposure: str  # in CNY
    customers: int
    alerts: int
    webhooks_failed: int
    webhooks_dead: int
    breaches: int

    @classmethod
    def of(cls, report: CohortReport) -> SandboxCohortSummary:
        return cls(
            partner_id=report.partner_id,
            partner_name=report.partner_name,
            stage=report.stage,
            calls=report.calls.requests,
            errors=report.calls.errors,
            throttled=report.calls.throttled,
            orders=report.order_count,
            exposure=_money(report.exposure),
            customers=report.customers,
            alerts=report.alert_count,
            webhooks_failed=report.webhooks.failed,
            webhooks_dead=report.webhooks.dead,
            breaches=len(report.breaches),
        )


class SandboxCohortList(msgspec.Struct, frozen=True, kw_only=True):
    start: date
    end: date
    caps: CohortCapsOut
    data: list[SandboxCohortSummary]  # the most breaches first, then the largest exposure


def cohort_csv(report: CohortReport) -> str:
    """RFC 4180 (CRLF, one header): one record per day of the period and metric; `cap` on the capped
    metrics, `excess` on a breached day."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in metric_days(report):
        writer.writerow(
            (report.partner_id, row.day.isoformat(), row.metric, _cell(row.value), _cell(row.cap),
             _cell(row.excess))
        )  # fmt: skip
    return buffer.getvalue()


def _cell(value: int | Decimal | None) -> str:
    if value is None:
        return ""
    return _money(value) if isinstance(value, Decimal) else str(value)


def cohort_export(report: CohortReport, export_format: Literal["csv", "json"]) -> Response[bytes]:
    """The report as a download, for the API and the supervisor console alike."""
    name = f"sandbox-cohort-{report.partner_id}-{report.period.first}-{report.period.last}"
    if export_format == "csv":
        body, media_type = cohort_csv(report).encode(), "text/csv"  # Litestar adds the charset
    else:
        body, media_type = msgspec.json.encode(SandboxCohortReport.of(report)), "application/json"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{export_format}"'},
    )


@dataclass
class ExportOperation(Operation):
    """The export answers CSV or, with `format=json`, the report's JSON: the spec says both."""

    def __post_init__(self) -> None:
        success = (self.responses or {}).get("200")
        content = getattr(success, "content", None)
        if content is not None:
            content["application/json"] = OpenAPIMediaType(
                schema=Reference(ref=f"#/components/schemas/{REPORT_SCHEMA}")
            )


class SandboxCohortsController(Controller):
    path = "/admin/sandbox/cohorts"
    tags = ["admin"]

    @get(
        operation_id="adminListSandboxCohorts",
        summary="Every partner with sandbox activity in the period, with its totals and cap breaches",
        description=(
            "Calls, errors and 429s from the usage counters; orders, exposure in CNY, distinct "
            "customers, surveillance alerts and failed webhook deliveries of each partner's sandbox "
            "apps, per UTC day from `from` to `to` (default: the last 30 days). The rules: "
            "docs/sandbox/supervision.md."
        ),
        responses=problems(rules=(PERIOD_RULE,)),
        sync_to_thread=True,  # a year of a busy sandbox is many rows to read and add up
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    def list_cohorts(
        self, sandbox_cohorts: NamedDependency[SandboxCohorts], start: From = None, end: To = None
    ) -> SandboxCohortList:
        period = sandbox_cohorts.period(parse_day(start, "from"), parse_day(end, "to"))
        return SandboxCohortList(
            start=period.first,
            end=period.last,
            caps=CohortCapsOut.of(sandbox_cohorts.caps),
            data=[SandboxCohortSummary.of(report) for report in sandbox_cohorts.cohorts(period)],
        )

    @get(
        "/{partner_id:str}",
        operation_id="adminGetSandboxCohort",
        summary="One partner's sandbox cohort over the period: its numbers per day and its cap breaches",
        description=(
            "Consents by status, orders by status with their notional by currency, points "
            "conversions by state, surveillance alerts by rule and severity, webhook deliveries "
            "failed and dead, distinct customers served, and every day above a sandbox cap. "
            "Complaints are not recorded by the platform and say so."
        ),
        responses=problems(404, rules=(PERIOD_RULE,)),
        sync_to_thread=True,
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    def get_cohort(
        self,
        partner_id: PartnerId,
        sandbox_cohorts: NamedDependency[SandboxCohorts],
        start: From = None,
        end: To = None,
    ) -> SandboxCohortReport:
        period = sandbox_cohorts.period(parse_day(start, "from"), parse_day(end, "to"))
        return SandboxCohortReport.of(sandbox_cohorts.report(partner_id, period))

    @get(
        "/{partner_id:str}/export",
        operation_id="adminExportSandboxCohort",
        summary="One partner's sandbox cohort as a download: CSV, one row per day and metric, or JSON",
        media_type="text/csv",
        responses=problems(404, rules=(PERIOD_RULE,)),
        operation_class=ExportOperation,
        sync_to_thread=True,
        **staff(Scope.ADMIN_COMPLIANCE),
    )
    def export_cohort(
        self,
        partner_id: PartnerId,
        sandbox_cohorts: NamedDependency[SandboxCohorts],
        format: ExportFormat,  # the wire name, so that a refusal names it
        start: From = None,
        end: To = None,
    ) -> Response[bytes]:
        period = sandbox_cohorts.period(parse_day(start, "from"), parse_day(end, "to"))
        return cohort_export(sandbox_cohorts.report(partner_id, period), format)
