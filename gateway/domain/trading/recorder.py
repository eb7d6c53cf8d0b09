"""What every change to an order writes in the trading transaction besides the order itself.

Holds follow the order, every order event is an outbox event, and surveillance watches every
order event in the same transaction: an alert and the restriction it triggers commit with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from gateway.domain.compliance.surveillance import (
    AlertDraft,
    OrderEvent,
    OrderEventKind,
    Severity,
    SurveillanceConfig,
    evaluate,
    should_restrict,
)
from gateway.domain.ids import new_id
from gateway.domain.trading.ledger import ZERO, cash, units
from gateway.domain.trading.models import EventType, Order, OrderStatus, OutboxEvent
from gateway.domain.trading.ports import Ledger, Outbox, Restriction, TradingSession


@dataclass(frozen=True, slots=True)
class OrderRecorder:
    surveillance: SurveillanceConfig = field(default_factory=SurveillanceConfig)

    @staticmethod
    def hold(ledger: Ledger, order: Order, cash_delta: Decimal, unit_delta: Decimal) -> None:
        if cash_delta:
            ledger.hold(order.account_id, cash(order.currency), cash_delta)
        if unit_delta:
            ledger.hold(order.account_id, units(order.instrument_id), unit_delta)

    def close(
        self, session: TradingSession, order: Order, status: OrderStatus | None, now: datetime
    ) -> Order:
        final = status or (
            OrderStatus.FILLED if order.quantity == order.filled_quantity else OrderStatus.CANCELLED
        )
        closed = replace(order, status=final, held_cash=ZERO, held_quantity=ZERO, updated_at=now)
        self.hold(session, order, -order.held_cash, -order.held_quantity)
        session.save_order(closed)
        return closed

    def cancel(self, session: TradingSession, order: Order, now: datetime, event: EventType) -> Order:
        cancelled = self.close(session, order, OrderStatus.CANCELLED, now)
        self.emit(session, cancelled, event, now)
        self.observe(session, cancelled, OrderEventKind.CANCELLED, order.remaining, order.limit_price, now)
        return cancelled

    @staticmethod
    def emit(outbox: Outbox, order: Order, kind: EventType, now: datetime, **extra: str) -> None:
        payload: dict[str, object] = {
            "order_id": order.id,
            "client_order_id": order.client_order_id,
            "status": order.status.value,
            "instrument_id": order.instrument_id,
            "side": order.side.value,
            "filled_quantity": str(order.filled_quantity),
            **extra,
        }
        outbox.emit(OutboxEvent(new_id("evt"), kind, order.partner_id, order.id, payload, now))

    def observe(
        self,
        session: TradingSession,
        order: Order,
        kind: OrderEventKind,
        quantity: Decimal,
        price: Decimal | None,
        now: datetime,
    ) -> None:
        event = OrderEvent(
            kind=kind,
            order_id=order.id,
            account_id=order.account_id,
            customer_id=order.customer_id,
            instrument_id=order.instrument_id,
            side=order.side.value,
            quantity=quantity,
            price=price,
            at=now,
        )
        history = session.events([order.account_id], now - self.surveillance.history_lookback)
        session.record_event(event)
        for draft in evaluate(event, history, self.surveillance):
            self.alert(session, order, draft, now)

    def alert(self, session: TradingSession, order: Order, draft: AlertDraft, now: datetime) -> None:
        session.add_alert(new_id("alt"), draft)
        if draft.severity is not Severity.HIGH or session.restriction(order.account_id) is not None:
            return
        window = self.surveillance.restriction_window
        recent = session.alerts_since(order.account_id, now - window)
        cleared_at = session.last_clearance(order.account_id)
        if should_restrict(recent, now, self.surveillance, cleared_at=cleared_at):
            high = tuple(a.id for a in recent if a.severity is Severity.HIGH)
            restriction = Restriction(
                account_id=order.account_id,
                customer_id=order.customer_id,
                reason=f"{len(high)} high-severity surveillance alerts within {window}",
                alert_ids=high,
                restricted_at=now,
            )
            session.restrict(new_id("rst"), restriction)
