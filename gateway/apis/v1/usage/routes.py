"""The calling app's own usage (partner-own token with `reports:read`; ADR 0012)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Final

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.usage.schemas import UsageCountOut, UsageReport, UsageTotalsOut
from gateway.domain.clock import Clock
from gateway.domain.errors import RuleViolationError
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.edge.metering import UsageMeter
from gateway.services import PrincipalDep
from partners.usage import MAX_RANGE_DAYS, totals

DEFAULT_DAYS: Final = 30
# Usage is counted from the platform's first day; far dates are refused, not computed into overflow.
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)
_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Dates arrive as text and are read here, so that a bad one is refused naming the wire field
# (`from`, a Python keyword, cannot be the parameter's own name).
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        required=False,
        schema_extra={"format": "date"},
        description="First UTC day, YYYY-MM-DD (default: 29 days before `to`)",
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to",
        required=False,
        schema_extra={"format": "date"},
        description="Last UTC day (default: today)",
    ),
]


def _day(value: str | None, field: str) -> date | None:
    """A UTC day spelt exactly YYYY-MM-DD (no week dates or compact forms) in the modelled years."""
    if value is None:
        return None
    try:
        if _DAY.fullmatch(value) is None:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise RuleViolationError(f"`{field}` must be a date as YYYY-MM-DD", field=field) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise RuleViolationError(f"`{field}` must lie between {FIRST_DAY} and {LAST_DAY}", field=field)
    return day


def usage_period(today: date, start: str | None, end: str | None) -> tuple[date, date]:
    """`from` and `to`, both included: at most MAX_RANGE_DAYS days, `from` not after `to`."""
    last = _day(end, "to") or today
    first = _day(start, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise RuleViolationError("`from` must be on or before `to`", field="from")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise RuleViolationError(f"a usage period covers at most {MAX_RANGE_DAYS} days", field="from")
    return first, last


class UsageController(Controller):
    path = "/v1/usage"
    tags = ["usage"]

    @get(
        operation_id="getUsage",
        summary="This app's calls per UTC day, API version and operation, with 429s and errors",
        description=(
            "Counts every authenticated call of the app in this environment, including the ones the "
            "rate limit or a business quota refused. Other workers' latest counts can take a few "
            "seconds to appear; this call itself is counted after it answers."
        ),
        responses=problems(
            rules=(Rule("rule-violation", "`from` is after `to` or the period covers more than 366 days"),)
        ),
        **requires(Scope.REPORTS_READ),
    )
    async def get_usage(
        self,
        usage: NamedDependency[UsageMeter],
        clock: NamedDependency[Clock],
        principal: PrincipalDep,
        start: From = None,
        end: To = None,
    ) -> UsageReport:
        first, last = usage_period(clock.now().date(), start, end)
        counts = usage.daily(principal.client_id, first, last)
        return UsageReport(
            client_id=principal.client_id,
            start=first,
            end=last,
            totals=UsageTotalsOut.of(totals(counts)),
            data=[UsageCountOut.of(count) for count in counts],
        )
