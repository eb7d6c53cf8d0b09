"""Wire shapes of orders: decimals travel as strings, every check of a preview as a reason."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from gateway.apis.schemas import Amount, RequestBody
from gateway.domain.trading.models import Fill, Liquidity, Order, OrderRequest, OrderStatus, OrderType, Side
from gateway.domain.trading.pretrade import CheckStatus
from gateway.domain.trading.preview import Preview

# Plain decimal strings: no floats, exponents, signs, NaN or Infinity (ENGINEERING.md, "Input").
Quantity = Annotated[str, msgspec.Meta(pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$", examples=["100"])]
Price = Annotated[str, msgspec.Meta(pattern=r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,4})?$", examples=["18.42"])]
ClientOrderId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._:\-]{1,64}$",
        description="Your id for the order, unique per app: placing it again returns the first order.",
    ),
]
InstrumentId = Annotated[str, msgspec.Meta(pattern=r"^ins_[a-z0-9]{10}$")]
AcknowledgementToken = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^ack1\.[A-Za-z0-9_-]{1,1500}\.[A-Za-z0-9_-]{43}$",
        description="The preview's token: the customer acknowledged the disclosures it names.",
    ),
]


class OrderTermsIn(RequestBody):
    instrument_id: InstrumentId
    side: Side
    order_type: OrderType
    quantity: Quantity | None = None
    amount: Amount | None = None
    limit_price: Price | None = None
    acknowledgement_token: AcknowledgementToken | None = None

    def to_domain(self, client_order_id: str) -> OrderRequest:
        return OrderRequest(
            client_order_id=client_order_id,
            instrument_id=self.instrument_id,
            side=self.side,
            order_type=self.order_type,
            quantity=_decimal(self.quantity),
            amount=_decimal(self.amount),
            limit_price=_decimal(self.limit_price),
            acknowledgement_token=self.acknowledgement_token,
        )


class OrderIn(OrderTermsIn, kw_only=True):
    client_order_id: ClientOrderId  # required after optional fields: fine in a keyword-only struct


class CheckOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    rule: str
    status: CheckStatus
    message: str
    inputs: dict[str, str]


class DisclosureOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    title: str


class FeeLineOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    label: str
    amount: str


class FxOut(msgspec.Struct, frozen=True, kw_only=True):
    source_currency: str
    target_currency: str
    rate: str
    source_amount: str  # taken from the master account, in the source currency
    spread_fee: str  # in the target currency, kept from the converted amount
    target_amount: str  # credited to the trading account


class OrderPreviewOut(msgspec.Struct, frozen=True, kw_only=True):
    can_place: bool
    checks: list[CheckOut]
    required_acknowledgements: list[DisclosureOut]
    acknowledgement_token: str | None
    currency: str
    reference_price: str
    estimated_notional: str
    max_cost: str
    buying_power: str
    fees: list[FeeLineOut]
    fees_total: str
    fx: FxOut | None

    @classmethod
    def of(cls, preview: Preview) -> OrderPreviewOut:
        fx = preview.fx
        return cls(
            can_place=preview.report.can_place,
            checks=[
                CheckOut(code=c.code, rule=c.rule, status=c.status, message=c.message, inputs=dict(c.inputs))
                for c in preview.report.checks
            ],
            required_acknowledgements=[
                DisclosureOut(code=d.code, title=d.title) for d in preview.report.required_acknowledgements
            ],
            acknowledgement_token=preview.acknowledgement_token,
            currency=preview.instrument.currency.value,
            reference_price=str(preview.reference_price),
            estimated_notional=_money(preview.notional),
            max_cost=_money(preview.max_cost),
            buying_power=_money(preview.buying_power),
            fees=[
                FeeLineOut(code=f.code, label=f.label, amount=_money(f.amount.amount))
                for f in preview.fees.lines
            ],
            fees_total=_money(preview.fees.total.amount),
            fx=None
            if fx is None
            else FxOut(
                source_currency=fx.quote.source.currency.value,
                target_currency=fx.quote.converted.currency.value,
                rate=str(fx.quote.rate),
                source_amount=_money(fx.quote.source.amount),
                spread_fee=_money(fx.quote.spread.amount.amount),
                target_amount=_money(fx.quote.converted.amount),
            ),
        )


class FillOut(msgspec.Struct, frozen=True, kw_only=True):
    fill_id: str
    quantity: str
    price: str
    notional: str
    fees: str
    liquidity: Liquidity
    executed_at: datetime

    @classmethod
    def of(cls, fill: Fill) -> FillOut:
        return cls(
            fill_id=fill.id,
            quantity=str(fill.quantity),
            price=str(fill.price),
            notional=_money(fill.notional),
            fees=_money(fill.fees),
            liquidity=fill.liquidity,
            executed_at=fill.executed_at,
        )


class OrderOut(msgspec.Struct, frozen=True, kw_only=True):
    order_id: str
    client_order_id: str
    instrument_id: str
    side: Side
    order_type: OrderType
    status: OrderStatus
    currency: str
    quantity: str | None
    amount: str | None
    limit_price: str | None
    filled_quantity: str
    average_price: str | None
    filled_notional: str
    fees: str
    created_at: datetime
    updated_at: datetime
    dealing_day: date | None
    cooling_off_until: datetime | None
    reversed_by: str | None
    reject_reason: str | None
    fills: list[FillOut]

    @classmethod
    def of(cls, order: Order, fills: list[Fill]) -> OrderOut:
        average = order.filled_notional / order.filled_quantity if order.filled_quantity else None
        return cls(
            order_id=order.id,
            client_order_id=order.client_order_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            status=order.status,
            currency=order.currency.value,
            quantity=_text(order.quantity),
            amount=_text(order.amount),
            limit_price=_text(order.limit_price),
            filled_quantity=str(order.filled_quantity),
            average_price=str(average.quantize(Decimal("0.0001"))) if average is not None else None,
            filled_notional=_money(order.filled_notional),
            fees=_money(order.fees),
            created_at=order.created_at,
            updated_at=order.updated_at,
            dealing_day=order.dealing_day,
            cooling_off_until=order.cooling_off_until,
            reversed_by=order.reversed_by,
            reject_reason=order.reject_reason,
            fills=[FillOut.of(fill) for fill in fills],
        )


class OrderList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[OrderOut]
    has_more: bool
    next_cursor: str | None


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"
