"""Advisory: the risk questionnaire, proposals for a customer, and white-label proposals.

Two kinds of caller, kept apart:
- a partner app acting for a brokerage customer (a token the customer delegated, `advisory:read`)
  asks for that customer's proposal, made from the customer's risk profile and ledger;
- a partner institution with its own client-credentials token (`advisory:white-label`) scores the
  questionnaire and asks for proposals for its own clients, who are unknown to us.
A proposal is visible only to the partner that asked for it and, for a customer's proposal, only
under that customer; anything else reads as not found.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Final

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import JSONBody, PathParameter, QueryParameter

from gateway.apis.params import IdempotencyKey
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.advisory.schemas import (
    ProposalIn,
    ProposalOut,
    RiskAssessmentIn,
    RiskAssessmentOut,
    RiskQuestionnaire,
    WhiteLabelProposalIn,
    answers_of,
)
from gateway.domain.advisory.errors import InvalidProposalError, UnsuitableProposalError
from gateway.domain.advisory.portfolios import MARKET_CURRENCY, ModelPortfolio, build_model
from gateway.domain.advisory.proposals import CurrentHolding, InvestorProfile, Proposal, propose
from gateway.domain.advisory.questionnaire import QUESTIONNAIRE_VERSION
from gateway.domain.advisory.service import AdvisoryService
from gateway.domain.compliance.suitability import RiskLevel
from gateway.domain.customers.models import Customer
from gateway.domain.market.models import Market
from gateway.domain.money import CENT, Money
from gateway.domain.scopes import Scope
from gateway.domain.sharing.categories import DataCategory
from gateway.domain.sharing.crossborder import Outcome, PolicyDecision, decide
from gateway.domain.trading import ledger
from gateway.edge.access import requires
from gateway.edge.principal import Principal
from gateway.services import EnvDep, EnvironmentServices, Platform, PlatformDep, PrincipalDep
from gateway.storage.customers import DisclosureRecord
from gateway.storage.proposals import SqlProposalStore

ProposalId = Annotated[str, PathParameter(max_length=64)]
Version = Annotated[
    str | None,
    QueryParameter(
        name="version",
        required=False,
        pattern=r"^RQ-[0-9]{4}-[0-9]{2}$",
        description="An earlier version, to explain an assessment made with it; the current one by default.",
    ),
]

# What a customer's proposal tells the partner about the customer: the risk level and investor class
# behind the model, the positions with their values, and the cash (in the portfolio value and the
# idle-cash suggestion). `advisory:read` grants the proposal as a whole (DOMAIN.md: "proposals and
# rebalancing suggestions for the customer"), but these categories still cross borders only where
# the transfer policy allows them, and the disclosure log names them.
PROPOSAL_CATEGORIES: Final = (
    DataCategory.RISK_PROFILE,
    DataCategory.HOLDING,
    DataCategory.HOLDING_VALUE,
    DataCategory.CASH_BALANCE,
)
PROPOSAL_FIELDS: Final = tuple(field.name for field in msgspec.structs.fields(ProposalOut))


def _partner_app(principal: Principal) -> Principal:
    """White-label advice is the partner's own business: a customer's delegated token may not use it."""
    if principal.token.consent_id is not None:
        raise PermissionDeniedException(
            detail="white-label advisory uses the app's client-credentials token, not a customer's token"
        )
    return principal


def _customer_of(env: EnvironmentServices, principal: Principal) -> Customer:
    consent = principal.consent
    if consent is None or consent.customer_id is None:
        # A client-credentials token acts for no customer: there is no one's proposal to make or show.
        raise NotFoundException(detail="customer proposals need a token delegated by a customer")
    customer = env.customers.get(consent.customer_id)
    if customer is None:
        raise NotFoundException(detail="the customer behind this consent no longer exists")
    return customer


def _transfer_decisions(customer: Customer, principal: Principal) -> tuple[PolicyDecision, ...]:
    """The cross-border policy for each category a proposal carries; any refusal refuses the proposal."""
    # A proposal cannot be masked field by field (its trades and weights give the positions away), so
    # a category that may not leave in clear, denied or masked, refuses the whole proposal: a 403
    # problem naming the rules.
    permitted = principal.consent is not None and principal.consent.cross_border
    region = principal.client.partner.region
    decisions = tuple(
        decide(customer.residency, region, category, permitted) for category in PROPOSAL_CATEGORIES
    )
    refused = [
        {"category": str(category), "outcome": d.outcome.value, "rule_id": d.rule_id, "reason": d.reason}
        for category, d in zip(PROPOSAL_CATEGORIES, decisions, strict=True)
        if d.outcome is not Outcome.ALLOW
    ]
    if refused:
        raise PermissionDeniedException(
            detail="the customer's data may not go to the partner's region for this proposal",
            extra={"partner_region": region, "refused": refused},
        )
    return decisions


def _log_disclosure(
    env: EnvironmentServices,
    platform: Platform,
    principal: Principal,
    proposal: Proposal,
    decisions: Sequence[PolicyDecision],
) -> None:
    """Who received which customer's proposal, when, under which consent (the customer's dashboard)."""
    consent = principal.consent
    if consent is None or consent.customer_id is None:  # _customer_of refused this call already
        raise NotFoundException(detail="customer proposals need a token delegated by a customer")
    env.customers.add_disclosure(
        DisclosureRecord(
            id=f"dsc_{secrets.token_hex(10)}",
            consent_id=consent.id,
            customer_id=consent.customer_id,
            partner_id=principal.partner_id,
            client_id=principal.client_id,
            resource=f"/v1/advisory/proposals/{proposal.id}",
            categories=tuple(sorted(category.value for category in PROPOSAL_CATEGORIES)),
            fields=PROPOSAL_FIELDS,
            masked=(),
            withheld=(),
            decisions=tuple(
                {"outcome": d.outcome.value, "rule_id": d.rule_id, "inputs": dict(d.inputs)}
                for d in decisions
            ),
            at=platform.clock.now(),
        )
    )


def _profile(customer: Customer) -> InvestorProfile:
    # The customer record carries no Islamic-account flag, EU appropriateness or HK derivative
    # knowledge record: they stay False, which is the stricter reading for reviewing held positions.
    return InvestorProfile(
        risk_level=customer.risk_level,
        investor_class=customer.investor_class,
        jurisdiction=customer.residency,
        customer_id=customer.id,
    )


def _portfolio(
    env: EnvironmentServices, platform: Platform, customer: Customer, market: Market
) -> tuple[tuple[CurrentHolding, ...], Money]:
    """The customer's positions and investable cash, from the ledger.

    - Positions: every units balance of every account of the customer, one holding per instrument,
      at its total quantity (units held for a live sell order are still owned), valued at the
      reference price (or latest NAV) now, in the instrument's currency, rounded half up to the cent
      like a customer holding. Advice reviews other markets' positions without weighing them (PR-04),
      so nothing is converted.
    - Cash: the available (not held for live orders) balance in the home market's currency of the
      account that trades the home market: the master account for CN, HK and US residents, the US
      sub-account for EU residents (MP-02). Cash in other currencies would need an FX trade that the
      proposal does not suggest, so it is not counted.
    """
    accounts = [account.id for account in customer.accounts]
    balances = env.trading.store.balances(accounts)  # an autocommit read, no write lock
    quantities: dict[str, Decimal] = {}
    for (_, asset), balance in sorted(balances.items()):
        if asset.startswith("units:") and balance.total > 0:
            instrument_id = asset.removeprefix("units:")
            quantities[instrument_id] = quantities.get(instrument_id, Decimal(0)) + balance.total
    now = platform.clock.now()
    holdings: list[CurrentHolding] = []
    for instrument_id, quantity in sorted(quantities.items()):
        instrument = platform.catalogue.get(instrument_id)
        price = platform.prices.reference_price(instrument, now)
        value = (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP)
        holdings.append(CurrentHolding(instrument_id, quantity, Money(value, instrument.currency)))
    currency = MARKET_CURRENCY[market]
    trading = next((a for a in customer.accounts if a.jurisdiction.value == market.value), None)
    cash = Decimal(0)
    if trading is not None:
        balance = balances.get((trading.id, ledger.cash(currency)), ledger.EMPTY)
        cash = max(balance.available, Decimal(0))
    return tuple(holdings), Money(cash, currency)


def _model(platform: Platform, model_id: str | None, profile: InvestorProfile) -> ModelPortfolio | None:
    """The model the caller asked for (PR-01); None: the one of the profile's own risk level."""
    if model_id is None:
        return None
    _, market, level, *variant = model_id.split("_")  # the schema's pattern: mdl_<market>_<level>[_shariah]
    model = build_model(
        platform.catalogue, RiskLevel[level.upper()], Market(market.upper()), shariah=bool(variant)
    )
    if model.market is not profile.market:
        raise InvalidProposalError(
            f"the model is for the {model.market} market, the customer's home market is {profile.market}",
            field="model_id",
            model_id=model_id,
        )
    return model


def _unsuitable(exc: UnsuitableProposalError, *, field: str | None = None) -> UnsuitableProposalError:
    """The same refusal with its per-product reasons as a list, and `field` naming the wire field."""
    # `problems.py` publishes a context member that is not a JSON scalar or list as its `str`.
    context = dict(exc.context)
    if field is not None:
        context["field"] = field
    reasons = context.pop("reasons", {})
    if isinstance(reasons, Mapping):
        context["reasons"] = [
            {"instrument_id": str(instrument_id), "codes": list(codes)}
            for instrument_id, codes in sorted(reasons.items())
        ]
    return UnsuitableProposalError(exc.detail, **context)


def _advisory(platform: Platform) -> AdvisoryService:
    return AdvisoryService(platform.catalogue, platform.prices, platform.clock)


class AdvisoryController(Controller):
    path = "/v1/advisory"
    tags = ["advisory"]

    # The questionnaire serves white-label advice: a customer's proposal starts from the risk level
    # the customer already has, so `advisory:read` does not need it. (A route's scopes are all
    # required, not any one of them, so one route cannot serve both kinds of token.)
    @get(
        "/questionnaire",
        operation_id="getRiskQuestionnaire",
        summary="Publish the risk questionnaire with its points, bands and knockouts",
        description=(
            "Each question is answered with one option id. The points of the answers add up to a "
            "total whose band gives the risk level C1-C5; a knockout answer caps the level."
        ),
        responses=problems(),
        **requires(Scope.ADVISORY_WHITE_LABEL),
    )
    async def get_risk_questionnaire(
        self, platform: PlatformDep, principal: PrincipalDep, version: Version = None
    ) -> RiskQuestionnaire:
        _partner_app(principal)
        return RiskQuestionnaire.of(_advisory(platform).questionnaire(version or QUESTIONNAIRE_VERSION))

    @post(
        "/risk-assessments",
        operation_id="scoreRiskQuestionnaire",
        summary="Score a client's answers into a risk level, question by question",
        description="Anonymous and not stored: the answers in, the level and the points behind it out.",
        status_code=200,
        responses=problems(
            rules=(
                Rule(
                    "rule-violation",
                    "a question is unknown, unanswered or answered twice, or an option is "
                    "not one of its options",
                ),
            )
        ),
        **requires(Scope.ADVISORY_WHITE_LABEL),
    )
    async def score_risk_questionnaire(
        self, data: JSONBody[RiskAssessmentIn], platform: PlatformDep, principal: PrincipalDep
    ) -> RiskAssessmentOut:
        _partner_app(principal)
        assessment = _advisory(platform).assess_risk(answers_of(data.answers), data.questionnaire_version)
        return RiskAssessmentOut.of(assessment)

    @post(
        "/proposals",
        operation_id="createProposal",
        summary="Propose a portfolio for the customer, explained and suitability-checked",
        description=(
            "Made from the customer's risk level and investor class and the positions and cash in the "
            "customer's accounts. Every proposed product carries its suitability verdict and reasons; "
            "a proposal that would recommend an unsuitable product is refused with a 422 problem that "
            "names the products and reason codes. The body is optional: without one (or with `{}`) "
            "the model is the one of the customer's own risk level; `model_id` asks for another model "
            "of the home market, which suitability checks like any other."
        ),
        responses=problems(
            404,
            rules=(
                Rule(
                    "rule-violation",
                    "the proposal would recommend a product unsuitable for the customer, or"
                    " the answers or model are invalid",
                ),
            ),
        ),
        **requires(Scope.ADVISORY_READ),
    )
    async def create_proposal(
        self,
        env: EnvDep,
        platform: PlatformDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
        data: JSONBody[ProposalIn | None] = None,
    ) -> ProposalOut:
        customer = _customer_of(env, principal)
        decisions = _transfer_decisions(customer, principal)
        profile = _profile(customer)
        model = _model(platform, data.model_id if data is not None else None, profile)
        holdings, cash = _portfolio(env, platform, customer, profile.market)
        try:
            proposal = propose(
                profile,
                holdings,
                cash,
                platform.catalogue,
                platform.prices,
                platform.clock.now(),
                model=model,
            )
        except UnsuitableProposalError as exc:
            raise _unsuitable(exc, field=None if model is None else "model_id") from None
        SqlProposalStore(env.database).add(principal.partner_id, principal.client_id, customer.id, proposal)
        _log_disclosure(env, platform, principal, proposal, decisions)
        return ProposalOut.of(proposal)

    @get(
        "/proposals/{proposal_id:str}",
        operation_id="getProposal",
        summary="Read a proposal made for the customer",
        responses=problems(404),
        **requires(Scope.ADVISORY_READ),
    )
    async def get_proposal(
        self, proposal_id: ProposalId, env: EnvDep, platform: PlatformDep, principal: PrincipalDep
    ) -> ProposalOut:
        customer = _customer_of(env, principal)
        decisions = _transfer_decisions(customer, principal)
        proposal = SqlProposalStore(env.database).get(proposal_id, principal.partner_id, customer.id)
        if proposal is None:
            raise NotFoundException(detail="no such proposal")
        _log_disclosure(env, platform, principal, proposal, decisions)
        return ProposalOut.of(proposal)

    @post(
        "/white-label/proposals",
        operation_id="createWhiteLabelProposal",
        summary="Propose a portfolio for a partner's own client, from a risk level or the answers",
        description=(
            "All of the amount is invested in the model of the client's level and home market (PR-11). "
            "Give either `risk_level` or `answers`; with answers the proposal carries the assessment."
        ),
        responses=problems(
            rules=(
                Rule(
                    "rule-violation",
                    "the proposal would recommend a product unsuitable for the customer, or"
                    " the answers or model are invalid",
                ),
            )
        ),
        **requires(Scope.ADVISORY_WHITE_LABEL),
    )
    async def create_white_label_proposal(
        self,
        data: JSONBody[WhiteLabelProposalIn],
        env: EnvDep,
        platform: PlatformDep,
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> ProposalOut:
        partner = _partner_app(principal)
        try:
            proposal = _advisory(platform).propose_anonymous(data.to_domain())
        except UnsuitableProposalError as exc:
            raise _unsuitable(exc) from None
        SqlProposalStore(env.database).add(partner.partner_id, partner.client_id, None, proposal)
        return ProposalOut.of(proposal)

    @get(
        "/white-label/proposals/{proposal_id:str}",
        operation_id="getWhiteLabelProposal",
        summary="Read a white-label proposal this partner made",
        responses=problems(404),
        **requires(Scope.ADVISORY_WHITE_LABEL),
    )
    async def get_white_label_proposal(
        self, proposal_id: ProposalId, env: EnvDep, principal: PrincipalDep
    ) -> ProposalOut:
        partner = _partner_app(principal)
        proposal = SqlProposalStore(env.database).get(proposal_id, partner.partner_id, None)
        if proposal is None:
            raise NotFoundException(detail="no such proposal")
        return ProposalOut.of(proposal)
