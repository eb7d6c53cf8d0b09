"""Wire shapes of usage: one row per day, API version and operation, and the period's totals."""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec

from partners.usage import Tally, UsageCount


class UsageCountOut(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    api_version: str
    operation: str
    requests: int
    throttled: int  # answered 429 (rate limit or business quota)
    errors: int  # answered 4xx or 5xx other than 429

    @classmethod
    def of(cls, count: UsageCount) -> UsageCountOut:
        return cls(
            day=count.day,
            api_version=count.api_version,
            operation=count.operation,
            requests=count.requests,
            throttled=count.throttled,
            errors=count.errors,
        )


class UsageTotalsOut(msgspec.Struct, frozen=True, kw_only=True):
    requests: int
    throttled: int
    errors: int

    @classmethod
    def of(cls, tally: Tally) -> UsageTotalsOut:
        return cls(requests=tally.requests, throttled=tally.throttled, errors=tally.errors)


class UsageReport(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["usage"] = "usage"
    client_id: str
    start: date = msgspec.field(name="from")
    end: date = msgspec.field(name="to")
    totals: UsageTotalsOut
    data: list[UsageCountOut]


class AppUsageCountOut(UsageCountOut, frozen=True, kw_only=True):
    partner_id: str
    client_id: str


class AdminUsageReport(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["usage"] = "usage"
    environment: str
    start: date = msgspec.field(name="from")
    end: date = msgspec.field(name="to")
    totals: UsageTotalsOut
    data: list[AppUsageCountOut]
