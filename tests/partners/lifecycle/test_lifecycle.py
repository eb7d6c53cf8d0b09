"""Lifecycle rules without a database: the stage table, reasons, pilot caps, environment gating, keys."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwk

from gateway.domain.environment import Environment
from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError
from gateway.domain.scopes import Scope
from partners.errors import (
    AppNotFoundError,
    IllegalTransitionError,
    InvalidAppError,
    InvalidLifecycleRequestError,
    KeyNotFoundError,
    LifecycleConflictError,
)
from partners.lifecycle import (
    PARTNER_TRANSITIONS,
    SELF_SERVICE,
    STAFF_TRANSITIONS,
    LifecycleEventKind,
    LifecycleStore,
)
from partners.models import (
    STAGE_ENVIRONMENTS,
    App,
    Partner,
    PartnerStage,
    PartnerStatus,
    PartnerType,
    PilotCaps,
)
from partners.service import MAX_APP_KEYS, AppKeyStore, Registry
from sandbox.clock import FrozenClock
from tests.partners.lifecycle.world import (
    CAPS,
    NOW,
    OVERRIDE,
    STAFF,
    InMemoryLifecycleStore,
    S,
    new_app,
    override_for,
    partner_in,
    public_key,
)


def test_the_store_fakes_satisfy_the_ports(store: InMemoryLifecycleStore) -> None:
    assert isinstance(store, LifecycleStore)
    assert isinstance(store, AppKeyStore)


# -- the stage table ------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target"), list(itertools.product(PartnerStage, PartnerStage)))
def test_staff_moves_follow_the_rule_table(
    registry: Registry, source: PartnerStage, target: PartnerStage
) -> None:
    partner = partner_in(registry, source, caps=source is not S.PRODUCTION)
    if target in STAFF_TRANSITIONS[source]:
        moved = registry.lifecycle.move(
            partner.id, target, actor=STAFF, reason="checked the evidence", override=override_for(target)
        )
        assert moved.stage is target
        assert registry.partner(partner.id).stage is target
    else:
        with pytest.raises(IllegalTransitionError) as refused:
            registry.lifecycle.move(partner.id, target, actor=STAFF, reason="checked the evidence")
        assert refused.value.context["from_stage"] == source.value
        assert registry.partner(partner.id).stage is source


def test_the_rule_table_written_out() -> None:
    # Written out again on purpose: loosening the lifecycle must be a deliberate change in both places.
    assert {(a, b) for a, targets in STAFF_TRANSITIONS.items() for b in targets} == {
        (S.APPLICATION, S.SANDBOX),
        (S.SANDBOX, S.REVIEW),
        (S.REVIEW, S.SANDBOX),
        (S.REVIEW, S.PILOT),
        (S.REVIEW, S.PRODUCTION),
        (S.PILOT, S.REVIEW),
        (S.PILOT, S.PRODUCTION),
    }
    assert {(a, b) for a, targets in PARTNER_TRANSITIONS.items() for b in targets} == {(S.SANDBOX, S.REVIEW)}


def test_production_never_goes_back_to_pilot(registry: Registry) -> None:
    partner = partner_in(registry, S.PILOT, caps=True)
    registry.lifecycle.move(
        partner.id, S.PRODUCTION, actor=STAFF, reason="pilot went well", override=OVERRIDE
    )
    with pytest.raises(IllegalTransitionError):
        registry.lifecycle.move(partner.id, S.PILOT, actor=STAFF, reason="second thoughts", override=OVERRIDE)


def test_review_may_send_a_partner_back_to_the_sandbox(registry: Registry) -> None:
    partner = partner_in(registry, S.REVIEW)
    assert (
        registry.lifecycle.move(partner.id, S.SANDBOX, actor=STAFF, reason="tests missing").stage is S.SANDBOX
    )


def test_pilot_needs_caps_first(registry: Registry, store: InMemoryLifecycleStore) -> None:
    partner = partner_in(registry, S.REVIEW)
    with pytest.raises(IllegalTransitionError) as refused:
        registry.lifecycle.move(partner.id, S.PILOT, actor=STAFF, reason="ready for a pilot")
    assert refused.value.context["field"] == "pilot_caps"
    assert registry.partner(partner.id).stage is S.REVIEW
    registry.lifecycle.set_pilot_caps(partner.id, CAPS, actor=STAFF, reason="pilot terms agreed")
    piloting = registry.lifecycle.move(
        partner.id, S.PILOT, actor=STAFF, reason="ready for a pilot", override=OVERRIDE
    )
    assert piloting.stage is S.PILOT
    assert piloting.pilot_caps == replace(CAPS, daily_notional=Decimal("20000.00"))
    assert [e.kind for e in store.lifecycle_events(partner.id)] == [
        LifecycleEventKind.CREATED,
        LifecycleEventKind.PILOT_CAPS_SET,
        LifecycleEventKind.STAGE_CHANGED,
    ]


@pytest.mark.parametrize("reason", ["", "  ", "ok", " x ", "x" * 501])
def test_every_move_needs_a_reason(registry: Registry, store: InMemoryLifecycleStore, reason: str) -> None:
    partner = partner_in(registry, S.APPLICATION)
    before = list(store.events)
    attempts: tuple[Callable[[], Partner], ...] = (
        lambda: registry.lifecycle.move(partner.id, S.SANDBOX, actor=STAFF, reason=reason),
        lambda: registry.lifecycle.suspend(partner.id, actor=STAFF, reason=reason),
        lambda: registry.lifecycle.set_pilot_caps(partner.id, CAPS, actor=STAFF, reason=reason),
    )
    for attempt in attempts:
        with pytest.raises(InvalidLifecycleRequestError) as refused:
            attempt()
        assert refused.value.context["field"] == "reason"
    assert store.events == before
    assert registry.partner(partner.id) == partner


def test_a_reason_is_trimmed_and_an_actor_is_required(registry: Registry) -> None:
    partner = partner_in(registry, S.APPLICATION)
    with pytest.raises(InvalidLifecycleRequestError):
        registry.lifecycle.move(partner.id, S.SANDBOX, actor="  ", reason="documents complete")
    registry.lifecycle.move(partner.id, S.SANDBOX, actor=STAFF, reason="  documents complete  ")
    assert registry.lifecycle.history(partner.id)[-1].reason == "documents complete"


def test_the_history_records_who_from_to_why_and_when(registry: Registry, clock: FrozenClock) -> None:
    partner = registry.create_partner(
        name="Dev Studio", type=PartnerType.DEVELOPER, region="SG", stage=S.SANDBOX
    )
    clock.advance(timedelta(days=3))
    registry.lifecycle.request_review(partner.id, actor="partner:sbx_1", reason="our app is done")
    clock.advance(timedelta(hours=5))
    registry.lifecycle.move(partner.id, S.SANDBOX, actor=STAFF, reason="needs consent handling")

    history = registry.lifecycle.history(partner.id)

    assert [(e.kind, e.actor, e.from_stage, e.to_stage, e.reason, e.at) for e in history] == [
        (LifecycleEventKind.CREATED, SELF_SERVICE, None, S.SANDBOX, "partner created", NOW),
        (
            LifecycleEventKind.REVIEW_REQUESTED,
            "partner:sbx_1",
            S.SANDBOX,
            S.REVIEW,
            "our app is done",
            NOW + timedelta(days=3),
        ),
        (
            LifecycleEventKind.STAGE_CHANGED,
            STAFF,
            S.REVIEW,
            S.SANDBOX,
            "needs consent handling",
            NOW + timedelta(days=3, hours=5),
        ),
    ]
    assert len({e.id for e in history}) == 3
    assert all(e.id.startswith("ple_") for e in history)


def test_the_default_stage_is_production_for_trusted_provisioning(
    registry: Registry, store: InMemoryLifecycleStore
) -> None:
    partner = registry.create_partner(name="Seeded Bank", type=PartnerType.INSTITUTION, region="CN")
    assert partner.stage is S.PRODUCTION
    assert partner.pilot_caps is None
    assert [(e.actor, e.to_stage) for e in store.lifecycle_events(partner.id)] == [("system", S.PRODUCTION)]


@pytest.mark.parametrize("stage", [s for s in PartnerStage if s is not S.SANDBOX])
def test_only_a_sandbox_partner_may_request_a_review(registry: Registry, stage: PartnerStage) -> None:
    partner = partner_in(registry, stage)
    with pytest.raises(IllegalTransitionError):
        registry.lifecycle.request_review(partner.id, actor="partner:x", reason="please review us")
    assert registry.partner(partner.id).stage is stage


def test_a_suspended_partner_cannot_request_a_review(registry: Registry) -> None:
    partner = partner_in(registry, S.SANDBOX)
    registry.lifecycle.suspend(partner.id, actor=STAFF, reason="abuse report")
    with pytest.raises(IllegalTransitionError):
        registry.lifecycle.request_review(partner.id, actor="partner:x", reason="please review us")


def test_suspension_and_reactivation_are_recorded_and_not_repeated(
    registry: Registry, store: InMemoryLifecycleStore
) -> None:
    partner = partner_in(registry, S.PRODUCTION)
    suspended = registry.lifecycle.suspend(partner.id, actor=STAFF, reason="abuse report")
    assert (suspended.status, suspended.stage) == (PartnerStatus.SUSPENDED, S.PRODUCTION)
    with pytest.raises(LifecycleConflictError):
        registry.lifecycle.suspend(partner.id, actor=STAFF, reason="abuse report")
    assert (
        registry.lifecycle.reactivate(partner.id, actor=STAFF, reason="cleared").status
        is PartnerStatus.ACTIVE
    )
    with pytest.raises(LifecycleConflictError):
        registry.lifecycle.reactivate(partner.id, actor=STAFF, reason="cleared")
    kinds = [(e.kind, e.from_stage, e.to_stage) for e in store.lifecycle_events(partner.id)][1:]
    assert kinds == [
        (LifecycleEventKind.SUSPENDED, S.PRODUCTION, S.PRODUCTION),
        (LifecycleEventKind.REACTIVATED, S.PRODUCTION, S.PRODUCTION),
    ]


def test_a_concurrent_change_is_a_conflict_not_a_lost_update(
    registry: Registry, store: InMemoryLifecycleStore
) -> None:
    partner = partner_in(registry, S.REVIEW)

    def other_staff_member(before: Partner) -> None:
        store.interfere = None
        store.partners[before.id] = replace(before, stage=S.SANDBOX)

    store.interfere = other_staff_member
    with pytest.raises(LifecycleConflictError):
        registry.lifecycle.move(partner.id, S.PRODUCTION, actor=STAFF, reason="approved", override=OVERRIDE)
    assert registry.partner(partner.id).stage is S.SANDBOX
    assert [e.kind for e in store.lifecycle_events(partner.id)] == [LifecycleEventKind.CREATED]


def test_an_unknown_partner_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError):
        registry.lifecycle.move("prt_missing", S.SANDBOX, actor=STAFF, reason="documents complete")
    with pytest.raises(NotFoundError):
        registry.lifecycle.history("prt_missing")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(steps=st.lists(st.tuples(st.sampled_from(PartnerStage), st.booleans()), max_size=12))
def test_any_sequence_of_moves_keeps_stage_and_history_in_step(
    steps: list[tuple[PartnerStage, bool]],
) -> None:
    store = InMemoryLifecycleStore()
    registry = Registry(store, FrozenClock(NOW))
    registry.ensure_default_plans()
    partner = registry.create_partner(
        name="Walker", type=PartnerType.INSTITUTION, region="CN", stage=S.APPLICATION
    )
    for target, with_caps in steps:
        if with_caps and registry.partner(partner.id).stage is not S.PRODUCTION:
            registry.lifecycle.set_pilot_caps(partner.id, CAPS, actor=STAFF, reason="pilot terms")
        with contextlib.suppress(IllegalTransitionError):
            registry.lifecycle.move(
                partner.id, target, actor=STAFF, reason="a step", override=override_for(target)
            )
    history = store.lifecycle_events(partner.id)
    for index, event in enumerate(history[1:], start=1):
        assert event.from_stage is history[index - 1].to_stage  # each event starts where the last ended
        if event.kind is LifecycleEventKind.STAGE_CHANGED:
            assert event.from_stage is not None
            assert event.to_stage in STAFF_TRANSITIONS[event.from_stage]
        if event.to_stage is S.PILOT and event.kind is LifecycleEventKind.STAGE_CHANGED:
            assert any(e.kind is LifecycleEventKind.PILOT_CAPS_SET for e in history[:index])
    assert registry.partner(partner.id).stage is history[-1].to_stage


# -- pilot caps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customers": 0}, "pilot_caps.customers"),
        ({"customers": 100_001}, "pilot_caps.customers"),
        ({"daily_notional": Decimal(0)}, "pilot_caps.daily_notional"),
        ({"daily_notional": Decimal("-1")}, "pilot_caps.daily_notional"),
        ({"daily_notional": Decimal("NaN")}, "pilot_caps.daily_notional"),
        ({"daily_notional": Decimal("Infinity")}, "pilot_caps.daily_notional"),
        ({"daily_notional": Decimal("1.005")}, "pilot_caps.daily_notional"),
        ({"daily_notional": Decimal("1E+9")}, "pilot_caps.daily_notional"),
        ({"daily_points": -1}, "pilot_caps.daily_points"),
        ({"currency": "XAU"}, "pilot_caps.currency"),
    ],
)
def test_bad_pilot_caps_are_refused(registry: Registry, changes: dict[str, Any], field: str) -> None:
    partner = partner_in(registry, S.REVIEW)
    with pytest.raises(InvalidLifecycleRequestError) as refused:
        registry.lifecycle.set_pilot_caps(partner.id, replace(CAPS, **changes), actor=STAFF, reason="terms")
    assert refused.value.context["field"] == field
    assert registry.partner(partner.id).pilot_caps is None


def test_pilot_caps_are_kept_exactly_and_recorded(registry: Registry) -> None:
    partner = partner_in(registry, S.REVIEW)
    caps = PilotCaps(customers=7, daily_notional=Decimal("1234.5"), currency="HKD", daily_points=0)
    stored = registry.lifecycle.set_pilot_caps(partner.id, caps, actor=STAFF, reason="small pilot").pilot_caps
    assert stored == PilotCaps(customers=7, daily_notional=Decimal("1234.50"), currency="HKD", daily_points=0)
    event = registry.lifecycle.history(partner.id)[-1]
    assert event.details == {
        "customers": "7",
        "daily_notional": "1234.50",
        "currency": "HKD",
        "daily_points": "0",
    }


def test_a_partner_in_production_has_no_pilot_caps(registry: Registry) -> None:
    partner = partner_in(registry, S.PRODUCTION)
    with pytest.raises(IllegalTransitionError):
        registry.lifecycle.set_pilot_caps(partner.id, CAPS, actor=STAFF, reason="terms")


# -- environments by stage --------------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "environment"), list(itertools.product(PartnerStage, Environment)))
def test_apps_per_environment_follow_the_stage(
    registry: Registry, stage: PartnerStage, environment: Environment
) -> None:
    partner = partner_in(registry, stage)
    allowed = {
        S.APPLICATION: set(),
        S.SANDBOX: {Environment.SANDBOX},
        S.REVIEW: {Environment.SANDBOX},
        S.PILOT: {Environment.SANDBOX, Environment.PRODUCTION},
        S.PRODUCTION: {Environment.SANDBOX, Environment.PRODUCTION},
    }[stage]
    assert STAGE_ENVIRONMENTS[stage] == allowed
    if environment in allowed:
        assert new_app(registry, partner, environment).environment is environment
    else:
        with pytest.raises(InvalidAppError) as refused:
            new_app(registry, partner, environment)
        assert refused.value.context["field"] == "environment"


def test_leaving_pilot_shuts_the_production_apps_at_once(
    registry: Registry, store: InMemoryLifecycleStore
) -> None:
    partner = partner_in(registry, S.PILOT, caps=True)
    live = new_app(registry, partner, Environment.PRODUCTION)
    sandbox = new_app(registry, partner, Environment.SANDBOX)
    assert store.get_client(live.client_id).active  # type: ignore[union-attr]

    registry.lifecycle.move(partner.id, S.REVIEW, actor=STAFF, reason="complaints during the pilot")

    assert not store.get_client(live.client_id).active  # type: ignore[union-attr]
    assert store.get_client(sandbox.client_id).active  # type: ignore[union-attr]
    registry.lifecycle.suspend(partner.id, actor=STAFF, reason="investigation")
    assert not store.get_client(sandbox.client_id).active  # type: ignore[union-attr]


def test_a_developer_reaches_production_through_review(
    registry: Registry, store: InMemoryLifecycleStore
) -> None:
    developer = registry.create_developer(organisation="Ada Labs", region="SG")
    key = json.dumps({"keys": [public_key("k1")]})

    def production_app(scopes: list[str]) -> App:
        return registry.create_developer_app(
            partner_id=developer.id,
            name="live app",
            jwks=key,
            scopes=scopes,
            redirect_uris=["https://ada.example/callback"],
            environment=Environment.PRODUCTION,
        )

    for stage in (S.REVIEW, S.PRODUCTION):
        with pytest.raises(InvalidAppError) as refused:
            production_app([Scope.MARKET_READ.value])
        assert refused.value.context["field"] == "environment"  # not before the stage opens production
        registry.lifecycle.move(
            developer.id, stage, actor=STAFF, reason="checked the evidence", override=override_for(stage)
        )

    live = production_app([Scope.MARKET_READ.value, Scope.CONSENTS_MANAGE.value, Scope.ORDERS_WRITE.value])
    with pytest.raises(InvalidAppError) as sandbox_only:
        production_app([Scope.MARKET_READ.value, Scope.SANDBOX_TESTING.value])

    assert live.client_id.startswith("live_")
    assert (live.plan_id, live.redirect_uris) == ("starter", ("https://ada.example/callback",))
    assert store.get_client(live.client_id).active  # type: ignore[union-attr]
    assert sandbox_only.value.context == {"field": "scopes", "refused": ["sandbox:testing"]}
    assert [a.client_id for a in store.list_apps(developer.id)] == [live.client_id]
    assert [e.to_stage for e in registry.lifecycle.history(developer.id)] == [
        S.SANDBOX,
        S.REVIEW,
        S.PRODUCTION,
    ]


# -- app keys ---------------------------------------------------------------------------------------


def test_keys_are_added_and_removed_but_never_the_last(registry: Registry) -> None:
    app = new_app(registry, partner_in(registry, S.PRODUCTION), Environment.PRODUCTION)
    added = registry.add_app_key(app.client_id, public_key("k2"))
    assert [k["kid"] for k in added.jwks["keys"]] == ["k1", "k2"]
    assert [k["kid"] for k in registry.app_keys(app.client_id)["keys"]] == ["k1", "k2"]

    assert [k["kid"] for k in registry.remove_app_key(app.client_id, "k1").jwks["keys"]] == ["k2"]
    with pytest.raises(InvalidAppError) as last:
        registry.remove_app_key(app.client_id, "k2")
    assert last.value.context["field"] == "kid"
    assert [k["kid"] for k in registry.app_keys(app.client_id)["keys"]] == ["k2"]


def test_a_key_is_checked_like_a_registered_one(registry: Registry) -> None:
    app = new_app(registry, partner_in(registry, S.PRODUCTION), Environment.PRODUCTION)
    private = dict(
        jwk.generate_key("EC", "P-256", parameters={"kid": "p"}, private=True).as_dict(private=True)
    )
    for bad in (
        public_key("k1"),  # the kid is taken
        private,  # private members
        {"kty": "oct", "kid": "s", "k": "c2VjcmV0"},  # a shared secret
        {"kty": "EC", "crv": "P-384", "kid": "x", "x": "AA", "y": "AA"},  # unaccepted curve
        {"kty": "EC", "crv": "P-256", "kid": "y", "x": "AA", "y": "AA"},  # not a point
    ):
        with pytest.raises(RuleViolationError):
            registry.add_app_key(app.client_id, bad)
    assert [k["kid"] for k in registry.app_keys(app.client_id)["keys"]] == ["k1"]


def test_an_app_holds_a_bounded_number_of_keys(registry: Registry) -> None:
    app = new_app(registry, partner_in(registry, S.PRODUCTION), Environment.PRODUCTION)
    for index in range(2, MAX_APP_KEYS + 1):
        registry.add_app_key(app.client_id, public_key(f"k{index}"))
    with pytest.raises(InvalidAppError):
        registry.add_app_key(app.client_id, public_key("one-too-many"))
    assert len(registry.app_keys(app.client_id)["keys"]) == MAX_APP_KEYS


def test_unknown_apps_and_kids_are_not_found(registry: Registry) -> None:
    app = new_app(registry, partner_in(registry, S.PRODUCTION), Environment.PRODUCTION)
    with pytest.raises(KeyNotFoundError):
        registry.remove_app_key(app.client_id, "nope")
    with pytest.raises(AppNotFoundError):
        registry.remove_app_key("live_missing", "k1")
    with pytest.raises(AppNotFoundError):
        registry.app_keys("live_missing")
    assert issubclass(KeyNotFoundError, NotFoundError)
    assert issubclass(IllegalTransitionError, ConflictError)


# -- registry listeners -----------------------------------------------------------------------------


def test_every_committed_change_tells_the_listeners_of_each_app(
    store: InMemoryLifecycleStore, clock: FrozenClock
) -> None:
    told: list[str] = []
    registry = Registry(store, clock, listeners=(told.append,))
    registry.ensure_default_plans()
    partner = partner_in(registry, S.PILOT, caps=True)
    live = new_app(registry, partner, Environment.PRODUCTION)
    sandbox = new_app(registry, partner, Environment.SANDBOX)
    both = sorted([live.client_id, sandbox.client_id])
    assert told == []  # a new app is in no cache yet

    changes: list[Callable[[], Partner]] = [
        lambda: registry.lifecycle.set_pilot_caps(partner.id, CAPS, actor=STAFF, reason="new terms"),
        lambda: registry.lifecycle.suspend(partner.id, actor=STAFF, reason="investigation"),
        lambda: registry.lifecycle.reactivate(partner.id, actor=STAFF, reason="cleared"),
        lambda: registry.lifecycle.move(
            partner.id, S.PRODUCTION, actor=STAFF, reason="pilot went well", override=OVERRIDE
        ),
    ]
    for change in changes:
        change()
        assert sorted(told) == both
        told.clear()

    registry.add_app_key(live.client_id, public_key("k2"))
    registry.remove_app_key(live.client_id, "k1")
    assert told == [live.client_id, live.client_id]


def test_a_refused_change_tells_no_listener(store: InMemoryLifecycleStore, clock: FrozenClock) -> None:
    told: list[str] = []
    registry = Registry(store, clock, listeners=(told.append,))
    registry.ensure_default_plans()
    partner = partner_in(registry, S.SANDBOX)
    app = new_app(registry, partner, Environment.SANDBOX)

    with pytest.raises(LifecycleConflictError):
        registry.lifecycle.reactivate(partner.id, actor=STAFF, reason="already active")
    with pytest.raises(IllegalTransitionError):
        registry.lifecycle.move(partner.id, S.PRODUCTION, actor=STAFF, reason="skipping review")
    with pytest.raises(InvalidAppError):
        registry.remove_app_key(app.client_id, "k1")  # the last key
    assert told == []


def test_a_failing_listener_does_not_silence_the_others(
    store: InMemoryLifecycleStore, clock: FrozenClock
) -> None:
    told: list[str] = []

    def broken(client_id: str) -> None:
        raise RuntimeError("cache unavailable")

    registry = Registry(store, clock, listeners=(broken, told.append))
    registry.ensure_default_plans()
    partner = partner_in(registry, S.PRODUCTION)
    app = new_app(registry, partner, Environment.PRODUCTION)

    with pytest.raises(RuntimeError, match="cache unavailable"):
        registry.lifecycle.suspend(partner.id, actor=STAFF, reason="investigation")
    assert told == [app.client_id]
    assert registry.partner(partner.id).status is PartnerStatus.SUSPENDED  # committed before telling
