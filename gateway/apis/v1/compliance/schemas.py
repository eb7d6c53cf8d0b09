"""Wire format of the compliance capability (v1)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from gateway.apis.schemas import MoneyIn, MoneyOut, Reference, RequestBody
from gateway.domain.compliance.screening import ScreeningSubject
from gateway.domain.compliance.service import ScreeningRecord, SuitabilityRecord
from gateway.domain.compliance.suitability import (
    Complexity,
    CustomerFacts,
    Decision,
    InvestorClass,
    Jurisdiction,
    ProductFacts,
    ProductRisk,
    ProductType,
    RiskLevel,
    SaleContext,
)

CustomerRisk = Literal["C1", "C2", "C3", "C4", "C5"]
ProductRiskLevel = Literal["R1", "R2", "R3", "R4", "R5"]
DisclosureCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
InstrumentId = Annotated[str, msgspec.Meta(pattern=r"^ins_[a-z0-9]{4,32}$")]


class CustomerIn(RequestBody):
    risk_level: CustomerRisk
    investor_class: InvestorClass
    jurisdiction: Jurisdiction
    islamic_account: bool = False
    appropriateness_passed: bool = False
    derivative_knowledge: bool = False

    def to_domain(self) -> CustomerFacts:
        return CustomerFacts(
            risk_level=RiskLevel[self.risk_level],
            investor_class=self.investor_class,
            jurisdiction=self.jurisdiction,
            islamic_account=self.islamic_account,
            appropriateness_passed=self.appropriateness_passed,
            derivative_knowledge=self.derivative_knowledge,
        )


class ProductIn(RequestBody):
    risk: ProductRiskLevel
    product_type: ProductType
    complexity: Complexity = Complexity.NON_COMPLEX
    shariah_compliant: bool = False
    instrument_id: InstrumentId | None = None

    def to_domain(self) -> ProductFacts:
        return ProductFacts(
            risk=ProductRisk[self.risk],
            product_type=self.product_type,
            complexity=self.complexity,
            shariah_compliant=self.shariah_compliant,
            instrument_id=self.instrument_id,
        )


class SuitabilityCheckIn(RequestBody):
    customer: CustomerIn
    product: ProductIn
    context: SaleContext = SaleContext.SELF_DIRECTED
    acknowledged: Annotated[list[DisclosureCode], msgspec.Meta(max_length=10)] = []
    amount: MoneyIn | None = None
    reference: Reference | None = None


class ReasonOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str
    rule: str
    inputs: dict[str, str]
    outcome: Decision


class DisclosureOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    title: str


class CustomerOut(msgspec.Struct, frozen=True, kw_only=True):
    risk_level: CustomerRisk
    investor_class: InvestorClass
    jurisdiction: Jurisdiction
    islamic_account: bool
    appropriateness_passed: bool
    derivative_knowledge: bool


class ProductOut(msgspec.Struct, frozen=True, kw_only=True):
    risk: ProductRiskLevel
    product_type: ProductType
    complexity: Complexity
    shariah_compliant: bool
    instrument_id: str | None


class SuitabilityCheck(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["suitability_check"] = "suitability_check"
    created_at: datetime
    decision: Decision
    reasons: list[ReasonOut]
    required_acknowledgements: list[DisclosureOut]
    rulebook_version: str
    customer: CustomerOut
    product: ProductOut
    context: SaleContext
    acknowledged: list[str]
    amount: MoneyOut | None
    reference: str | None

    @classmethod
    def of(cls, record: SuitabilityRecord) -> SuitabilityCheck:
        a, c, p = record.assessment, record.customer, record.product
        return cls(
            id=record.id,
            created_at=record.created_at,
            decision=a.decision,
            reasons=[
                ReasonOut(
                    code=r.code, message=r.message, rule=r.rule, inputs=dict(r.inputs), outcome=r.outcome
                )
                for r in a.reasons
            ],
            required_acknowledgements=[
                DisclosureOut(code=d.code, title=d.title) for d in a.required_acknowledgements
            ],
            rulebook_version=a.rulebook_version,
            customer=CustomerOut(
                risk_level=c.risk_level.name,  # type: ignore[arg-type]
                investor_class=c.investor_class,
                jurisdiction=c.jurisdiction,
                islamic_account=c.islamic_account,
                appropriateness_passed=c.appropriateness_passed,
                derivative_knowledge=c.derivative_knowledge,
            ),
            product=ProductOut(
                risk=p.risk.name,  # type: ignore[arg-type]
                product_type=p.product_type,
                complexity=p.complexity,
                shariah_compliant=p.shariah_compliant,
                instrument_id=p.instrument_id,
            ),
            context=record.context,
            acknowledged=list(record.acknowledged),
            amount=MoneyOut.of(record.amount) if record.amount else None,
            reference=record.reference,
        )


class ScreeningIn(RequestBody):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    birth_date: date | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None
    reference: Reference | None = None

    def to_domain(self) -> ScreeningSubject:
        return ScreeningSubject(name=self.name, birth_date=self.birth_date, country=self.country)


class ScreeningHitOut(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: str
    primary_name: str
    matched_name: str
    kind: str
    programs: list[str]
    score: float
    name_score: float
    adjustments: dict[str, float]


class ThresholdsOut(msgspec.Struct, frozen=True, kw_only=True):
    review: float
    block: float


class SubjectOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    birth_date: date | None
    country: str | None


class Screening(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["screening"] = "screening"
    created_at: datetime
    decision: Literal["clear", "review", "block"]
    hits: list[ScreeningHitOut]
    list_version: str
    thresholds: ThresholdsOut
    subject: SubjectOut
    reference: str | None

    @classmethod
    def of(cls, record: ScreeningRecord) -> Screening:
        result, subject = record.result, record.subject
        return cls(
            id=record.id,
            created_at=record.created_at,
            decision=result.decision.value,
            hits=[
                ScreeningHitOut(
                    entry_id=h.entry_id,
                    primary_name=h.primary_name,
                    matched_name=h.matched_name,
                    kind=h.kind,
                    programs=list(h.programs),
                    score=h.score,
                    name_score=h.name_score,
                    adjustments=dict(h.adjustments),
                )
                for h in result.hits
            ],
            list_version=result.list_version,
            thresholds=ThresholdsOut(review=result.thresholds.review, block=result.thresholds.block),
            subject=SubjectOut(name=subject.name, birth_date=subject.birth_date, country=subject.country),
            reference=record.reference,
        )
