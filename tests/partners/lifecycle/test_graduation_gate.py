"""Moves into pilot or production rest on the review request's evidence, or on an audited override."""

from __future__ import annotations

import pytest

from partners.errors import (
    IllegalTransitionError,
    InvalidLifecycleRequestError,
)
from partners.lifecycle import (
    GRADUATING,
    Evidence,
    LifecycleEventKind,
)
from partners.models import (
    Partner,
    PartnerStage,
)
from partners.service import Registry
from tests.partners.lifecycle.world import (
    CAPS,
    NOW,
    OVERRIDE,
    STAFF,
    InMemoryLifecycleStore,
    S,
    partner_in,
)

# -- graduation on evidence ------------------------------------------------------------------------


def evidence(*failed: str) -> Evidence:
    return Evidence(
        id="evp_0123456789abcdef",
        client_id="sbx_app",
        passed=not failed,
        failed=failed,
        issued_at=NOW,
        pack="eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    )


def in_review(registry: Registry, pack: Evidence | None) -> Partner:
    partner = partner_in(registry, S.SANDBOX)
    registry.lifecycle.set_pilot_caps(partner.id, CAPS, actor=STAFF, reason="pilot terms")
    return registry.lifecycle.request_review(
        partner.id, actor="partner:sbx_app", reason="our app is done", evidence=pack
    )


def test_the_review_request_keeps_its_evidence(registry: Registry) -> None:
    pack = evidence("retry_after")
    partner = in_review(registry, pack)

    asked = registry.lifecycle.history(partner.id)[-1]

    assert asked.kind is LifecycleEventKind.REVIEW_REQUESTED
    assert Evidence.of(asked.details) == pack
    assert asked.details["evidence"] == "failed"
    assert registry.lifecycle.evidence(partner.id) == pack


@pytest.mark.parametrize("target", sorted(GRADUATING))
@pytest.mark.parametrize("pack", [None, evidence("retry_after", "scopes")])
def test_graduating_without_passing_evidence_needs_an_override(
    registry: Registry, store: InMemoryLifecycleStore, target: PartnerStage, pack: Evidence | None
) -> None:
    partner = in_review(registry, pack)
    before = list(store.events)

    with pytest.raises(IllegalTransitionError) as refused:
        registry.lifecycle.move(partner.id, target, actor=STAFF, reason="looks fine")
    with pytest.raises(InvalidLifecycleRequestError) as short:
        registry.lifecycle.move(partner.id, target, actor=STAFF, reason="looks fine", override="  trust me  ")

    assert refused.value.context["rule"] == "evidence_required"
    assert refused.value.context["field"] == "override_reason"
    assert refused.value.context["evidence"] == ("missing" if pack is None else "failed")
    assert refused.value.context["failed"] == ([] if pack is None else ["retry_after", "scopes"])
    assert short.value.context["field"] == "override_reason"
    assert store.events == before  # nothing changed
    assert registry.partner(partner.id).stage is S.REVIEW

    moved = registry.lifecycle.move(partner.id, target, actor=STAFF, reason="looks fine", override=OVERRIDE)

    assert moved.stage is target
    event = registry.lifecycle.history(partner.id)[-1]
    assert (event.kind, event.actor, event.reason) == (LifecycleEventKind.STAGE_CHANGED, STAFF, "looks fine")
    assert event.details["override"] == "true"
    assert event.details["override_reason"] == OVERRIDE
    assert event.details["evidence"] == ("missing" if pack is None else "failed")
    assert event.details["evidence_failed"] == ("" if pack is None else "retry_after,scopes")


def test_passing_evidence_graduates_without_an_override_and_refuses_one(
    registry: Registry, store: InMemoryLifecycleStore
) -> None:
    pack = evidence()
    partner = in_review(registry, pack)
    before = list(store.events)

    with pytest.raises(InvalidLifecycleRequestError) as needless:
        registry.lifecycle.move(partner.id, S.PILOT, actor=STAFF, reason="suite passed", override=OVERRIDE)
    assert needless.value.context["field"] == "override_reason"
    assert store.events == before

    registry.lifecycle.move(partner.id, S.PILOT, actor=STAFF, reason="suite passed")
    moved = registry.lifecycle.move(partner.id, S.PRODUCTION, actor=STAFF, reason="pilot went well")

    assert moved.stage is S.PRODUCTION
    assert [dict(e.details) for e in registry.lifecycle.history(partner.id)[-2:]] == [
        {"evidence": "passed", "evidence_id": pack.id},
        {"evidence": "passed", "evidence_id": pack.id},
    ]


def test_evidence_lapses_when_the_partner_goes_back_to_the_sandbox(registry: Registry) -> None:
    partner = in_review(registry, evidence())
    registry.lifecycle.move(partner.id, S.SANDBOX, actor=STAFF, reason="consent handling missing")
    registry.lifecycle.move(partner.id, S.REVIEW, actor=STAFF, reason="asked by phone")

    assert registry.lifecycle.evidence(partner.id) is None
    with pytest.raises(IllegalTransitionError) as refused:
        registry.lifecycle.move(partner.id, S.PILOT, actor=STAFF, reason="looks fine")
    assert refused.value.context["evidence"] == "missing"

    registry.lifecycle.move(partner.id, S.SANDBOX, actor=STAFF, reason="ask again yourselves")
    fresh = evidence()
    registry.lifecycle.request_review(partner.id, actor="partner:sbx_app", reason="fixed", evidence=fresh)
    assert registry.lifecycle.move(partner.id, S.PILOT, actor=STAFF, reason="suite passed").stage is S.PILOT
    # Pulled back from pilot into review, the partner keeps the evidence it graduated on.
    registry.lifecycle.move(partner.id, S.REVIEW, actor=STAFF, reason="complaints")
    assert registry.lifecycle.evidence(partner.id) == fresh


def test_an_override_belongs_to_graduating_moves_only(
    registry: Registry, store: InMemoryLifecycleStore
) -> None:
    partner = in_review(registry, None)
    before = list(store.events)
    with pytest.raises(InvalidLifecycleRequestError) as refused:
        registry.lifecycle.move(partner.id, S.SANDBOX, actor=STAFF, reason="tests missing", override=OVERRIDE)
    assert refused.value.context["field"] == "override_reason"
    assert store.events == before
