"""Compliance checks offered to partners: every decision is taken by the rules and recorded, and
a record is visible only to the partner that asked for it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.domain.clock import Clock
from gateway.domain.compliance.screening import Screener, ScreeningResult, ScreeningSubject
from gateway.domain.compliance.suitability import (
    CustomerFacts,
    ProductFacts,
    SaleContext,
    SuitabilityAssessment,
    assess_suitability,
)
from gateway.domain.errors import NotFoundError
from gateway.domain.money import Money


@dataclass(frozen=True, slots=True)
class SuitabilityRecord:
    id: str
    partner_id: str
    client_id: str
    created_at: datetime
    reference: str | None
    customer: CustomerFacts
    product: ProductFacts
    context: SaleContext
    acknowledged: tuple[str, ...]
    amount: Money | None
    assessment: SuitabilityAssessment


@dataclass(frozen=True, slots=True)
class ScreeningRecord:
    id: str
    partner_id: str
    client_id: str
    created_at: datetime
    reference: str | None
    subject: ScreeningSubject
    result: ScreeningResult


class ComplianceRecords(Protocol):
    def add_suitability(self, record: SuitabilityRecord) -> None: ...
    def get_suitability(self, partner_id: str, record_id: str) -> SuitabilityRecord | None: ...
    def add_screening(self, record: ScreeningRecord) -> None: ...
    def get_screening(self, partner_id: str, record_id: str) -> ScreeningRecord | None: ...


@dataclass(frozen=True, slots=True)
class ComplianceService:
    records: ComplianceRecords
    screener: Screener
    clock: Clock

    def check_suitability(
        self,
        *,
        partner_id: str,
        client_id: str,
        customer: CustomerFacts,
        product: ProductFacts,
        context: SaleContext,
        acknowledged: frozenset[str],
        amount: Money | None = None,
        reference: str | None = None,
    ) -> SuitabilityRecord:
        assessment = assess_suitability(customer, product, context=context, acknowledged=acknowledged)
        record = SuitabilityRecord(
            id=f"sut_{secrets.token_hex(10)}",
            partner_id=partner_id,
            client_id=client_id,
            created_at=self.clock.now(),
            reference=reference,
            customer=customer,
            product=product,
            context=context,
            acknowledged=tuple(sorted(acknowledged)),
            amount=amount,
            assessment=assessment,
        )
        self.records.add_suitability(record)
        return record

    def suitability_check(self, partner_id: str, record_id: str) -> SuitabilityRecord:
        record = self.records.get_suitability(partner_id, record_id)
        if record is None:
            raise NotFoundError("suitability check not found", id=record_id)
        return record

    def screen(
        self, *, partner_id: str, client_id: str, subject: ScreeningSubject, reference: str | None = None
    ) -> ScreeningRecord:
        result = self.screener.screen(subject)
        record = ScreeningRecord(
            id=f"scr_{secrets.token_hex(10)}",
            partner_id=partner_id,
            client_id=client_id,
            created_at=self.clock.now(),
            reference=reference,
            subject=subject,
            result=result,
        )
        self.records.add_screening(record)
        return record

    def screening(self, partner_id: str, record_id: str) -> ScreeningRecord:
        record = self.records.get_screening(partner_id, record_id)
        if record is None:
            raise NotFoundError("screening not found", id=record_id)
        return record
