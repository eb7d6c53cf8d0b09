"""Advisory for partners: the questionnaire, the model portfolios and proposals, on the injected clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.domain.advisory.portfolios import ModelPortfolio, model_portfolios
from gateway.domain.advisory.proposals import (
    DEFAULT_POLICY,
    AnonymousProfile,
    CurrentHolding,
    InvestorProfile,
    Prices,
    Proposal,
    RebalancePolicy,
    propose,
    propose_anonymous,
)
from gateway.domain.advisory.questionnaire import (
    QUESTIONNAIRE_VERSION,
    Questionnaire,
    RiskAssessment,
    questionnaire,
    score,
)
from gateway.domain.clock import Clock
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Market
from gateway.domain.money import Money


@dataclass(frozen=True, slots=True)
class AdvisoryService:
    catalogue: Catalogue
    prices: Prices
    clock: Clock
    policy: RebalancePolicy = DEFAULT_POLICY

    def questionnaire(self, version: str = QUESTIONNAIRE_VERSION) -> Questionnaire:
        return questionnaire(version)

    def assess_risk(self, answers: Mapping[str, str], version: str = QUESTIONNAIRE_VERSION) -> RiskAssessment:
        return score(answers, version)

    def model_portfolios(self, market: Market, *, shariah: bool = False) -> tuple[ModelPortfolio, ...]:
        return model_portfolios(self.catalogue, market, shariah=shariah)

    def propose(self, profile: InvestorProfile, holdings: Sequence[CurrentHolding], cash: Money) -> Proposal:
        return propose(
            profile, holdings, cash, self.catalogue, self.prices, self.clock.now(), policy=self.policy
        )

    def propose_anonymous(self, request: AnonymousProfile) -> Proposal:
        return propose_anonymous(request, self.catalogue, self.prices, self.clock.now(), policy=self.policy)
