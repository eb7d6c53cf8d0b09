"""Wire shapes of points conversions: points are integers, money travels as decimal strings."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from gateway.apis.schemas import Amount, RequestBody
from gateway.domain.compliance.suitability import Decision
from gateway.domain.money import Currency
from gateway.domain.points.models import Conversion, ConversionState, Valuation
from gateway.domain.points.reconciliation import Reconciliation
from gateway.domain.points.service import ConversionRequest, QuoteResult

Points = Annotated[int, msgspec.Meta(ge=1, le=100_000_000, examples=[1000])]
Moment = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with an offset")]
InstrumentId = Annotated[str, msgspec.Meta(pattern=r"^ins_[a-z0-9]{10}$")]
QuoteId = Annotated[str, msgspec.Meta(pattern=r"^pqt_[0-9a-f]{20}$")]
PartnerConversionId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._:\-]{1,64}$",
        description="Your id for the conversion, unique per partner forever: sending it again returns "
        "the first conversion.",
    ),
]
AcknowledgementToken = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^ack1\.[A-Za-z0-9_-]{1,1500}\.[A-Za-z0-9_-]{43}$",
        description="The quote's token: the customer acknowledged the disclosures it names.",
    ),
]


class ValuationIn(RequestBody):
    points: Points
    amount: Amount
    currency: Currency
    valid_until: Moment
    valid_from: Moment | None = None  # default: now


class ValuationOut(msgspec.Struct, frozen=True, kw_only=True):
    valuation_id: str
    points: int
    amount: str
    currency: Currency
    valid_from: datetime
    valid_until: datetime
    created_at: datetime

    @classmethod
    def of(cls, valuation: Valuation) -> ValuationOut:
        return cls(
            valuation_id=valuation.id,
            points=valuation.points,
            amount=_money(valuation.amount),
            currency=valuation.currency,
            valid_from=valuation.valid_from,
            valid_until=valuation.valid_until,
            created_at=valuation.created_at,
        )


class ValuationList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[ValuationOut]


class QuoteIn(RequestBody):
    instrument_id: InstrumentId
    points: Points


class ReasonOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    rule: str
    message: str


class QuoteOut(msgspec.Struct, frozen=True, kw_only=True):
    quote_id: str
    instrument_id: str
    fund_code: str
    valuation_id: str
    points_requested: int
    points: int  # taken
    points_not_taken: int
    amount: str
    currency: str
    minimum_subscription: str
    dealing_day: date
    cut_off: datetime
    suitability: Decision
    suitability_reasons: list[ReasonOut]
    required_acknowledgements: list[str]
    acknowledgement_token: str | None
    expires_at: datetime

    @classmethod
    def of(cls, result: QuoteResult) -> QuoteOut:
        quote = result.quote
        return cls(
            quote_id=quote.id,
            instrument_id=quote.instrument_id,
            fund_code=quote.fund_code,
            valuation_id=quote.valuation_id,
            points_requested=quote.points_requested,
            points=quote.points,
            points_not_taken=quote.points_requested - quote.points,
            amount=_money(quote.amount),
            currency=quote.currency.value,
            minimum_subscription=_money(quote.minimum_subscription),
            dealing_day=quote.dealing_day,
            cut_off=result.cut_off,
            suitability=result.suitability.decision,
            suitability_reasons=[
                ReasonOut(code=r.code, rule=r.rule, message=r.message) for r in result.suitability.reasons
            ],
            required_acknowledgements=list(quote.disclosures),
            acknowledgement_token=result.acknowledgement_token,
            expires_at=quote.expires_at,
        )


class ConversionIn(RequestBody):
    partner_conversion_id: PartnerConversionId
    quote_id: QuoteId
    acknowledgement_token: AcknowledgementToken | None = None

    def to_domain(self) -> ConversionRequest:
        return ConversionRequest(self.partner_conversion_id, self.quote_id, self.acknowledgement_token)


class ConversionOut(msgspec.Struct, frozen=True, kw_only=True):
    conversion_id: str
    partner_conversion_id: str
    quote_id: str
    state: ConversionState
    instrument_id: str
    fund_code: str
    currency: str
    points: int
    points_returned: int
    amount: str
    units: str
    nav: str | None
    fees: str
    cash_remainder: str
    dealing_day: date
    order_id: str | None
    redemption_order_id: str | None
    cooling_off_until: datetime | None
    reasons: list[ReasonOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, conversion: Conversion) -> ConversionOut:
        return cls(
            conversion_id=conversion.id,
            partner_conversion_id=conversion.partner_conversion_id,
            quote_id=conversion.quote_id,
            state=conversion.state,
            instrument_id=conversion.instrument_id,
            fund_code=conversion.fund_code,
            currency=conversion.currency.value,
            points=conversion.points,
            points_returned=conversion.points_returned,
            amount=_money(conversion.amount),
            units=str(conversion.units),
            nav=None if conversion.nav is None else str(conversion.nav),
            fees=_money(conversion.fees),
            cash_remainder=_money(conversion.cash_remainder),
            dealing_day=conversion.dealing_day,
            order_id=conversion.order_id,
            redemption_order_id=conversion.redemption_order_id,
            cooling_off_until=conversion.cooling_off_until,
            reasons=[ReasonOut(code=r.code, rule=r.rule, message=r.message) for r in conversion.reasons],
            created_at=conversion.created_at,
            updated_at=conversion.updated_at,
        )


class ConversionList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[ConversionOut]
    has_more: bool
    next_cursor: str | None


class StateLineOut(msgspec.Struct, frozen=True, kw_only=True):
    state: ConversionState
    currency: str
    count: int
    points: int
    points_returned: int
    amount: str
    units: str
    cash_remainder: str


class ReconciliationOut(msgspec.Struct, frozen=True, kw_only=True):
    date: date
    lines: list[StateLineOut]
    points_taken: int
    points_converted: int
    points_returned: int
    points_rejected: int
    balanced: bool

    @classmethod
    def of(cls, report: Reconciliation) -> ReconciliationOut:
        return cls(
            date=report.day,
            lines=[
                StateLineOut(
                    state=line.state,
                    currency=line.currency,
                    count=line.count,
                    points=line.points,
                    points_returned=line.points_returned,
                    amount=_money(line.amount),
                    units=str(line.units),
                    cash_remainder=_money(line.cash_remainder),
                )
                for line in report.lines
            ],
            points_taken=report.points_taken,
            points_converted=report.points_converted,
            points_returned=report.points_returned,
            points_rejected=report.points_rejected,
            balanced=report.balanced,
        )


CSV_COLUMNS = (
    "record", "date", "state", "currency", "count", "points", "points_returned", "amount", "units",
    "cash_remainder",
)  # fmt: skip


def reconciliation_csv(report: Reconciliation) -> str:
    """RFC 4180 (CRLF, one header): a `state` record per state and currency, then a `figure` record
    per identity figure (its name in `state`, its value in `points`) and one for `balanced`."""
    out = ReconciliationOut.of(report)
    day = out.date.isoformat()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in out.lines:
        writer.writerow(
            ("state", day, line.state.value, line.currency, line.count, line.points, line.points_returned,
             line.amount, line.units, line.cash_remainder)
        )  # fmt: skip
    for name in ("points_taken", "points_converted", "points_returned", "points_rejected"):
        writer.writerow(("figure", day, name, "", "", getattr(out, name), "", "", "", ""))
    writer.writerow(("figure", day, "balanced", "", "", 1 if out.balanced else 0, "", "", "", ""))
    return buffer.getvalue()


def _money(value: Decimal) -> str:
    return f"{value:.2f}"
