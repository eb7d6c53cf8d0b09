"""Order entry: preview, place, cancel and cool off orders, and read them back.

Every change runs in one trading transaction under the trading lock (ADR 0008): the order, its
holds, its fills, the journal entries, the surveillance events and alerts and the outbox events
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import MappingProxyType
from zoneinfo import ZoneInfo

from gateway.domain.clock import Clock
from gateway.domain.compliance.suitability import SuitabilityAssessment
from gateway.domain.compliance.surveillance import (
    OrderEvent,
    OrderEventKind,
    SurveillanceConfig,
    wash_trade_check,
)
from gateway.domain.ids import new_id
from gateway.domain.market import calendar as market_calendar
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.paging import Page
from gateway.domain.trading.acknowledgements import AcknowledgementSigner
from gateway.domain.trading.errors import (
    AccountRestrictedError,
    DuplicateOrderError,
    InvalidOrderError,
    OrderLimitExceededError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateError,
)
from gateway.domain.trading.fees import cents, estimate_fees
from gateway.domain.trading.ledger import (
    HOUSE_FEES,
    HOUSE_FX,
    HOUSE_STREET,
    ZERO,
    EntryKind,
    JournalEntry,
    cash,
    purchase,
    transfer,
)
from gateway.domain.trading.models import (
    COOLING_OFF,
    FUND_ORDER_TYPES,
    Actor,
    EventType,
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Placement,
    Side,
)
from gateway.domain.trading.ports import (
    CustomerDirectory,
    ForcedOutcomes,
    ForcedRefusal,
    FxRates,
    OrderQuery,
    OrderStore,
    TradingSession,
)
from gateway.domain.trading.pretrade import Check, CheckStatus, PreTradeReport
from gateway.domain.trading.preview import FxPlan, OrderContext, Preview, Previewer
from gateway.domain.trading.recorder import OrderRecorder
from gateway.domain.trading.venue import Execution, Prices, Venue


class OrderEntry:
    def __init__(
        self,
        *,
        store: OrderStore,
        customers: CustomerDirectory,
        catalogue: Catalogue,
        prices: Prices,
        fx: FxRates,
        venue: Venue,
        clock: Clock,
        signer: AcknowledgementSigner,
        surveillance: SurveillanceConfig | None = None,
        forced: ForcedOutcomes | None = None,
    ) -> None:
        self._store = store
        self._catalogue = catalogue
        self._prices = prices
        self._venue = venue
        self._forced = forced  # the sandbox's magic values; None in production
        self._clock = clock
        self._previewer = Previewer(
            customers=customers, catalogue=catalogue, prices=prices, fx=fx, clock=clock, signer=signer
        )
        self._recorder = OrderRecorder(surveillance or SurveillanceConfig())

    # -- reads ---------------------------------------------------------------------------------

    def get(self, actor: Actor, order_id: str) -> Order:
        order = self._store.get_order(order_id)
        if order is None or not _visible(order, actor):
            raise OrderNotFoundError("no such order", order_id=order_id)
        return order

    def list(self, query: OrderQuery) -> Page[Order]:
        return Page.of(self._store.list_orders(replace(query, limit=query.limit + 1)), query.limit)

    def fills(self, order: Order) -> Sequence[Fill]:
        return self._store.fills(order.id)

    # -- preview and place ---------------------------------------------------------------------

    def preview(self, actor: Actor, request: OrderRequest) -> Preview:
        context = self._previewer.context(actor, request)
        now = self._clock.now()
        with self._store.session() as session:
            return self._force(request, self._previewer.preview(session, actor, request, context, now))

    def place(self, actor: Actor, request: OrderRequest) -> Placement:
        with self._store.session() as session:
            session.lock_trading()
            return self.place_in(session, actor, request)

    def place_in(self, session: TradingSession, actor: Actor, request: OrderRequest) -> Placement:
        """Place inside a trading transaction the caller holds (and has locked): a points conversion
        credits the cash and subscribes the fund in one transaction (ADR 0009)."""
        context = self._previewer.context(actor, request)
        now = self._clock.now()
        existing = session.order_by_client_id(actor.client_id, request.client_order_id)
        if existing is not None:
            if not _same_order(existing, actor, request):
                raise DuplicateOrderError(
                    "this client_order_id was used for a different order",
                    field="client_order_id",
                    order_id=existing.id,
                )
            return Placement(existing, created=False)
        preview = self._force(request, self._previewer.preview(session, actor, request, context, now))
        _refuse_failures(preview.report)
        if context.account is None:  # run_checks already failed the order; this narrows the type
            raise OrderRejectedError("the customer has no account for this market", reasons=[])
        order = self._new_order(session, actor, request, context, preview, now)
        return Placement(self._accept(session, order, context, preview, now), created=True)

    def assess_purchase(
        self, actor: Actor, instrument: Instrument, acknowledgement_token: str | None
    ) -> tuple[SuitabilityAssessment, str | None]:
        """Suitability of a buy (PTC-08's rules) and the token acknowledging its disclosures, if any."""
        return self._previewer.assess_purchase(actor, instrument, acknowledgement_token)

    def _force(self, request: OrderRequest, preview: Preview) -> Preview:
        """The preview with the refusal the venue imposes, if any, judged like the check it stands for."""
        refusal = self._forced.refusal(request) if self._forced is not None else None
        if refusal is None:
            return preview
        if refusal is ForcedRefusal.INSUFFICIENT_FUNDS and request.side is Side.BUY:
            preview = replace(preview, buying_power=ZERO)
        report = _with_check(preview.report, _forced_check(refusal, request, preview))
        return replace(preview, report=report)

    # -- cancel and cool off -------------------------------------------------------------------

    def cancel(self, actor: Actor, order_id: str) -> Order:
        now = self._clock.now()
        with self._store.session() as session:
            session.lock_trading()
            order = _owned(session, actor, order_id)
            if not order.live:
                raise OrderStateError(f"a {order.status} order cannot be cancelled", status=order.status)
            if order.order_type in FUND_ORDER_TYPES and order.dealing_day is not None:
                cut_off = self._cut_off(order)
                if now >= cut_off:
                    raise OrderStateError(
                        "the fund order passed its NAV cut-off; a subscription may still be cooled off",
                        cut_off=cut_off.isoformat(),
                    )
            return self._recorder.cancel(session, order, now, EventType.ORDER_CANCELLED)

    def cool_off(self, actor: Actor, order_id: str) -> Order:
        """DOMAIN.md: within 48 h of acceptance a fund subscription is undone without a reason."""
        with self._store.session() as session:
            session.lock_trading()
            return self.cool_off_in(session, actor, order_id)

    def cool_off_in(self, session: TradingSession, actor: Actor, order_id: str) -> Order:
        """Cool off inside a trading transaction the caller holds (a points conversion's reversal)."""
        now = self._clock.now()
        order = _owned(session, actor, order_id)
        if order.cooling_off_until is None:
            raise OrderStateError("this order has no cooling-off period", order_type=order.order_type)
        if now > order.cooling_off_until:
            raise OrderStateError(
                "the 48-hour cooling-off period has ended",
                cooling_off_until=order.cooling_off_until.isoformat(),
            )
        if order.reversed_by is not None or order.status is OrderStatus.CANCELLED:
            raise OrderStateError("this order was already undone", status=order.status)
        if order.live:  # before allotment: a full reversal
            return self._recorder.cancel(session, order, now, EventType.ORDER_COOLING_OFF_CANCELLED)
        return self._redeem_allotment(session, order, now)

    # -- internals: writing orders -------------------------------------------------------------

    def _new_order(
        self,
        session: TradingSession,
        actor: Actor,
        request: OrderRequest,
        context: OrderContext,
        preview: Preview,
        now: datetime,
    ) -> Order:
        instrument = context.instrument
        account = context.account
        if account is None:
            raise OrderRejectedError("the customer has no account for this market", reasons=[])
        dealing_day = None
        cooling_off_until = None
        if instrument.fund is not None:
            dealing_day = _dealing_day(instrument, now)
            if request.order_type is OrderType.FUND_SUBSCRIPTION:
                cooling_off_until = now + COOLING_OFF
        return Order(
            id=new_id("ord"),
            partner_id=actor.partner_id,
            client_id=actor.client_id,
            client_order_id=request.client_order_id,
            customer_id=actor.customer_id,
            account_id=account.id,
            consent_id=actor.consent_id,
            instrument_id=instrument.id,
            market=instrument.market,
            currency=instrument.currency,
            side=request.side,
            order_type=request.order_type,
            quantity=request.quantity,
            amount=request.amount,
            limit_price=request.limit_price,
            status=OrderStatus.OPEN,
            filled_quantity=ZERO,
            filled_notional=ZERO,
            fees=ZERO,
            held_cash=preview.max_cost if request.side is Side.BUY else ZERO,
            held_quantity=request.quantity or ZERO if request.side is Side.SELL else ZERO,
            sequence=session.next_sequence(),
            created_at=now,
            updated_at=now,
            dealing_day=dealing_day,
            cooling_off_until=cooling_off_until,
            acknowledged=tuple(sorted(preview.acknowledged)),
        )

    def _accept(
        self, session: TradingSession, order: Order, context: OrderContext, preview: Preview, now: datetime
    ) -> Order:
        recorder = self._recorder
        customer_accounts = frozenset(a.id for a in context.customer.accounts)
        if order.order_type not in FUND_ORDER_TYPES:
            config = recorder.surveillance
            linked = session.live_orders(sorted(customer_accounts), now - config.wash_window)
            draft = wash_trade_check(
                _placed(order, order.created_at),
                [_placed(o, o.created_at) for o in linked],
                now,
                config,
            )
            if draft is not None:
                rejected = replace(
                    order,
                    status=OrderStatus.REJECTED,
                    held_cash=ZERO,
                    held_quantity=ZERO,
                    reject_reason="wash_trade",
                )
                session.add_order(rejected)
                recorder.alert(session, rejected, draft, now)
                recorder.emit(session, rejected, EventType.ORDER_REJECTED, now)
                return rejected
        if preview.fx is not None:
            _convert(session, order, preview.fx, now)
        session.add_order(order)
        recorder.hold(session, order, order.held_cash, order.held_quantity)
        recorder.emit(session, order, EventType.ORDER_ACCEPTED, now)
        recorder.observe(session, order, OrderEventKind.PLACED, order.remaining, order.limit_price, now)
        if order.order_type in FUND_ORDER_TYPES:
            return order
        return self._execute(session, order, context.instrument, customer_accounts, now)

    def _execute(
        self,
        session: TradingSession,
        order: Order,
        instrument: Instrument,
        own: frozenset[str],
        now: datetime,
    ) -> Order:
        book = session.resting(instrument.id, order.side.opposite)
        answer = self._venue.submit(order, instrument, book, own, now)
        if answer.rejected is not None:  # nothing filled: the holds go back, the order ends rejected
            order = replace(order, reject_reason=answer.rejected)
            order = self._recorder.close(session, order, OrderStatus.REJECTED, now)
            self._recorder.emit(session, order, EventType.ORDER_REJECTED, now)
            return order
        for execution in answer.executions:
            notional = cents(execution.quantity * execution.price)
            maker = session.order(execution.counter_order_id) if execution.counter_order_id else None
            order, fee = self._fill(session, order, instrument, execution, notional, maker, now)
            maker_fee = ZERO
            if maker is not None:
                taker = replace(execution, counter_order_id=order.id)
                maker, maker_fee = self._fill(session, maker, instrument, taker, notional, order, now)
            # Holds were released above, so the journal never sees cash or units both held and spent.
            counterparty = maker.account_id if maker is not None else HOUSE_STREET
            buy_side = order.side is Side.BUY
            postings = purchase(
                buyer=order.account_id if buy_side else counterparty,
                seller=counterparty if buy_side else order.account_id,
                instrument_id=instrument.id,
                currency=instrument.currency,
                quantity=execution.quantity,
                notional=notional,
                buyer_fees=fee if buy_side else maker_fee,
                seller_fees=maker_fee if buy_side else fee,
            )
            session.post(JournalEntry(new_id("jrn"), EntryKind.TRADE, order.id, postings, now))
        if order.live and not answer.rests:  # a market order's remainder does not wait in the book
            order = self._recorder.close(
                session, order, OrderStatus.CANCELLED if order.filled_quantity == 0 else None, now
            )
        return order

    def _fill(
        self,
        session: TradingSession,
        order: Order,
        instrument: Instrument,
        execution: Execution,
        notional: Decimal,
        counter: Order | None,
        now: datetime,
    ) -> tuple[Order, Decimal]:
        """One execution on one order: cumulative fees, holds, the fill and its events (no journal)."""
        filled_quantity = order.filled_quantity + execution.quantity
        filled_notional = order.filled_notional + notional
        fees_due = estimate_fees(
            instrument, order.side, filled_quantity, filled_notional / filled_quantity, None
        )
        fee = max(fees_due.total.amount - order.fees, ZERO)
        done = order.quantity is not None and filled_quantity >= order.quantity
        updated = replace(
            order,
            filled_quantity=filled_quantity,
            filled_notional=filled_notional,
            fees=order.fees + fee,
            status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
            updated_at=now,
        )
        updated = self._rehold(session, order, updated)
        fill = Fill(
            id=new_id("fil"),
            order_id=order.id,
            instrument_id=instrument.id,
            side=order.side,
            quantity=execution.quantity,
            price=execution.price,
            notional=notional,
            fees=fee,
            liquidity=execution.liquidity,
            counter_order_id=counter.id if counter is not None else None,
            executed_at=now,
        )
        session.add_fill(fill)
        session.save_order(updated)
        recorder = self._recorder
        recorder.emit(
            session, updated, EventType.FILL_CREATED, now, fill_id=fill.id, quantity=str(fill.quantity)
        )
        recorder.emit(
            session, updated, EventType.ORDER_FILLED if done else EventType.ORDER_PARTIALLY_FILLED, now
        )
        recorder.observe(session, updated, OrderEventKind.FILLED, execution.quantity, execution.price, now)
        return updated, fee

    def _rehold(self, session: TradingSession, before: Order, after: Order) -> Order:
        """Keep exactly what the rest of the order may still need on hold; release the rest."""
        if after.side is Side.BUY:
            spent = after.filled_notional + after.fees
            budget = before.held_cash + before.filled_notional + before.fees
            held = max(budget - spent, ZERO) if after.live else ZERO
            after = replace(after, held_cash=held)
        else:
            after = replace(after, held_quantity=(after.remaining if after.live else ZERO))
        self._recorder.hold(
            session, after, after.held_cash - before.held_cash, after.held_quantity - before.held_quantity
        )
        return after

    def _redeem_allotment(self, session: TradingSession, order: Order, now: datetime) -> Order:
        """After allotment, cooling off becomes a redemption of the allotted units at the next NAV."""
        instrument = self._catalogue.get(order.instrument_id)
        redemption = replace(
            order,
            id=new_id("ord"),
            client_order_id=f"{order.client_order_id}:cooling-off",
            side=Side.SELL,
            order_type=OrderType.FUND_REDEMPTION,
            quantity=order.filled_quantity,
            amount=None,
            status=OrderStatus.OPEN,
            filled_quantity=ZERO,
            filled_notional=ZERO,
            fees=ZERO,
            held_cash=ZERO,
            held_quantity=order.filled_quantity,
            sequence=session.next_sequence(),
            created_at=now,
            updated_at=now,
            dealing_day=_dealing_day(instrument, now),
            cooling_off_until=None,
            acknowledged=(),
        )
        session.add_order(redemption)
        self._recorder.hold(session, redemption, ZERO, redemption.held_quantity)
        undone = replace(order, reversed_by=redemption.id, updated_at=now)
        session.save_order(undone)
        self._recorder.emit(
            session, undone, EventType.ORDER_COOLING_OFF_CANCELLED, now, redemption_id=redemption.id
        )
        self._recorder.emit(session, redemption, EventType.ORDER_ACCEPTED, now)
        return undone

    def _cut_off(self, order: Order) -> datetime:
        instrument = self._catalogue.get(order.instrument_id)
        if order.dealing_day is None or instrument.fund is None:
            raise OrderStateError("only a fund order has a NAV cut-off", order_type=order.order_type)
        zone = ZoneInfo(instrument.fund.time_zone)
        cut_off = time.fromisoformat(instrument.fund.cut_off)
        return datetime.combine(order.dealing_day, cut_off, tzinfo=zone).astimezone(UTC)


def _convert(session: TradingSession, order: Order, plan: FxPlan, now: datetime) -> None:
    quote = plan.quote
    target = cash(quote.converted.currency)
    postings = (
        *transfer(plan.source_account, HOUSE_FX, cash(quote.source.currency), quote.source.amount),
        *transfer(HOUSE_FX, order.account_id, target, quote.converted.amount),
        *transfer(HOUSE_FX, HOUSE_FEES, target, quote.spread.amount.amount),
    )
    session.post(JournalEntry(new_id("jrn"), EntryKind.FX, order.id, postings, now))


def _owned(session: TradingSession, actor: Actor, order_id: str) -> Order:
    order = session.order(order_id)
    if order is None or not _visible(order, actor):
        raise OrderNotFoundError("no such order", order_id=order_id)
    return order


def _dealing_day(instrument: Instrument, now: datetime) -> date:
    terms = instrument.fund
    if terms is None:
        raise InvalidOrderError("only funds have a dealing day", field="instrument_id")
    return market_calendar.fund_dealing_day(
        instrument.market, now, cut_off=terms.cut_off, zone=terms.time_zone
    )


def _placed(order: Order, at: datetime) -> OrderEvent:
    return OrderEvent(
        kind=OrderEventKind.PLACED,
        order_id=order.id,
        account_id=order.account_id,
        customer_id=order.customer_id,
        instrument_id=order.instrument_id,
        side=order.side.value,
        quantity=order.remaining,
        price=order.limit_price,
        at=at,
    )


def _refuse_failures(report: PreTradeReport) -> None:
    failures = report.failures
    reasons = [_reason(check) for check in (*failures, *report.unacknowledged)]
    if report.failed("account_restricted"):
        raise AccountRestrictedError(
            "the account is restricted by compliance", rule="PTC-11", reasons=reasons
        )
    limit = next((c for c in failures if c.rule == "PTC-10"), None)
    if limit is not None:
        raise OrderLimitExceededError(limit.message, limit=limit.inputs.get("limit", ""), reasons=reasons)
    if reasons:
        raise OrderRejectedError(
            "the order failed pre-trade checks: "
            + ", ".join(c.code for c in (*failures, *report.unacknowledged)),
            reasons=reasons,
        )


def _forced_check(refusal: ForcedRefusal, request: OrderRequest, preview: Preview) -> Check:
    """The failed check a forced refusal stands for, with the inputs the real check would show."""
    instrument = preview.instrument
    if refusal is ForcedRefusal.TRADING_HALTED:
        return _failed_check(
            "trading_halted",
            "PTC-03",
            f"trading in {instrument.id} is halted",
            instrument_id=instrument.id,
            market=instrument.market,
        )
    if request.side is Side.BUY:  # as PTC-05 words it when the available cash is nil
        return _failed_check(
            "insufficient_buying_power",
            "PTC-05",
            "not enough available cash",
            required=preview.max_cost,
            available=ZERO,
            currency=instrument.currency,
        )
    return _failed_check(
        "insufficient_units",
        "PTC-05",
        "not enough available units to sell",
        required=request.quantity or 0,
        available=ZERO,
    )


def _failed_check(code: str, rule: str, message: str, **inputs: object) -> Check:
    return Check(
        code, rule, CheckStatus.FAILED, message, MappingProxyType({k: str(v) for k, v in inputs.items()})
    )


def _with_check(report: PreTradeReport, forced: Check) -> PreTradeReport:
    """The forced check replaces its rule's verdict; a real failure of that rule stays beside it."""
    checks = list(report.checks)
    index = next((i for i, check in enumerate(checks) if check.rule == forced.rule), None)
    if index is not None and checks[index].status is not CheckStatus.FAILED:
        checks[index] = forced
    elif all(check.code != forced.code for check in checks):
        checks.insert(len(checks) if index is None else index + 1, forced)
    return PreTradeReport(checks=tuple(checks), required_acknowledgements=report.required_acknowledgements)


def _reason(check: Check) -> dict[str, object]:
    return {"code": check.code, "rule": check.rule, "message": check.message, "inputs": dict(check.inputs)}


def _visible(order: Order, actor: Actor) -> bool:
    return order.partner_id == actor.partner_id and order.customer_id == actor.customer_id


def _same_order(order: Order, actor: Actor, request: OrderRequest) -> bool:
    return (
        order.customer_id == actor.customer_id
        and order.instrument_id == request.instrument_id
        and order.side is request.side
        and order.order_type is request.order_type
        and order.quantity == request.quantity
        and order.amount == request.amount
        and order.limit_price == request.limit_price
    )
