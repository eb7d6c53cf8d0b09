"""Fund dealing: fund orders priced at their dealing day's NAV, and the subscriptions points buy.

The dealing job allots subscriptions and pays redemptions once the NAV is published, every order
in the trading transaction under the trading lock (ADR 0008). A points conversion subscribes and
cools off inside the transaction it already holds (ADR 0009).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Final

from gateway.domain.clock import Clock
from gateway.domain.compliance.suitability import SuitabilityAssessment
from gateway.domain.compliance.surveillance import OrderEventKind, SurveillanceConfig
from gateway.domain.customers.models import Account
from gateway.domain.errors import NotFoundError
from gateway.domain.ids import new_id
from gateway.domain.market import calendar as market_calendar
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.money import CENT
from gateway.domain.trading.entry import OrderEntry
from gateway.domain.trading.fees import cents, estimate_fees
from gateway.domain.trading.ledger import (
    HOUSE_FEES,
    HOUSE_STREET,
    ZERO,
    EntryKind,
    JournalEntry,
    Posting,
    cash,
    transfer,
    units,
)
from gateway.domain.trading.models import (
    Actor,
    EventType,
    Fill,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Placement,
    Side,
)
from gateway.domain.trading.ports import CustomerDirectory, FundOrderStore, TradingSession
from gateway.domain.trading.preview import market_account
from gateway.domain.trading.recorder import OrderRecorder
from gateway.domain.trading.venue import Venue

UNIT_STEP: Final = Decimal("0.01")  # fund units are allotted to two decimals (DOMAIN.md)


class FundDealing:
    def __init__(
        self,
        *,
        store: FundOrderStore,
        orders: OrderEntry,
        customers: CustomerDirectory,
        catalogue: Catalogue,
        venue: Venue,
        clock: Clock,
        surveillance: SurveillanceConfig | None = None,
    ) -> None:
        self._store = store
        self._orders = orders
        self._customers = customers
        self._catalogue = catalogue
        self._venue = venue
        self._clock = clock
        self._recorder = OrderRecorder(surveillance or SurveillanceConfig())

    def deal(self, accounts: Collection[str] | None = None) -> int:
        """Allot subscriptions and pay redemptions whose NAV is published; returns how many.

        `accounts` limits the run to the orders of these accounts (a test clock's); None deals
        every account's.
        """
        if accounts is not None and not accounts:
            return 0
        now = self._clock.now()
        done = 0
        with self._store.session() as session:
            session.lock_trading()
            for order in session.due_fund_orders(now.date(), accounts):
                instrument = self._catalogue.get(order.instrument_id)
                if order.dealing_day is None or now < market_calendar.nav_publication_time(
                    instrument.market, order.dealing_day
                ):
                    continue
                nav = self._venue.nav(instrument, order.dealing_day)
                if order.order_type is OrderType.FUND_SUBSCRIPTION:
                    self._allot(session, order, instrument, nav, now)
                else:
                    self._pay_redemption(session, order, instrument, nav, now)
                done += 1
        return done

    def next_due(self, accounts: Collection[str], after: datetime) -> datetime | None:
        """When `deal` next has an order of these accounts to deal: the earliest NAV publication
        strictly after `after` of their pending fund orders, or None when none is pending.

        An order whose NAV was out by `after` but that is not dealt yet is due at once: the answer
        is `after` itself, and a `deal` run then deals it.
        """
        if not accounts:
            return None
        moments = [
            market_calendar.nav_publication_time(self._catalogue.get(order.instrument_id).market, day)
            for order in self._store.pending_fund_orders(accounts)
            if (day := order.dealing_day) is not None
        ]
        return max(min(moments), after) if moments else None

    # -- what a points conversion does in its own trading transaction --------------------------

    def subscribe_in(
        self,
        session: TradingSession,
        actor: Actor,
        *,
        client_order_id: str,
        instrument_id: str,
        amount: Decimal,
        acknowledgement_token: str | None,
    ) -> Placement:
        """Subscribe an amount into a fund, with every pre-trade check, in the caller's transaction."""
        request = OrderRequest(
            client_order_id=client_order_id,
            instrument_id=instrument_id,
            side=Side.BUY,
            order_type=OrderType.FUND_SUBSCRIPTION,
            amount=amount,
            acknowledgement_token=acknowledgement_token,
        )
        return self._orders.place_in(session, actor, request)

    def cool_off_in(self, session: TradingSession, actor: Actor, order_id: str) -> Order:
        """Undo a subscription within its cooling-off period, in the caller's transaction."""
        return self._orders.cool_off_in(session, actor, order_id)

    def assess_purchase(
        self, actor: Actor, instrument: Instrument, acknowledgement_token: str | None
    ) -> tuple[SuitabilityAssessment, str | None]:
        """Suitability of a subscription and the token acknowledging its disclosures, if any."""
        return self._orders.assess_purchase(actor, instrument, acknowledgement_token)

    def account_for(self, customer_id: str, instrument: Instrument) -> Account | None:
        """The customer's account that holds the fund, if they have one in its market."""
        customer = self._customers.get(customer_id)
        if customer is None:
            raise NotFoundError("no such customer")
        return market_account(customer, instrument)

    # -- internals -----------------------------------------------------------------------------

    def _allot(
        self, session: TradingSession, order: Order, instrument: Instrument, nav: Decimal, now: datetime
    ) -> None:
        """Units = (amount - fee) / NAV rounded down to 0.01; the remainder stays as cash (DOMAIN.md)."""
        amount = order.amount or ZERO
        fee = estimate_fees(instrument, Side.BUY, None, None, amount).total.amount
        allotted = ((amount - fee) / nav).quantize(UNIT_STEP, ROUND_DOWN)
        cost = cents(allotted * nav)
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
        recorder = self._recorder
        recorder.hold(session, order, -order.held_cash, -order.held_quantity)  # release before paying
        if postings:
            session.post(JournalEntry(new_id("jrn"), EntryKind.FUND_DEALING, order.id, postings, now))
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
            new_id("fil"),
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
        recorder.emit(session, filled, EventType.FILL_CREATED, now, fill_id=fill.id, quantity=str(quantity))
        recorder.emit(session, filled, EventType.ORDER_FILLED, now)
        recorder.observe(session, filled, OrderEventKind.FILLED, quantity, nav, now)
