"""Staff pages of the partner lifecycle (ADR 0011), inside the supervisor console.

- `/supervisor/partners` lists partners by stage, the pending reviews first (oldest request first);
  `/supervisor/partners/{id}` shows one partner, its apps and its lifecycle history.
- The forms move the stage, set pilot caps, suspend and reactivate; each needs a reason.
- Same sign-in, cookie, CSRF token and same-origin check as the alert queue (gateway.web.supervisor).
- Rule: a compliance officer acts on partners; a supervisor (the regulator) reads only.
- Every change is recorded in the partner's history under `officer:<username>` and, as every
  state-changing call, in the production audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from gateway.auth.staff import StaffSession
from gateway.domain.environment import Environment
from gateway.domain.errors import ConflictError, DomainError, NotFoundError
from gateway.domain.money import Currency
from gateway.services import Platform, PlatformDep
from gateway.web.pages import PAGE_OPTIONS, environment_of, first, see_other
from gateway.web.supervisor import (
    BASE,
    _checked_post,
    _message,
    _not_here,
    _refused_form,
    _render,
    _session,
    _to_login,
)
from partners.lifecycle import MAX_REASON, MIN_REASON, STAFF_TRANSITIONS, LifecycleEvent, LifecycleEventKind
from partners.models import Partner, PartnerStage, PartnerStatus, PilotCaps

PARTNERS: Final = f"{BASE}/partners"
MAX_LISTED: Final = 500  # filter by stage beyond that
STAGE_ORDER: Final = (
    PartnerStage.REVIEW,  # pending reviews first: they wait for us
    PartnerStage.APPLICATION,
    PartnerStage.SANDBOX,
    PartnerStage.PILOT,
    PartnerStage.PRODUCTION,
)
NOTICES: Final = {
    "stage": "Stage changed. Your name and reason are in the partner's history.",
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


def review_queue(platform: Platform, stage: PartnerStage | None = None) -> list[PartnerLine]:
    """Partners by stage, reviews first; within a stage, the longest waiting first (one query each
    for partners and stage entries, however many partners there are)."""
    entered = platform.registry.lifecycle.store.stage_entered_at()
    lines: list[tuple[int, datetime, str, PartnerLine]] = []
    for partner in platform.registry.store.list_partners():
        if partner.operator or (stage is not None and partner.stage is not stage):
            continue
        since = entered.get(partner.id, partner.created_at)
        line = PartnerLine.of(partner, _moment(since))
        lines.append((STAGE_ORDER.index(partner.stage), since, partner.id, line))
    return [line for *_, line in sorted(lines)[:MAX_LISTED]]


@get(PARTNERS, **PAGE_OPTIONS)
async def partner_list(
    request: Request[Any, Any, Any], platform: PlatformDep, stage: StageFilter = None, notice: Notice = None
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    lines = review_queue(platform, stage)
    return _render(
        "staff_partners.html",
        session=session,
        partners=lines,
        pending=sum(1 for line in lines if line.stage == PartnerStage.REVIEW.value),
        stages=[s.value for s in STAGE_ORDER],
        stage=stage.value if stage else "",
        notice=NOTICES.get(notice or ""),
    )


def _entered(history: list[LifecycleEvent], partner: Partner) -> datetime:
    """When the partner entered its current stage: the last event that moved it."""
    moves = [e.at for e in history if e.from_stage is not e.to_stage]
    return moves[-1] if moves else partner.created_at


def _partner_page(
    platform: Platform,
    session: StaffSession,
    partner_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    lifecycle = platform.registry.lifecycle
    try:
        partner = lifecycle.partner(partner_id)
    except NotFoundError:
        return _message("Not found", "There is no such partner.", status=404, session=session)
    if partner.operator:  # the operator's own staff apps are not reviewed here
        return _message("Not found", "There is no such partner.", status=404, session=session)
    history = lifecycle.history(partner_id)
    caps = partner.pilot_caps
    return _render(
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
        currencies=[c.value for c in Currency],
        apps=[
            {
                "client_id": app.client_id,
                "name": app.name,
                "environment": app.environment.value,
                "status": app.status.value,
            }
            for app in platform.registry.store.list_apps(partner_id)
        ],
        history=[
            {
                "at": f"{e.at:%Y-%m-%d %H:%M:%S} UTC",
                "kind": e.kind.value.replace("_", " "),
                "actor": e.actor,
                "from_stage": e.from_stage.value if e.from_stage else "",
                "to_stage": e.to_stage.value,
                "reason": e.reason,
                "details": ", ".join(f"{k}={v}" for k, v in sorted(e.details.items())),
            }
            for e in reversed(history)  # newest first
        ],
        reason_min=MIN_REASON,
        reason_max=MAX_REASON,
        notice=notice,
        error=error,
    )


@get(f"{PARTNERS}/{{partner_id:str}}", **PAGE_OPTIONS)
async def partner_page(
    request: Request[Any, Any, Any], platform: PlatformDep, partner_id: FromPath[str], notice: Notice = None
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _partner_page(platform, session, partner_id, notice=NOTICES.get(notice or ""))


async def _acting_officer(
    request: Request[Any, Any, Any], platform: Platform
) -> tuple[StaffSession, dict[str, list[str]]] | Response[Any]:
    """The officer and form of a lifecycle post, or the page that refuses it."""
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    form = await _checked_post(request, platform, session)
    if form is None:
        return _refused_form(session)
    if not session.officer.can_clear:
        return _message(
            "Not allowed",
            "Only a compliance officer changes a partner's lifecycle.",
            status=403,
            session=session,
        )
    return session, form


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


async def _act(
    request: Request[Any, Any, Any], platform: Platform, partner_id: str, kind: LifecycleEventKind
) -> Response[Any]:
    acting = await _acting_officer(request, platform)
    if isinstance(acting, Response):
        return acting
    session, form = acting
    lifecycle = platform.registry.lifecycle
    actor = session.officer.identity
    reason = first(form, "reason") or ""
    try:
        if kind is LifecycleEventKind.STAGE_CHANGED:
            target = first(form, "stage") or ""
            if target not in {s.value for s in PartnerStage}:
                return _partner_page(platform, session, partner_id, error="choose a stage", status=422)
            lifecycle.move(partner_id, PartnerStage(target), actor=actor, reason=reason)
            notice = "stage"
        elif kind is LifecycleEventKind.PILOT_CAPS_SET:
            caps = _caps_of(form)
            if isinstance(caps, str):
                return _partner_page(platform, session, partner_id, error=caps, status=422)
            lifecycle.set_pilot_caps(partner_id, caps, actor=actor, reason=reason)
            notice = "caps"
        elif kind is LifecycleEventKind.SUSPENDED:
            lifecycle.suspend(partner_id, actor=actor, reason=reason)
            notice = "suspended"
        else:
            lifecycle.reactivate(partner_id, actor=actor, reason=reason)
            notice = "reactivated"
    except NotFoundError:
        return _message("Not found", "There is no such partner.", status=404, session=session)
    except DomainError as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return _partner_page(platform, session, partner_id, error=exc.detail, status=status)
    for app in platform.registry.store.list_apps(partner_id):
        platform.clients.forget(app.client_id)
    request.scope["state"]["actor"] = actor
    request.scope["state"]["object_id"] = partner_id
    return see_other(f"{PARTNERS}/{partner_id}?notice={notice}")


@post(f"{PARTNERS}/{{partner_id:str}}/stage", status_code=303, **PAGE_OPTIONS)
async def move_stage(
    request: Request[Any, Any, Any], platform: PlatformDep, partner_id: FromPath[str]
) -> Response[Any]:
    return await _act(request, platform, partner_id, LifecycleEventKind.STAGE_CHANGED)


@post(f"{PARTNERS}/{{partner_id:str}}/pilot-caps", status_code=303, **PAGE_OPTIONS)
async def set_pilot_caps(
    request: Request[Any, Any, Any], platform: PlatformDep, partner_id: FromPath[str]
) -> Response[Any]:
    return await _act(request, platform, partner_id, LifecycleEventKind.PILOT_CAPS_SET)


@post(f"{PARTNERS}/{{partner_id:str}}/suspension", status_code=303, **PAGE_OPTIONS)
async def suspend(
    request: Request[Any, Any, Any], platform: PlatformDep, partner_id: FromPath[str]
) -> Response[Any]:
    return await _act(request, platform, partner_id, LifecycleEventKind.SUSPENDED)


@post(f"{PARTNERS}/{{partner_id:str}}/reactivation", status_code=303, **PAGE_OPTIONS)
async def reactivate(
    request: Request[Any, Any, Any], platform: PlatformDep, partner_id: FromPath[str]
) -> Response[Any]:
    return await _act(request, platform, partner_id, LifecycleEventKind.REACTIVATED)


ROUTES: Final = [partner_list, partner_page, move_stage, set_pilot_caps, suspend, reactivate]
