"""Staff pages of the partner lifecycle (ADR 0011), inside the supervisor console.

- `/supervisor/partners` lists partners by stage, the pending reviews first (oldest request first);
  `/supervisor/partners/{id}` shows one partner, its apps and its lifecycle history.
- The forms move the stage, set pilot caps, suspend and reactivate; each needs a reason.
- Same sign-in, cookie, CSRF token and same-origin check as the alert queue (gateway.web.supervisor).
- Rule: a compliance officer acts on partners; a supervisor (the regulator) reads only.
- Every change is recorded in the partner's history under `officer:<username>` and, as every
  state-changing call, in the production audit chain.
- The partner page shows the conformance evidence of the latest review request, check by check
  (docs/sandbox/graduation.md). A move into pilot or production without passing evidence needs an
  override reason, which the history keeps and the audit chain records as an override.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from gateway.apis.admin.lifecycle import record_override
from gateway.auth.staff import StaffLogin, StaffSession
from gateway.domain.errors import ConflictError, DomainError, NotFoundError
from gateway.domain.money import Currency
from gateway.edge.audit import AuditTrail
from gateway.web.pages import first, see_other
from gateway.web.supervisor import BASE, OPTIONS, STAFF, acting_officer
from partners.lifecycle import (
    GRADUATING,
    MAX_REASON,
    MIN_OVERRIDE,
    MIN_REASON,
    STAFF_TRANSITIONS,
    LifecycleEvent,
    LifecycleEventKind,
)
from partners.models import Partner, PartnerStage, PartnerStatus, PilotCaps
from partners.service import REVIEW_ORDER, Registry
from sandbox.conformance import Graduation, OpenedEvidence

PARTNERS: Final = f"{BASE}/partners"
MAX_LISTED: Final = 500  # filter by stage beyond that
NOTICES: Final = {
    "stage": "Stage changed. Your name and reason are in the partner's history.",
    "override": "Stage changed by an override. Your name and override reason are in the partner's "
    "history and the audit trail.",
    "caps": "Pilot caps set. Your name and reason are in the partner's history.",
    "suspended": "Partner suspended. Its apps are refused from now on.",
    "reactivated": "Partner reactivated.",
}
StageFilter = Annotated[PartnerStage | None, QueryParameter(name="stage", required=False)]
Notice = Annotated[str | None, QueryParameter(name="notice", required=False, max_length=40)]


@dataclass(frozen=True, slots=True)
class PartnerLine:
    id: str
    name: str
    type: str
    region: str
    stage: str
    status: str
    since: str  # when it entered its stage

    @classmethod
    def of(cls, partner: Partner, since: str) -> PartnerLine:
        return cls(
            id=partner.id,
            name=partner.name,
            type=partner.type.value,
            region=partner.region,
            stage=partner.stage.value,
            status=partner.status.value,
            since=since,
        )


def _moment(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


@get(PARTNERS, **OPTIONS)
async def partner_list(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    registry: NamedDependency[Registry],
    stage: StageFilter = None,
    notice: Notice = None,
) -> Response[Any]:
    session = STAFF.signed_in(request, staff)
    queue = registry.review_queue(stage, limit=MAX_LISTED)
    lines = [PartnerLine.of(partner, _moment(since)) for partner, since in queue]
    return STAFF.render(
        "staff_partners.html",
        session=session,
        partners=lines,
        pending=sum(1 for line in lines if line.stage == PartnerStage.REVIEW.value),
        stages=[s.value for s in REVIEW_ORDER],
        stage=stage.value if stage else "",
        notice=NOTICES.get(notice or ""),
    )


def _entered(history: list[LifecycleEvent], partner: Partner) -> datetime:
    """When the partner entered its current stage: the last event that moved it."""
    moves = [e.at for e in history if e.from_stage is not e.to_stage]
    return moves[-1] if moves else partner.created_at


HIDDEN_DETAILS: Final = frozenset({"evidence_pack"})  # the signed pack is shown check by check instead


def _evidence(opened: OpenedEvidence | None) -> dict[str, Any] | None:
    if opened is None:
        return None
    evidence = opened.evidence
    return {
        "id": evidence.id,
        "client_id": evidence.client_id,
        "passed": evidence.passed,
        "failed": ", ".join(evidence.failed),
        "issued_at": _moment(evidence.issued_at),
        "period": f"{_moment(opened.start)} to {_moment(opened.end)}",
        "verified": opened.verified,
        "checks": [
            {
                "id": check.id.value,
                "title": check.title,
                "required": check.required,
                "passed": check.passed,
                "evidence": ", ".join(f"{k}={v}" for k, v in check.evidence.items() if v not in (None, [])),
            }
            for check in opened.checks
        ],
    }


def _partner_page(
    registry: Registry,
    graduation: Graduation,
    session: StaffSession,
    partner_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    lifecycle = registry.lifecycle
    try:
        partner = lifecycle.partner(partner_id)
    except NotFoundError:
        return _no_such_partner(session)
    if partner.operator:  # the operator's own staff apps are not reviewed here
        return _no_such_partner(session)
    history = lifecycle.history(partner_id)
    caps = partner.pilot_caps
    evidence = _evidence(graduation.evidence(partner_id))
    return STAFF.render(
        "staff_partner.html",
        session=session,
        status=status,
        partner=PartnerLine.of(partner, _moment(_entered(history, partner))),
        suspended=partner.status is PartnerStatus.SUSPENDED,
        caps=None
        if caps is None
        else {
            "customers": caps.customers,
            "daily_notional": f"{caps.daily_notional:.2f}",
            "currency": caps.currency,
            "daily_points": caps.daily_points,
        },
        may_set_caps=partner.stage is not PartnerStage.PRODUCTION,
        targets=sorted(s.value for s in STAFF_TRANSITIONS[partner.stage]),
        evidence=evidence,
        # A move into pilot or production without passing evidence needs an override reason.
        needs_override=bool(STAFF_TRANSITIONS[partner.stage] & GRADUATING)
        and not (evidence is not None and evidence["passed"]),
        override_min=MIN_OVERRIDE,
        currencies=[c.value for c in Currency],
        apps=[
            {
                "client_id": app.client_id,
                "name": app.name,
                "environment": app.environment.value,
                "status": app.status.value,
            }
            for app in registry.list_apps(partner_id)
        ],
        history=[
            {
                "at": f"{e.at:%Y-%m-%d %H:%M:%S} UTC",
                "kind": e.kind.value.replace("_", " "),
                "actor": e.actor,
                "from_stage": e.from_stage.value if e.from_stage else "",
                "to_stage": e.to_stage.value,
                "reason": e.reason,
                "details": ", ".join(
                    f"{k}={v}" for k, v in sorted(e.details.items()) if k not in HIDDEN_DETAILS
                ),
                "override": e.details.get("override") == "true",
            }
            for e in reversed(history)  # newest first
        ],
        reason_min=MIN_REASON,
        reason_max=MAX_REASON,
        notice=notice,
        error=error,
    )


def _no_such_partner(session: StaffSession) -> Template:
    return STAFF.message("Not found", "There is no such partner.", status=404, session=session)


@get(f"{PARTNERS}/{{partner_id:str}}", **OPTIONS)
async def partner_page(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    registry: NamedDependency[Registry],
    graduation: NamedDependency[Graduation],
    partner_id: FromPath[str],
    notice: Notice = None,
) -> Response[Any]:
    session = STAFF.signed_in(request, staff)
    return _partner_page(registry, graduation, session, partner_id, notice=NOTICES.get(notice or ""))


def _caps_of(form: dict[str, list[str]]) -> PilotCaps | str:
    """Pilot caps from the form, or what is wrong with it (the domain checks the ranges)."""
    try:
        return PilotCaps(
            customers=int(first(form, "customers") or ""),
            daily_notional=Decimal(first(form, "daily_notional") or ""),
            currency=first(form, "currency") or "",
            daily_points=int(first(form, "daily_points") or ""),
        )
    except (ValueError, InvalidOperation):
        return "customers and daily points are whole numbers; the daily notional an amount like 50000.00"


@dataclass(frozen=True, slots=True)
class Desk:
    """What a staff form post works with."""

    staff: StaffLogin
    registry: Registry
    graduation: Graduation
    audit: AuditTrail  # production's: the override's own record
    issuer: str


async def _act(
    request: Request[Any, Any, Any], desk: Desk, partner_id: str, kind: LifecycleEventKind
) -> Response[Any]:
    session, form = await acting_officer(request, desk.staff, desk.issuer, "changes a partner's lifecycle")
    registry = desk.registry
    lifecycle = registry.lifecycle
    actor = session.officer.identity
    reason = first(form, "reason") or ""

    def page(error: str, status: int) -> Template:
        return _partner_page(registry, desk.graduation, session, partner_id, error=error, status=status)

    try:
        if kind is LifecycleEventKind.STAGE_CHANGED:
            target = first(form, "stage") or ""
            if target not in {s.value for s in PartnerStage}:
                return page("choose a stage", 422)
            override = (first(form, "override_reason") or "").strip() or None
            lifecycle.move(partner_id, PartnerStage(target), actor=actor, reason=reason, override=override)
            notice = "stage"
            if override is not None:
                record_override(
                    desk.audit,
                    lifecycle,
                    partner_id,
                    actor=actor,
                    request_id=str(request.scope["state"].get("request_id", "")),
                )
                notice = "override"
        elif kind is LifecycleEventKind.PILOT_CAPS_SET:
            caps = _caps_of(form)
            if isinstance(caps, str):
                return page(caps, 422)
            lifecycle.set_pilot_caps(partner_id, caps, actor=actor, reason=reason)
            notice = "caps"
        elif kind is LifecycleEventKind.SUSPENDED:
            lifecycle.suspend(partner_id, actor=actor, reason=reason)
            notice = "suspended"
        else:
            lifecycle.reactivate(partner_id, actor=actor, reason=reason)
            notice = "reactivated"
    except NotFoundError:
        return _no_such_partner(session)
    except DomainError as exc:
        return page(exc.detail, 409 if isinstance(exc, ConflictError) else 422)
    request.scope["state"]["actor"] = actor
    request.scope["state"]["object_id"] = partner_id
    return see_other(f"{PARTNERS}/{partner_id}?notice={notice}")


@post(f"{PARTNERS}/{{partner_id:str}}/stage", status_code=303, **OPTIONS)
async def move_stage(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    registry: NamedDependency[Registry],
    graduation: NamedDependency[Graduation],
    audit: NamedDependency[AuditTrail],
    issuer: NamedDependency[str],
    partner_id: FromPath[str],
) -> Response[Any]:
    desk = Desk(staff, registry, graduation, audit, issuer)
    return await _act(request, desk, partner_id, LifecycleEventKind.STAGE_CHANGED)


@post(f"{PARTNERS}/{{partner_id:str}}/pilot-caps", status_code=303, **OPTIONS)
async def set_pilot_caps(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    registry: NamedDependency[Registry],
    graduation: NamedDependency[Graduation],
    audit: NamedDependency[AuditTrail],
    issuer: NamedDependency[str],
    partner_id: FromPath[str],
) -> Response[Any]:
    desk = Desk(staff, registry, graduation, audit, issuer)
    return await _act(request, desk, partner_id, LifecycleEventKind.PILOT_CAPS_SET)


@post(f"{PARTNERS}/{{partner_id:str}}/suspension", status_code=303, **OPTIONS)
async def suspend(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    registry: NamedDependency[Registry],
    graduation: NamedDependency[Graduation],
    audit: NamedDependency[AuditTrail],
    issuer: NamedDependency[str],
    partner_id: FromPath[str],
) -> Response[Any]:
    desk = Desk(staff, registry, graduation, audit, issuer)
    return await _act(request, desk, partner_id, LifecycleEventKind.SUSPENDED)


@post(f"{PARTNERS}/{{partner_id:str}}/reactivation", status_code=303, **OPTIONS)
async def reactivate(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    registry: NamedDependency[Registry],
    graduation: NamedDependency[Graduation],
    audit: NamedDependency[AuditTrail],
    issuer: NamedDependency[str],
    partner_id: FromPath[str],
) -> Response[Any]:
    desk = Desk(staff, registry, graduation, audit, issuer)
    return await _act(request, desk, partner_id, LifecycleEventKind.REACTIVATED)


ROUTES: Final = [partner_list, partner_page, move_stage, set_pilot_caps, suspend, reactivate]
