"""Events on demand: one outbox event of any type, for the asking app's partner, in the sandbox only.

Rules (docs/sandbox/scenarios.md, "Events on demand"):
- The payload is built by the code that builds the real event (`OrderRecorder.emit` for order and
  fill events, the points service's emitter for conversion events), over a synthetic subject: an
  order or conversion of the app's copy of `li.wei` that is never stored. The subject is the same
  on every call of the app (its ids are derived from the app and the copy), so a receiver can
  match events on it; the event id is new every time.
- The payload says `"sandbox_trigger": true`, so a receiver can tell a triggered event from one a
  real order or conversion raised.
- The event goes into the outbox like any other: fanned out to the partner's subscriptions to its
  type created at or before it, and delivered signed by the usual worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from gateway.domain.clock import Clock
from gateway.domain.errors import NotFoundError
from gateway.domain.market import calendar
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.points.models import Conversion, ConversionState, Reason
from gateway.domain.points.service import STATE_EVENTS, conversion_event
from gateway.domain.trading.models import (
    COOLING_OFF,
    EventType,
    Order,
    OrderStatus,
    OrderType,
    OutboxEvent,
    Side,
)
from gateway.domain.trading.ports import CustomerDirectory, TradingTransactions
from gateway.domain.trading.preview import market_account
from gateway.domain.trading.recorder import OrderRecorder

SUBJECT_PERSONA: Final = "li.wei"
ORDER_INSTRUMENT: Final = "ins_xccl4ocp36"  # Jade Harbour Dividend Leaders ETF (CN, R3, lot 100)
FUND_INSTRUMENT: Final = "ins_ssgwntu23g"  # Jade Harbour Cash Reserve Money Market Fund (F000001)
QUANTITY: Final = Decimal(200)
PRICE: Final = Decimal("1.486")
AMOUNT: Final = Decimal("100.00")
POINTS: Final = 10_000  # at 100 points = 1.00 CNY, the amount above
MARKER: Final = "sandbox_trigger"

_CONVERSIONS: Final = {event: state for state, event in STATE_EVENTS.items()}


@dataclass(frozen=True, slots=True)
class SandboxEvents:
    transactions: TradingTransactions  # the sandbox's trading store: its outbox
    customers: CustomerDirectory
    catalogue: Catalogue
    clock: Clock
    copy_of: Callable[[str, str], str]  # (client id, sign-in name) -> the app's copy of the persona

    def trigger(self, client_id: str, partner_id: str, event_type: EventType) -> OutboxEvent:
        """Emit one event of `event_type` for the app's partner; answers the event as written."""
        now = self.clock.now()
        customer_id = self.copy_of(client_id, SUBJECT_PERSONA)
        captured = _Captured()
        if event_type in _CONVERSIONS:
            conversion = self._conversion(client_id, partner_id, customer_id, _CONVERSIONS[event_type], now)
            captured.emit(conversion_event(conversion, now))  # the points service's own payload
        else:
            order, extra = self._order(client_id, partner_id, customer_id, event_type, now)
            OrderRecorder.emit(captured, order, event_type, now, **extra)
        event = captured.only()
        marked = replace(event, payload={**event.payload, MARKER: True})
        with self.transactions.session() as session:
            session.emit(marked)
        return marked

    def _order(
        self, client_id: str, partner_id: str, customer_id: str, event_type: EventType, now: datetime
    ) -> tuple[Order, dict[str, str]]:
        fund = event_type is EventType.ORDER_COOLING_OFF_CANCELLED
        instrument = self.catalogue.get(FUND_INSTRUMENT if fund else ORDER_INSTRUMENT)
        status, filled = {
            EventType.ORDER_ACCEPTED: (OrderStatus.OPEN, Decimal(0)),
            EventType.ORDER_PARTIALLY_FILLED: (OrderStatus.PARTIALLY_FILLED, QUANTITY / 2),
            EventType.ORDER_FILLED: (OrderStatus.FILLED, QUANTITY),
            EventType.FILL_CREATED: (OrderStatus.FILLED, QUANTITY),
            EventType.ORDER_CANCELLED: (OrderStatus.CANCELLED, Decimal(0)),
            EventType.ORDER_REJECTED: (OrderStatus.REJECTED, Decimal(0)),
            EventType.ORDER_COOLING_OFF_CANCELLED: (OrderStatus.CANCELLED, Decimal(0)),
        }[event_type]
        order = Order(
            id=_synthetic("ord", client_id, customer_id, "order", instrument.id),
            partner_id=partner_id,
            client_id=client_id,
            client_order_id="sandbox-trigger",
            customer_id=customer_id,
            account_id=self._account(customer_id, instrument),
            consent_id=None,
            instrument_id=instrument.id,
            market=instrument.market,
            currency=instrument.currency,
            side=Side.BUY,
            order_type=OrderType.FUND_SUBSCRIPTION if fund else OrderType.LIMIT,
            quantity=None if fund else QUANTITY,
            amount=AMOUNT if fund else None,
            limit_price=None if fund else PRICE,
            status=status,
            filled_quantity=filled,
            filled_notional=filled * PRICE,
            fees=Decimal(0),
            held_cash=Decimal(0),
            held_quantity=Decimal(0),
            sequence=0,
            created_at=now,
            updated_at=now,
            dealing_day=self._dealing_day(instrument, now) if fund else None,
            cooling_off_until=now + COOLING_OFF if fund else None,
            reject_reason="venue_rejected" if status is OrderStatus.REJECTED else None,
        )
        extra: dict[str, str] = {}
        if event_type is EventType.FILL_CREATED:
            fill_id = _synthetic("fil", client_id, customer_id, "fill", instrument.id)
            extra = {"fill_id": fill_id, "quantity": str(QUANTITY)}
        return order, extra

    def _conversion(
        self, client_id: str, partner_id: str, customer_id: str, state: ConversionState, now: datetime
    ) -> Conversion:
        fund = self.catalogue.get(FUND_INSTRUMENT)
        allotted = state in (ConversionState.ALLOTTED, ConversionState.SETTLED)
        nav = Decimal("1.0000")
        units = AMOUNT / nav if allotted else Decimal(0)
        reasons = (
            (Reason("daily_points_cap", "PTS-10", "a customer converts at most 20000 points a day"),)
            if state is ConversionState.REJECTED
            else ()
        )
        return Conversion(
            id=_synthetic("cnv", client_id, customer_id, "conversion", fund.id),
            partner_id=partner_id,
            client_id=client_id,
            partner_conversion_id="sandbox-trigger",
            customer_id=customer_id,
            consent_id=None,
            quote_id=_synthetic("qte", client_id, customer_id, "quote", fund.id),
            valuation_id=_synthetic("val", client_id, customer_id, "valuation", fund.id),
            instrument_id=fund.id,
            fund_code=fund.fund.fund_code if fund.fund else fund.symbol,
            currency=fund.currency,
            points=0 if state is ConversionState.REJECTED else POINTS,
            amount=AMOUNT,
            state=state,
            dealing_day=self._dealing_day(fund, now),
            created_at=now,
            updated_at=now,
            cooling_off_until=now + COOLING_OFF,
            order_id=_synthetic("ord", client_id, customer_id, "conversion-order", fund.id),
            account_id=self._account(customer_id, fund),
            units=units,
            nav=nav if state is not ConversionState.ACCEPTED else None,
            points_returned=POINTS if state is ConversionState.REVERSED else 0,
            reasons=reasons,
        )

    def _account(self, customer_id: str, instrument: Instrument) -> str:
        customer = self.customers.get(customer_id)
        account = market_account(customer, instrument) if customer is not None else None
        if account is None:  # li.wei has a CN account in every copy
            raise NotFoundError("the persona has no account for this market", persona=SUBJECT_PERSONA)
        return account.id

    @staticmethod
    def _dealing_day(fund: Instrument, now: datetime) -> date:
        terms = fund.fund
        if terms is None:  # the catalogue's record of a fund always has terms
            raise NotFoundError("no such fund", instrument_id=fund.id)
        return calendar.fund_dealing_day(fund.market, now, cut_off=terms.cut_off, zone=terms.time_zone)


class _Captured:
    """An outbox that keeps what is emitted into it, to be marked before it is written."""

    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []

    def emit(self, event: OutboxEvent) -> None:
        self.events.append(event)

    def only(self) -> OutboxEvent:
        (event,) = self.events
        return event


def _synthetic(prefix: str, *parts: str) -> str:
    """An id of the usual shape (`ord_` and 20 hex digits) derived from the parts: the same every call."""
    return f"{prefix}_{hashlib.blake2b('|'.join(parts).encode(), digest_size=10).hexdigest()}"
