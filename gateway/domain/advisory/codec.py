"""The document a proposal is kept as: a JSON-ready dict, Decimals as strings, times in ISO 8601.

Stored proposals are read back with `proposal_from_document`, so the document's shape is fixed: a
change here must still decode every document written before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, Literal

import msgspec

from gateway.domain.advisory.errors import InvalidProposalError
from gateway.domain.advisory.models import (
    ClassDrift,
    IdleCashSuggestion,
    InvestorProfile,
    PositionReview,
    Proposal,
    ProposedHolding,
    RebalancePolicy,
    Trade,
    TradeReason,
    TradeSide,
)
from gateway.domain.advisory.portfolios import AssetClass
from gateway.domain.advisory.questionnaire import RiskAssessment
from gateway.domain.compliance.suitability import (
    Decision,
    Disclosure,
    InvestorClass,
    Jurisdiction,
    ProductRisk,
    Reason,
    RiskLevel,
    SuitabilityAssessment,
)
from gateway.domain.errors import RuleViolationError
from gateway.domain.market.models import Market
from gateway.domain.money import Currency, Money


def proposal_to_document(proposal: Proposal) -> dict[str, object]:
    """The proposal as a JSON-ready dict; `proposal_from_document` inverts it."""
    return {
        "id": proposal.id,
        "created_at": proposal.created_at.isoformat(),
        "profile": _profile_document(proposal.profile),
        "risk_assessment": None
        if proposal.risk_assessment is None
        else proposal.risk_assessment.to_document(),
        "model_id": proposal.model_id,
        "model_version": proposal.model_version,
        "catalogue_version": proposal.catalogue_version,
        "currency": proposal.currency.value,
        "portfolio_value": _money_document(proposal.portfolio_value),
        "holdings": [_holding_document(holding) for holding in proposal.holdings],
        "expected_volatility": str(proposal.expected_volatility),
        "positions": [_position_document(position) for position in proposal.positions],
        "drifts": [
            {
                "asset_class": drift.asset_class.value,
                "current_value": _money_document(drift.current_value),
                "current_weight": str(drift.current_weight),
                "target_weight": str(drift.target_weight),
                "drift": str(drift.drift),
                "off_target": drift.off_target,
            }
            for drift in proposal.drifts
        ],
        "trades": [_trade_document(trade) for trade in proposal.trades],
        "net_cash_flow": str(proposal.net_cash_flow),
        "idle_cash": None if proposal.idle_cash is None else _idle_cash_document(proposal.idle_cash),
        "policy": {
            "absolute_drift": str(proposal.policy.absolute_drift),
            "relative_drift": str(proposal.policy.relative_drift),
            "idle_cash_share": str(proposal.policy.idle_cash_share),
        },
        "notes": list(proposal.notes),
    }


def proposal_from_document(document: Mapping[str, object]) -> Proposal:
    """Rebuild a proposal from `proposal_to_document` output; a malformed one is an InvalidProposalError."""
    try:
        return msgspec.convert(document, _ProposalRecord).to_domain()
    except msgspec.ValidationError as exc:
        raise InvalidProposalError(f"proposal document is not valid: {exc}", field="document") from None
    except RuleViolationError as exc:  # a value the domain types refuse, e.g. a negative amount
        raise InvalidProposalError(
            f"proposal document is not valid: {exc.detail}", field="document"
        ) from None


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


# Decimals travel as strings in `str(Decimal)` form, never as JSON numbers (no float on the way).
_DecimalText = Annotated[str, msgspec.Meta(pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?(E[+-][0-9]+)?$")]
_Level = Literal["C1", "C2", "C3", "C4", "C5"]
_ProductLevel = Literal["R1", "R2", "R3", "R4", "R5"]


class _MoneyRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: _DecimalText
    currency: Currency

    def to_domain(self) -> Money:
        return Money(Decimal(self.amount), self.currency)


class _ReasonRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    message: str
    rule: str
    inputs: dict[str, str]
    outcome: Decision


class _DisclosureRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    title: str


class _AssessmentRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    decision: Decision
    reasons: tuple[_ReasonRecord, ...]
    required_acknowledgements: tuple[_DisclosureRecord, ...]
    rulebook_version: str

    def to_domain(self) -> SuitabilityAssessment:
        return SuitabilityAssessment(
            decision=self.decision,
            reasons=tuple(
                Reason(
                    code=reason.code,
                    message=reason.message,
                    rule=reason.rule,
                    inputs=MappingProxyType(dict(reason.inputs)),
                    outcome=reason.outcome,
                )
                for reason in self.reasons
            ),
            required_acknowledgements=tuple(
                Disclosure(disclosure.code, disclosure.title) for disclosure in self.required_acknowledgements
            ),
            rulebook_version=self.rulebook_version,
        )


class _ProfileRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    risk_level: _Level
    investor_class: InvestorClass
    jurisdiction: Jurisdiction
    islamic_account: bool
    home_market: Market
    customer_id: str | None
    appropriateness_passed: bool
    derivative_knowledge: bool

    def to_domain(self) -> InvestorProfile:
        return InvestorProfile(
            risk_level=RiskLevel[self.risk_level],
            investor_class=self.investor_class,
            jurisdiction=self.jurisdiction,
            islamic_account=self.islamic_account,
            home_market=self.home_market,
            customer_id=self.customer_id,
            appropriateness_passed=self.appropriateness_passed,
            derivative_knowledge=self.derivative_knowledge,
        )


class _HoldingRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    asset_class: AssetClass
    instrument_id: str | None
    name: str
    weight: _DecimalText
    target_value: _MoneyRecord
    product_risk: _ProductLevel | None
    volatility: _DecimalText
    risk_contribution: _DecimalText
    role: str
    suitability: _AssessmentRecord | None

    def to_domain(self) -> ProposedHolding:
        return ProposedHolding(
            asset_class=self.asset_class,
            instrument_id=self.instrument_id,
            name=self.name,
            weight=Decimal(self.weight),
            target_value=self.target_value.to_domain(),
            product_risk=None if self.product_risk is None else ProductRisk[self.product_risk],
            volatility=Decimal(self.volatility),
            risk_contribution=Decimal(self.risk_contribution),
            role=self.role,
            suitability=None if self.suitability is None else self.suitability.to_domain(),
        )


class _PositionRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instrument_id: str
    asset_class: AssetClass | None
    market_value: _MoneyRecord
    in_scope: bool
    weight: _DecimalText | None
    note: str
    suitability: _AssessmentRecord

    def to_domain(self) -> PositionReview:
        return PositionReview(
            instrument_id=self.instrument_id,
            asset_class=self.asset_class,
            market_value=self.market_value.to_domain(),
            in_scope=self.in_scope,
            weight=None if self.weight is None else Decimal(self.weight),
            note=self.note,
            suitability=self.suitability.to_domain(),
        )


class _DriftRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    asset_class: AssetClass
    current_value: _MoneyRecord
    current_weight: _DecimalText
    target_weight: _DecimalText
    drift: _DecimalText
    off_target: bool

    def to_domain(self) -> ClassDrift:
        return ClassDrift(
            asset_class=self.asset_class,
            current_value=self.current_value.to_domain(),
            current_weight=Decimal(self.current_weight),
            target_weight=Decimal(self.target_weight),
            drift=Decimal(self.drift),
            off_target=self.off_target,
        )


class _TradeRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    side: TradeSide
    instrument_id: str
    asset_class: AssetClass
    amount: _MoneyRecord
    estimated_quantity: _DecimalText
    reason: TradeReason

    def to_domain(self) -> Trade:
        return Trade(
            side=self.side,
            instrument_id=self.instrument_id,
            asset_class=self.asset_class,
            amount=self.amount.to_domain(),
            estimated_quantity=Decimal(self.estimated_quantity),
            reason=self.reason,
        )


class _IdleCashRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    cash: _MoneyRecord
    portfolio_value: _MoneyRecord
    threshold: _DecimalText
    excess: _MoneyRecord
    trades: tuple[_TradeRecord, ...]

    def to_domain(self) -> IdleCashSuggestion:
        return IdleCashSuggestion(
            cash=self.cash.to_domain(),
            portfolio_value=self.portfolio_value.to_domain(),
            threshold=Decimal(self.threshold),
            excess=self.excess.to_domain(),
            trades=tuple(trade.to_domain() for trade in self.trades),
        )


class _PolicyRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    absolute_drift: _DecimalText
    relative_drift: _DecimalText
    idle_cash_share: _DecimalText

    def to_domain(self) -> RebalancePolicy:
        return RebalancePolicy(
            absolute_drift=Decimal(self.absolute_drift),
            relative_drift=Decimal(self.relative_drift),
            idle_cash_share=Decimal(self.idle_cash_share),
        )


class _ProposalRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    profile: _ProfileRecord
    risk_assessment: dict[str, Any] | None  # RiskAssessment's own document
    model_id: str
    model_version: str
    catalogue_version: str | None
    currency: Currency
    portfolio_value: _MoneyRecord
    holdings: tuple[_HoldingRecord, ...]
    expected_volatility: _DecimalText
    positions: tuple[_PositionRecord, ...]
    drifts: tuple[_DriftRecord, ...]
    trades: tuple[_TradeRecord, ...]
    net_cash_flow: _DecimalText
    idle_cash: _IdleCashRecord | None
    policy: _PolicyRecord
    notes: tuple[str, ...]

    def to_domain(self) -> Proposal:
        assessment = self.risk_assessment
        return Proposal(
            id=self.id,
            created_at=self.created_at.astimezone(UTC),
            profile=self.profile.to_domain(),
            risk_assessment=None if assessment is None else RiskAssessment.from_document(assessment),
            model_id=self.model_id,
            model_version=self.model_version,
            catalogue_version=self.catalogue_version,
            currency=self.currency,
            portfolio_value=self.portfolio_value.to_domain(),
            holdings=tuple(holding.to_domain() for holding in self.holdings),
            expected_volatility=Decimal(self.expected_volatility),
            positions=tuple(position.to_domain() for position in self.positions),
            drifts=tuple(drift.to_domain() for drift in self.drifts),
            trades=tuple(trade.to_domain() for trade in self.trades),
            net_cash_flow=Decimal(self.net_cash_flow),
            idle_cash=None if self.idle_cash is None else self.idle_cash.to_domain(),
            policy=self.policy.to_domain(),
            notes=self.notes,
        )
