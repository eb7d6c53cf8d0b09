"""Staff APIs of the partner lifecycle: stage moves, pilot caps and the history (ADR 0011).

A move into pilot or production rests on the partner's conformance evidence; without passing
evidence it needs `override_reason`, which the lifecycle event keeps and the audit trail records as
an override of its own (docs/sandbox/graduation.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from gateway.apis.schemas import Amount, RequestBody, Rule, problems
from gateway.domain.audit.chain import AuditEntry
from gateway.domain.money import Currency
from gateway.domain.scopes import Scope
from gateway.edge.access import staff
from gateway.edge.audit import AuditTrail
from gateway.services import PrincipalDep
from partners.lifecycle import (
    MAX_PILOT_CUSTOMERS,
    MAX_PILOT_POINTS,
    MAX_REASON,
    MIN_OVERRIDE,
    Lifecycle,
    LifecycleEvent,
    LifecycleEventKind,
)
from partners.models import Partner, PartnerStage, PartnerStatus, PilotCaps
from partners.service import Registry

PartnerId = Annotated[str, PathParameter(max_length=40)]
# At least three visible characters: a reason of blanks is no reason (the domain trims and checks again).
REASON_PATTERN = r"\S.*\S.*\S"
Reason = Annotated[
    str,
    msgspec.Meta(
        min_length=3, max_length=500, pattern=REASON_PATTERN, description="why; kept in the history"
    ),
]


OverrideReason = Annotated[
    str,
    msgspec.Meta(
        min_length=MIN_OVERRIDE,
        max_length=MAX_REASON,
        pattern=REASON_PATTERN,
        description=(
            "why the partner moves into pilot or production without conformance evidence that passes "
            "every required check; recorded in the history and the audit trail as an override"
        ),
    ),
]
OVERRIDE_ACTION: Final = "OVERRIDE graduation evidence"


class ReasonIn(RequestBody):
    reason: Reason


class StageChangeIn(RequestBody):
    stage: PartnerStage
    reason: Reason
    override_reason: OverrideReason | None = None


def record_override(
    trail: AuditTrail, lifecycle: Lifecycle, partner_id: str, *, actor: str, request_id: str
) -> None:
    """An override of the graduation evidence, as its own record in the audit chain (beside the
    call's): who moved the partner where, without which evidence, and why."""
    event = next(
        e
        for e in reversed(lifecycle.history(partner_id))
        if e.kind is LifecycleEventKind.STAGE_CHANGED and e.actor == actor and e.details.get("override")
    )
    failed = event.details.get("evidence_failed", "")
    trail.add(
        AuditEntry(
            occurred_at=event.at,
            actor=actor,
            action=OVERRIDE_ACTION,
            resource=f"partners/{partner_id}",
            outcome=200,
            request_id=request_id,
            details={
                "override": True,
                "partner_id": partner_id,
                "lifecycle_event_id": event.id,
                "from_stage": event.from_stage.value if event.from_stage else None,
                "to_stage": event.to_stage.value,
                "override_reason": event.details.get("override_reason", ""),
                "evidence": event.details.get("evidence", "missing"),
                "evidence_id": event.details.get("evidence_id"),
                "failed_checks": failed.split(",") if failed else [],
            },
        )
    )


class PilotCapsIn(RequestBody):
    customers: Annotated[int, msgspec.Meta(ge=1, le=MAX_PILOT_CUSTOMERS)]
    daily_notional: Amount
    daily_points: Annotated[int, msgspec.Meta(ge=0, le=MAX_PILOT_POINTS)]
    reason: Reason
    currency: Currency = Currency.CNY

    def to_domain(self) -> PilotCaps:
        return PilotCaps(
            customers=self.customers,
            daily_notional=Decimal(self.daily_notional),
            currency=self.currency.value,
            daily_points=self.daily_points,
        )


class PilotCapsOut(msgspec.Struct, frozen=True, kw_only=True):
    customers: int
    daily_notional: str
    currency: str
    daily_points: int

    @classmethod
    def of(cls, caps: PilotCaps) -> PilotCapsOut:
        return cls(
            customers=caps.customers,
            daily_notional=f"{caps.daily_notional:.2f}",
            currency=caps.currency,
            daily_points=caps.daily_points,
        )


class PartnerLifecycleOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["partner_lifecycle"] = "partner_lifecycle"
    stage: PartnerStage
    status: PartnerStatus
    pilot_caps: PilotCapsOut | None

    @classmethod
    def of(cls, partner: Partner) -> PartnerLifecycleOut:
        caps = partner.pilot_caps
        return cls(
            id=partner.id,
            stage=partner.stage,
            status=partner.status,
            pilot_caps=PilotCapsOut.of(caps) if caps else None,
        )


class LifecycleEventOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: LifecycleEventKind
    actor: str
    from_stage: PartnerStage | None
    to_stage: PartnerStage
    reason: str
    details: dict[str, str]
    at: datetime

    @classmethod
    def of(cls, event: LifecycleEvent) -> LifecycleEventOut:
        return cls(
            id=event.id,
            kind=event.kind,
            actor=event.actor,
            from_stage=event.from_stage,
            to_stage=event.to_stage,
            reason=event.reason,
            details=dict(event.details),
            at=event.at,
        )


class LifecycleHistory(msgspec.Struct, frozen=True, kw_only=True):
    partner: PartnerLifecycleOut
    data: list[LifecycleEventOut]


class PartnerLifecycleController(Controller):
    path = "/admin/partners/{partner_id:str}"
    tags = ["admin"]

    @get(
        "/lifecycle",
        operation_id="adminGetPartnerLifecycle",
        responses=problems(404),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def history(self, partner_id: PartnerId, registry: NamedDependency[Registry]) -> LifecycleHistory:
        lifecycle = registry.lifecycle
        partner = lifecycle.partner(partner_id)
        return LifecycleHistory(
            partner=PartnerLifecycleOut.of(partner),
            data=[LifecycleEventOut.of(e) for e in lifecycle.history(partner_id)],
        )

    @post(
        "/stage",
        operation_id="adminMovePartnerStage",
        status_code=200,
        description=(
            "Into pilot or production only on conformance evidence that passes every required "
            "check, or with `override_reason` (a 409 with `context.rule` `evidence_required` says "
            "which checks failed)."
        ),
        responses=problems(
            404,
            409,
            rules=(
                Rule(
                    "rule-violation",
                    "the request does not fit the partner's lifecycle (`context.field` names it)",
                ),
            ),
        ),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def move_stage(
        self,
        partner_id: PartnerId,
        data: JSONBody[StageChangeIn],
        registry: NamedDependency[Registry],
        audit: NamedDependency[AuditTrail],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> PartnerLifecycleOut:
        request.scope["state"]["object_id"] = partner_id
        lifecycle = registry.lifecycle
        partner = lifecycle.move(
            partner_id,
            data.stage,
            actor=principal.client_id,
            reason=data.reason,
            override=data.override_reason,
        )
        if data.override_reason is not None:
            record_override(
                audit,
                lifecycle,
                partner_id,
                actor=principal.client_id,
                request_id=str(request.scope["state"].get("request_id", "")),
            )
        return PartnerLifecycleOut.of(partner)

    @put(
        "/pilot-caps",
        operation_id="adminSetPilotCaps",
        responses=problems(
            404,
            409,
            rules=(
                Rule(
                    "rule-violation",
                    "a cap exceeds the pilot ceilings or the partner is already in production",
                ),
            ),
        ),
        **staff(Scope.ADMIN_PARTNERS),
    )
    async def set_pilot_caps(
        self,
        partner_id: PartnerId,
        data: JSONBody[PilotCapsIn],
        registry: NamedDependency[Registry],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> PartnerLifecycleOut:
        request.scope["state"]["object_id"] = partner_id
        partner = registry.lifecycle.set_pilot_caps(
            partner_id, data.to_domain(), actor=principal.client_id, reason=data.reason
        )
        return PartnerLifecycleOut.of(partner)
