"""Proposals: a model portfolio explained holding by holding, with rebalancing and idle-cash suggestions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from gateway.domain.advisory.errors import InvalidProposalError, UnsuitableProposalError
from gateway.domain.advisory.models import (
    DEFAULT_POLICY,
    AnonymousProfile,
    CurrentHolding,
    InvestorProfile,
    Proposal,
    ProposedHolding,
    RebalancePolicy,
)
from gateway.domain.advisory.portfolios import (
    MARKET_CURRENCY,
    ROLES,
    WEIGHT_STEP,
    AssetClass,
    ModelHolding,
    ModelPortfolio,
    asset_class_of,
    build_model,
)
from gateway.domain.advisory.ports import Prices
from gateway.domain.advisory.questionnaire import RiskAssessment, score
from gateway.domain.advisory.rebalancing import (
    Position,
    class_targets,
    idle_cash_suggestion,
    rebalance,
    shares,
    split,
)
from gateway.domain.compliance.suitability import (
    Complexity,
    CustomerFacts,
    Decision,
    ProductFacts,
    ProductRisk,
    ProductType,
    SaleContext,
    SuitabilityAssessment,
    assess_suitability,
)
from gateway.domain.errors import NotFoundError
from gateway.domain.ids import new_id
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.money import Currency, Money

_ZERO: Final = Decimal(0)
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
    identifier = new_id("prp") if proposal_id is None else proposal_id
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
    targets = class_targets(model)
    drifts, trades, net_cash_flow = rebalance(
        positions, targets, model, products, cash, policy, prices, created_at
    )
    idle_cash = idle_cash_suggestion(
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
) -> list[Position]:
    positions: list[Position] = []
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
            Position(
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
        shares([e / exposure_total for e in exposure]) if exposure_total else [_ZERO] * len(weights)
    )
    values = split(total, weights)
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
