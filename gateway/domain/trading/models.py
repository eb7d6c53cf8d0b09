"""Orders, fills and the events they raise: the facts the ledger, the venue and surveillance share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from gateway.domain.consent.models import OrderPlacementLimit
from gateway.domain.market.models import Market
from gateway.domain.money import Currency
from gateway.domain.trading.errors import InvalidOrderError

COOLING_OFF: Final = timedelta(hours=48)  # DOMAIN.md: funds and points conversions, no reason needed


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"  # stocks and ETFs: fills now, internal book first, then the reference price
    LIMIT = "limit"  # stocks and ETFs: fills at the limit or better, the rest waits in the book
    FUND_SUBSCRIPTION = "fund_subscription"  # an amount of cash, priced at the dealing day's NAV
    FUND_REDEMPTION = "fund_redemption"  # a number of units, priced at the dealing day's NAV


FUND_ORDER_TYPES: Final = frozenset({OrderType.FUND_SUBSCRIPTION, OrderType.FUND_REDEMPTION})


class OrderStatus(StrEnum):
    OPEN = "open"  # resting in the book, or waiting for its NAV
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # refused after it was received: a wash trade, or the venue rejected it


LIVE_STATUSES: Final = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})


class Liquidity(StrEnum):
    """Where a fill came from: another order in our book, the reference price feed, or a fund's NAV."""

    BOOK = "book"
    REFERENCE = "reference"
    NAV = "nav"


@dataclass(frozen=True, slots=True)
class Order:
    """One order of one customer's account, placed by one partner app under one consent."""

    id: str
    partner_id: str
    client_id: str
    client_order_id: str
    customer_id: str
    account_id: str
    consent_id: str | None
    instrument_id: str
    market: Market
    currency: Currency
    side: Side
    order_type: OrderType
    quantity: Decimal | None  # shares or fund units; None for a subscription by amount
    amount: Decimal | None  # cash to invest; only for a fund subscription
    limit_price: Decimal | None
    status: OrderStatus
    filled_quantity: Decimal
    filled_notional: Decimal  # cash value of the fills, before fees
    fees: Decimal
    held_cash: Decimal  # cash still reserved in `currency` for what is left of a buy
    held_quantity: Decimal  # units still reserved for what is left of a sell
    sequence: int  # time priority in the book
    created_at: datetime
    updated_at: datetime
    dealing_day: date | None = None  # funds: whose NAV prices the order
    cooling_off_until: datetime | None = None
    reversed_by: str | None = None  # the redemption that a cooling-off cancellation started
    reject_reason: str | None = None
    acknowledged: tuple[str, ...] = field(default=())

    @property
    def remaining(self) -> Decimal:
        """Units still to fill (a subscription by amount counts its amount until it is priced)."""
        if self.quantity is None:
            return Decimal(0) if self.status is OrderStatus.FILLED else (self.amount or Decimal(0))
        return self.quantity - self.filled_quantity

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES


@dataclass(frozen=True, slots=True)
class Fill:
    id: str
    order_id: str
    instrument_id: str
    side: Side
    quantity: Decimal
    price: Decimal
    notional: Decimal  # quantity x price, to the cent
    fees: Decimal
    liquidity: Liquidity
    counter_order_id: str | None  # the other order of a book fill
    executed_at: datetime


class EventType(StrEnum):
    """Outbox topics (webhook event types)."""

    ORDER_ACCEPTED = "order.accepted"
    ORDER_FILLED = "order.filled"
    ORDER_PARTIALLY_FILLED = "order.partially_filled"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_REJECTED = "order.rejected"
    ORDER_COOLING_OFF_CANCELLED = "order.cooling_off_cancelled"
    FILL_CREATED = "fill.created"
    # Points conversions (gateway/domain/points, ADR 0009): one event per state change.
    CONVERSION_ACCEPTED = "conversion.accepted"
    CONVERSION_PRICED = "conversion.priced"
    CONVERSION_ALLOTTED = "conversion.allotted"
    CONVERSION_SETTLED = "conversion.settled"
    CONVERSION_REJECTED = "conversion.rejected"
    CONVERSION_REVERSED = "conversion.reversed"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A side effect written in the same transaction as the change it reports, delivered later."""

    id: str
    type: EventType
    partner_id: str
    subject_id: str  # the order id
    payload: dict[str, object]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Actor:
    """Who places the order: a partner app acting for one customer under one consent."""

    partner_id: str
    client_id: str
    customer_id: str
    consent_id: str | None
    limit: OrderPlacementLimit | None


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    instrument_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal | None = None
    amount: Decimal | None = None
    limit_price: Decimal | None = None
    acknowledgement_token: str | None = None

    def __post_init__(self) -> None:
        needs_quantity = self.order_type is not OrderType.FUND_SUBSCRIPTION
        _require(self.quantity, needs_quantity, "quantity", self.order_type)
        _require(self.amount, not needs_quantity, "amount", self.order_type)
        _require(self.limit_price, self.order_type is OrderType.LIMIT, "limit_price", self.order_type)
        for name, value, places in (
            ("quantity", self.quantity, 2),
            ("amount", self.amount, 2),
            ("limit_price", self.limit_price, 4),
        ):
            if value is None:
                continue
            if not value.is_finite() or value <= 0:
                raise InvalidOrderError(f"{name} must be a positive number", field=name)
            if value != value.quantize(Decimal(1).scaleb(-places)):
                raise InvalidOrderError(f"{name} has at most {places} decimals", field=name)


@dataclass(frozen=True, slots=True)
class Placement:
    order: Order
    created: bool  # False when the same client_order_id was placed before: the first order is returned


def _require(value: Decimal | None, needed: bool, name: str, order_type: OrderType) -> None:
    if needed and value is None:
        raise InvalidOrderError(f"a {order_type} order needs {name}", field=name)
    if not needed and value is not None:
        raise InvalidOrderError(f"a {order_type} order takes no {name}", field=name)
