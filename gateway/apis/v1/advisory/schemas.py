"""Wire format of advisory (v1): the questionnaire, risk assessments and explained proposals.

Decimals leave as strings (weights and shares with 4 decimals, money with 2). A proposal never
carries the internal customer id: the partner knows the customer only by its token's `sub`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from gateway.apis.schemas import MoneyIn, MoneyOut, RequestBody
from gateway.apis.v1.compliance.schemas import CustomerRisk, DisclosureOut, ProductRiskLevel, ReasonOut
from gateway.domain.advisory import models as advice
from gateway.domain.advisory.errors import InvalidAnswersError
from gateway.domain.advisory.portfolios import AssetClass
from gateway.domain.advisory.questionnaire import (
    QUESTIONNAIRE_VERSION,
    Band,
    Knockout,
    Questionnaire,
    RiskAssessment,
    questionnaire,
)
from gateway.domain.compliance.suitability import (
    Decision,
    InvestorClass,
    Jurisdiction,
    RiskLevel,
    SuitabilityAssessment,
)
from gateway.domain.market.models import Market
from gateway.domain.money import Currency, Money

AnswerKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,40}$", examples=["horizon"])]
QuestionnaireVersion = Annotated[
    str, msgspec.Meta(pattern=r"^RQ-[0-9]{4}-[0-9]{2}$", examples=[QUESTIONNAIRE_VERSION])
]
ModelId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^mdl_(cn|hk|us)_c[1-5](_shariah)?$",
        examples=["mdl_cn_c2"],
        description="a model portfolio of the customer's home market; by default the customer's own level's",
    ),
]
MAX_ANSWERS = 50


# ---- requests ---------------------------------------------------------------------------------------


class AnswerIn(RequestBody):
    question_id: AnswerKey
    option_id: AnswerKey


def answers_of(answers: list[AnswerIn]) -> dict[str, str]:
    """Question id -> option id; a question answered twice is refused rather than silently overwritten."""
    by_question: dict[str, str] = {}
    for index, answer in enumerate(answers):
        if answer.question_id in by_question:
            raise InvalidAnswersError(
                f"question {answer.question_id!r} is answered twice",
                field=f"answers[{index}].question_id",
                question_id=answer.question_id,
            )
        by_question[answer.question_id] = answer.option_id
    return by_question


class RiskAssessmentIn(RequestBody):
    answers: Annotated[list[AnswerIn], msgspec.Meta(min_length=1, max_length=MAX_ANSWERS)]
    questionnaire_version: QuestionnaireVersion = QUESTIONNAIRE_VERSION


class ProposalIn(RequestBody):
    """Optional: without a body the proposal follows the customer's own risk level's model (PR-01)."""

    model_id: ModelId | None = None


class WhiteLabelProposalIn(RequestBody):
    """A partner's own client, known to us only by these facts: a risk level or the answers, not both."""

    jurisdiction: Jurisdiction
    investor_class: InvestorClass
    amount: MoneyIn
    risk_level: CustomerRisk | None = None
    answers: Annotated[list[AnswerIn], msgspec.Meta(min_length=1, max_length=MAX_ANSWERS)] | None = None
    questionnaire_version: QuestionnaireVersion = QUESTIONNAIRE_VERSION
    islamic_account: bool = False

    def to_domain(self) -> advice.AnonymousProfile:
        return advice.AnonymousProfile(
            jurisdiction=self.jurisdiction,
            investor_class=self.investor_class,
            amount=self.amount.to_domain(),
            risk_level=None if self.risk_level is None else RiskLevel[self.risk_level],
            answers=None if self.answers is None else answers_of(self.answers),
            questionnaire_version=self.questionnaire_version,
            islamic_account=self.islamic_account,
        )


# ---- the questionnaire and risk assessments -------------------------------------------------------


class QuestionOptionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    text: str
    points: int


class QuestionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    text: str
    max_points: int
    options: list[QuestionOptionOut]


class RiskBandOut(msgspec.Struct, frozen=True, kw_only=True):
    """Totals from `min_points` to `max_points`, both included, give `risk_level`."""

    risk_level: CustomerRisk
    min_points: int
    max_points: int

    @classmethod
    def of(cls, band: Band) -> RiskBandOut:
        return cls(risk_level=_risk(band.risk_level), min_points=band.min_points, max_points=band.max_points)


class KnockoutOut(msgspec.Struct, frozen=True, kw_only=True):
    """One answer that caps the risk level at `cap`, whatever the total."""

    rule: str
    question_id: str
    option_id: str
    cap: CustomerRisk
    reason: str

    @classmethod
    def of(cls, knockout: Knockout) -> KnockoutOut:
        return cls(
            rule=knockout.rule,
            question_id=knockout.question_id,
            option_id=knockout.option_id,
            cap=_risk(knockout.cap),
            reason=knockout.reason,
        )


class RiskQuestionnaire(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["risk_questionnaire"] = "risk_questionnaire"
    version: str
    max_total: int
    questions: list[QuestionOut]
    bands: list[RiskBandOut]
    knockouts: list[KnockoutOut]

    @classmethod
    def of(cls, source: Questionnaire) -> RiskQuestionnaire:
        return cls(
            version=source.version,
            max_total=source.max_total,
            questions=[
                QuestionOut(
                    id=question.id,
                    text=question.text,
                    max_points=question.max_points,
                    options=[
                        QuestionOptionOut(id=option.id, text=option.text, points=option.points)
                        for option in question.options
                    ],
                )
                for question in source.questions
            ],
            bands=[RiskBandOut.of(band) for band in source.bands],
            knockouts=[KnockoutOut.of(knockout) for knockout in source.knockouts],
        )


class QuestionPointsOut(msgspec.Struct, frozen=True, kw_only=True):
    question_id: str
    points: int
    max_points: int


class RiskAssessmentOut(msgspec.Struct, frozen=True, kw_only=True):
    """The scored answers: the level, the points behind it, and the knockouts that capped it."""

    object: Literal["risk_assessment"] = "risk_assessment"
    questionnaire_version: str
    total: int
    max_total: int
    risk_level: CustomerRisk
    uncapped_level: CustomerRisk  # the band of the total, before knockouts
    points: list[QuestionPointsOut]
    knockouts: list[KnockoutOut]  # the knockouts the answers triggered
    bands: list[RiskBandOut]

    @classmethod
    def of(cls, assessment: RiskAssessment) -> RiskAssessmentOut:
        source = questionnaire(assessment.version)
        return cls(
            questionnaire_version=assessment.version,
            total=assessment.total,
            max_total=source.max_total,
            risk_level=_risk(assessment.risk_level),
            uncapped_level=_risk(assessment.uncapped_level),
            points=[
                QuestionPointsOut(
                    question_id=question_id, points=points, max_points=_max_points(source, question_id)
                )
                for question_id, points in assessment.points.items()
            ],
            knockouts=[KnockoutOut.of(knockout) for knockout in assessment.knockouts],
            bands=[RiskBandOut.of(band) for band in assessment.bands],
        )


# ---- proposals ------------------------------------------------------------------------------------


class ProposalProfileOut(msgspec.Struct, frozen=True, kw_only=True):
    risk_level: CustomerRisk
    investor_class: InvestorClass
    jurisdiction: Jurisdiction
    islamic_account: bool
    home_market: Market


class ProductSuitabilityOut(msgspec.Struct, frozen=True, kw_only=True):
    """The suitability verdict under advice, every reason behind it, and what is still to acknowledge."""

    decision: Decision
    reasons: list[ReasonOut]
    required_acknowledgements: list[DisclosureOut]
    rulebook_version: str

    @classmethod
    def of(cls, assessment: SuitabilityAssessment) -> ProductSuitabilityOut:
        return cls(
            decision=assessment.decision,
            reasons=[
                ReasonOut(
                    code=r.code, message=r.message, rule=r.rule, inputs=dict(r.inputs), outcome=r.outcome
                )
                for r in assessment.reasons
            ],
            required_acknowledgements=[
                DisclosureOut(code=d.code, title=d.title) for d in assessment.required_acknowledgements
            ],
            rulebook_version=assessment.rulebook_version,
        )


class ProposedHoldingOut(msgspec.Struct, frozen=True, kw_only=True):
    """One holding of the proposed allocation and why it is there."""

    asset_class: AssetClass
    instrument_id: str | None  # None for cash
    name: str
    weight: str
    target_value: MoneyOut
    product_risk: ProductRiskLevel | None
    volatility: str  # the yearly volatility assumed for its product risk (PR-03)
    risk_contribution: str  # its share of the portfolio's expected volatility (PR-03)
    role: str  # what the asset class does in the portfolio
    explanation: str  # the role, the weight and the risk contribution in one paragraph
    suitability: ProductSuitabilityOut | None  # None for cash, which is not a product

    @classmethod
    def of(cls, holding: advice.ProposedHolding) -> ProposedHoldingOut:
        return cls(
            asset_class=holding.asset_class,
            instrument_id=holding.instrument_id,
            name=holding.name,
            weight=str(holding.weight),
            target_value=MoneyOut.of(holding.target_value),
            product_risk=None if holding.product_risk is None else _product_risk(holding.product_risk.name),
            volatility=str(holding.volatility),
            risk_contribution=str(holding.risk_contribution),
            role=holding.role,
            explanation=_explanation(holding),
            suitability=None
            if holding.suitability is None
            else ProductSuitabilityOut.of(holding.suitability),
        )


class PositionReviewOut(msgspec.Struct, frozen=True, kw_only=True):
    """A current holding as the proposal sees it: counted in the allocation or only reviewed (PR-04)."""

    instrument_id: str
    asset_class: AssetClass | None
    market_value: MoneyOut  # in the instrument's currency
    in_scope: bool
    weight: str | None  # share of the portfolio value; None when out of scope
    note: str
    suitability: ProductSuitabilityOut

    @classmethod
    def of(cls, position: advice.PositionReview) -> PositionReviewOut:
        return cls(
            instrument_id=position.instrument_id,
            asset_class=position.asset_class,
            market_value=MoneyOut.of(position.market_value),
            in_scope=position.in_scope,
            weight=None if position.weight is None else str(position.weight),
            note=position.note,
            suitability=ProductSuitabilityOut.of(position.suitability),
        )


class ClassDriftOut(msgspec.Struct, frozen=True, kw_only=True):
    """Current against target weight of one asset class, over the invested value (PR-06)."""

    asset_class: AssetClass
    current_value: MoneyOut
    current_weight: str
    target_weight: str
    drift: str  # current - target
    off_target: bool


class ProposedTradeOut(msgspec.Struct, frozen=True, kw_only=True):
    side: advice.TradeSide
    instrument_id: str
    asset_class: AssetClass
    amount: MoneyOut
    estimated_quantity: str  # at the reference price (PR-10)
    reason: advice.TradeReason

    @classmethod
    def of(cls, trade: advice.Trade) -> ProposedTradeOut:
        return cls(
            side=trade.side,
            instrument_id=trade.instrument_id,
            asset_class=trade.asset_class,
            amount=MoneyOut.of(trade.amount),
            estimated_quantity=str(trade.estimated_quantity),
            reason=trade.reason,
        )


class IdleCashOut(msgspec.Struct, frozen=True, kw_only=True):
    """PR-08: cash above the threshold after the rebalancing trades, and where to invest it."""

    cash: MoneyOut
    portfolio_value: MoneyOut
    threshold: str  # the share of the portfolio value that may stay in cash
    excess: MoneyOut
    trades: list[ProposedTradeOut]


class RebalancePolicyOut(msgspec.Struct, frozen=True, kw_only=True):
    absolute_drift: str
    relative_drift: str
    idle_cash_share: str


class ProposalOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["proposal"] = "proposal"
    created_at: datetime
    profile: ProposalProfileOut
    risk_assessment: RiskAssessmentOut | None  # when made from questionnaire answers
    model_id: str
    model_version: str
    catalogue_version: str | None
    currency: Currency
    portfolio_value: MoneyOut  # holdings in scope + cash
    expected_volatility: str  # PR-03: an upper bound, the holdings taken as perfectly correlated
    holdings: list[ProposedHoldingOut]
    positions: list[PositionReviewOut]
    drifts: list[ClassDriftOut]
    trades: list[ProposedTradeOut]  # rebalancing (PR-05, PR-07)
    net_cash_flow: str  # buys - sales of `trades`, in `currency`; negative when sales free cash
    idle_cash: IdleCashOut | None
    policy: RebalancePolicyOut
    required_acknowledgements: list[str]  # disclosure codes to acknowledge before buying
    notes: list[str]

    @classmethod
    def of(cls, proposal: advice.Proposal) -> ProposalOut:
        profile, idle = proposal.profile, proposal.idle_cash
        return cls(
            id=proposal.id,
            created_at=proposal.created_at,
            profile=ProposalProfileOut(
                risk_level=_risk(profile.risk_level),
                investor_class=profile.investor_class,
                jurisdiction=profile.jurisdiction,
                islamic_account=profile.islamic_account,
                home_market=profile.market,
            ),
            risk_assessment=None
            if proposal.risk_assessment is None
            else RiskAssessmentOut.of(proposal.risk_assessment),
            model_id=proposal.model_id,
            model_version=proposal.model_version,
            catalogue_version=proposal.catalogue_version,
            currency=proposal.currency,
            portfolio_value=MoneyOut.of(proposal.portfolio_value),
            expected_volatility=str(proposal.expected_volatility),
            holdings=[ProposedHoldingOut.of(holding) for holding in proposal.holdings],
            positions=[PositionReviewOut.of(position) for position in proposal.positions],
            drifts=[
                ClassDriftOut(
                    asset_class=drift.asset_class,
                    current_value=MoneyOut.of(drift.current_value),
                    current_weight=str(drift.current_weight),
                    target_weight=str(drift.target_weight),
                    drift=str(drift.drift),
                    off_target=drift.off_target,
                )
                for drift in proposal.drifts
            ],
            trades=[ProposedTradeOut.of(trade) for trade in proposal.trades],
            net_cash_flow=f"{proposal.net_cash_flow:.2f}",
            idle_cash=None
            if idle is None
            else IdleCashOut(
                cash=MoneyOut.of(idle.cash),
                portfolio_value=MoneyOut.of(idle.portfolio_value),
                threshold=str(idle.threshold),
                excess=MoneyOut.of(idle.excess),
                trades=[ProposedTradeOut.of(trade) for trade in idle.trades],
            ),
            policy=RebalancePolicyOut(
                absolute_drift=str(proposal.policy.absolute_drift),
                relative_drift=str(proposal.policy.relative_drift),
                idle_cash_share=str(proposal.policy.idle_cash_share),
            ),
            required_acknowledgements=list(proposal.required_acknowledgements),
            notes=list(proposal.notes),
        )


def _risk(level: RiskLevel) -> CustomerRisk:
    return level.name  # type: ignore[return-value]  # C1..C5, the Literal's values


def _product_risk(name: str) -> ProductRiskLevel:
    return name  # type: ignore[return-value]  # R1..R5, the Literal's values


def _max_points(source: Questionnaire, question_id: str) -> int:
    question = source.question(question_id)
    return 0 if question is None else question.max_points


def _percent(share: Decimal) -> str:
    return f"{share * 100:.2f}%"


def _money(money: Money) -> str:
    return f"{money.amount:,.2f} {money.currency}"


def _explanation(holding: advice.ProposedHolding) -> str:
    """The holding's role, then its place in the portfolio and in its risk, from the proposal's numbers."""
    if holding.product_risk is None:
        risk = "It carries no price risk."
    else:
        risk = (
            f"Rated {holding.product_risk.name}, it is assumed to swing about {_percent(holding.volatility)} "
            f"a year and brings {_percent(holding.risk_contribution)} of the portfolio's expected volatility."
        )
    return (
        f"{holding.role} {holding.name} makes up {_percent(holding.weight)} of the portfolio "
        f"({_money(holding.target_value)}). {risk}"
    )
