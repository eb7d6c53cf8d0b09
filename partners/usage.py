"""Usage metering's vocabulary and rules: what one call counts as, and how counts add up (ADR 0012).

Rule table (pinned by tests/gateway/edge/test_metering.py):

| Rule | Decision |
| --- | --- |
| what is metered | every call that passed authentication, so it has an app: the app is who pays |
| not metered | calls the authentication middleware refuses (401; 403 for a missing scope), public routes |
| `requests` | every metered call, whatever its outcome |
| `throttled` | metered calls answered 429: the plan's rate limit or a business quota |
| `errors` | metered calls answered 4xx or 5xx other than 429 (`throttled` and `errors` never overlap) |
| `day` | the UTC day of the injected clock when the answer left |
| `api_version` | the route's first path segment: `v1`, or `admin` for staff APIs |
| `operation` | the route's `operation_id` (the handler's name where it has none) |
| environment | each environment meters into its own database (`/sandbox` vs the root) |
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

THROTTLED: Final = 429
MAX_RANGE_DAYS: Final = 366  # one read covers at most a year of days
_VERSION: Final = re.compile(r"^/([A-Za-z0-9_-]{1,16})(?:/|$)")


@dataclass(frozen=True, slots=True)
class UsageCount:
    """One app's calls on one day to one operation of one API version."""

    day: date
    api_version: str
    operation: str
    requests: int
    throttled: int
    errors: int


@dataclass(frozen=True, slots=True)
class UsageKey:
    """What one counter row is about (the environment is the database it lives in)."""

    client_id: str
    partner_id: str
    day: date
    api_version: str
    operation: str


@dataclass(frozen=True, slots=True)
class Tally:
    requests: int = 0
    throttled: int = 0
    errors: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.requests + other.requests, self.throttled + other.throttled, self.errors + other.errors
        )


def outcome(status: int) -> Tally:
    """What one answered call adds: always a request; a 429 is throttled, another 4xx/5xx an error."""
    if status == THROTTLED:
        return Tally(requests=1, throttled=1)
    return Tally(requests=1, errors=1 if status >= 400 else 0)


def api_version_of(path_template: str) -> str:
    """`/v1/orders/{order_id:str}` -> `v1`; `/admin/usage` -> `admin`; anything else -> `other`."""
    match = _VERSION.match(path_template)
    return match.group(1) if match else "other"


def totals(counts: Iterable[UsageCount]) -> Tally:
    result = Tally()
    for count in counts:
        result += Tally(count.requests, count.throttled, count.errors)
    return result
