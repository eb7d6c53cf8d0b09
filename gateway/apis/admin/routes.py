"""Staff APIs (production control plane): the partner registry and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from gateway.apis.admin.lifecycle import ReasonIn
from gateway.apis.admin.schemas import (
    AppIn,
    AppList,
    AppOut,
    AuditPage,
    AuditRecordOut,
    AuditVerification,
    PartnerIn,
    PartnerList,
    PartnerOut,
    PlanList,
    PlanOut,
)
from gateway.apis.schemas import Rule, problems
from gateway.domain.audit.chain import verify
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.edge.access import staff
from gateway.edge.audit import AuditTrail
from gateway.services import PrincipalDep, services_in
from partners.service import Registry

PartnerId = Annotated[str, PathParameter(max_length=40)]
EnvironmentParam = Annotated[Environment, QueryParameter(name="environment")]


class PartnersController(Controller):
    path = "/admin"
    tags = ["admin"]

    @get("/partners", operation_id="adminListPartners", responses=problems(), **staff(Scope.ADMIN_PARTNERS))
    async def list_partners(self, registry: NamedDependency[Registry]) -> PartnerList:
        return PartnerList(data=[PartnerOut.of(p) for p in registry.list_partners()])

    @post(
        "/partners", operation_id="adminCreatePartner", responses=problems(409), **staff(Scope.ADMIN_PARTNERS)
    )
    async def create_partner(
        self,
        data: JSONBody[PartnerIn],
        registry: NamedDependency[Registry],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> PartnerOut:
        partner = registry.create_partner(
            name=data.name,
            type=data.type,
            region=data.region,
            stage=data.stage,
            actor=principal.client_id,
        )
        request.scope["state"]["object_id"] = partner.id
        return PartnerOut.of(partner)

    @get(
        "/partners/{partner_id:str}",
        operation_id="adminGetPartner",
        responses=problems(404),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def get_partner(self, partner_id: PartnerId, registry: NamedDependency[Registry]) -> PartnerOut:
        return PartnerOut.of(registry.partner(partner_id))

    @post(
        "/partners/{partner_id:str}/suspension",
        operation_id="adminSuspendPartner",
        status_code=200,
        responses=problems(404, 409),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def suspend_partner(
        self,
        partner_id: PartnerId,
        data: JSONBody[ReasonIn],
        registry: NamedDependency[Registry],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> PartnerOut:
        """Suspend a partner: its apps are refused at the token endpoint and the resource server."""
        request.scope["state"]["object_id"] = partner_id
        partner = registry.lifecycle.suspend(partner_id, actor=principal.client_id, reason=data.reason)
        return PartnerOut.of(partner)

    @post(
        "/partners/{partner_id:str}/reactivation",
        operation_id="adminReactivatePartner",
        status_code=200,
        responses=problems(404, 409),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def reactivate_partner(
        self,
        partner_id: PartnerId,
        data: JSONBody[ReasonIn],
        registry: NamedDependency[Registry],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> PartnerOut:
        request.scope["state"]["object_id"] = partner_id
        partner = registry.lifecycle.reactivate(partner_id, actor=principal.client_id, reason=data.reason)
        return PartnerOut.of(partner)

    @get(
        "/partners/{partner_id:str}/apps",
        operation_id="adminListApps",
        responses=problems(404),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def list_apps(self, partner_id: PartnerId, registry: NamedDependency[Registry]) -> AppList:
        registry.partner(partner_id)
        return AppList(data=[AppOut.of(a) for a in registry.list_apps(partner_id)])

    @post(
        "/partners/{partner_id:str}/apps",
        operation_id="adminCreateApp",
        responses=problems(
            404,
            rules=(
                Rule(
                    "rule-violation",
                    "a scope is not one the partner's type may hold, a redirect URI is not "
                    "an exact https URL, or a developer partner asks for a production app",
                ),
            ),
        ),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def create_app(
        self,
        partner_id: PartnerId,
        data: JSONBody[AppIn],
        registry: NamedDependency[Registry],
        request: Request[Any, Any, Any],
    ) -> AppOut:
        app = registry.create_app(
            partner_id=partner_id,
            name=data.name,
            environment=data.environment,
            jwks=data.jwks_document(),
            scopes=data.scopes,
            plan_id=data.plan_id,
            redirect_uris=data.redirect_uris,
        )
        request.scope["state"]["object_id"] = app.client_id
        return AppOut.of(app)

    @get("/plans", operation_id="adminListPlans", responses=problems(), **staff(Scope.ADMIN_PARTNERS))
    async def list_plans(self, registry: NamedDependency[Registry]) -> PlanList:
        return PlanList(data=[PlanOut.of(p) for p in registry.list_plans()])


def queried_audit(
    request: Request[Any, Any, Any], environment: EnvironmentParam = Environment.PRODUCTION
) -> AuditTrail:
    """The audit trail of the environment that the staff member names."""
    return services_in(request, environment).audit


class AuditController(Controller):
    path = "/admin/audit"
    tags = ["admin"]
    dependencies = {"audit": Provide(queried_audit, sync_to_thread=False)}

    @get("/records", operation_id="adminListAuditRecords", responses=problems(), **staff(Scope.ADMIN_AUDIT))
    async def list_records(
        self,
        audit: NamedDependency[AuditTrail],
        environment: EnvironmentParam = Environment.PRODUCTION,
        after: Annotated[int, QueryParameter(name="after", ge=0, le=2**53 - 1)] = 0,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=500)] = 100,
    ) -> AuditPage:
        records = list(audit.records(after=after, limit=limit))
        data = [AuditRecordOut.of(r) for r in records]
        return AuditPage(
            environment=environment, data=data, next_after=data[-1].seq if len(data) == limit else None
        )

    @get("/verification", operation_id="adminVerifyAudit", responses=problems(), **staff(Scope.ADMIN_AUDIT))
    async def verify_chain(
        self,
        audit: NamedDependency[AuditTrail],
        environment: EnvironmentParam = Environment.PRODUCTION,
    ) -> AuditVerification:
        return AuditVerification.of(environment, verify(audit.records(), audit.head()))
