"""Fee estimates per market: the fee tables as data, itemised lines and their rounding.

Rules:
- Exchange orders (stocks, ETFs) are costed on the notional, quantity x price. Commission is a rate
  of the notional (CN, HK) or a price per share (US), never below the market's minimum; in the US
  it is then capped at 1 % of the notional, so the cap wins over the minimum on very small orders.
- Levies are rates of the notional on the sides and instrument types their table row names: CN
  stamp duty on stock sells and transfer fee on both sides of stock trades (ETFs pay neither); HK
  stamp duty on both sides of stock trades (waived for ETFs since 2015), trading fee and SFC levy
  on both sides; US SEC fee on sells.
- Funds are subscribed by amount and redeemed by units x NAV (or an amount). The subscription fee
  is a rate of the gross amount by fund category and is taken from it; the redemption fee is 0 for
  money-market funds and 0.5 % otherwise. Funds pay no commission and no stamp duty.
- Paying in another currency adds an FX spread of 0.10 % of the converted amount: what a buy
  costs (notional plus fees; a fund subscription's amount already holds its fee) or what a sell
  yields (notional less fees).
- Every line is rounded to the cent ROUND_HALF_UP, except HK stamp duty, which is rounded up
  (ROUND_CEILING) to the whole dollar as the Stamp Duty Ordinance requires. The total is the sum
  of the rounded lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Final

from gateway.domain.errors import RuleViolationError
from gateway.domain.market.models import FundTerms, Instrument, InstrumentType, Market
from gateway.domain.money import CENT, MAX_AMOUNT, Currency, Money
from gateway.domain.trading.models import Side

FX_SPREAD_RATE: Final = Decimal("0.0010")
_BOTH_SIDES: Final = frozenset(Side)
_SELLS: Final = frozenset({Side.SELL})
_STOCKS: Final = frozenset({InstrumentType.STOCK})
_EXCHANGE_TRADED: Final = frozenset({InstrumentType.STOCK, InstrumentType.ETF})
_WHOLE_UNIT: Final = Decimal(1)


@dataclass(frozen=True, slots=True)
class Levy:
    """A duty or regulatory fee: a rate of the notional on some sides and instrument types."""

    code: str
    label: str
    rate: Decimal
    sides: frozenset[Side]
    instrument_types: frozenset[InstrumentType]
    round_up_to_whole_unit: bool = False  # HK stamp duty: up to the next whole dollar

    def applies(self, side: Side, instrument_type: InstrumentType) -> bool:
        return side in self.sides and instrument_type in self.instrument_types


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The fee table of one market's exchange orders."""

    market: Market
    currency: Currency
    commission_rate: Decimal  # of the notional
    commission_per_share: Decimal
    minimum_commission: Decimal
    commission_cap_rate: Decimal | None  # of the notional, applied after the minimum
    levies: tuple[Levy, ...]


@dataclass(frozen=True, slots=True)
class FundFeeSchedule:
    """Subscription fee rates by fund category, and the redemption fee rates."""

    subscription_rates: Mapping[str, Decimal]
    redemption_rate: Decimal
    money_market_redemption_rate: Decimal


@dataclass(frozen=True, slots=True)
class FeeLine:
    code: str
    label: str
    amount: Money


@dataclass(frozen=True, slots=True)
class FeeEstimate:
    """The notional and the itemised fees of one order, all in the instrument's currency."""

    notional: Money
    lines: tuple[FeeLine, ...]
    total: Money


@dataclass(frozen=True, slots=True)
class FxQuote:
    """A currency conversion at `rate` (units of `converted` per unit of `source`), spread itemised."""

    source: Money
    rate: Decimal
    spread: FeeLine
    converted: Money


FEE_SCHEDULES: Final[Mapping[Market, FeeSchedule]] = MappingProxyType(
    {
        Market.CN: FeeSchedule(
            market=Market.CN,
            currency=Currency.CNY,
            commission_rate=Decimal("0.00025"),
            commission_per_share=Decimal(0),
            minimum_commission=Decimal("5.00"),
            commission_cap_rate=None,
            levies=(
                Levy("stamp_duty", "Stamp duty", Decimal("0.0005"), _SELLS, _STOCKS),
                Levy("transfer_fee", "Transfer fee", Decimal("0.00001"), _BOTH_SIDES, _STOCKS),
            ),
        ),
        Market.HK: FeeSchedule(
            market=Market.HK,
            currency=Currency.HKD,
            commission_rate=Decimal("0.0003"),
            commission_per_share=Decimal(0),
            minimum_commission=Decimal("3.00"),
            commission_cap_rate=None,
            levies=(
                Levy(
                    "stamp_duty",
                    "Stamp duty",
                    Decimal("0.001"),
                    _BOTH_SIDES,
                    _STOCKS,
                    round_up_to_whole_unit=True,
                ),
                Levy("trading_fee", "HKEX trading fee", Decimal("0.0000565"), _BOTH_SIDES, _EXCHANGE_TRADED),
                Levy("sfc_levy", "SFC transaction levy", Decimal("0.000027"), _BOTH_SIDES, _EXCHANGE_TRADED),
            ),
        ),
        Market.US: FeeSchedule(
            market=Market.US,
            currency=Currency.USD,
            commission_rate=Decimal(0),
            commission_per_share=Decimal("0.005"),
            minimum_commission=Decimal("1.00"),
            commission_cap_rate=Decimal("0.01"),
            levies=(Levy("sec_fee", "SEC fee", Decimal("0.0000278"), _SELLS, _EXCHANGE_TRADED),),
        ),
    }
)

FUND_FEES: Final = FundFeeSchedule(
    subscription_rates=MappingProxyType(
        {
            "money_market": Decimal(0),
            "bond": Decimal("0.006"),
            "balanced": Decimal("0.010"),
            "index": Decimal("0.010"),
            "equity": Decimal("0.015"),
        }
    ),
    redemption_rate=Decimal("0.005"),
    money_market_redemption_rate=Decimal(0),
)


def estimate_fees(
    instrument: Instrument,
    side: Side,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
    amount: Decimal | None = None,
    *,
    paying_currency: Currency | None = None,
) -> FeeEstimate:
    """Itemise what an order costs in fees; `paying_currency` adds the FX spread when it differs."""
    for name, value in (("quantity", quantity), ("price", price), ("amount", amount)):
        if value is not None and not (value.is_finite() and value > 0):
            raise RuleViolationError(f"{name} must be a positive number", field=name)
    if instrument.fund is not None:
        notional, lines = _fund_fees(instrument.fund, instrument.currency, side, quantity, price, amount)
    else:
        if quantity is None or price is None or amount is not None:
            raise RuleViolationError(
                "an exchange order is costed on a quantity and a price, not an amount",
                field="quantity" if quantity is None else "price" if price is None else "amount",
            )
        notional = _bounded(quantity * price)
        lines = _exchange_fees(instrument, side, quantity, notional)
    fees = sum((line.amount.amount for line in lines), Decimal(0))
    if paying_currency is not None and paying_currency is not instrument.currency:
        if side is Side.SELL:
            converted = max(notional - fees, Decimal(0))
        elif instrument.fund is not None:
            converted = notional  # the subscription fee is taken from the amount, not added to it
        else:
            converted = notional + fees
        spread = _line(
            "fx_spread", "FX conversion spread", cents(converted * FX_SPREAD_RATE), instrument.currency
        )
        lines = (*lines, spread)
        fees += spread.amount.amount
    return FeeEstimate(
        notional=Money(cents(notional), instrument.currency),
        lines=lines,
        total=Money(fees, instrument.currency),
    )


def fx_conversion(amount: Money, to: Currency, rate: Decimal) -> FxQuote:
    """Convert at `rate` less the 0.10 % spread; the customer gets the result rounded down to the cent."""
    if not (rate.is_finite() and rate > 0):
        raise RuleViolationError("an FX rate must be a positive number", field="rate")
    if amount.currency is to and rate != 1:
        raise RuleViolationError("a conversion into the same currency has the rate 1", field="rate")
    gross = _bounded(amount.amount * rate)
    spread = Decimal(0) if amount.currency is to else cents(gross * FX_SPREAD_RATE)
    converted = max(gross - spread, Decimal(0)).quantize(CENT, rounding=ROUND_DOWN)
    return FxQuote(
        source=amount,
        rate=rate,
        spread=_line("fx_spread", "FX conversion spread", spread, to),
        converted=Money(converted, to),
    )


def _exchange_fees(
    instrument: Instrument, side: Side, quantity: Decimal, notional: Decimal
) -> tuple[FeeLine, ...]:
    schedule = FEE_SCHEDULES[instrument.market]
    commission = max(
        notional * schedule.commission_rate + quantity * schedule.commission_per_share,
        schedule.minimum_commission,
    )
    if schedule.commission_cap_rate is not None:
        commission = min(commission, notional * schedule.commission_cap_rate)
    lines = [_line("commission", "Commission", cents(commission), instrument.currency)]
    for levy in schedule.levies:
        if levy.applies(side, instrument.instrument_type):
            raw = notional * levy.rate
            value = _whole_units_up(raw) if levy.round_up_to_whole_unit else cents(raw)
            lines.append(_line(levy.code, levy.label, value, instrument.currency))
    return tuple(lines)


def _fund_fees(
    terms: FundTerms,
    currency: Currency,
    side: Side,
    quantity: Decimal | None,
    price: Decimal | None,
    amount: Decimal | None,
) -> tuple[Decimal, tuple[FeeLine, ...]]:
    if side is Side.BUY:
        if amount is None or quantity is not None or price is not None:
            raise RuleViolationError("a fund subscription is an amount of cash", field="amount")
        amount = _bounded(amount)
        rate = FUND_FEES.subscription_rates[terms.category]
        return amount, (_line("subscription_fee", "Subscription fee", cents(amount * rate), currency),)
    if amount is not None and (quantity is not None or price is not None):
        raise RuleViolationError("a fund redemption is either units at a NAV or an amount", field="amount")
    if amount is None:
        if quantity is None or price is None:
            raise RuleViolationError(
                "a fund redemption by units needs the units and the NAV",
                field="quantity" if quantity is None else "price",
            )
        amount = quantity * price
    amount = _bounded(amount)
    rate = FUND_FEES.money_market_redemption_rate if terms.money_market else FUND_FEES.redemption_rate
    return amount, (_line("redemption_fee", "Redemption fee", cents(amount * rate), currency),)


def _bounded(value: Decimal) -> Decimal:
    # Checked before any rounding: a quantize beyond the context's precision would raise instead.
    if value > MAX_AMOUNT:
        raise RuleViolationError(
            f"an order value must not exceed {MAX_AMOUNT}", field="amount", maximum=str(MAX_AMOUNT)
        )
    return value


def _line(code: str, label: str, amount: Decimal, currency: Currency) -> FeeLine:
    return FeeLine(code, label, Money(amount, currency))


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _whole_units_up(value: Decimal) -> Decimal:
    return value.quantize(_WHOLE_UNIT, rounding=ROUND_CEILING).quantize(CENT)
