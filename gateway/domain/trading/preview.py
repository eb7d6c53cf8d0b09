"""An order's facts, gathered in the trading transaction, judged by the pre-trade checks.

Preview answers with them and placement runs them again: a preview is never trusted (ADR 0008).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal

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
from gateway.domain.consent.models import OrderPlacementLimit
from gateway.domain.customers.models import Account, Customer
from gateway.domain.errors import NotFoundError
from gateway.domain.market import calendar as market_calendar
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType
from gateway.domain.money import CENT, Currency, Money
from gateway.domain.trading.acknowledgements import AcknowledgementScope, AcknowledgementSigner
from gateway.domain.trading.errors import InvalidOrderError
from gateway.domain.trading.fees import (
    FX_SPREAD_RATE,
    FeeEstimate,
    FxQuote,
    cents,
    estimate_fees,
    fx_conversion,
)
from gateway.domain.trading.ledger import ZERO, Balance, cash, units
from gateway.domain.trading.models import FUND_ORDER_TYPES, Actor, OrderRequest, OrderType, Side
from gateway.domain.trading.ports import CustomerDirectory, FxRates, TradingSession
from gateway.domain.trading.pretrade import OrderFacts, PreTradeReport, run_checks
from gateway.domain.trading.venue import Prices, collar


@dataclass(frozen=True, slots=True)
class FxPlan:
    """Cash the master account converts to pay for a buy (`fx_conversion`: rate less the spread)."""

    source_account: str
    quote: FxQuote


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
class OrderContext:
    customer: Customer
    instrument: Instrument
    account: Account | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Previewer:
    customers: CustomerDirectory
    catalogue: Catalogue
    prices: Prices
    fx: FxRates
    clock: Clock
    signer: AcknowledgementSigner

    def context(self, actor: Actor, request: OrderRequest) -> OrderContext:
        customer = self.customer(actor.customer_id)
        try:
            instrument = self.catalogue.get(request.instrument_id)
        except NotFoundError:
            raise InvalidOrderError("no such instrument", field="instrument_id") from None
        return OrderContext(customer, instrument, market_account(customer, instrument))

    def customer(self, customer_id: str) -> Customer:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise NotFoundError("no such customer")
        return customer

    def assess_purchase(
        self, actor: Actor, instrument: Instrument, acknowledgement_token: str | None
    ) -> tuple[SuitabilityAssessment, str | None]:
        """Suitability of a buy for the actor's customer (PTC-08's rules), and when disclosures must be
        acknowledged, the token that acknowledges them (what placing the buy will verify)."""
        customer = self.customer(actor.customer_id)
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

    def preview(
        self,
        session: TradingSession,
        actor: Actor,
        request: OrderRequest,
        context: OrderContext,
        now: datetime,
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
            notional = cents(quantity * (request.limit_price or reference))
            fees = self._fees(instrument, request, quantity, price, None)
            max_cost = cents(quantity * price) + fees.total.amount if request.side is Side.BUY else ZERO
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
            risk_assessed_on=customer.risk_assessed_on,
            today=now.astimezone(UTC).date(),
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
        return cents(notional * self.fx.fx_rate(currency, target, now))

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


def market_account(customer: Customer, instrument: Instrument) -> Account | None:
    """The customer's account in the instrument's market, if they have one."""
    return next((a for a in customer.accounts if a.jurisdiction.value == instrument.market.value), None)


def _customer_facts(customer: Customer) -> CustomerFacts:
    return CustomerFacts(
        risk_level=customer.risk_level,
        investor_class=customer.investor_class,
        jurisdiction=customer.residency,
        islamic_account=customer.islamic_account,
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
