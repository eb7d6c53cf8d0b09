"""Proposals: a model portfolio explained holding by holding, with rebalancing and idle-cash suggestions."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol

from gateway.domain.advisory.errors import InvalidProposalError, UnsuitableProposalError
from gateway.domain.advisory.portfolios import (
    ASSET_CLASS_ORDER,
    MARKET_CURRENCY,
    ROLES,
    WEIGHT_STEP,
    AssetClass,
    ModelHolding,
    ModelPortfolio,
    asset_class_of,
    build_model,
    home_market,
)
from gateway.domain.advisory.questionnaire import QUESTIONNAIRE_VERSION, RiskAssessment, score
from gateway.domain.compliance.suitability import (
    Complexity,
    CustomerFacts,
    Decision,
    Disclosure,
    InvestorClass,
    Jurisdiction,
    ProductFacts,
    ProductRisk,
    ProductType,
    Reason,
    RiskLevel,
    SaleContext,
    SuitabilityAssessment,
    assess_suitability,
)
from gateway.domain.errors import NotFoundError, RuleViolationError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.money import CENT, Currency, Money

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_PROPOSAL_ID: Final = re.compile(r"prp_[a-z0-9]{8,40}")

# The proposal rulebook, alongside the model rules MP-01..MP-06 in `portfolios.RULES`.
RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "PR-01": (
            "The model is that of the profile's risk level, home market (MP-02) and, for an Islamic "
            "account, the Shariah variant, unless the caller supplies a model of the same market."
        ),
        "PR-02": (
            "Every proposed product is assessed by assess_suitability in the advised context. If any is "
            "unsuitable no proposal is made (UnsuitableProposalError names the products and reasons); a "
            "product that requires an acknowledgement stays, with its disclosures, and the order re-runs "
            "the check."
        ),
        "PR-03": (
            "Volatility proxy per product risk, a year: R1 1%, R2 4%, R3 10%, R4 16%, R5 25%, cash 0%. A "
            "holding's risk contribution is weight x volatility / sum(weight x volatility); the expected "
            "volatility is that sum, an upper bound as it treats the holdings as perfectly correlated."
        ),
        "PR-04": (
            "A current holding counts in the advised portfolio when it is a fund or non-complex ETF of "
            "the home market; stocks, complex products and other markets' holdings are reviewed with a "
            "suitability verdict but neither weighed nor traded. Cash is in the home market's currency."
        ),
        "PR-05": "A holding in scope that is unsuitable under advice is suggested for sale in full.",
        "PR-06": (
            "Over the invested value (holdings in scope, PR-05 sales included as proceeds), a class's "
            "target is its model weight / (1 - the model's cash weight). It is off target when "
            "|current - target| is over 5 percentage points or over 25% of the target, or when the "
            "target is 0 and something is held; exact weights, strict comparisons."
        ),
        "PR-07": (
            "Only off-target classes trade, straight back to target: buys go to the model's product, "
            "sales take products off the model first, larger positions first. Buys beyond the sales "
            "plus the cash share that sum pro rata. Amounts round toward zero to the cent; "
            "net_cash_flow = buys - sales."
        ),
        "PR-08": (
            "If the cash left after PR-07 is over max(5%, the model's cash weight) of the portfolio "
            "value (holdings in scope + cash), the excess over that threshold is suggested for "
            "investment across the model's non-cash classes (the money-market fund for C1)."
        ),
        "PR-09": (
            "Money is in cents; a split of an amount puts the leftover cents on the largest weight. "
            "Weights, contributions and volatility have 4 decimals (half even), the residue on the "
            "largest, so shares sum to exactly 1."
        ),
        "PR-10": (
            "Quantities are estimates at the reference price: fund units rounded down to 0.01, ETF "
            "shares to whole lots; a sale in full sells the whole quantity."
        ),
        "PR-11": (
            "A white-label proposal has no customer and no holdings: the whole amount to invest goes "
            "into the model (idle cash share 0)."
        ),
    }
)

# PR-03: yearly volatility assumed for each product risk level.
VOLATILITY_PROXY: Final[Mapping[ProductRisk, Decimal]] = MappingProxyType(
    {
        ProductRisk.R1: Decimal("0.01"),
        ProductRisk.R2: Decimal("0.04"),
        ProductRisk.R3: Decimal("0.10"),
        ProductRisk.R4: Decimal("0.16"),
        ProductRisk.R5: Decimal("0.25"),
    }
)
CASH_VOLATILITY: Final = Decimal("0.00")


class Prices(Protocol):
    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        """The price (or NAV) to value `instrument` at `moment`, in the instrument's currency."""
        ...


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
    """A proposal as advice gives it and storage keeps it (`to_document` / `from_document`)."""

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

    def to_document(self) -> dict[str, object]:
        """A JSON-ready dict: Decimals as strings, times in ISO 8601; `from_document` inverts it."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "profile": _profile_document(self.profile),
            "risk_assessment": None if self.risk_assessment is None else self.risk_assessment.to_document(),
            "model_id": self.model_id,
            "model_version": self.model_version,
            "catalogue_version": self.catalogue_version,
            "currency": self.currency.value,
            "portfolio_value": _money_document(self.portfolio_value),
            "holdings": [_holding_document(holding) for holding in self.holdings],
            "expected_volatility": str(self.expected_volatility),
            "positions": [_position_document(position) for position in self.positions],
            "drifts": [
                {
                    "asset_class": drift.asset_class.value,
                    "current_value": _money_document(drift.current_value),
                    "current_weight": str(drift.current_weight),
                    "target_weight": str(drift.target_weight),
                    "drift": str(drift.drift),
                    "off_target": drift.off_target,
                }
                for drift in self.drifts
            ],
            "trades": [_trade_document(trade) for trade in self.trades],
            "net_cash_flow": str(self.net_cash_flow),
            "idle_cash": None if self.idle_cash is None else _idle_cash_document(self.idle_cash),
            "policy": {
                "absolute_drift": str(self.policy.absolute_drift),
                "relative_drift": str(self.policy.relative_drift),
                "idle_cash_share": str(self.policy.idle_cash_share),
            },
            "notes": list(self.notes),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> Proposal:
        """Rebuild a proposal from `to_document` output; anything malformed is an InvalidProposalError."""
        try:
            return _proposal_from(document)
        except (KeyError, TypeError, ValueError, ArithmeticError, RuleViolationError) as exc:
            raise InvalidProposalError(f"proposal document is not valid: {exc!r}", field="document") from None


def new_proposal_id() -> str:
    return f"prp_{secrets.token_hex(10)}"


def product_facts(instrument: Instrument) -> ProductFacts:
    """The facts suitability needs about a catalogue instrument."""
    if instrument.fund is not None:
        product_type = ProductType.MONEY_MARKET_FUND if instrument.fund.money_market else ProductType.FUND
    elif instrument.instrument_type is InstrumentType.ETF:
        product_type = ProductType.ETF
    else:
        product_type = ProductType.STOCK
    return ProductFacts(
        risk=ProductRisk(instrument.risk),
        product_type=product_type,
        complexity=Complexity.COMPLEX if instrument.complex_product else Complexity.NON_COMPLEX,
        shariah_compliant=instrument.shariah_compliant,
        instrument_id=instrument.id,
    )


def propose(
    profile: InvestorProfile,
    holdings: Sequence[CurrentHolding],
    cash: Money,
    catalogue: Catalogue,
    prices: Prices,
    now: datetime,
    *,
    proposal_id: str | None = None,
    model: ModelPortfolio | None = None,
    policy: RebalancePolicy = DEFAULT_POLICY,
    risk_assessment: RiskAssessment | None = None,
) -> Proposal:
    """Propose the model portfolio for this investor, explained, with rebalancing and idle-cash advice."""
    created_at = _utc(now)
    identifier = new_proposal_id() if proposal_id is None else proposal_id
    if _PROPOSAL_ID.fullmatch(identifier) is None:
        raise InvalidProposalError("a proposal id looks like prp_…", field="proposal_id")
    market = profile.market
    currency = MARKET_CURRENCY[market]
    profile = replace(profile, home_market=market)
    if cash.currency is not currency:
        raise InvalidProposalError(
            f"cash is advised on in the home market's currency {currency}", field="cash", market=market.value
        )
    if model is None:
        model = build_model(catalogue, profile.risk_level, market, shariah=profile.islamic_account)
    elif model.market is not market:
        raise InvalidProposalError(
            f"the model is for the {model.market} market, the investor's home market is {market}",
            field="model",
        )
    customer = profile.customer_facts()
    products = _model_products(model, catalogue)
    assessments = {
        instrument_id: assess_suitability(customer, product_facts(instrument), context=SaleContext.ADVISED)
        for instrument_id, instrument in products.items()
    }
    # PR-02: refusing, rather than dropping a product, makes a wrong model visible instead of quietly
    # reshaping it.
    _refuse_unsuitable(model, assessments)

    positions = _review(holdings, catalogue, customer, market, model)
    held_value = sum((p.holding.market_value.amount for p in positions if p.in_scope), _ZERO)
    total = held_value + cash.amount
    targets = _targets(model)
    drifts, trades, net_cash_flow = _rebalance(
        positions, targets, model, products, cash, policy, prices, created_at
    )
    idle_cash = _idle_cash(
        cash.amount - net_cash_flow, total, targets, model, products, policy, prices, created_at, currency
    )
    proposed = _proposed_holdings(model, products, assessments, total, currency)
    notes = list(model.notes)
    if any(a.decision is Decision.REQUIRES_ACKNOWLEDGEMENT for a in assessments.values()):
        notes.append(
            "Some proposed products need an acknowledgement before they can be bought (see suitability)."
        )
    return Proposal(
        id=identifier,
        created_at=created_at,
        profile=profile,
        risk_assessment=risk_assessment,
        model_id=model.id,
        model_version=model.version,
        catalogue_version=model.catalogue_version,
        currency=currency,
        portfolio_value=Money(total, currency),
        holdings=proposed,
        expected_volatility=sum((h.weight * h.volatility for h in proposed), _ZERO).quantize(WEIGHT_STEP),
        positions=tuple(position.review(total) for position in positions),
        drifts=drifts,
        trades=trades,
        net_cash_flow=net_cash_flow,
        idle_cash=idle_cash,
        policy=policy,
        notes=tuple(notes),
    )


def propose_anonymous(
    request: AnonymousProfile,
    catalogue: Catalogue,
    prices: Prices,
    now: datetime,
    *,
    proposal_id: str | None = None,
    policy: RebalancePolicy = DEFAULT_POLICY,
) -> Proposal:
    """Rule PR-11: a white-label proposal for an amount, from a risk level or questionnaire answers."""
    assessment: RiskAssessment | None = None
    if request.answers is not None and request.risk_level is None:
        assessment = score(request.answers, request.questionnaire_version)
        risk_level = assessment.risk_level
    elif request.risk_level is not None and request.answers is None:
        risk_level = request.risk_level
    else:
        raise InvalidProposalError("give either a risk level or questionnaire answers", field="risk_level")
    profile = InvestorProfile(
        risk_level=risk_level,
        investor_class=request.investor_class,
        jurisdiction=request.jurisdiction,
        islamic_account=request.islamic_account,
        home_market=request.home_market,
    )
    currency = MARKET_CURRENCY[profile.market]
    if request.amount.currency is not currency or request.amount.amount <= 0:
        raise InvalidProposalError(
            f"the amount to invest is positive and in the home market's currency {currency}", field="amount"
        )
    return propose(
        profile,
        (),
        request.amount,
        catalogue,
        prices,
        now,
        proposal_id=proposal_id,
        policy=replace(policy, idle_cash_share=_ZERO),  # all of the amount is there to be invested
        risk_assessment=assessment,
    )


@dataclass(frozen=True, slots=True)
class _Position:
    holding: CurrentHolding
    instrument: Instrument
    asset_class: AssetClass | None
    in_scope: bool
    on_model: bool  # the model's product for its class
    assessment: SuitabilityAssessment
    note: str

    @property
    def to_sell(self) -> bool:
        return self.in_scope and self.assessment.decision is Decision.UNSUITABLE

    def review(self, total: Decimal) -> PositionReview:
        weight = None
        if self.in_scope:
            weight = (self.holding.market_value.amount / total).quantize(WEIGHT_STEP, ROUND_HALF_EVEN)
        return PositionReview(
            instrument_id=self.instrument.id,
            asset_class=self.asset_class,
            market_value=self.holding.market_value,
            in_scope=self.in_scope,
            weight=weight,
            note=self.note,
            suitability=self.assessment,
        )


def _utc(now: datetime) -> datetime:
    if now.utcoffset() is None:
        raise InvalidProposalError("the time of a proposal is timezone-aware", field="now")
    return now.astimezone(UTC)


def _model_products(model: ModelPortfolio, catalogue: Catalogue) -> dict[str, Instrument]:
    products: dict[str, Instrument] = {}
    for holding in model.holdings:
        if holding.instrument_id is None:
            continue
        try:
            products[holding.instrument_id] = catalogue.get(holding.instrument_id)
        except NotFoundError:
            raise InvalidProposalError(
                "the model holds an instrument the catalogue does not have",
                field="model.holdings",
                instrument_id=holding.instrument_id,
            ) from None
    return products


def _refuse_unsuitable(model: ModelPortfolio, assessments: Mapping[str, SuitabilityAssessment]) -> None:
    refused = {
        instrument_id: [r.code for r in assessment.reasons if r.outcome is Decision.UNSUITABLE]
        for instrument_id, assessment in assessments.items()
        if assessment.decision is Decision.UNSUITABLE
    }
    if refused:
        raise UnsuitableProposalError(
            f"model {model.id} holds products unsuitable for this investor: {', '.join(sorted(refused))}",
            field="model",
            model_id=model.id,
            instruments=sorted(refused),
            reasons=refused,
        )


def _review(
    holdings: Sequence[CurrentHolding],
    catalogue: Catalogue,
    customer: CustomerFacts,
    market: Market,
    model: ModelPortfolio,
) -> list[_Position]:
    positions: list[_Position] = []
    seen: set[str] = set()
    for index, holding in enumerate(holdings):
        field = f"holdings[{index}]"
        if holding.instrument_id in seen:
            raise InvalidProposalError("one holding per instrument", field=f"{field}.instrument_id")
        seen.add(holding.instrument_id)
        try:
            instrument = catalogue.get(holding.instrument_id)
        except NotFoundError:
            raise InvalidProposalError(
                "the instrument is not in the catalogue", field=f"{field}.instrument_id"
            ) from None
        if not (holding.quantity.is_finite() and holding.quantity > 0):
            raise InvalidProposalError("a holding has a positive quantity", field=f"{field}.quantity")
        if holding.market_value.currency is not instrument.currency:
            raise InvalidProposalError(
                f"the market value is in the instrument's currency {instrument.currency}",
                field=f"{field}.market_value",
            )
        asset_class = asset_class_of(instrument)
        in_scope = asset_class is not None and instrument.market is market
        assessment = assess_suitability(customer, product_facts(instrument), context=SaleContext.ADVISED)
        model_holding = None if asset_class is None else model.holding(asset_class)
        on_model = model_holding is not None and model_holding.instrument_id == instrument.id
        positions.append(
            _Position(
                holding=holding,
                instrument=instrument,
                asset_class=asset_class,
                in_scope=in_scope,
                on_model=on_model,
                assessment=assessment,
                note=_note(instrument, asset_class, in_scope, on_model, assessment, market),
            )
        )
    return positions


def _note(
    instrument: Instrument,
    asset_class: AssetClass | None,
    in_scope: bool,
    on_model: bool,
    assessment: SuitabilityAssessment,
    market: Market,
) -> str:
    if instrument.market is not market:
        return (
            f"Held in the {instrument.market} market; this proposal covers the {market} portfolio "
            f"in {MARKET_CURRENCY[market]}. Reviewed, not traded."
        )
    if asset_class is None:
        kind = "complex product" if instrument.complex_product else "directly held stock"
        return f"A {kind} is not part of a model portfolio. Reviewed, not traded."
    if in_scope and assessment.decision is Decision.UNSUITABLE:
        return "Unsuitable for this investor under advice: suggested for sale in full."
    suffix = ", as the model's product for that class" if on_model else ""
    return f"Counted in the {asset_class.value} allocation{suffix}."


def _targets(model: ModelPortfolio) -> dict[AssetClass, Decimal]:
    # PR-06: cash is not traded by rebalancing, so the invested part follows the non-cash weights.
    invested_share = _ONE - model.weight(AssetClass.CASH)
    if invested_share == 0:
        return {}
    return {
        holding.asset_class: holding.weight / invested_share
        for holding in model.holdings
        if holding.asset_class is not AssetClass.CASH
    }


def _off_target(current: Decimal, target: Decimal, held: Decimal, policy: RebalancePolicy) -> bool:
    drift = abs(current - target)
    if target == 0:
        return held > 0
    return drift > policy.absolute_drift or drift > policy.relative_drift * target


def _rebalance(
    positions: Sequence[_Position],
    targets: Mapping[AssetClass, Decimal],
    model: ModelPortfolio,
    products: Mapping[str, Instrument],
    cash: Money,
    policy: RebalancePolicy,
    prices: Prices,
    moment: datetime,
) -> tuple[tuple[ClassDrift, ...], tuple[Trade, ...], Decimal]:
    currency = cash.currency
    scoped = [(p, c) for p in positions if p.in_scope and (c := p.asset_class) is not None]
    kept = [(p, c) for p, c in scoped if not p.to_sell]
    sales = [_sell_all(p, c, TradeReason.UNSUITABLE) for p, c in scoped if p.to_sell]
    invested = sum((p.holding.market_value.amount for p, _ in scoped), _ZERO)
    values: dict[AssetClass, Decimal] = {}
    for position, asset_class in kept:
        values[asset_class] = values.get(asset_class, _ZERO) + position.holding.market_value.amount
    classes = [c for c in ASSET_CLASS_ORDER if c in targets or c in values]
    if invested == 0:
        return (), tuple(sales), -sum((t.amount.amount for t in sales), _ZERO)

    current = [values.get(c, _ZERO) / invested for c in classes]
    target = [targets.get(c, _ZERO) for c in classes]
    current_shown, target_shown = _shares(current), _shares(target)
    drifts: list[ClassDrift] = []
    buys: list[tuple[AssetClass, Decimal]] = []
    for i, asset_class in enumerate(classes):
        held = values.get(asset_class, _ZERO)
        off_target = _off_target(current[i], target[i], held, policy)
        drifts.append(
            ClassDrift(
                asset_class=asset_class,
                current_value=Money(held, currency),
                current_weight=current_shown[i],
                target_weight=target_shown[i],
                drift=current_shown[i] - target_shown[i],
                off_target=off_target,
            )
        )
        if not off_target:
            continue
        delta = target[i] * invested - held
        if delta > 0:
            buys.append((asset_class, delta))
        elif delta < 0:
            sales.extend(_sell_from(kept, asset_class, _cents(-delta), prices, moment))

    sold_total = sum((t.amount.amount for t in sales), _ZERO)
    wanted = sum((amount for _, amount in buys), _ZERO)
    available = sold_total + cash.amount
    if wanted <= available:
        amounts = [_cents(amount) for _, amount in buys]
    else:  # PR-07: never buy beyond the means; share what there is in proportion, to the cent
        amounts = _split(available, [amount / wanted for _, amount in buys])
    purchases = [
        _buy(model, products, asset_class, Money(amount, currency), TradeReason.DRIFT, prices, moment)
        for (asset_class, _), amount in zip(buys, amounts, strict=True)
        if amount > 0
    ]
    bought_total = sum((t.amount.amount for t in purchases), _ZERO)
    return tuple(drifts), tuple(sales + purchases), bought_total - sold_total


def _idle_cash(
    cash_left: Decimal,
    total: Decimal,
    targets: Mapping[AssetClass, Decimal],
    model: ModelPortfolio,
    products: Mapping[str, Instrument],
    policy: RebalancePolicy,
    prices: Prices,
    moment: datetime,
    currency: Currency,
) -> IdleCashSuggestion | None:
    threshold = max(policy.idle_cash_share, model.weight(AssetClass.CASH))
    # PR-08. Rebalancing and idle cash are each complete suggestions: a partner applying both nets
    # them per product.
    if not targets or total <= 0 or cash_left <= threshold * total:
        return None
    excess = _cents(cash_left - threshold * total)
    if excess <= 0:
        return None
    classes = [c for c in ASSET_CLASS_ORDER if c in targets]
    amounts = _split(excess, [targets[c] for c in classes])
    trades = tuple(
        _buy(model, products, asset_class, Money(amount, currency), TradeReason.IDLE_CASH, prices, moment)
        for asset_class, amount in zip(classes, amounts, strict=True)
        if amount > 0
    )
    return IdleCashSuggestion(
        cash=Money(cash_left, currency),
        portfolio_value=Money(total, currency),
        threshold=threshold,
        excess=Money(excess, currency),
        trades=trades,
    )


def _proposed_holdings(
    model: ModelPortfolio,
    products: Mapping[str, Instrument],
    assessments: Mapping[str, SuitabilityAssessment],
    total: Decimal,
    currency: Currency,
) -> tuple[ProposedHolding, ...]:
    weights = [holding.weight for holding in model.holdings]
    volatilities = [_volatility(holding) for holding in model.holdings]
    exposure = [w * v for w, v in zip(weights, volatilities, strict=True)]
    exposure_total = sum(exposure, _ZERO)
    # An all-cash model has no volatility to share out: every contribution is 0.
    contributions = (
        _shares([e / exposure_total for e in exposure]) if exposure_total else [_ZERO] * len(weights)
    )
    values = _split(total, weights)
    return tuple(
        ProposedHolding(
            asset_class=holding.asset_class,
            instrument_id=holding.instrument_id,
            name=holding.name,
            weight=holding.weight,
            target_value=Money(value, currency),
            product_risk=holding.product_risk,
            volatility=volatility,
            risk_contribution=contribution,
            role=ROLES[holding.asset_class],
            suitability=None if holding.instrument_id is None else assessments[holding.instrument_id],
        )
        for holding, volatility, contribution, value in zip(
            model.holdings, volatilities, contributions, values, strict=True
        )
    )


def _volatility(holding: ModelHolding) -> Decimal:
    return CASH_VOLATILITY if holding.product_risk is None else VOLATILITY_PROXY[holding.product_risk]


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def _shares(raw: Sequence[Decimal]) -> list[Decimal]:
    """PR-09: round to 4 decimals; the residue goes on the largest, so the rounded sum is the sum rounded."""
    rounded = [value.quantize(WEIGHT_STEP, rounding=ROUND_HALF_EVEN) for value in raw]
    if rounded:
        residue = sum(raw, _ZERO).quantize(WEIGHT_STEP, rounding=ROUND_HALF_EVEN) - sum(rounded, _ZERO)
        largest = max(range(len(raw)), key=raw.__getitem__)
        rounded[largest] += residue
    return rounded


def _split(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """PR-09: split an amount in cents by weights; leftover cents go on the largest weight."""
    parts = [_cents(amount * weight) for weight in weights]
    if parts:
        largest = max(range(len(weights)), key=weights.__getitem__)
        parts[largest] += amount - sum(parts, _ZERO)
    return parts


def _price(prices: Prices, instrument: Instrument, moment: datetime) -> Decimal:
    price = prices.reference_price(instrument, moment)
    if not (price.is_finite() and price > 0):
        raise InvalidProposalError(
            "a reference price is positive", field="prices", instrument_id=instrument.id
        )
    return price


def _units(instrument: Instrument, amount: Decimal, price: Decimal) -> Decimal:
    # PR-10: funds allot units to 0.01 (DOMAIN.md); exchange-traded products trade in whole lots.
    units = amount / price
    if instrument.fund is not None:
        return units.quantize(CENT, rounding=ROUND_DOWN)
    lots = (units / instrument.lot_size).to_integral_value(rounding=ROUND_FLOOR)
    return lots * instrument.lot_size


def _buy(
    model: ModelPortfolio,
    products: Mapping[str, Instrument],
    asset_class: AssetClass,
    amount: Money,
    reason: TradeReason,
    prices: Prices,
    moment: datetime,
) -> Trade:
    holding = model.holding(asset_class)
    instrument_id = None if holding is None else holding.instrument_id
    if instrument_id is None:  # targets are the model's product classes, so this means a broken model
        raise InvalidProposalError(
            "the model has no product for this class", field="model", asset_class=asset_class.value
        )
    instrument = products[instrument_id]
    return Trade(
        side=TradeSide.BUY,
        instrument_id=instrument.id,
        asset_class=asset_class,
        amount=amount,
        estimated_quantity=_units(instrument, amount.amount, _price(prices, instrument, moment)),
        reason=reason,
    )


def _sell_all(position: _Position, asset_class: AssetClass, reason: TradeReason) -> Trade:
    return Trade(
        side=TradeSide.SELL,
        instrument_id=position.instrument.id,
        asset_class=asset_class,
        amount=position.holding.market_value,
        estimated_quantity=position.holding.quantity,
        reason=reason,
    )


def _sell_from(
    kept: Sequence[tuple[_Position, AssetClass]],
    asset_class: AssetClass,
    amount: Decimal,
    prices: Prices,
    moment: datetime,
) -> list[Trade]:
    # PR-07: products off the model go first, larger positions first; the id settles ties.
    candidates = sorted(
        (p for p, c in kept if c is asset_class),
        key=lambda p: (p.on_model, -p.holding.market_value.amount, p.instrument.id),
    )
    trades: list[Trade] = []
    remaining = amount
    for position in candidates:
        if remaining <= 0:
            break
        value = position.holding.market_value.amount
        if remaining >= value:
            trades.append(_sell_all(position, asset_class, TradeReason.DRIFT))
            remaining -= value
            continue
        quantity = _units(position.instrument, remaining, _price(prices, position.instrument, moment))
        trades.append(
            Trade(
                side=TradeSide.SELL,
                instrument_id=position.instrument.id,
                asset_class=asset_class,
                amount=Money(remaining, position.holding.market_value.currency),
                estimated_quantity=min(quantity, position.holding.quantity),
                reason=TradeReason.DRIFT,
            )
        )
        remaining = _ZERO
    return trades


# ---- documents -------------------------------------------------------------------------------------


def _money_document(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency.value}


def _assessment_document(assessment: SuitabilityAssessment) -> dict[str, object]:
    return {
        "decision": assessment.decision.value,
        "reasons": [
            {
                "code": reason.code,
                "message": reason.message,
                "rule": reason.rule,
                "inputs": dict(reason.inputs),
                "outcome": reason.outcome.value,
            }
            for reason in assessment.reasons
        ],
        "required_acknowledgements": [
            {"code": disclosure.code, "title": disclosure.title}
            for disclosure in assessment.required_acknowledgements
        ],
        "rulebook_version": assessment.rulebook_version,
    }


def _profile_document(profile: InvestorProfile) -> dict[str, object]:
    return {
        "risk_level": profile.risk_level.name,
        "investor_class": profile.investor_class.value,
        "jurisdiction": profile.jurisdiction.value,
        "islamic_account": profile.islamic_account,
        "home_market": profile.market.value,
        "customer_id": profile.customer_id,
        "appropriateness_passed": profile.appropriateness_passed,
        "derivative_knowledge": profile.derivative_knowledge,
    }


def _holding_document(holding: ProposedHolding) -> dict[str, object]:
    return {
        "asset_class": holding.asset_class.value,
        "instrument_id": holding.instrument_id,
        "name": holding.name,
        "weight": str(holding.weight),
        "target_value": _money_document(holding.target_value),
        "product_risk": None if holding.product_risk is None else holding.product_risk.name,
        "volatility": str(holding.volatility),
        "risk_contribution": str(holding.risk_contribution),
        "role": holding.role,
        "suitability": None if holding.suitability is None else _assessment_document(holding.suitability),
    }


def _position_document(position: PositionReview) -> dict[str, object]:
    return {
        "instrument_id": position.instrument_id,
        "asset_class": None if position.asset_class is None else position.asset_class.value,
        "market_value": _money_document(position.market_value),
        "in_scope": position.in_scope,
        "weight": None if position.weight is None else str(position.weight),
        "note": position.note,
        "suitability": _assessment_document(position.suitability),
    }


def _trade_document(trade: Trade) -> dict[str, object]:
    return {
        "side": trade.side.value,
        "instrument_id": trade.instrument_id,
        "asset_class": trade.asset_class.value,
        "amount": _money_document(trade.amount),
        "estimated_quantity": str(trade.estimated_quantity),
        "reason": trade.reason.value,
    }


def _idle_cash_document(idle: IdleCashSuggestion) -> dict[str, object]:
    return {
        "cash": _money_document(idle.cash),
        "portfolio_value": _money_document(idle.portfolio_value),
        "threshold": str(idle.threshold),
        "excess": _money_document(idle.excess),
        "trades": [_trade_document(trade) for trade in idle.trades],
    }


def _obj(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _decimal(value: object) -> Decimal:
    number = Decimal(_text(value))  # strings only: a JSON number would have passed through a float
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _money_from(value: object) -> Money:
    document = _obj(value)
    return Money(_decimal(document["amount"]), Currency(_text(document["currency"])))


def _assessment_from(value: object) -> SuitabilityAssessment:
    document = _obj(value)
    return SuitabilityAssessment(
        decision=Decision(_text(document["decision"])),
        reasons=tuple(
            Reason(
                code=_text(reason["code"]),
                message=_text(reason["message"]),
                rule=_text(reason["rule"]),
                inputs=MappingProxyType({_text(k): _text(v) for k, v in _obj(reason["inputs"]).items()}),
                outcome=Decision(_text(reason["outcome"])),
            )
            for reason in map(_obj, _list(document["reasons"]))
        ),
        required_acknowledgements=tuple(
            Disclosure(_text(disclosure["code"]), _text(disclosure["title"]))
            for disclosure in map(_obj, _list(document["required_acknowledgements"]))
        ),
        rulebook_version=_text(document["rulebook_version"]),
    )


def _trade_from(value: object) -> Trade:
    document = _obj(value)
    return Trade(
        side=TradeSide(_text(document["side"])),
        instrument_id=_text(document["instrument_id"]),
        asset_class=AssetClass(_text(document["asset_class"])),
        amount=_money_from(document["amount"]),
        estimated_quantity=_decimal(document["estimated_quantity"]),
        reason=TradeReason(_text(document["reason"])),
    )


def _proposal_from(document: Mapping[str, object]) -> Proposal:
    profile = _obj(document["profile"])
    created_at = datetime.fromisoformat(_text(document["created_at"]))
    if created_at.utcoffset() is None:
        raise ValueError("created_at has no time zone")
    assessment = document["risk_assessment"]
    idle = document["idle_cash"]
    policy = _obj(document["policy"])
    return Proposal(
        id=_text(document["id"]),
        created_at=created_at.astimezone(UTC),
        profile=InvestorProfile(
            risk_level=RiskLevel[_text(profile["risk_level"])],
            investor_class=InvestorClass(_text(profile["investor_class"])),
            jurisdiction=Jurisdiction(_text(profile["jurisdiction"])),
            islamic_account=_flag(profile["islamic_account"]),
            home_market=Market(_text(profile["home_market"])),
            customer_id=_optional_text(profile["customer_id"]),
            appropriateness_passed=_flag(profile["appropriateness_passed"]),
            derivative_knowledge=_flag(profile["derivative_knowledge"]),
        ),
        risk_assessment=None if assessment is None else RiskAssessment.from_document(_obj(assessment)),
        model_id=_text(document["model_id"]),
        model_version=_text(document["model_version"]),
        catalogue_version=_optional_text(document["catalogue_version"]),
        currency=Currency(_text(document["currency"])),
        portfolio_value=_money_from(document["portfolio_value"]),
        holdings=tuple(
            ProposedHolding(
                asset_class=AssetClass(_text(h["asset_class"])),
                instrument_id=_optional_text(h["instrument_id"]),
                name=_text(h["name"]),
                weight=_decimal(h["weight"]),
                target_value=_money_from(h["target_value"]),
                product_risk=None if h["product_risk"] is None else ProductRisk[_text(h["product_risk"])],
                volatility=_decimal(h["volatility"]),
                risk_contribution=_decimal(h["risk_contribution"]),
                role=_text(h["role"]),
                suitability=None if h["suitability"] is None else _assessment_from(h["suitability"]),
            )
            for h in map(_obj, _list(document["holdings"]))
        ),
        expected_volatility=_decimal(document["expected_volatility"]),
        positions=tuple(
            PositionReview(
                instrument_id=_text(p["instrument_id"]),
                asset_class=None if p["asset_class"] is None else AssetClass(_text(p["asset_class"])),
                market_value=_money_from(p["market_value"]),
                in_scope=_flag(p["in_scope"]),
                weight=None if p["weight"] is None else _decimal(p["weight"]),
                note=_text(p["note"]),
                suitability=_assessment_from(p["suitability"]),
            )
            for p in map(_obj, _list(document["positions"]))
        ),
        drifts=tuple(
            ClassDrift(
                asset_class=AssetClass(_text(d["asset_class"])),
                current_value=_money_from(d["current_value"]),
                current_weight=_decimal(d["current_weight"]),
                target_weight=_decimal(d["target_weight"]),
                drift=_decimal(d["drift"]),
                off_target=_flag(d["off_target"]),
            )
            for d in map(_obj, _list(document["drifts"]))
        ),
        trades=tuple(_trade_from(trade) for trade in _list(document["trades"])),
        net_cash_flow=_decimal(document["net_cash_flow"]),
        idle_cash=None
        if idle is None
        else IdleCashSuggestion(
            cash=_money_from(_obj(idle)["cash"]),
            portfolio_value=_money_from(_obj(idle)["portfolio_value"]),
            threshold=_decimal(_obj(idle)["threshold"]),
            excess=_money_from(_obj(idle)["excess"]),
            trades=tuple(_trade_from(trade) for trade in _list(_obj(idle)["trades"])),
        ),
        policy=RebalancePolicy(
            absolute_drift=_decimal(policy["absolute_drift"]),
            relative_drift=_decimal(policy["relative_drift"]),
            idle_cash_share=_decimal(policy["idle_cash_share"]),
        ),
        notes=tuple(_text(note) for note in _list(document["notes"])),
    )
