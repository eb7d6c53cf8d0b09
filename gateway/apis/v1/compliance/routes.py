"""Suitability checks and sanctions screening for partner institutions (client credentials)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from gateway.apis.params import IdempotencyKey
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.compliance.schemas import Screening, ScreeningIn, SuitabilityCheck, SuitabilityCheckIn
from gateway.domain.compliance.service import ComplianceService
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep


class ComplianceController(Controller):
    path = "/v1/compliance"
    tags = ["compliance"]

    @post(
        "/suitability-checks",
        operation_id="createSuitabilityCheck",
        summary="Assess whether a product suits a customer",
        responses=problems(),
        **requires(Scope.COMPLIANCE_SUITABILITY),
    )
    async def create_suitability_check(
        self,
        data: JSONBody[SuitabilityCheckIn],
        compliance: NamedDependency[ComplianceService],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> SuitabilityCheck:
        record = compliance.check_suitability(
            partner_id=principal.partner_id,
            client_id=principal.client_id,
            customer=data.customer.to_domain(),
            product=data.product.to_domain(),
            context=data.context,
            acknowledged=frozenset(data.acknowledged),
            amount=data.amount.to_domain() if data.amount else None,
            reference=data.reference,
        )
        return SuitabilityCheck.of(record)

    @get(
        "/suitability-checks/{check_id:str}",
        operation_id="getSuitabilityCheck",
        summary="Read a recorded suitability check",
        responses=problems(404),
        **requires(Scope.COMPLIANCE_SUITABILITY),
    )
    async def get_suitability_check(
        self,
        check_id: Annotated[str, PathParameter(max_length=64)],
        compliance: NamedDependency[ComplianceService],
        principal: PrincipalDep,
    ) -> SuitabilityCheck:
        return SuitabilityCheck.of(compliance.suitability_check(principal.partner_id, check_id))

    @post(
        "/screenings",
        operation_id="createScreening",
        summary="Screen a name against the sanctions list",
        responses=problems(
            rules=(Rule("rule-violation", "`name` holds fewer than two letters (in any script)"),)
        ),
        **requires(Scope.COMPLIANCE_SCREENING),
    )
    async def create_screening(
        self,
        data: JSONBody[ScreeningIn],
        compliance: NamedDependency[ComplianceService],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> Screening:
        record = compliance.screen(
            partner_id=principal.partner_id,
            client_id=principal.client_id,
            subject=data.to_domain(),
            reference=data.reference,
        )
        return Screening.of(record)

    @get(
        "/screenings/{screening_id:str}",
        operation_id="getScreening",
        summary="Read a recorded screening",
        responses=problems(404),
        **requires(Scope.COMPLIANCE_SCREENING),
    )
    async def get_screening(
        self,
        screening_id: Annotated[str, PathParameter(max_length=64)],
        compliance: NamedDependency[ComplianceService],
        principal: PrincipalDep,
    ) -> Screening:
        return Screening.of(compliance.screening(principal.partner_id, screening_id))
