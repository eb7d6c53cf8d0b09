"""Shared wire types: strict request structs, money as strings, problem responses for the spec."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Final

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from gateway.domain.money import Currency, Money
from gateway.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, Problem

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


UNPROCESSABLE: Final = 422


@dataclass(frozen=True, slots=True)
class Rule:
    """A check beyond the schema that answers 422: the problem type it sends and when."""

    slug: str
    when: str

    def __post_init__(self) -> None:
        if PROBLEM_TYPES[self.slug].status != UNPROCESSABLE:
            raise ValueError(f"problem type {self.slug!r} is not a 422")

    def describe(self) -> str:
        return f"`{self.slug}` when {self.when}"


PROBLEM_DESCRIPTION: Final = "RFC 9457 problem"
# JSON Schema counts `5.0` as the integer 5 (2020-12 §6.1.1); msgspec, like most typed readers,
# takes only `5`. No schema keyword can say so, hence the sentence.
SCHEMA_RULE: Final = Rule(
    "validation-failed",
    "the request does not match this schema, or spells an integer with a fraction or exponent "
    "(`5.0`, `5e0`); `errors` names the fields",
)


def unprocessable_description(rules: Sequence[Rule]) -> str:
    """The 422 answer's description: every schema-valid request it can still refuse, by problem type."""
    lines = [f"- {rule.describe()}" for rule in (SCHEMA_RULE, *rules)]
    return "\n".join([f"{PROBLEM_DESCRIPTION}, one of:", *lines])


def problems(*statuses: int, rules: Sequence[Rule] = ()) -> dict[int, ResponseSpec]:
    """Declare problem+json error responses (so generated SDKs keep the 4xx types).

    `rules` names the checks beyond the schema that answer 422, so that an SDK (and schemathesis)
    knows which schema-valid requests the operation still refuses.
    """
    common = (400, 401, 403, 413, UNPROCESSABLE, 429)
    return {
        status: problem_response_spec(
            unprocessable_description(rules) if status == UNPROCESSABLE else PROBLEM_DESCRIPTION
        )
        for status in sorted({*common, *statuses})
    }


PUBLIC_PROBLEMS: Final[dict[int, Any]] = {
    status: problem_response_spec(PROBLEM_DESCRIPTION) for status in (400, 404, 413)
}
