"""The partner lifecycle: stages, who may move a partner between them, and the append-only history.

Rule table (ADR 0011):

| from, to    | application | sandbox | review | pilot | production |
| ----------- | ----------- | ------- | ------ | ----- | ---------- |
| application |             | staff   |        |       |            |
| sandbox     |             |         | staff, partner |  |          |
| review      |             | staff   |        | staff | staff      |
| pilot       |             |         | staff  |       | staff      |
| production  |             |         |        |       |            |

- Every move needs a reason (3..500 characters after trimming) and is recorded with its actor.
- Entering `pilot` needs pilot caps set beforehand (`set_pilot_caps`); caps cannot be set on a
  partner in `production` (they only bind in pilot; production is uncapped by design).
- `production` is final: a partner in trouble is suspended, never sent back to pilot.
- Suspension and reactivation are orthogonal to the stage (status active/suspended), need a reason,
  and a suspension of a suspended partner (or a reactivation of an active one) is a conflict.
- The one partner-initiated move is `sandbox -> review` (`request_review`), actor `partner:<client_id>`.
  It carries the app's conformance evidence (`Evidence`, made by sandbox/conformance.py).
- Graduation on evidence: a staff move into `pilot` or `production` needs the partner's evidence to
  pass every required check. The evidence is the pack of the latest review request, unless the
  partner was back in the sandbox since (then it has none). Without passing evidence the move needs
  an override reason (20..500 characters), recorded in the event's details as an override; an
  override reason is refused when the evidence passes (there is nothing to override).
- Which environments a stage may hold apps in: `STAGE_ENVIRONMENTS` in partners/models.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final, Protocol, runtime_checkable

from gateway.domain.clock import Clock
from gateway.domain.ids import new_id
from gateway.domain.money import Currency

from partners.errors import (
    IllegalTransitionError,
    InvalidLifecycleRequestError,
    LifecycleConflictError,
    PartnerNotFoundError,
)
from partners.models import Partner, PartnerStage, PartnerStatus, PilotCaps
from partners.ports import RegistryStore

SELF_SERVICE: Final = "self-service"
MIN_REASON: Final = 3
MAX_REASON: Final = 500
MAX_ACTOR: Final = 200
MIN_OVERRIDE: Final = 20  # an override is a written justification, not a word
# The stages a partner enters only on passing evidence, or by an override (docs/sandbox/graduation.md).
GRADUATING: Final = frozenset({PartnerStage.PILOT, PartnerStage.PRODUCTION})
# Pilot caps have ceilings so a typo cannot open the gates wide (a pilot is small by definition).
MAX_PILOT_CUSTOMERS: Final = 100_000
MAX_PILOT_NOTIONAL: Final = Decimal("100000000")
MAX_PILOT_POINTS: Final = 1_000_000_000

S = PartnerStage
STAFF_TRANSITIONS: Final[Mapping[PartnerStage, frozenset[PartnerStage]]] = {
    S.APPLICATION: frozenset({S.SANDBOX}),
    S.SANDBOX: frozenset({S.REVIEW}),
    S.REVIEW: frozenset({S.SANDBOX, S.PILOT, S.PRODUCTION}),
    S.PILOT: frozenset({S.REVIEW, S.PRODUCTION}),
    S.PRODUCTION: frozenset(),
}
PARTNER_TRANSITIONS: Final[Mapping[PartnerStage, frozenset[PartnerStage]]] = {
    S.SANDBOX: frozenset({S.REVIEW})
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """The conformance evidence a review request carries: the signed pack and its verdict."""

    id: str
    client_id: str  # the sandbox app the pack scores
    passed: bool  # every required check passed
    failed: tuple[str, ...]  # the required checks that failed
    issued_at: datetime
    pack: str  # the signed pack, a compact JWS (sandbox/conformance.py)

    def details(self) -> dict[str, str]:
        """As the review request's event keeps it."""
        return {
            "evidence_id": self.id,
            "evidence_client_id": self.client_id,
            "evidence": "passed" if self.passed else "failed",
            "evidence_failed": ",".join(self.failed),
            "evidence_issued_at": self.issued_at.isoformat(),
            "evidence_pack": self.pack,
        }

    @classmethod
    def of(cls, details: Mapping[str, str]) -> Evidence | None:
        """The evidence an event's details hold, or None."""
        if "evidence_pack" not in details:
            return None
        failed = details.get("evidence_failed", "")
        return cls(
            id=details["evidence_id"],
            client_id=details["evidence_client_id"],
            passed=details["evidence"] == "passed",
            failed=tuple(failed.split(",")) if failed else (),
            issued_at=datetime.fromisoformat(details["evidence_issued_at"]),
            pack=details["evidence_pack"],
        )


class LifecycleEventKind(StrEnum):
    """What happened; CREATED, STAGE_CHANGED and REVIEW_REQUESTED move the stage (STAGE_MOVES)."""

    CREATED = "created"
    STAGE_CHANGED = "stage_changed"
    REVIEW_REQUESTED = "review_requested"
    SUSPENDED = "suspended"
    REACTIVATED = "reactivated"
    PILOT_CAPS_SET = "pilot_caps_set"


STAGE_MOVES: Final = frozenset(
    {LifecycleEventKind.CREATED, LifecycleEventKind.STAGE_CHANGED, LifecycleEventKind.REVIEW_REQUESTED}
)


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One line of a partner's history: who did what, from which stage to which, why and when."""

    id: str
    partner_id: str
    kind: LifecycleEventKind
    actor: str
    from_stage: PartnerStage | None
    to_stage: PartnerStage
    reason: str
    at: datetime
    details: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class LifecycleStore(RegistryStore, Protocol):
    def add_partner_with_event(self, partner: Partner, event: LifecycleEvent) -> None: ...
    def change_partner(self, before: Partner, after: Partner, event: LifecycleEvent) -> bool:
        """Write `after` and append `event` at once, if the partner still is `before` (stage, status)."""
        ...

    def lifecycle_events(self, partner_id: str) -> list[LifecycleEvent]: ...
    def stage_entered_at(self) -> dict[str, datetime]:
        """Per partner, when it entered its current stage (its last creation or stage move)."""
        ...


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise InvalidLifecycleRequestError(
            f"a reason of {MIN_REASON} to {MAX_REASON} characters is required", field="reason"
        )
    return reason


def check_override(override: str) -> str:
    override = override.strip()
    if not MIN_OVERRIDE <= len(override) <= MAX_REASON:
        raise InvalidLifecycleRequestError(
            f"an override reason of {MIN_OVERRIDE} to {MAX_REASON} characters is required",
            field="override_reason",
        )
    return override


def check_actor(actor: str) -> str:
    actor = actor.strip()
    if not 1 <= len(actor) <= MAX_ACTOR:
        raise InvalidLifecycleRequestError("the actor must be named", field="actor")
    return actor


def check_pilot_caps(caps: PilotCaps) -> PilotCaps:
    if not 1 <= caps.customers <= MAX_PILOT_CUSTOMERS:
        raise InvalidLifecycleRequestError(
            f"customers must be 1 to {MAX_PILOT_CUSTOMERS}", field="pilot_caps.customers"
        )
    notional = caps.daily_notional
    if not notional.is_finite() or notional <= 0 or notional > MAX_PILOT_NOTIONAL:
        raise InvalidLifecycleRequestError(
            f"daily_notional must be above 0 and at most {MAX_PILOT_NOTIONAL}",
            field="pilot_caps.daily_notional",
        )
    if notional != notional.quantize(Decimal("0.01")):
        raise InvalidLifecycleRequestError(
            "daily_notional has at most 2 decimals", field="pilot_caps.daily_notional"
        )
    if not 0 <= caps.daily_points <= MAX_PILOT_POINTS:
        raise InvalidLifecycleRequestError(
            f"daily_points must be 0 to {MAX_PILOT_POINTS}", field="pilot_caps.daily_points"
        )
    if caps.currency not in set(Currency):
        raise InvalidLifecycleRequestError(
            f"currency must be one of {sorted(Currency)}", field="pilot_caps.currency"
        )
    return replace(caps, daily_notional=notional.quantize(Decimal("0.01")))


def creation_event(partner: Partner, *, actor: str, event_id: str) -> LifecycleEvent:
    return LifecycleEvent(
        id=event_id,
        partner_id=partner.id,
        kind=LifecycleEventKind.CREATED,
        actor=actor,
        from_stage=None,
        to_stage=partner.stage,
        reason="partner created",
        at=partner.created_at,
    )


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Moves partners between stages and statuses, one recorded event per change."""

    store: LifecycleStore
    clock: Clock
    # Told of every committed change, after the commit (the registry tells its own listeners).
    listeners: tuple[Callable[[Partner], None], ...] = ()

    def partner(self, partner_id: str) -> Partner:
        partner = self.store.get_partner(partner_id)
        if partner is None:
            raise PartnerNotFoundError("partner not found", partner_id=partner_id)
        return partner

    def history(self, partner_id: str) -> list[LifecycleEvent]:
        self.partner(partner_id)
        return self.store.lifecycle_events(partner_id)

    def stage_entered_at(self) -> dict[str, datetime]:
        """Per partner, when it entered its current stage (its last creation or stage move)."""
        return self.store.stage_entered_at()

    def evidence(self, partner_id: str) -> Evidence | None:
        """The pack of the latest review request, unless the partner was back in the sandbox since."""
        for event in reversed(self.history(partner_id)):
            if event.kind is LifecycleEventKind.REVIEW_REQUESTED:
                return Evidence.of(event.details)
            if event.to_stage is PartnerStage.SANDBOX and event.from_stage is not PartnerStage.SANDBOX:
                return None  # sent back (or created) in the sandbox after it: it graduates on new evidence
        return None

    def move(
        self, partner_id: str, to: PartnerStage, *, actor: str, reason: str, override: str | None = None
    ) -> Partner:
        """A staff move along `STAFF_TRANSITIONS`; into pilot or production on passing evidence, or
        with an `override` reason."""
        partner = self.partner(partner_id)
        if to not in STAFF_TRANSITIONS[partner.stage]:
            raise IllegalTransitionError(
                f"a partner in {partner.stage.value} cannot move to {to.value}",
                field="stage",
                from_stage=partner.stage.value,
                to_stage=to.value,
                allowed=sorted(s.value for s in STAFF_TRANSITIONS[partner.stage]),
            )
        if to is PartnerStage.PILOT and partner.pilot_caps is None:
            raise IllegalTransitionError(
                "set the pilot caps before moving a partner into pilot", field="pilot_caps"
            )
        if to not in GRADUATING and override is not None:
            raise InvalidLifecycleRequestError(
                "an override reason belongs to a move into pilot or production", field="override_reason"
            )
        details = self._graduation(partner_id, to, override) if to in GRADUATING else {}
        return self._change(
            partner, replace(partner, stage=to), LifecycleEventKind.STAGE_CHANGED, actor, reason, details
        )

    def _graduation(self, partner_id: str, to: PartnerStage, override: str | None) -> dict[str, str]:
        """The details a move into pilot or production records: the evidence it rests on, or the override."""
        evidence = self.evidence(partner_id)
        if evidence is not None and evidence.passed:
            if override is not None:
                raise InvalidLifecycleRequestError(
                    "the evidence passes every required check: there is nothing to override",
                    field="override_reason",
                )
            return {"evidence": "passed", "evidence_id": evidence.id}
        verdict = "missing" if evidence is None else "failed"
        failed = evidence.failed if evidence is not None else ()
        if override is None:
            raise IllegalTransitionError(
                f"moving into {to.value} needs conformance evidence that passes every required check "
                f"(the evidence is {verdict}), or an override reason",
                field="override_reason",
                rule="evidence_required",
                evidence=verdict,
                failed=list(failed),
            )
        return {
            "override": "true",
            "override_reason": check_override(override),
            "evidence": verdict,
            "evidence_failed": ",".join(failed),
            **({"evidence_id": evidence.id} if evidence is not None else {}),
        }

    def request_review(
        self, partner_id: str, *, actor: str, reason: str, evidence: Evidence | None = None
    ) -> Partner:
        """The partner's own move: from sandbox into review, nothing else; with its app's evidence."""
        partner = self.partner(partner_id)
        if PartnerStage.REVIEW not in PARTNER_TRANSITIONS.get(partner.stage, frozenset()):
            raise IllegalTransitionError(
                f"a review can be requested from the sandbox stage only (now {partner.stage.value})",
                field="stage",
                from_stage=partner.stage.value,
            )
        if partner.status is not PartnerStatus.ACTIVE:
            raise IllegalTransitionError("a suspended partner cannot request a review", field="status")
        return self._change(
            partner,
            replace(partner, stage=PartnerStage.REVIEW),
            LifecycleEventKind.REVIEW_REQUESTED,
            actor,
            reason,
            evidence.details() if evidence is not None else None,
        )

    def suspend(self, partner_id: str, *, actor: str, reason: str) -> Partner:
        partner = self.partner(partner_id)
        if partner.status is PartnerStatus.SUSPENDED:
            raise LifecycleConflictError("the partner is suspended already", field="status")
        return self._change(
            partner,
            replace(partner, status=PartnerStatus.SUSPENDED),
            LifecycleEventKind.SUSPENDED,
            actor,
            reason,
        )

    def reactivate(self, partner_id: str, *, actor: str, reason: str) -> Partner:
        partner = self.partner(partner_id)
        if partner.status is PartnerStatus.ACTIVE:
            raise LifecycleConflictError("the partner is active already", field="status")
        return self._change(
            partner,
            replace(partner, status=PartnerStatus.ACTIVE),
            LifecycleEventKind.REACTIVATED,
            actor,
            reason,
        )

    def set_pilot_caps(self, partner_id: str, caps: PilotCaps, *, actor: str, reason: str) -> Partner:
        partner = self.partner(partner_id)
        if partner.stage is PartnerStage.PRODUCTION:
            raise IllegalTransitionError("a partner in production has no pilot caps", field="stage")
        caps = check_pilot_caps(caps)
        details = {
            "customers": str(caps.customers),
            "daily_notional": str(caps.daily_notional),
            "currency": caps.currency,
            "daily_points": str(caps.daily_points),
        }
        return self._change(
            partner,
            replace(partner, pilot_caps=caps),
            LifecycleEventKind.PILOT_CAPS_SET,
            actor,
            reason,
            details,
        )

    def _change(
        self,
        before: Partner,
        after: Partner,
        kind: LifecycleEventKind,
        actor: str,
        reason: str,
        details: Mapping[str, str] | None = None,
    ) -> Partner:
        event = LifecycleEvent(
            id=new_id("ple", random_bytes=8),
            partner_id=before.id,
            kind=kind,
            actor=check_actor(actor),
            from_stage=before.stage,
            to_stage=after.stage,
            reason=check_reason(reason),
            at=self.clock.now(),
            details=dict(details or {}),
        )
        if not self.store.change_partner(before, after, event):
            raise LifecycleConflictError("the partner changed meanwhile; reload and retry", field="stage")
        for listener in self.listeners:
            listener(after)
        return after
