"""Shared wire types: strict request structs, money as strings, problem responses for the spec."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from gateway.domain.money import Currency, Money
from gateway.problems import PROBLEM_MEDIA_TYPE, Problem

# Plain decimal strings only: no floats, exponents, NaN, Infinity, signs or more than two decimals.
AMOUNT_PATTERN: Final = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"
Amount = Annotated[str, msgspec.Meta(pattern=AMOUNT_PATTERN, examples=["1000.00"])]
Reference = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:\-]{1,64}$", description="your own reference")
]


class RequestBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body: unknown fields are refused, never silently dropped."""


class MoneyIn(RequestBody):
    amount: Amount
    currency: Currency

    def to_domain(self) -> Money:
        return Money(Decimal(self.amount), self.currency)


class MoneyOut(msgspec.Struct, frozen=True, kw_only=True):
    amount: str
    currency: Currency

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=f"{money.amount:.2f}", currency=money.currency)


def problem_response_spec(description: str) -> ResponseSpec:
    # Litestar fills a ResponseSpec with random polyfactory examples by default: they differ from one
    # app instance to the next, so `gateway openapi --check` would depend on what ran before it.
    return ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description=description,
        generate_examples=False,
    )


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Declare problem+json error responses (so generated SDKs keep the 4xx types)."""
    common = (400, 401, 403, 413, 422, 429)
    return {status: problem_response_spec("RFC 9457 problem") for status in sorted({*common, *statuses})}


PUBLIC_PROBLEMS: Final[dict[int, Any]] = {
    status: problem_response_spec("RFC 9457 problem") for status in (400, 404, 413)
}
