"""Advisory: the risk questionnaire, proposals for a customer, and white-label proposals."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
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
from gateway.domain.advisory.service import AdvisoryService
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep

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
        self, advisory: NamedDependency[AdvisoryService], principal: PrincipalDep, version: Version = None
    ) -> RiskQuestionnaire:
        return RiskQuestionnaire.of(advisory.risk_questionnaire(principal.recipient, version))

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
        self,
        data: JSONBody[RiskAssessmentIn],
        advisory: NamedDependency[AdvisoryService],
        principal: PrincipalDep,
    ) -> RiskAssessmentOut:
        assessment = advisory.score_answers(
            principal.recipient, answers_of(data.answers), data.questionnaire_version
        )
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
        advisory: NamedDependency[AdvisoryService],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
        data: JSONBody[ProposalIn | None] = None,
    ) -> ProposalOut:
        model_id = data.model_id if data is not None else None
        return ProposalOut.of(advisory.propose_for_customer(principal.recipient, model_id))

    @get(
        "/proposals/{proposal_id:str}",
        operation_id="getProposal",
        summary="Read a proposal made for the customer",
        responses=problems(404),
        **requires(Scope.ADVISORY_READ),
    )
    async def get_proposal(
        self, proposal_id: ProposalId, advisory: NamedDependency[AdvisoryService], principal: PrincipalDep
    ) -> ProposalOut:
        return ProposalOut.of(advisory.customer_proposal(principal.recipient, proposal_id))

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
        advisory: NamedDependency[AdvisoryService],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> ProposalOut:
        return ProposalOut.of(advisory.propose_white_label(principal.recipient, data.to_domain()))

    @get(
        "/white-label/proposals/{proposal_id:str}",
        operation_id="getWhiteLabelProposal",
        summary="Read a white-label proposal this partner made",
        responses=problems(404),
        **requires(Scope.ADVISORY_WHITE_LABEL),
    )
    async def get_white_label_proposal(
        self, proposal_id: ProposalId, advisory: NamedDependency[AdvisoryService], principal: PrincipalDep
    ) -> ProposalOut:
        return ProposalOut.of(advisory.white_label_proposal(principal.recipient, proposal_id))
