"""Wire format of consents (v1): what a partner app asks a customer for, and what it sees of it.

The view never carries the internal customer id: the partner knows the customer only by the
pairwise `sub` of its delegated tokens (ARCHITECTURE.md, "Identity and tokens").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from gateway.apis.schemas import Amount, RequestBody
from gateway.domain.consent.models import (
    MAX_PURPOSE_LENGTH,
    Consent,
    ConsentLimit,
    ConsentStatus,
    OrderPlacementLimit,
    PointsConversionLimit,
)
from gateway.domain.money import Currency, Money
from gateway.domain.scopes import CUSTOMER_DELEGATED

Permission = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z:\-]{0,63}$", examples=["accounts:read"])]
FundCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,32}$", examples=["F000001"])]
InstrumentTypeName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_]{1,20}$", examples=["ETF"])]
Points = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]


class PointsConversionLimitIn(RequestBody, tag_field="type", tag="points_conversion"):
    """At most `max_points_per_month` points a month into `funds`, `max_points_per_conversion` each."""

    funds: Annotated[list[FundCode], msgspec.Meta(min_length=1, max_length=20)]
    max_points_per_month: Points
    max_points_per_conversion: Points

    def to_domain(self) -> PointsConversionLimit:
        return PointsConversionLimit(
            funds=tuple(self.funds),
            max_points_per_month=self.max_points_per_month,
            max_points_per_conversion=self.max_points_per_conversion,
        )


class OrderPlacementLimitIn(RequestBody, tag_field="type", tag="order_placement"):
    """Orders of at most `max_notional_per_order` (a decimal string), in these instrument types."""

    max_notional_per_order: Amount
    currency: Currency
    instruments: Annotated[list[InstrumentTypeName], msgspec.Meta(min_length=1, max_length=10)]

    def to_domain(self) -> OrderPlacementLimit:
        return OrderPlacementLimit(
            Money(Decimal(self.max_notional_per_order), self.currency), instruments=tuple(self.instruments)
        )


class ConsentIn(RequestBody):
    permissions: Annotated[list[Permission], msgspec.Meta(min_length=1, max_length=len(CUSTOMER_DELEGATED))]
    purpose: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PURPOSE_LENGTH)]
    expires_at: Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with an offset")]
    limits: Annotated[list[PointsConversionLimitIn | OrderPlacementLimitIn], msgspec.Meta(max_length=2)] = (
        msgspec.field(default_factory=list)
    )
    cross_border: bool = False  # ask that the customer's data may go to the partner's region


class PointsConversionLimitOut(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="points_conversion"
):
    funds: list[str]
    max_points_per_month: int
    max_points_per_conversion: int


class OrderPlacementLimitOut(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="order_placement"
):
    max_notional_per_order: str
    currency: Currency
    instruments: list[str]


def _limit(limit: ConsentLimit) -> PointsConversionLimitOut | OrderPlacementLimitOut:
    if isinstance(limit, PointsConversionLimit):
        return PointsConversionLimitOut(
            funds=list(limit.funds),
            max_points_per_month=limit.max_points_per_month,
            max_points_per_conversion=limit.max_points_per_conversion,
        )
    return OrderPlacementLimitOut(
        max_notional_per_order=f"{limit.max_notional_per_order.amount:.2f}",
        currency=limit.max_notional_per_order.currency,
        instruments=[str(kind) for kind in limit.instruments],
    )


class ConsentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["consent"] = "consent"
    status: ConsentStatus
    permissions: list[str]
    purpose: str
    expires_at: datetime
    limits: list[PointsConversionLimitOut | OrderPlacementLimitOut]
    cross_border: bool
    created_at: datetime
    updated_at: datetime
    revoked_by: Literal["customer", "partner"] | None

    @classmethod
    def of(cls, consent: Consent) -> ConsentOut:
        return cls(
            id=consent.id,
            status=consent.status,
            permissions=sorted(str(scope) for scope in consent.permissions),
            purpose=consent.purpose,
            expires_at=consent.expires_at,
            limits=[_limit(limit) for limit in consent.limits],
            cross_border=consent.cross_border,
            created_at=consent.created_at,
            updated_at=consent.updated_at,
            revoked_by=consent.revoked_by,
        )


class ConsentList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[ConsentOut]
    has_more: bool
    next_cursor: str | None
