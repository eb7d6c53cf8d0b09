"""Orders on the ledger: preview, place, cancel, cool off, and the daily fund dealing.

Every change runs in one storage transaction: the order, its holds, its fills, the journal
entries, the surveillance events and alerts and the outbox events commit together or not at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from gateway.domain.clock import Clock
from gateway.domain.compliance.suitability import (
    Complexity,
    CustomerFacts,
    ProductFacts,
    ProductRisk,
    ProductType,
    SuitabilityAssessment,
    assess_suitability,
)
from gateway.domain.compliance.surveillance import (
    AlertDraft,
    OrderEvent,
    OrderEventKind,
    Severity,
    SurveillanceConfig,
    evaluate,
    should_restrict,
    wash_trade_check,
)
from gateway.domain.consent.models import OrderPlacementLimit
from gateway.domain.customers.models import Account, CashBalance, Customer, Holding
from gateway.domain.errors import NotFoundError
from gateway.domain.market import calendar as market_calendar
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType
from gateway.domain.money import CENT, Currency, Money
from gateway.domain.trading.acknowledgements import AcknowledgementScope, AcknowledgementSigner
from gateway.domain.trading.errors import (
    AccountRestrictedError,
    DuplicateOrderError,
    InvalidOrderError,
    OrderLimitExceededError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateError,
)
from gateway.domain.trading.fees import FX_SPREAD_RATE, FeeEstimate, FxQuote, estimate_fees, fx_conversion
from gateway.domain.trading.ledger import (
    EMPTY,
    HOUSE_FEES,
    HOUSE_FX,
    HOUSE_STREET,
    ZERO,
    Balance,
    EntryKind,
    JournalEntry,
    Posting,
    cash,
    purchase,
    transfer,
    units,
)
from gateway.domain.trading.models import (
    COOLING_OFF,
    FUND_ORDER_TYPES,
    EventType,
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    OutboxEvent,
    Side,
)
from gateway.domain.trading.ports import OrderQuery, Restriction, TradingSession, TradingStore
from gateway.domain.trading.pretrade import Check, OrderFacts, PreTradeReport, run_checks
from gateway.domain.trading.venue import Execution, Prices, Venue, collar

UNIT_STEP: Final = Decimal("0.01")  # fund units are allotted to two decimals (DOMAIN.md)
EVENT_LOOKBACK_SECONDS: Final = 86_400


class CustomerDirectory(Protocol):
    def get(self, customer_id: str) -> Customer | None: ...


class FxRates(Protocol):
    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal: ...


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
class Preview:
    report: PreTradeReport
    instrument: Instrument
    account_id: str | None
    reference_price: Decimal
    notional: Decimal
    max_cost: Decimal
    buying_power: Decimal
    fees: FeeEstimate
    fx: FxPlan | None
    acknowledgement_token: str | None
    acknowledged: frozenset[str]  # what the request's token acknowledged (verified once)


@dataclass(frozen=True, slots=True)
class FxPlan:
    """Cash the master account converts to pay for a buy (`fx_conversion`: rate less the spread)."""

    source_account: str
    quote: FxQuote


@dataclass(frozen=True, slots=True)
class Placement:
    order: Order
    created: bool  # False when the same client_order_id was placed before: the first order is returned


@dataclass(frozen=True, slots=True)
class _Context:
    customer: Customer
    instrument: Instrument
    account: Account | None


class TradingService:
    def __init__(
        self,
        *,
        store: TradingStore,
        customers: CustomerDirectory,
        catalogue: Catalogue,
        prices: Prices,
        fx: FxRates,
        venue: Venue,
        clock: Clock,
        signer: AcknowledgementSigner,
        surveillance: SurveillanceConfig | None = None,
    ) -> None:
        self.store = store
        self.customers = customers
        self.catalogue = catalogue
        self.prices = prices
        self.fx = fx
        self.venue = venue
        self.clock = clock
        self.signer = signer
        self.surveillance = surveillance or SurveillanceConfig()

    # -- reads ---------------------------------------------------------------------------------

    def get(self, actor: Actor, order_id: str) -> Order:
        order = self.store.get_order(order_id)
        if order is None or not _visible(order, actor):
            raise OrderNotFoundError("no such order", order_id=order_id)
        return order

    def list(self, query: OrderQuery) -> Sequence[Order]:
        return self.store.list_orders(query)

    # -- preview and place ---------------------------------------------------------------------

    def preview(self, actor: Actor, request: OrderRequest) -> Preview:
        context = self._context(actor, request)
        now = self.clock.now()
        with self.store.session() as session:
            return self._preview(session, actor, request, context, now)

    def place(self, actor: Actor, request: OrderRequest) -> Placement:
        with self.store.session() as session:
            session.lock_trading()
            return self.place_in(session, actor, request)

    def place_in(self, session: TradingSession, actor: Actor, request: OrderRequest) -> Placement:
        """Place inside a trading transaction the caller holds (and has locked): a points conversion
        credits the cash and subscribes the fund in one transaction (ADR 0009)."""
        context = self._context(actor, request)
        now = self.clock.now()
        existing = session.order_by_client_id(actor.client_id, request.client_order_id)
        if existing is not None:
            if not _same_order(existing, actor, request):
                raise DuplicateOrderError(
                    "this client_order_id was used for a different order",
                    field="client_order_id",
                    order_id=existing.id,
                )
            return Placement(existing, created=False)
        preview = self._preview(session, actor, request, context, now)
        _refuse_failures(preview.report)
        if context.account is None:  # run_checks already failed the order; this narrows the type
            raise OrderRejectedError("the customer has no account for this market", reasons=[])
        order = self._new_order(session, actor, request, context, preview, now)
        return Placement(self._accept(session, order, context, preview, now), created=True)

    def assess_purchase(
        self, actor: Actor, instrument: Instrument, acknowledgement_token: str | None
    ) -> tuple[SuitabilityAssessment, str | None]:
        """Suitability of a buy for the actor's customer (PTC-08's rules), and when disclosures must be
        acknowledged, the token that acknowledges them (what placing the buy will verify)."""
        customer = self.customers.get(actor.customer_id)
        if customer is None:
            raise NotFoundError("no such customer")
        now = self.clock.now()
        scope = AcknowledgementScope(customer.id, actor.client_id, instrument.id, Side.BUY.value)
        acknowledged = (
            self.signer.verify(acknowledgement_token, scope, now) if acknowledgement_token else frozenset()
        )
        assessment = assess_suitability(
            _customer_facts(customer), _product_facts(instrument), acknowledged=acknowledged
        )
        token = None
        if assessment.required_acknowledgements:
            codes = tuple(d.code for d in assessment.required_acknowledgements)
            token = self.signer.issue(scope, codes, now)
        return assessment, token

    # -- cancel and cool off -------------------------------------------------------------------

    def cancel(self, actor: Actor, order_id: str) -> Order:
        now = self.clock.now()
        with self.store.session() as session:
            session.lock_trading()
            order = self._owned(session, actor, order_id)
            if not order.live:
                raise OrderStateError(f"a {order.status} order cannot be cancelled", status=order.status)
            if order.order_type in FUND_ORDER_TYPES and order.dealing_day is not None:
                cut_off = self._cut_off(order)
                if now >= cut_off:
                    raise OrderStateError(
                        "the fund order passed its NAV cut-off; a subscription may still be cooled off",
                        cut_off=cut_off.isoformat(),
                    )
            return self._cancel(session, order, now, EventType.ORDER_CANCELLED)

    def cool_off(self, actor: Actor, order_id: str) -> Order:
        """DOMAIN.md: within 48 h of acceptance a fund subscription is undone without a reason."""
        with self.store.session() as session:
            session.lock_trading()
            return self.cool_off_in(session, actor, order_id)

    def cool_off_in(self, session: TradingSession, actor: Actor, order_id: str) -> Order:
        """Cool off inside a trading transaction the caller holds (a points conversion's reversal)."""
        now = self.clock.now()
        order = self._owned(session, actor, order_id)
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
            return self._cancel(session, order, now, EventType.ORDER_COOLING_OFF_CANCELLED)
        return self._redeem_allotment(session, order, now)

    def current(self, customer: Customer) -> Customer:
        """The customer with cash and holdings as the ledger has them now, valued at the feed's prices.

        Average cost: the onboarding snapshot's cost, blended with the notional of every buy since;
        sells leave it unchanged (the average-cost method).
        """
        ids = [account.id for account in customer.accounts]
        balances = self.store.balances(ids)
        bought = self.store.purchases(ids)
        now = self.clock.now()
        accounts = []
        for account in customer.accounts:
            currencies = {account.base_currency} | {
                Currency(asset.split(":", 1)[1])
                for (owner, asset), balance in balances.items()
                if owner == account.id and asset.startswith("cash:") and balance.total
            }
            cash_balances = tuple(
                CashBalance(c, b.available, b.total)
                for c in sorted(currencies)
                for b in (balances.get((account.id, cash(c)), EMPTY),)
            )
            accounts.append(replace(account, balances=cash_balances))
        opening = {(h.account_id, h.instrument_id): h for h in customer.holdings}
        holdings = []
        for (owner, asset), balance in sorted(balances.items()):
            if not asset.startswith("units:") or balance.total <= 0:
                continue
            instrument = self.catalogue.get(asset.split(":", 1)[1])
            start = opening.get((owner, instrument.id))
            quantity, notional = bought.get((owner, instrument.id), (ZERO, ZERO))
            if start is not None:
                quantity += start.quantity
                notional += start.quantity * start.average_cost.amount
            average = _cents(notional / quantity) if quantity else ZERO
            value = _cents(balance.total * self.prices.reference_price(instrument, now))
            currency = instrument.currency
            holdings.append(
                Holding(owner, instrument.id, balance.total, Money(average, currency), Money(value, currency))
            )
        return replace(customer, accounts=tuple(accounts), holdings=tuple(holdings))

    # -- opening balances ----------------------------------------------------------------------

    def open_accounts(self, customer: Customer) -> bool:
        """Fund a customer's ledger from their onboarding snapshot, once; False if already done."""
        entry = opening_entry(customer, self.clock.now())
        return entry is not None and self.store.open(entry)

    # -- the daily fund dealing ----------------------------------------------------------------

    def deal_funds(self) -> int:
        """Allot subscriptions and pay redemptions whose NAV is published; returns how many."""
        now = self.clock.now()
        done = 0
        with self.store.session() as session:
            session.lock_trading()
            for order in session.due_fund_orders(now.date()):
                instrument = self.catalogue.get(order.instrument_id)
                if order.dealing_day is None or now < market_calendar.nav_publication_time(
                    instrument.market, order.dealing_day
                ):
                    continue
                nav = self.venue.nav(instrument, order.dealing_day)
                if order.order_type is OrderType.FUND_SUBSCRIPTION:
                    self._allot(session, order, instrument, nav, now)
                else:
                    self._pay_redemption(session, order, instrument, nav, now)
                done += 1
        return done

    # -- internals: facts and checks -----------------------------------------------------------

    def _context(self, actor: Actor, request: OrderRequest) -> _Context:
        customer = self.customers.get(actor.customer_id)
        if customer is None:
            raise NotFoundError("no such customer")
        try:
            instrument = self.catalogue.get(request.instrument_id)
        except NotFoundError:
            raise InvalidOrderError("no such instrument", field="instrument_id") from None
        account = next(
            (a for a in customer.accounts if a.jurisdiction.value == instrument.market.value), None
        )
        return _Context(customer, instrument, account)

    def _preview(
        self, session: TradingSession, actor: Actor, request: OrderRequest, context: _Context, now: datetime
    ) -> Preview:
        instrument, account, customer = context.instrument, context.account, context.customer
        reference = self._reference(instrument, now)
        worst_price = request.limit_price or collar(request.side, reference)
        if request.order_type is OrderType.FUND_SUBSCRIPTION:
            notional = request.amount or ZERO
            fees = self._fees(instrument, request, None, None, notional)
            max_cost = notional
        else:
            quantity = request.quantity or ZERO
            price = reference if request.order_type in FUND_ORDER_TYPES else worst_price
            notional = _cents(quantity * (request.limit_price or reference))
            fees = self._fees(instrument, request, quantity, price, None)
            max_cost = _cents(quantity * price) + fees.total.amount if request.side is Side.BUY else ZERO
        balances = session.balances([a.id for a in customer.accounts])
        currency = instrument.currency
        available_cash = available_units = ZERO
        fx_plan = None
        buying_power = ZERO
        restricted = False
        if account is not None:
            own = balances.get((account.id, cash(currency)))
            available_cash = own.available if own else ZERO
            held_units = balances.get((account.id, units(instrument.id)))
            available_units = held_units.available if held_units else ZERO
            buying_power, fx_plan = self._buying_power(
                balances, customer, account, currency, available_cash, max_cost, now
            )
            restricted = session.restriction(account.id) is not None
        acknowledged = self._acknowledged(actor, request, now)
        suitability = (
            assess_suitability(
                _customer_facts(customer), _product_facts(instrument), acknowledged=acknowledged
            )
            if request.side is Side.BUY
            else None
        )
        facts = OrderFacts(
            instrument=instrument,
            side=request.side,
            order_type=request.order_type,
            quantity=request.quantity,
            amount=request.amount,
            limit_price=request.limit_price,
            reference_price=reference,
            market_open=market_calendar.is_open(instrument.market, now),
            next_open=market_calendar.next_open(instrument.market, now),
            account_id=account.id if account else None,
            max_cost=max_cost,
            cost_currency=currency,
            available_cash=buying_power,
            available_units=available_units,
            notional=notional,
            notional_in_limit_currency=self._in_limit_currency(actor.limit, notional, currency, now),
            position_share_after=self._share_after(balances, customer, instrument, notional, now),
            suitability=suitability,
            limit=actor.limit,
            restricted=restricted,
        )
        report = run_checks(facts)
        token = None
        if report.required_acknowledgements:
            scope = AcknowledgementScope(customer.id, actor.client_id, instrument.id, request.side.value)
            codes = tuple(d.code for d in report.required_acknowledgements)
            token = self.signer.issue(scope, codes, now)
        return Preview(
            report=report,
            instrument=instrument,
            account_id=account.id if account else None,
            reference_price=reference,
            notional=notional,
            max_cost=max_cost,
            buying_power=buying_power,
            fees=fees,
            fx=fx_plan if fx_plan is not None and max_cost > available_cash else None,
            acknowledgement_token=token,
            acknowledged=acknowledged,
        )

    @staticmethod
    def _fees(
        instrument: Instrument,
        request: OrderRequest,
        quantity: Decimal | None,
        price: Decimal | None,
        amount: Decimal | None,
    ) -> FeeEstimate:
        """The fee estimate, or none for an order that does not fit the instrument (PTC-01 says why)."""
        fund_order = request.order_type in FUND_ORDER_TYPES
        side_fits = request.order_type is not OrderType.FUND_SUBSCRIPTION or request.side is Side.BUY
        side_fits = side_fits and (
            request.order_type is not OrderType.FUND_REDEMPTION or request.side is Side.SELL
        )
        if (instrument.fund is not None) != fund_order or not side_fits:
            nothing = Money(ZERO, instrument.currency)
            return FeeEstimate(notional=nothing, lines=(), total=nothing)
        return estimate_fees(instrument, request.side, quantity, price, amount)

    def _acknowledged(self, actor: Actor, request: OrderRequest, now: datetime) -> frozenset[str]:
        if request.acknowledgement_token is None:
            return frozenset()
        scope = AcknowledgementScope(
            actor.customer_id, actor.client_id, request.instrument_id, request.side.value
        )
        return self.signer.verify(request.acknowledgement_token, scope, now)

    def _reference(self, instrument: Instrument, now: datetime) -> Decimal:
        """The reference price; for a fund, its latest published NAV."""
        return self.prices.reference_price(instrument, now)

    def _buying_power(
        self,
        balances: Mapping[tuple[str, str], Balance],
        customer: Customer,
        account: Account,
        currency: Currency,
        available: Decimal,
        max_cost: Decimal,
        now: datetime,
    ) -> tuple[Decimal, FxPlan | None]:
        """Cash in the order's currency, plus what the master account's home currency converts into.

        The currency desk converts from the master account (where a customer's home-currency cash
        lives) into the trading account, only as much as the order is short, at the reference rate
        less a 0.10 % spread.
        """
        source = customer.master_account
        base = source.base_currency
        if base is currency:
            return available, None
        base_balance = balances.get((source.id, cash(base)))
        base_available = base_balance.available if base_balance else ZERO
        rate = self.fx.fx_rate(base, currency, now)
        convertible = fx_conversion(Money(base_available, base), currency, rate).converted.amount
        shortfall = max(max_cost - available, ZERO)
        if shortfall == 0:
            return available + convertible, None
        amount = (shortfall / (rate * (1 - FX_SPREAD_RATE))).quantize(CENT, ROUND_UP)
        quote = fx_conversion(Money(amount, base), currency, rate)
        while quote.converted.amount < shortfall:  # rounding: one more cent of the home currency
            quote = fx_conversion(Money(quote.source.amount + CENT, base), currency, rate)
        return available + convertible, FxPlan(source.id, quote)

    def _in_limit_currency(
        self, limit: OrderPlacementLimit | None, notional: Decimal, currency: Currency, now: datetime
    ) -> Decimal | None:
        if limit is None:
            return None
        target = limit.max_notional_per_order.currency
        if target is currency:
            return notional
        return _cents(notional * self.fx.fx_rate(currency, target, now))

    def _share_after(
        self,
        balances: Mapping[tuple[str, str], Balance],
        customer: Customer,
        instrument: Instrument,
        notional: Decimal,
        now: datetime,
    ) -> Decimal | None:
        """The instrument's share of the whole portfolio (cash and positions) after a buy."""
        own_ids = {a.id for a in customer.accounts}
        total = position = ZERO
        for (account_id, asset), balance in balances.items():
            amount = balance.total
            if account_id not in own_ids or amount == 0:
                continue
            kind, _, name = asset.partition(":")
            if kind == "cash":
                total += amount * self.fx.fx_rate(Currency(name), instrument.currency, now)
                continue
            held = self.catalogue.get(name)
            value = (
                amount * self._reference(held, now) * self.fx.fx_rate(held.currency, instrument.currency, now)
            )
            total += value
            if name == instrument.id:
                position += value
        if total <= 0:
            return None
        return (position + notional) / total

    # -- internals: writing orders -------------------------------------------------------------

    def _new_order(
        self,
        session: TradingSession,
        actor: Actor,
        request: OrderRequest,
        context: _Context,
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
            id=_new_id("ord"),
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
        self, session: TradingSession, order: Order, context: _Context, preview: Preview, now: datetime
    ) -> Order:
        customer_accounts = frozenset(a.id for a in context.customer.accounts)
        if order.order_type not in FUND_ORDER_TYPES:
            linked = session.live_orders(sorted(customer_accounts), now - self.surveillance.wash_window)
            draft = wash_trade_check(
                _placed(order, order.created_at),
                [_placed(o, o.created_at) for o in linked],
                now,
                self.surveillance,
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
                self._alert(session, rejected, draft, now)
                self._emit(session, rejected, EventType.ORDER_REJECTED, now)
                return rejected
        if preview.fx is not None:
            self._convert(session, order, preview.fx, now)
        session.add_order(order)
        self._hold(session, order, order.held_cash, order.held_quantity)
        self._emit(session, order, EventType.ORDER_ACCEPTED, now)
        self._observe(session, order, OrderEventKind.PLACED, order.remaining, order.limit_price, now)
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
        answer = self.venue.submit(order, instrument, book, own, now)
        for execution in answer.executions:
            notional = _cents(execution.quantity * execution.price)
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
            session.post(JournalEntry(_new_id("jrn"), EntryKind.TRADE, order.id, postings, now))
        if order.live and not answer.rests:  # a market order's remainder does not wait in the book
            order = self._close(
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
            id=_new_id("fil"),
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
        self._emit(
            session, updated, EventType.FILL_CREATED, now, fill_id=fill.id, quantity=str(fill.quantity)
        )
        self._emit(
            session, updated, EventType.ORDER_FILLED if done else EventType.ORDER_PARTIALLY_FILLED, now
        )
        self._observe(session, updated, OrderEventKind.FILLED, execution.quantity, execution.price, now)
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
        self._hold(
            session, after, after.held_cash - before.held_cash, after.held_quantity - before.held_quantity
        )
        return after

    def _hold(self, session: TradingSession, order: Order, cash_delta: Decimal, unit_delta: Decimal) -> None:
        if cash_delta:
            session.hold(order.account_id, cash(order.currency), cash_delta)
        if unit_delta:
            session.hold(order.account_id, units(order.instrument_id), unit_delta)

    def _close(
        self, session: TradingSession, order: Order, status: OrderStatus | None, now: datetime
    ) -> Order:
        final = status or (
            OrderStatus.FILLED if order.quantity == order.filled_quantity else OrderStatus.CANCELLED
        )
        closed = replace(order, status=final, held_cash=ZERO, held_quantity=ZERO, updated_at=now)
        self._hold(session, order, -order.held_cash, -order.held_quantity)
        session.save_order(closed)
        return closed

    def _cancel(self, session: TradingSession, order: Order, now: datetime, event: EventType) -> Order:
        cancelled = self._close(session, order, OrderStatus.CANCELLED, now)
        self._emit(session, cancelled, event, now)
        self._observe(session, cancelled, OrderEventKind.CANCELLED, order.remaining, order.limit_price, now)
        return cancelled

    def _convert(self, session: TradingSession, order: Order, plan: FxPlan, now: datetime) -> None:
        quote = plan.quote
        target = cash(quote.converted.currency)
        postings = (
            *transfer(plan.source_account, HOUSE_FX, cash(quote.source.currency), quote.source.amount),
            *transfer(HOUSE_FX, order.account_id, target, quote.converted.amount),
            *transfer(HOUSE_FX, HOUSE_FEES, target, quote.spread.amount.amount),
        )
        session.post(JournalEntry(_new_id("jrn"), EntryKind.FX, order.id, postings, now))

    # -- internals: funds ----------------------------------------------------------------------

    def _cut_off(self, order: Order) -> datetime:
        instrument = self.catalogue.get(order.instrument_id)
        if order.dealing_day is None or instrument.fund is None:
            raise OrderStateError("only a fund order has a NAV cut-off", order_type=order.order_type)
        zone = ZoneInfo(instrument.fund.time_zone)
        cut_off = time.fromisoformat(instrument.fund.cut_off)
        return datetime.combine(order.dealing_day, cut_off, tzinfo=zone).astimezone(UTC)

    def _allot(
        self, session: TradingSession, order: Order, instrument: Instrument, nav: Decimal, now: datetime
    ) -> None:
        """Units = (amount - fee) / NAV rounded down to 0.01; the remainder stays as cash (DOMAIN.md)."""
        amount = order.amount or ZERO
        fee = estimate_fees(instrument, Side.BUY, None, None, amount).total.amount
        allotted = ((amount - fee) / nav).quantize(UNIT_STEP, ROUND_DOWN)
        cost = _cents(allotted * nav)
        money = cash(order.currency)
        postings = (
            *transfer(order.account_id, HOUSE_STREET, money, cost),
            *transfer(order.account_id, HOUSE_FEES, money, fee),
            *transfer(HOUSE_STREET, order.account_id, units(instrument.id), allotted),
        )
        self._deal(session, order, postings, allotted, nav, cost, fee, now)

    def _pay_redemption(
        self, session: TradingSession, order: Order, instrument: Instrument, nav: Decimal, now: datetime
    ) -> None:
        quantity = order.quantity or ZERO
        proceeds = (quantity * nav).quantize(CENT, ROUND_DOWN)
        fee = estimate_fees(instrument, Side.SELL, quantity, nav, None).total.amount
        money = cash(order.currency)
        postings = (
            *transfer(order.account_id, HOUSE_STREET, units(instrument.id), quantity),
            *transfer(HOUSE_STREET, order.account_id, money, proceeds),
            *transfer(order.account_id, HOUSE_FEES, money, fee),
        )
        self._deal(session, order, postings, quantity, nav, proceeds, fee, now)

    def _deal(
        self,
        session: TradingSession,
        order: Order,
        postings: tuple[Posting, ...],
        quantity: Decimal,
        nav: Decimal,
        notional: Decimal,
        fee: Decimal,
        now: datetime,
    ) -> None:
        self._hold(session, order, -order.held_cash, -order.held_quantity)  # release before paying
        if postings:
            session.post(JournalEntry(_new_id("jrn"), EntryKind.FUND_DEALING, order.id, postings, now))
        filled = replace(
            order,
            status=OrderStatus.FILLED,
            filled_quantity=quantity,
            filled_notional=notional,
            fees=fee,
            held_cash=ZERO,
            held_quantity=ZERO,
            updated_at=now,
        )
        fill = Fill(
            _new_id("fil"),
            order.id,
            order.instrument_id,
            order.side,
            quantity,
            nav,
            notional,
            fee,
            Liquidity.NAV,
            None,
            now,
        )
        session.add_fill(fill)
        session.save_order(filled)
        self._emit(session, filled, EventType.FILL_CREATED, now, fill_id=fill.id, quantity=str(quantity))
        self._emit(session, filled, EventType.ORDER_FILLED, now)
        self._observe(session, filled, OrderEventKind.FILLED, quantity, nav, now)

    def _redeem_allotment(self, session: TradingSession, order: Order, now: datetime) -> Order:
        """After allotment, cooling off becomes a redemption of the allotted units at the next NAV."""
        instrument = self.catalogue.get(order.instrument_id)
        redemption = replace(
            order,
            id=_new_id("ord"),
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
        self._hold(session, redemption, ZERO, redemption.held_quantity)
        undone = replace(order, reversed_by=redemption.id, updated_at=now)
        session.save_order(undone)
        self._emit(session, undone, EventType.ORDER_COOLING_OFF_CANCELLED, now, redemption_id=redemption.id)
        self._emit(session, redemption, EventType.ORDER_ACCEPTED, now)
        return undone

    # -- internals: surveillance and events ----------------------------------------------------

    def _observe(
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
            self._alert(session, order, draft, now)

    def _alert(self, session: TradingSession, order: Order, draft: AlertDraft, now: datetime) -> None:
        session.add_alert(_new_id("alt"), draft)
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
            session.restrict(_new_id("rst"), restriction)

    def _emit(
        self, session: TradingSession, order: Order, kind: EventType, now: datetime, **extra: str
    ) -> None:
        payload: dict[str, object] = {
            "order_id": order.id,
            "client_order_id": order.client_order_id,
            "status": order.status.value,
            "instrument_id": order.instrument_id,
            "side": order.side.value,
            "filled_quantity": str(order.filled_quantity),
            **extra,
        }
        session.emit(OutboxEvent(_new_id("evt"), kind, order.partner_id, order.id, payload, now))

    def _owned(self, session: TradingSession, actor: Actor, order_id: str) -> Order:
        order = session.order(order_id)
        if order is None or not _visible(order, actor):
            raise OrderNotFoundError("no such order", order_id=order_id)
        return order


def opening_entry(customer: Customer, at: datetime) -> JournalEntry | None:
    """The customer's cash and holdings at onboarding, moved in from the street in one entry."""
    postings: list[Posting] = []
    for account in customer.accounts:
        for balance in account.balances:
            postings += transfer(HOUSE_STREET, account.id, cash(balance.currency), balance.total)
    for holding in customer.holdings:
        postings += transfer(HOUSE_STREET, holding.account_id, units(holding.instrument_id), holding.quantity)
    if not postings:
        return None
    return JournalEntry(f"jrn_open_{customer.id}", EntryKind.OPENING, None, tuple(postings), at)


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


def _customer_facts(customer: Customer) -> CustomerFacts:
    return CustomerFacts(
        risk_level=customer.risk_level,
        investor_class=customer.investor_class,
        jurisdiction=customer.residency,
    )


def _product_facts(instrument: Instrument) -> ProductFacts:
    if instrument.instrument_type is InstrumentType.FUND:
        money_market = instrument.fund is not None and instrument.fund.money_market
        product_type = ProductType.MONEY_MARKET_FUND if money_market else ProductType.FUND
    else:
        product_type = ProductType(instrument.instrument_type.value)
    return ProductFacts(
        risk=ProductRisk(instrument.risk),
        product_type=product_type,
        complexity=Complexity.COMPLEX if instrument.complex_product else Complexity.NON_COMPLEX,
        shariah_compliant=instrument.shariah_compliant,
        instrument_id=instrument.id,
    )


def _require(value: Decimal | None, needed: bool, name: str, order_type: OrderType) -> None:
    if needed and value is None:
        raise InvalidOrderError(f"a {order_type} order needs {name}", field=name)
    if not needed and value is not None:
        raise InvalidOrderError(f"a {order_type} order takes no {name}", field=name)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"
