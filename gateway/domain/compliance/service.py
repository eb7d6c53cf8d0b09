"""Compliance checks offered to partners, where every decision is taken by the rules and recorded
and a record is visible only to the partner that asked for it; and the surveillance queue that
compliance officers work (rules CLR-01 to CLR-03 in gateway.domain.compliance.alerts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.domain.clock import Clock
from gateway.domain.compliance.alerts import (
    Alert,
    AlertAlreadyClearedError,
    AlertNotFoundError,
    AlertQuery,
    Clearance,
    Restriction,
    RestrictionNotActiveError,
    RestrictionNotFoundError,
    RestrictionQuery,
)
from gateway.domain.compliance.ports import SurveillanceDesk
from gateway.domain.compliance.screening import Screener, ScreeningResult, ScreeningSubject
from gateway.domain.compliance.suitability import (
    CustomerFacts,
    ProductFacts,
    SaleContext,
    SuitabilityAssessment,
    assess_suitability,
)
from gateway.domain.errors import NotFoundError
from gateway.domain.ids import new_id
from gateway.domain.money import Money
from gateway.domain.paging import Page


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
            id=new_id("sut"),
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
            id=new_id("scr"),
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


@dataclass(frozen=True, slots=True)
class SurveillanceService:
    """The alert queue and account restrictions of one environment. A clearing is recorded only
    on what is still open, so two officers racing to clear the same thing get one success and one
    conflict."""

    desk: SurveillanceDesk
    clock: Clock

    def list_alerts(self, query: AlertQuery) -> Page[Alert]:
        return self.desk.list_alerts(query)

    def get_alert(self, alert_id: str) -> Alert:
        alert = self.desk.get_alert(alert_id)
        if alert is None:
            raise AlertNotFoundError("no such alert", alert_id=alert_id)
        return alert

    def clear_alert(self, alert_id: str, *, officer: str, reason: str) -> Alert:
        """CLR-01, CLR-03: an open alert becomes cleared, once, naming the officer and the reason."""
        clearance = Clearance.of(officer, reason, self.clock.now())
        cleared = self.get_alert(alert_id).clear(clearance)
        if not self.desk.clear_alert(alert_id, clearance):  # another officer's clearing came first
            raise AlertAlreadyClearedError("the alert is already cleared", alert_id=alert_id)
        return cleared

    def restrictions(self, query: RestrictionQuery) -> Page[Restriction]:
        return self.desk.restrictions(query)

    def clear_restriction(self, account_id: str, *, officer: str, reason: str) -> Restriction:
        """CLR-02, CLR-03: clear the account's active restriction; it may place orders again."""
        clearance = Clearance.of(officer, reason, self.clock.now())
        found = self.desk.account_restrictions(account_id)
        if not found:
            raise RestrictionNotFoundError("the account has no restriction", account_id=account_id)
        active = [restriction for restriction in found if restriction.active]
        if not active:
            raise RestrictionNotActiveError(
                "the account's restriction is already cleared", account_id=account_id
            )
        # A race in the trading service may have left two active ones: one clearing ends both.
        if self.desk.clear_restrictions([r.id for r in active], clearance) == 0:  # another officer came first
            raise RestrictionNotActiveError(
                "the account's restriction is already cleared", account_id=account_id
            )
        return active[0].clear(clearance)
