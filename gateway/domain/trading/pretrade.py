"""Pre-trade checks: every rule an order must pass, each with a machine-readable verdict (DOMAIN.md).

Preview and placement run the same checks on the same facts; placement never trusts a preview.
The rule ids below are stable: a partner app can key its messages on `code` and show `message`.

A risk level is only as good as the questionnaire behind it (PTC-12): an assessment counts for 24
calendar months from the day it was taken, judged on the UTC date of the injected clock (taken on
2024-05-10, it expires on 2026-05-10; taken on 29 February, on 28 February). Without a date on
file it has expired. An expired assessment stops every purchase (a buy, a fund subscription, the
subscription of a points conversion) with `risk_assessment_expired`, naming the date and the 24
months; sells and redemptions go ahead, so a customer can always get out.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from gateway.domain.compliance.suitability import Decision, Disclosure, SuitabilityAssessment
from gateway.domain.consent.models import OrderPlacementLimit
from gateway.domain.market.models import Instrument, InstrumentType
from gateway.domain.money import Currency
from gateway.domain.trading.models import FUND_ORDER_TYPES, OrderType, Side

CONCENTRATION_LIMIT: Final = Decimal("0.30")  # DOMAIN.md: warn above 30 % of the portfolio in one position
PRICE_BAND: Final = Decimal("0.10")  # a limit more than 10 % away from the reference is a fat finger
MARKET_ORDER_COLLAR: Final = Decimal("0.05")  # market orders fill at most 5 % through the reference
RISK_ASSESSMENT_VALIDITY_MONTHS: Final = 24

RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "PTC-01": "The order type fits the instrument: market or limit for stocks and ETFs, "
        "subscriptions by amount and redemptions by units for funds.",
        "PTC-02": "Stock and ETF quantities are whole multiples of the instrument's lot size.",
        "PTC-03": "Stocks and ETFs trade only while their market is open; fund orders are taken at any "
        "time and priced at the next NAV cut-off. An instrument the venue halted does not trade "
        "(`trading_halted`).",
        "PTC-04": "The customer has an account for the instrument's market.",
        "PTC-05": "A buy needs the available cash for its highest possible cost, fees and FX included; "
        "a sell needs the available units.",
        "PTC-06": "A limit price lies within 10 % of the reference price.",
        "PTC-07": "A fund subscription is at least the fund's minimum subscription.",
        "PTC-08": "Buys pass suitability (SUIT-01 to SUIT-06 and the jurisdiction packs).",
        "PTC-09": "A position above 30 % of the portfolio after the order is flagged.",
        "PTC-10": "The order stays within the limits of the customer's consent to this partner.",
        "PTC-11": "An account restricted by surveillance places no new orders until compliance clears it.",
        "PTC-12": "A purchase needs a risk assessment taken within the last 24 months; a missing one has "
        "expired. Sells and redemptions need none.",
    }
)


class CheckStatus(StrEnum):
    PASSED = "passed"
    WARNING = "warning"  # shown to the customer; does not stop the order
    REQUIRES_ACKNOWLEDGEMENT = "requires_acknowledgement"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    rule: str
    status: CheckStatus
    message: str
    inputs: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the checks look at; the service gathers them from the ledger, the feed and the calendar."""

    instrument: Instrument
    side: Side
    order_type: OrderType
    quantity: Decimal | None
    amount: Decimal | None
    limit_price: Decimal | None
    reference_price: Decimal
    market_open: bool
    next_open: datetime | None
    account_id: str | None
    max_cost: Decimal  # buys: the most the order can cost in its currency, fees included
    cost_currency: Currency  # the currency the cost is paid in (the account's, after FX)
    available_cash: Decimal  # in cost_currency
    available_units: Decimal
    notional: Decimal  # estimated, in the instrument's currency
    notional_in_limit_currency: Decimal | None
    position_share_after: Decimal | None  # share of the portfolio in this instrument after the order
    suitability: SuitabilityAssessment | None  # None for sells: suitability governs buying
    limit: OrderPlacementLimit | None
    restricted: bool
    risk_assessed_on: date | None  # the customer's last risk questionnaire, if any is on file
    today: date  # the clock's date in UTC


@dataclass(frozen=True, slots=True)
class PreTradeReport:
    checks: tuple[Check, ...]
    required_acknowledgements: tuple[Disclosure, ...]

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.status is CheckStatus.FAILED)

    @property
    def unacknowledged(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.REQUIRES_ACKNOWLEDGEMENT)

    @property
    def can_place(self) -> bool:
        return not self.failures and not self.unacknowledged

    def failed(self, code: str) -> bool:
        return any(check.code == code for check in self.failures)


def run_checks(facts: OrderFacts) -> PreTradeReport:
    """Every check, in a stable order; a failure does not hide the checks after it."""
    checks = [
        _order_type(facts),
        _lot_size(facts),
        _trading_hours(facts),
        _account(facts),
        _funds(facts),
        _price_band(facts),
        _fund_minimum(facts),
        _suitability(facts),
        _concentration(facts),
        _consent_limit(facts),
        _restriction(facts),
        _risk_assessment(facts),
    ]
    applied = tuple(check for check in checks if check is not None)
    acknowledgements = (
        facts.suitability.required_acknowledgements
        if facts.suitability is not None and facts.suitability.decision is Decision.REQUIRES_ACKNOWLEDGEMENT
        else ()
    )
    return PreTradeReport(checks=applied, required_acknowledgements=acknowledgements)


def risk_assessment_expires_on(assessed_on: date) -> date:
    """The first day an assessment taken on `assessed_on` no longer counts: 24 months on (PTC-12)."""
    months = assessed_on.month - 1 + RISK_ASSESSMENT_VALIDITY_MONTHS
    year, month = assessed_on.year + months // 12, months % 12 + 1
    return date(year, month, min(assessed_on.day, calendar.monthrange(year, month)[1]))


def _check(code: str, rule: str, status: CheckStatus, message: str, **inputs: object) -> Check:
    return Check(code, rule, status, message, MappingProxyType({k: str(v) for k, v in inputs.items()}))


def _passed(code: str, rule: str, message: str, **inputs: object) -> Check:
    return _check(code, rule, CheckStatus.PASSED, message, **inputs)


def _failed(code: str, rule: str, message: str, **inputs: object) -> Check:
    return _check(code, rule, CheckStatus.FAILED, message, **inputs)


def _order_type(facts: OrderFacts) -> Check:
    is_fund = facts.instrument.instrument_type is InstrumentType.FUND
    fund_order = facts.order_type in FUND_ORDER_TYPES
    inputs = {"order_type": facts.order_type, "instrument_type": facts.instrument.instrument_type}
    if is_fund != fund_order:
        wanted = "fund_subscription or fund_redemption" if is_fund else "market or limit"
        return _failed("order_type_not_allowed", "PTC-01", f"this instrument takes {wanted} orders", **inputs)
    if facts.order_type is OrderType.FUND_SUBSCRIPTION and facts.side is not Side.BUY:
        return _failed("order_type_not_allowed", "PTC-01", "a subscription buys fund units", **inputs)
    if facts.order_type is OrderType.FUND_REDEMPTION and facts.side is not Side.SELL:
        return _failed("order_type_not_allowed", "PTC-01", "a redemption sells fund units", **inputs)
    return _passed("order_type_allowed", "PTC-01", "the order type fits the instrument", **inputs)


def _lot_size(facts: OrderFacts) -> Check | None:
    if facts.order_type in FUND_ORDER_TYPES or facts.quantity is None:
        return None
    lot = facts.instrument.lot_size
    if facts.quantity % lot != 0:
        return _failed(
            "lot_size",
            "PTC-02",
            f"the quantity must be a multiple of {lot}",
            quantity=facts.quantity,
            lot_size=lot,
        )
    return _passed("lot_size", "PTC-02", "the quantity is whole lots", quantity=facts.quantity, lot_size=lot)


def _trading_hours(facts: OrderFacts) -> Check:
    market = facts.instrument.market
    if facts.order_type in FUND_ORDER_TYPES:
        return _passed(
            "trading_hours", "PTC-03", "fund orders are priced at the next NAV cut-off", market=market
        )
    if facts.market_open:
        return _passed("trading_hours", "PTC-03", "the market is open", market=market)
    next_open = facts.next_open.isoformat() if facts.next_open else "unknown"
    return _failed(
        "market_closed", "PTC-03", f"the {market} market is closed", market=market, next_open=next_open
    )


def _account(facts: OrderFacts) -> Check:
    market = facts.instrument.market
    if facts.account_id is None:
        return _failed(
            "no_account_for_market", "PTC-04", f"the customer has no {market} account", market=market
        )
    return _passed(
        "account", "PTC-04", "the customer has an account for this market", account_id=facts.account_id
    )


def _funds(facts: OrderFacts) -> Check:
    if facts.side is Side.BUY:
        inputs = {
            "required": facts.max_cost,
            "available": facts.available_cash,
            "currency": facts.cost_currency,
        }
        if facts.max_cost > facts.available_cash:
            return _failed("insufficient_buying_power", "PTC-05", "not enough available cash", **inputs)
        return _passed("buying_power", "PTC-05", "enough available cash", **inputs)
    inputs = {"required": facts.quantity or 0, "available": facts.available_units}
    if (facts.quantity or 0) > facts.available_units:
        return _failed("insufficient_units", "PTC-05", "not enough available units to sell", **inputs)
    return _passed("units_available", "PTC-05", "enough available units", **inputs)


def _price_band(facts: OrderFacts) -> Check | None:
    if facts.limit_price is None:
        return None
    low = facts.reference_price * (1 - PRICE_BAND)
    high = facts.reference_price * (1 + PRICE_BAND)
    inputs = {"limit_price": facts.limit_price, "reference_price": facts.reference_price, "band": PRICE_BAND}
    if not low <= facts.limit_price <= high:
        return _failed(
            "price_out_of_band", "PTC-06", "the limit is more than 10 % from the reference", **inputs
        )
    return _passed("price_band", "PTC-06", "the limit is within the price band", **inputs)


def _fund_minimum(facts: OrderFacts) -> Check | None:
    terms = facts.instrument.fund
    if facts.order_type is not OrderType.FUND_SUBSCRIPTION or terms is None:
        return None
    inputs = {"amount": facts.amount or 0, "minimum": terms.minimum_subscription}
    if (facts.amount or 0) < terms.minimum_subscription:
        return _failed(
            "below_minimum_subscription", "PTC-07", "below the fund's minimum subscription", **inputs
        )
    return _passed("minimum_subscription", "PTC-07", "at or above the fund's minimum subscription", **inputs)


def _suitability(facts: OrderFacts) -> Check | None:
    assessment = facts.suitability
    if assessment is None:
        return None
    reasons = ",".join(reason.code for reason in assessment.reasons)
    inputs = {"decision": assessment.decision, "reasons": reasons, "rulebook": assessment.rulebook_version}
    if assessment.decision is Decision.UNSUITABLE:
        detail = "; ".join(r.message for r in assessment.reasons if r.outcome is Decision.UNSUITABLE)
        return _failed("unsuitable", "PTC-08", detail or "the product is not suitable", **inputs)
    if assessment.decision is Decision.REQUIRES_ACKNOWLEDGEMENT:
        codes = ",".join(d.code for d in assessment.required_acknowledgements)
        return _check(
            "acknowledgement_required",
            "PTC-08",
            CheckStatus.REQUIRES_ACKNOWLEDGEMENT,
            "acknowledge the named disclosures with the preview's acknowledgement token",
            disclosures=codes,
            **inputs,
        )
    return _passed("suitable", "PTC-08", "the product suits the customer", **inputs)


def _concentration(facts: OrderFacts) -> Check | None:
    share = facts.position_share_after
    if share is None or facts.side is Side.SELL:
        return None
    inputs = {"share_after": share.quantize(Decimal("0.0001")), "threshold": CONCENTRATION_LIMIT}
    if share > CONCENTRATION_LIMIT:
        return _check(
            "concentration",
            "PTC-09",
            CheckStatus.WARNING,
            "the position would exceed 30 % of the portfolio",
            **inputs,
        )
    return _passed("concentration", "PTC-09", "no single position above 30 %", **inputs)


def _consent_limit(facts: OrderFacts) -> Check | None:
    limit = facts.limit
    if limit is None:
        return None
    kind = facts.instrument.instrument_type
    allowed = ",".join(str(name) for name in limit.instruments)
    if kind not in limit.instruments:
        return _failed(
            "consent_limit_instrument",
            "PTC-10",
            f"the consent does not cover {kind} orders",
            limit="order_placement.instruments",
            instrument_type=kind,
            allowed=allowed,
        )
    cap = limit.max_notional_per_order
    notional = facts.notional_in_limit_currency
    inputs = {
        "limit": "order_placement.max_notional_per_order",
        "max_notional_per_order": cap.amount,
        "currency": cap.currency,
        "notional": notional if notional is not None else "unknown",
    }
    if notional is None or notional > cap.amount:
        return _failed(
            "consent_limit_notional", "PTC-10", "the order exceeds the consent's notional limit", **inputs
        )
    return _passed("consent_limit", "PTC-10", "within the consent's limits", **inputs)


def _restriction(facts: OrderFacts) -> Check:
    if facts.restricted:
        return _failed(
            "account_restricted", "PTC-11", "surveillance restricted the account; compliance must clear it"
        )
    return _passed("not_restricted", "PTC-11", "the account is not restricted")


def _risk_assessment(facts: OrderFacts) -> Check | None:
    if facts.side is not Side.BUY:
        return None
    assessed = facts.risk_assessed_on
    months = RISK_ASSESSMENT_VALIDITY_MONTHS
    if assessed is None:
        return _failed(
            "risk_assessment_expired",
            "PTC-12",
            f"no risk assessment on file; a purchase needs one taken within the last {months} months",
            risk_assessed_on="none",
            validity_months=months,
            expires_on="none",
            today=facts.today.isoformat(),
        )
    expires = risk_assessment_expires_on(assessed)
    inputs = {
        "risk_assessed_on": assessed.isoformat(),
        "validity_months": months,
        "expires_on": expires.isoformat(),
        "today": facts.today.isoformat(),
    }
    if facts.today >= expires:
        return _failed(
            "risk_assessment_expired",
            "PTC-12",
            f"the risk assessment of {assessed.isoformat()} is more than {months} months old "
            f"(it expired on {expires.isoformat()}); retake the risk questionnaire to buy",
            **inputs,
        )
    return _passed(
        "risk_assessment_current",
        "PTC-12",
        f"the risk assessment of {assessed.isoformat()} is less than {months} months old",
        **inputs,
    )
