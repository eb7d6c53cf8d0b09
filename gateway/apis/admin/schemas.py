"""Wire format of the staff APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from gateway.apis.schemas import RequestBody
from gateway.domain.audit.chain import AuditRecord, Verification
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from partners.models import App, AppStatus, Partner, PartnerStage, PartnerStatus, PartnerType, Plan

Region = Literal["CN", "HK", "EU", "US", "SG", "GB"]


class PartnerIn(RequestBody):
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=200)]
    type: PartnerType
    region: Region
    # Staff register applicants; a known institution may be registered further along (ADR 0011).
    stage: PartnerStage = PartnerStage.APPLICATION


class PartnerOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["partner"] = "partner"
    name: str
    type: PartnerType
    region: str
    status: PartnerStatus
    stage: PartnerStage
    created_at: datetime

    @classmethod
    def of(cls, partner: Partner) -> PartnerOut:
        return cls(
            id=partner.id,
            name=partner.name,
            type=partner.type,
            region=partner.region,
            status=partner.status,
            stage=partner.stage,
            created_at=partner.created_at,
        )


class PublicJwk(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A public JWK; members a key type does not have stay absent (RFC 7517 has no null members)."""

    kty: Literal["EC", "OKP", "RSA"]
    kid: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    crv: str | None = None
    x: str | None = None
    y: str | None = None
    n: str | None = None
    e: str | None = None
    use: Literal["sig"] | None = None
    alg: str | None = None


class JwksIn(RequestBody):
    keys: Annotated[list[PublicJwk], msgspec.Meta(min_length=1, max_length=5)]


class AppIn(RequestBody):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    environment: Environment
    jwks: JwksIn
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=30)]
    plan_id: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_\-]{1,39}$")] | None = None
    redirect_uris: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=500)]], msgspec.Meta(max_length=10)
    ] = msgspec.field(default_factory=list)

    def jwks_document(self) -> dict[str, Any]:
        return {"keys": [msgspec.to_builtins(key) for key in self.jwks.keys]}


class AppOut(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    object: Literal["app"] = "app"
    partner_id: str
    name: str
    environment: Environment
    scopes: list[str]
    plan_id: str
    status: AppStatus
    jwks: dict[str, Any]
    redirect_uris: list[str]
    created_at: datetime

    @classmethod
    def of(cls, app: App) -> AppOut:
        return cls(
            client_id=app.client_id,
            partner_id=app.partner_id,
            name=app.name,
            environment=app.environment,
            scopes=sorted(app.scopes),
            plan_id=app.plan_id,
            status=app.status,
            jwks=app.jwks,
            redirect_uris=list(app.redirect_uris),
            created_at=app.created_at,
        )


class PlanOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    rate_limits: list[str]
    description: str

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        return cls(
            id=plan.id, name=plan.name, rate_limits=list(plan.rate_limits), description=plan.description
        )


class AuditRecordOut(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    resource: str
    outcome: int
    request_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRecordOut:
        e = record.entry
        return cls(
            seq=record.seq,
            occurred_at=e.occurred_at,
            actor=e.actor,
            action=e.action,
            resource=e.resource,
            outcome=e.outcome,
            request_id=e.request_id,
            details=dict(e.details),
            prev_hash=record.prev_hash,
            hash=record.hash,
        )


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    environment: Environment
    data: list[AuditRecordOut]
    next_after: int | None


class AuditVerification(msgspec.Struct, frozen=True, kw_only=True):
    environment: Environment
    ok: bool
    records: int
    first_bad_seq: int | None
    problem: str | None

    @classmethod
    def of(cls, environment: Environment, result: Verification) -> AuditVerification:
        return cls(
            environment=environment,
            ok=result.ok,
            records=result.records,
            first_bad_seq=result.first_bad_seq,
            problem=result.problem,
        )


class PartnerList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[PartnerOut]


class AppList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[AppOut]


class PlanList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[PlanOut]
