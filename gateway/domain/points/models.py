"""Valuations, quotes and conversions, and the rules that price points (rule table `RULES`).

Points are whole numbers; money is Decimal to the cent; instants are UTC from the injected clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from gateway.domain.money import CENT, Currency
from gateway.domain.points.errors import InvalidQuoteError, InvalidValuationError

QUOTE_TTL: Final = timedelta(seconds=60)  # DOMAIN.md: a quote locks the valuation and the fund for 60 s
MAX_VALUATION_WINDOW: Final = timedelta(days=366)
MAX_POINTS: Final = 100_000_000  # one valuation or one quote; larger numbers are typing errors
MAX_VALUATION_AMOUNT: Final = Decimal("1000000.00")
DAILY_CAP: Final = 20_000  # PTS-10: points per customer per UTC day, over every partner

RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "PTS-01": "A valuation prices a whole number of points (1 to 100,000,000) at a positive amount of at "
        "most two decimals, for a window [valid_from, valid_until) that starts now or later and lasts "
        "at most 366 days.",
        "PTS-02": "A partner's valuations in one currency never overlap: a new window that overlaps a "
        "published one is refused (409) naming it. Valuations are never edited.",
        "PTS-03": "A quote is priced by the partner's valuation in the fund's currency whose window holds "
        "the quote's instant; without one the quote is refused.",
        "PTS-04": "Cash = points x amount / valuation points, rounded down to the cent. Points taken = the "
        "fewest points that make that cash; points that do not make a whole cent are not taken.",
        "PTS-05": "The cash must reach the fund's minimum subscription (1.00 money-market, 10.00 otherwise).",
        "PTS-06": "A quote fixes valuation, fund, points, cash and dealing day for 60 s; it serves one "
        "conversion, by the customer and app it was made for.",
        "PTS-07": "The dealing day is the fund's: before 15:00 fund market time on a trading day, that "
        "day's NAV, otherwise the next trading day's.",
        "PTS-08": "Suitability is trading's (SUIT-01..06): one level above needs the quote's "
        "acknowledgement token; an unsuitable fund or a restricted account rejects the conversion.",
        "PTS-09": "Consent limit `points_conversion`: the fund's code is among `funds`, the points are at "
        "most `max_points_per_conversion`, and with every other conversion that took points under the "
        "same consent in the same UTC calendar month, at most `max_points_per_month`.",
        "PTS-10": "A customer converts at most 20,000 points per UTC day, over every partner.",
        "PTS-11": "`partner_conversion_id` is unique per partner forever: the same id with the same quote "
        "answers the first conversion; anything else is a 409.",
        "PTS-12": "accepted -> priced once the dealing day's cut-off passed; priced -> allotted once the "
        "fund order is allotted at the NAV (units rounded down to 0.01, the rest stays cash); "
        "allotted -> settled from 00:00 fund market time of the next trading day after the dealing day.",
        "PTS-13": "Within 48 h of acceptance the customer may cool off: before allotment a full reversal "
        "(the cash goes back, the points are returned); after allotment the units are redeemed at the "
        "next NAV with the proceeds to cash, and the points stay converted. Either way: `reversed`.",
        "PTS-14": "Limits (PTS-08..10) are checked inside the trading transaction; a refusal is stored "
        "as `rejected` with its reasons, takes no points and is answered again on a retry.",
    }
)


class ConversionState(StrEnum):
    ACCEPTED = "accepted"  # points taken, cash credited, fund order placed
    PRICED = "priced"  # the dealing day's cut-off passed: its NAV will price the order
    ALLOTTED = "allotted"  # the fund order got its units at the NAV
    SETTLED = "settled"  # the units settled (next trading day after the dealing day)
    REJECTED = "rejected"  # refused by an acceptance check; took no points
    REVERSED = "reversed"  # cooled off within 48 h


TRANSITIONS: Final[Mapping[ConversionState, frozenset[ConversionState]]] = MappingProxyType(
    {
        ConversionState.ACCEPTED: frozenset({ConversionState.PRICED, ConversionState.REVERSED}),
        ConversionState.PRICED: frozenset({ConversionState.ALLOTTED, ConversionState.REVERSED}),
        ConversionState.ALLOTTED: frozenset({ConversionState.SETTLED, ConversionState.REVERSED}),
        ConversionState.SETTLED: frozenset({ConversionState.REVERSED}),
        ConversionState.REJECTED: frozenset(),
        ConversionState.REVERSED: frozenset(),
    }
)


def can_move(source: ConversionState, target: ConversionState) -> bool:
    return target in TRANSITIONS[source]


@dataclass(frozen=True, slots=True)
class Valuation:
    """`points` points are worth `amount` in `currency` within [valid_from, valid_until)."""

    id: str
    partner_id: str
    points: int
    amount: Decimal
    currency: Currency
    valid_from: datetime
    valid_until: datetime
    created_at: datetime

    def __post_init__(self) -> None:
        if not 1 <= self.points <= MAX_POINTS:
            raise InvalidValuationError("points is a whole number from 1 to 100000000", field="points")
        if not self.amount.is_finite() or not 0 < self.amount <= MAX_VALUATION_AMOUNT:
            raise InvalidValuationError("amount must be positive and at most 1000000.00", field="amount")
        if self.amount != self.amount.quantize(CENT):
            raise InvalidValuationError("amount has at most 2 decimals", field="amount")
        if self.valid_until <= self.valid_from:
            raise InvalidValuationError("valid_until must be after valid_from", field="valid_until")
        if self.valid_until - self.valid_from > MAX_VALUATION_WINDOW:
            raise InvalidValuationError("a valuation window lasts at most 366 days", field="valid_until")

    def holds(self, moment: datetime) -> bool:
        return self.valid_from <= moment < self.valid_until

    def overlaps(self, other: Valuation) -> bool:
        return (
            self.currency is other.currency
            and self.valid_from < other.valid_until
            and other.valid_from < self.valid_until
        )


@dataclass(frozen=True, slots=True)
class Pricing:
    """PTS-04: what a number of points is worth, and how many of them that takes."""

    requested: int
    taken: int
    amount: Decimal


def price_points(points: int, valuation: Valuation) -> Pricing:
    """Cash rounded down to the cent; the fewest points that make that cash are taken (PTS-04)."""
    if points <= 0:
        raise InvalidQuoteError("points must be positive", field="points")
    cents_per_unit = int(valuation.amount * 100)  # cents that `valuation.points` points are worth
    cents = points * cents_per_unit // valuation.points
    taken = -(-cents * valuation.points // cents_per_unit)  # ceil: the fewest points for `cents`
    return Pricing(points, taken, (Decimal(cents) * CENT).quantize(CENT, ROUND_DOWN))


@dataclass(frozen=True, slots=True)
class Quote:
    """A price fixed for 60 s: these points of this customer into this fund (PTS-06)."""

    id: str
    partner_id: str
    client_id: str
    customer_id: str
    consent_id: str | None
    valuation_id: str
    instrument_id: str
    fund_code: str
    points_requested: int
    points: int  # taken
    amount: Decimal
    currency: Currency
    minimum_subscription: Decimal
    dealing_day: date
    decision: str  # the suitability decision: suitable, requires_acknowledgement, unsuitable
    disclosures: tuple[str, ...]  # what must be acknowledged (with the token) before converting
    created_at: datetime
    expires_at: datetime

    def expired(self, moment: datetime) -> bool:
        return moment >= self.expires_at


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a conversion was rejected: machine-readable code, the rule, a sentence and its inputs."""

    code: str
    rule: str
    message: str
    inputs: Mapping[str, object] = field(default_factory=dict)

    def as_document(self) -> dict[str, object]:
        return {"code": self.code, "rule": self.rule, "message": self.message, "inputs": dict(self.inputs)}


@dataclass(frozen=True, slots=True)
class Conversion:
    """Points of one customer turned into cash and one fund subscription, exactly once."""

    id: str
    partner_id: str
    client_id: str
    partner_conversion_id: str
    customer_id: str
    consent_id: str | None
    quote_id: str
    valuation_id: str
    instrument_id: str
    fund_code: str
    currency: Currency
    points: int  # taken from the customer's points (none when rejected)
    amount: Decimal  # cash credited
    state: ConversionState
    dealing_day: date
    created_at: datetime
    updated_at: datetime
    cooling_off_until: datetime | None = None
    order_id: str | None = None  # the fund subscription
    account_id: str | None = None
    units: Decimal = Decimal(0)  # allotted
    nav: Decimal | None = None
    fees: Decimal = Decimal(0)
    cash_remainder: Decimal = Decimal(0)  # amount - fees - units x NAV: stays as cash
    points_returned: int = 0  # PTS-13: all of `points` after a reversal before allotment
    redemption_order_id: str | None = None  # PTS-13: the redemption after allotment
    reasons: tuple[Reason, ...] = ()

    @property
    def points_converted(self) -> int:
        """Points that became the customer's cash and stayed so (see reconciliation.py)."""
        return 0 if self.state is ConversionState.REJECTED else self.points - self.points_returned
