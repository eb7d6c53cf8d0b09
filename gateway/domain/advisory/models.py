"""Proposals as advice makes them: the investor, the proposed allocation, the reviews, drifts and trades."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from gateway.domain.advisory.errors import InvalidProposalError
from gateway.domain.advisory.portfolios import AssetClass, home_market
from gateway.domain.advisory.questionnaire import QUESTIONNAIRE_VERSION, RiskAssessment
from gateway.domain.compliance.suitability import (
    CustomerFacts,
    InvestorClass,
    Jurisdiction,
    ProductRisk,
    RiskLevel,
    SuitabilityAssessment,
)
from gateway.domain.market.models import Market
from gateway.domain.money import Currency, Money

if TYPE_CHECKING:
    from gateway.domain.customers.models import Customer


@dataclass(frozen=True, slots=True)
class RebalancePolicy:
    """Thresholds of PR-06 and PR-08, as fractions."""

    absolute_drift: Decimal = Decimal("0.05")
    relative_drift: Decimal = Decimal("0.25")
    idle_cash_share: Decimal = Decimal("0.05")

    def __post_init__(self) -> None:
        for name in ("absolute_drift", "relative_drift", "idle_cash_share"):
            value: Decimal = getattr(self, name)
            if not (value.is_finite() and 0 <= value <= 1):
                raise InvalidProposalError(f"{name} is a fraction from 0 to 1", field=f"policy.{name}")


DEFAULT_POLICY: Final = RebalancePolicy()


@dataclass(frozen=True, slots=True)
class InvestorProfile:
    """What advice needs to know about the investor; `customer_id` is None for a white-label profile."""

    risk_level: RiskLevel
    investor_class: InvestorClass
    jurisdiction: Jurisdiction
    islamic_account: bool = False
    home_market: Market | None = None  # None: rule MP-02 picks it from the jurisdiction
    customer_id: str | None = None
    appropriateness_passed: bool = False  # EU, for reviewing complex products already held
    derivative_knowledge: bool = False  # HK, likewise

    @classmethod
    def of_customer(cls, customer: Customer) -> InvestorProfile:
        """The profile of a brokerage customer, with the Islamic-account constraint of their record."""
        # The record keeps no EU appropriateness or HK derivative knowledge result: they stay False,
        # the stricter reading for reviewing positions already held.
        return cls(
            risk_level=customer.risk_level,
            investor_class=customer.investor_class,
            jurisdiction=customer.residency,
            islamic_account=customer.islamic_account,
            customer_id=customer.id,
        )

    @property
    def market(self) -> Market:
        return home_market(self.jurisdiction) if self.home_market is None else self.home_market

    def customer_facts(self) -> CustomerFacts:
        return CustomerFacts(
            risk_level=self.risk_level,
            investor_class=self.investor_class,
            jurisdiction=self.jurisdiction,
            islamic_account=self.islamic_account,
            appropriateness_passed=self.appropriateness_passed,
            derivative_knowledge=self.derivative_knowledge,
        )


@dataclass(frozen=True, slots=True)
class CurrentHolding:
    instrument_id: str
    quantity: Decimal
    market_value: Money  # in the instrument's currency


@dataclass(frozen=True, slots=True)
class AnonymousProfile:
    """A white-label request: either a risk level or questionnaire answers, and an amount to invest."""

    jurisdiction: Jurisdiction
    investor_class: InvestorClass
    amount: Money
    risk_level: RiskLevel | None = None
    answers: Mapping[str, str] | None = None
    questionnaire_version: str = QUESTIONNAIRE_VERSION
    islamic_account: bool = False
    home_market: Market | None = None


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TradeReason(StrEnum):
    DRIFT = "drift"  # PR-07
    UNSUITABLE = "unsuitable"  # PR-05
    IDLE_CASH = "idle_cash"  # PR-08


@dataclass(frozen=True, slots=True)
class ProposedHolding:
    """One holding of the proposed allocation and why it is there."""

    asset_class: AssetClass
    instrument_id: str | None  # None for cash
    name: str
    weight: Decimal
    target_value: Money  # weight x portfolio value
    product_risk: ProductRisk | None
    volatility: Decimal  # PR-03 proxy
    risk_contribution: Decimal  # share of the portfolio's volatility, PR-03
    role: str  # one sentence: what the asset class does in the portfolio
    suitability: SuitabilityAssessment | None  # None for cash, which is not a product


@dataclass(frozen=True, slots=True)
class PositionReview:
    """A current holding as the proposal sees it (PR-04, PR-05)."""

    instrument_id: str
    asset_class: AssetClass | None
    market_value: Money
    in_scope: bool
    weight: Decimal | None  # share of the portfolio value; None when out of scope
    note: str
    suitability: SuitabilityAssessment


@dataclass(frozen=True, slots=True)
class ClassDrift:
    """Current against target weight of one asset class, over the invested value (PR-06)."""

    asset_class: AssetClass
    current_value: Money
    current_weight: Decimal
    target_weight: Decimal
    drift: Decimal  # current - target
    off_target: bool


@dataclass(frozen=True, slots=True)
class Trade:
    side: TradeSide
    instrument_id: str
    asset_class: AssetClass
    amount: Money
    estimated_quantity: Decimal  # PR-10
    reason: TradeReason


@dataclass(frozen=True, slots=True)
class IdleCashSuggestion:
    """PR-08: cash above the threshold, and where to invest it."""

    cash: Money  # after the rebalancing trades
    portfolio_value: Money
    threshold: Decimal  # the share of the portfolio value that may stay in cash
    excess: Money
    trades: tuple[Trade, ...]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposal as advice gives it; storage keeps it as the document of `codec`."""

    id: str  # "prp_…"
    created_at: datetime  # aware, UTC
    profile: InvestorProfile  # with the home market resolved
    risk_assessment: RiskAssessment | None  # when the proposal was made from questionnaire answers
    model_id: str
    model_version: str
    catalogue_version: str | None
    currency: Currency
    portfolio_value: Money  # holdings in scope + cash
    holdings: tuple[ProposedHolding, ...]
    expected_volatility: Decimal  # PR-03
    positions: tuple[PositionReview, ...]
    drifts: tuple[ClassDrift, ...]
    trades: tuple[Trade, ...]  # rebalancing (PR-05, PR-07)
    net_cash_flow: Decimal  # buys - sales of `trades`
    idle_cash: IdleCashSuggestion | None
    policy: RebalancePolicy
    notes: tuple[str, ...]

    @property
    def customer_id(self) -> str | None:
        return self.profile.customer_id

    @property
    def required_acknowledgements(self) -> tuple[str, ...]:
        """Disclosure codes to acknowledge before buying the proposed products (e.g. the EU fund KID)."""
        codes = {
            disclosure.code
            for holding in self.holdings
            if holding.suitability is not None
            for disclosure in holding.suitability.required_acknowledgements
        }
        return tuple(sorted(codes))
