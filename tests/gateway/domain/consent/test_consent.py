"""Consents: creation rules, tiers, the lifecycle, partner isolation, the check the edge relies on,
and the hash-chained ledger that records every step."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from gateway.domain.audit.chain import GENESIS, ChainHead, canonical_record
from gateway.domain.consent.errors import (
    ConsentMissingError,
    ConsentNotActiveError,
    ConsentNotFoundError,
    ConsentTransitionError,
    InvalidConsentError,
)
from gateway.domain.consent.memory import InMemoryConsentRepository
from gateway.domain.consent.models import (
    HIGH_RISK,
    TIERS,
    TRANSITIONS,
    Consent,
    ConsentEvent,
    ConsentLimit,
    ConsentStatus,
    EventKind,
    NewEvent,
    OrderPlacementLimit,
    PointsConversionLimit,
    Tier,
    askable,
    canonical_event,
    default_selection,
    limit_from_document,
    link_event,
    verify_ledger,
)
from gateway.domain.consent.service import ConsentService
from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError
from gateway.domain.market.models import InstrumentType
from gateway.domain.money import Currency, Money
from gateway.domain.paging import Page
from gateway.domain.scopes import CUSTOMER_DELEGATED, PARTNER_OWN, STAFF, Scope
from sandbox.clock import FrozenClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BANK, SHOP = "prt_bank", "prt_shop"
BASIC = frozenset({Scope.ACCOUNTS_READ, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.POINTS_CONVERT})
EVERYTHING = frozenset(CUSTOMER_DELEGATED)
POINTS = PointsConversionLimit(funds=("F000001",), max_points_per_month=5000, max_points_per_conversion=500)
ORDERS = OrderPlacementLimit(Money(Decimal("10000.00"), Currency.CNY), instruments=("ETF", "FUND"))


class World:
    def __init__(self) -> None:
        self.clock = FrozenClock(T0)
        self.repository = InMemoryConsentRepository()
        self.notified: list[Consent] = []
        self.service = ConsentService(self.repository, self.clock, listeners=(self.notified.append,))

    def create(
        self,
        partner_id: str = BANK,
        permissions: frozenset[Scope] = BASIC,
        expires_in: timedelta = timedelta(days=90),
        limits: tuple[ConsentLimit, ...] = (),
        purpose: str = "convert loyalty points into money-market funds",
        cross_border: bool = False,
    ) -> Consent:
        return self.service.create(
            partner_id=partner_id,
            client_id=f"live_{partner_id}",
            permissions=permissions,
            purpose=purpose,
            expires_at=self.clock.now() + expires_in,
            limits=limits,
            cross_border=cross_border,
        )

    def authorized(self, permissions: frozenset[Scope] = BASIC, **kwargs: Any) -> Consent:
        consent = self.create(permissions=permissions, **kwargs)
        return self.service.authorize(
            consent.id,
            customer_id="cus_1",
            granted=permissions,
            opted_in_high_risk=True,
            allow_cross_border=consent.cross_border,
        )

    def ledger_breaks_at(self) -> int | None:
        return verify_ledger(self.repository.events(), self.repository.head())


@pytest.fixture
def world() -> World:
    return World()


# Creation


def test_a_valid_consent_awaits_authorization(world: World) -> None:
    consent = world.create(limits=(POINTS, ORDERS))
    assert consent.id.startswith("cns_")
    assert len(consent.id) == 24
    assert consent.status is ConsentStatus.AWAITING_AUTHORIZATION
    assert consent.customer_id is None
    assert consent.permissions == BASIC
    assert consent.created_at == consent.updated_at == T0
    assert consent.limits == (POINTS, ORDERS)
    assert world.service.get(consent.id, partner_id=BANK) == consent


@pytest.mark.parametrize(
    ("expires_in", "accepted"),
    [
        (timedelta(days=365), True),
        (timedelta(days=365, seconds=1), False),
        (timedelta(seconds=1), True),
        (timedelta(0), False),
        (timedelta(days=-1), False),
    ],
)
def test_expiry_is_in_the_future_and_at_most_a_year_away(
    world: World, expires_in: timedelta, accepted: bool
) -> None:
    if accepted:
        assert world.create(expires_in=expires_in).expires_at == T0 + expires_in
    else:
        with pytest.raises(InvalidConsentError) as caught:
            world.create(expires_in=expires_in)
        assert caught.value.context["field"] == "expires_at"
        assert world.repository.events() == []


def test_a_naive_expiry_is_refused(world: World) -> None:
    with pytest.raises(InvalidConsentError) as caught:
        world.service.create(
            partner_id=BANK,
            client_id="live_bank",
            permissions=BASIC,
            purpose="p",
            expires_at=datetime(2026, 4, 1),  # noqa: DTZ001 - the point of the test
        )
    assert caught.value.context["field"] == "expires_at"


@pytest.mark.parametrize("scope", sorted(PARTNER_OWN | STAFF))
def test_partner_own_and_staff_scopes_cannot_be_consented_to(world: World, scope: Scope) -> None:
    with pytest.raises(InvalidConsentError) as caught:
        world.create(permissions=frozenset({Scope.ACCOUNTS_READ, scope}))
    assert caught.value.context["field"] == "permissions"
    assert caught.value.context["refused"] == [str(scope)]


def test_empty_permissions_are_refused(world: World) -> None:
    with pytest.raises(InvalidConsentError) as caught:
        world.create(permissions=frozenset())
    assert caught.value.context["field"] == "permissions"


@pytest.mark.parametrize(
    ("purpose", "accepted"), [("", False), ("   ", False), ("x", True), ("x" * 500, True), ("x" * 501, False)]
)
def test_purpose_is_1_to_500_characters(world: World, purpose: str, accepted: bool) -> None:
    if accepted:
        assert world.create(purpose=purpose).purpose == purpose
    else:
        with pytest.raises(InvalidConsentError) as caught:
            world.create(purpose=purpose)
        assert caught.value.context["field"] == "purpose"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"funds": (), "max_points_per_month": 5000, "max_points_per_conversion": 500}, "funds"),
        ({"funds": ("",), "max_points_per_month": 5000, "max_points_per_conversion": 500}, "funds"),
        ({"funds": ("F1", "F1"), "max_points_per_month": 5000, "max_points_per_conversion": 500}, "funds"),
        (
            {"funds": ("F1",), "max_points_per_month": 0, "max_points_per_conversion": 500},
            "max_points_per_month",
        ),
        (
            {"funds": ("F1",), "max_points_per_month": 5000, "max_points_per_conversion": 0},
            "max_points_per_conversion",
        ),
        (
            {"funds": ("F1",), "max_points_per_month": 500, "max_points_per_conversion": 501},
            "max_points_per_conversion",
        ),
    ],
)
def test_bad_points_limits_name_the_field(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleViolationError) as caught:
        PointsConversionLimit(**arguments)
    assert caught.value.context["field"] == field


def test_per_conversion_may_equal_the_monthly_limit() -> None:
    assert PointsConversionLimit(("F1",), 500, 500).max_points_per_conversion == 500


@pytest.mark.parametrize(
    ("notional", "instruments", "field"),
    [
        (Decimal("0.00"), ("ETF",), "max_notional_per_order"),
        (Decimal("100.00"), (), "instruments"),
        (Decimal("100.00"), ("ETF", "BOND"), "instruments"),
        (Decimal("100.00"), ("ETF", "etf"), "instruments"),
    ],
)
def test_bad_order_limits_name_the_field(notional: Decimal, instruments: tuple[str, ...], field: str) -> None:
    with pytest.raises(RuleViolationError) as caught:
        OrderPlacementLimit(Money(notional, Currency.CNY), instruments)
    assert caught.value.context["field"] == field


def test_order_limit_instruments_are_read_in_any_case() -> None:
    assert ORDERS.instruments == (InstrumentType.ETF, InstrumentType.FUND)
    assert ORDERS.as_document() == {
        "type": "order_placement",
        "max_notional_per_order": "10000.00",
        "currency": "CNY",
        "instruments": ["etf", "fund"],
    }


@pytest.mark.parametrize(
    ("limits", "permissions"),
    [
        ((POINTS,), frozenset({Scope.ACCOUNTS_READ})),
        ((ORDERS,), frozenset({Scope.ORDERS_READ})),
        ((POINTS, POINTS), BASIC),
    ],
)
def test_limits_need_their_permission_and_come_once(
    world: World, limits: tuple[ConsentLimit, ...], permissions: frozenset[Scope]
) -> None:
    with pytest.raises(InvalidConsentError) as caught:
        world.create(permissions=permissions, limits=limits)
    assert caught.value.context["field"] == "limits"


def test_limit_documents_read_back_exactly() -> None:
    for limit in (POINTS, ORDERS, OrderPlacementLimit(Money(Decimal("0.50"), Currency.USD), ("stock",))):
        parsed = limit_from_document(limit.as_document())
        assert parsed == limit
        assert type(parsed) is type(limit)
        assert parsed.as_document() == limit.as_document()
    exact = limit_from_document({**ORDERS.as_document(), "max_notional_per_order": "10000.10"})
    assert isinstance(exact, OrderPlacementLimit)
    assert str(exact.max_notional_per_order.amount) == "10000.10"  # the Decimal, not a float


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"type": "spending"},
        {**POINTS.as_document(), "extra": 1},
        {**POINTS.as_document(), "max_points_per_month": "5000"},
        {**POINTS.as_document(), "max_points_per_month": True},
        {**POINTS.as_document(), "max_points_per_month": 5000.0},
        {**POINTS.as_document(), "funds": "F000001"},
        {**POINTS.as_document(), "max_points_per_conversion": 0},
        {k: v for k, v in ORDERS.as_document().items() if k != "currency"},
        {**ORDERS.as_document(), "max_notional_per_order": 10000},
        {**ORDERS.as_document(), "max_notional_per_order": "ten"},
        {**ORDERS.as_document(), "max_notional_per_order": "NaN"},
        {**ORDERS.as_document(), "max_notional_per_order": "1.001"},
        {**ORDERS.as_document(), "currency": "XXX"},
        {**ORDERS.as_document(), "instruments": ["bond"]},
    ],
)
def test_anything_else_is_not_a_limit(document: dict[str, Any]) -> None:
    with pytest.raises(InvalidConsentError) as caught:
        limit_from_document(document)
    assert caught.value.context["field"] in {"limits", "max_points_per_conversion", "instruments"}


def test_an_app_asks_only_for_delegated_scopes_it_holds() -> None:
    held = {"accounts:read", "points:convert", "market:read"}
    assert askable(["accounts:read", "accounts:read"], held=held) == {Scope.ACCOUNTS_READ}
    with pytest.raises(InvalidConsentError) as caught:
        askable(["accounts:read", "orders:write", "market:read", "no:such"], held=held | {"no:such"})
    assert caught.value.context == {
        "field": "permissions",
        "refused": ["market:read", "no:such", "orders:write"],
    }


# Cross-border transfers: the partner asks, the customer keeps or drops


@pytest.mark.parametrize(("asked", "allowed"), [(True, True), (True, False), (False, False)])
def test_the_customer_keeps_or_drops_a_cross_border_request(world: World, asked: bool, allowed: bool) -> None:
    consent = world.create(cross_border=asked)
    assert consent.cross_border is asked
    assert world.repository.events(consent.id)[0].details["cross_border"] is asked
    done = world.service.authorize(
        consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False, allow_cross_border=allowed
    )
    assert done.cross_border is allowed
    assert world.repository.events(consent.id)[-1].details["cross_border"] is allowed


def test_the_customer_cannot_allow_a_transfer_nobody_asked_for(world: World) -> None:
    consent = world.create(cross_border=False)
    with pytest.raises(InvalidConsentError) as caught:
        world.service.authorize(
            consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False, allow_cross_border=True
        )
    assert caught.value.context["field"] == "allow_cross_border"
    assert world.repository.get(consent.id) == consent
    assert len(world.repository.events()) == 1


# Tiers


def test_every_customer_delegated_scope_has_exactly_one_tier() -> None:
    assert set(TIERS) == CUSTOMER_DELEGATED
    assert {scope for scope, tier in TIERS.items() if tier is Tier.DEEP_ANALYSIS} == {
        Scope.TRANSACTIONS_READ,
        Scope.PROFILE_READ,
        Scope.ANALYTICS_READ,
    }
    assert TIERS[Scope.ORDERS_WRITE] is Tier.BASIC_TRADING
    assert TIERS[Scope.HOLDINGS_READ] is Tier.PERSONALISED


def test_default_selection_never_preticks_deep_analysis() -> None:
    selection = default_selection(EVERYTHING | {Scope.MARKET_READ})
    assert selection == CUSTOMER_DELEGATED - HIGH_RISK
    assert not selection & HIGH_RISK
    assert default_selection(HIGH_RISK) == frozenset()


# Authorization


def test_the_customer_can_narrow_the_permissions(world: World) -> None:
    consent = world.create()
    granted = frozenset({Scope.ACCOUNTS_READ})
    authorized = world.service.authorize(
        consent.id, customer_id="cus_1", granted=granted, opted_in_high_risk=False, allow_cross_border=False
    )
    assert authorized.status is ConsentStatus.AUTHORIZED
    assert authorized.customer_id == "cus_1"
    assert authorized.permissions == granted
    assert world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ) == authorized
    with pytest.raises(ConsentMissingError) as caught:
        world.service.check(consent.id, BANK, Scope.ORDERS_WRITE)
    assert caught.value.context == {"consent_id": consent.id, "scope": "orders:write"}


@pytest.mark.parametrize(
    ("granted", "field"),
    [(frozenset(), "granted"), (frozenset({Scope.ACCOUNTS_READ, Scope.HOLDINGS_READ}), "granted")],
)
def test_the_customer_cannot_grant_nothing_or_more(
    world: World, granted: frozenset[Scope], field: str
) -> None:
    consent = world.create()
    with pytest.raises(InvalidConsentError) as caught:
        world.service.authorize(
            consent.id,
            customer_id="cus_1",
            granted=granted,
            opted_in_high_risk=True,
            allow_cross_border=False,
        )
    assert caught.value.context["field"] == field
    assert world.repository.get(consent.id) == consent


@pytest.mark.parametrize("scope", sorted(HIGH_RISK))
def test_deep_analysis_needs_an_explicit_opt_in(world: World, scope: Scope) -> None:
    requested = frozenset({Scope.ACCOUNTS_READ, scope})
    consent = world.create(permissions=requested)
    with pytest.raises(InvalidConsentError) as caught:
        world.service.authorize(
            consent.id,
            customer_id="cus_1",
            granted=requested,
            opted_in_high_risk=False,
            allow_cross_border=False,
        )
    assert caught.value.context["high_risk"] == [str(scope)]
    # Leaving the deep-analysis box unticked works without the opt-in; ticking it needs it.
    narrowed = world.service.authorize(
        consent.id,
        customer_id="cus_1",
        granted=frozenset({Scope.ACCOUNTS_READ}),
        opted_in_high_risk=False,
        allow_cross_border=False,
    )
    assert not narrowed.allows(scope, T0)
    other = world.create(permissions=requested)
    opted = world.service.authorize(
        other.id, customer_id="cus_1", granted=requested, opted_in_high_risk=True, allow_cross_border=False
    )
    assert opted.allows(scope, T0)


# The lifecycle

ALL_STEPS = ("authorize", "reject", "revoke", "expire")
STEP_TARGET = {
    "authorize": ConsentStatus.AUTHORIZED,
    "reject": ConsentStatus.REJECTED,
    "revoke": ConsentStatus.REVOKED,
    "expire": ConsentStatus.EXPIRED,
}


def take(world: World, consent: Consent, step: str) -> Consent:
    if step == "authorize":
        return world.service.authorize(
            consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False, allow_cross_border=False
        )
    if step == "reject":
        return world.service.reject(consent.id, customer_id="cus_1")
    if step == "revoke":
        return world.service.revoke(consent.id, by="partner", party_id=BANK)
    return world.service.expire(consent.id)


def reach(world: World, status: ConsentStatus) -> Consent:
    consent = world.create(expires_in=timedelta(days=1))
    path = {
        ConsentStatus.AWAITING_AUTHORIZATION: [],
        ConsentStatus.AUTHORIZED: ["authorize"],
        ConsentStatus.REJECTED: ["reject"],
        ConsentStatus.REVOKED: ["authorize", "revoke"],
        ConsentStatus.EXPIRED: ["authorize", "expire"],
    }[status]
    for step in path:
        if step == "expire":
            world.clock.advance(timedelta(days=1))
        consent = take(world, consent, step)
    assert consent.status is status
    return consent


ILLEGAL = [
    (status, step)
    for status in ConsentStatus
    for step in ALL_STEPS
    if STEP_TARGET[step] not in TRANSITIONS[status]
]


def test_the_transition_table_is_the_documented_one() -> None:
    legal = {(status, to) for status, targets in TRANSITIONS.items() for to in targets}
    assert legal == {
        (ConsentStatus.AWAITING_AUTHORIZATION, ConsentStatus.AUTHORIZED),
        (ConsentStatus.AWAITING_AUTHORIZATION, ConsentStatus.REJECTED),
        (ConsentStatus.AUTHORIZED, ConsentStatus.REVOKED),
        (ConsentStatus.AUTHORIZED, ConsentStatus.EXPIRED),
    }
    assert len(ILLEGAL) == 16


@pytest.mark.parametrize(("status", "step"), ILLEGAL)
def test_every_illegal_transition_raises_and_changes_nothing(
    world: World, status: ConsentStatus, step: str
) -> None:
    consent = reach(world, status)
    world.clock.advance(timedelta(days=2))  # time is never the reason for the refusal here
    before = list(world.repository.events())
    with pytest.raises(ConsentTransitionError) as caught:
        take(world, consent, step)
    assert isinstance(caught.value, ConflictError)
    assert caught.value.context["status"] == str(status)
    assert world.repository.get(consent.id) == consent
    assert world.repository.events() == before


def test_expiry_only_once_the_clock_reaches_it(world: World) -> None:
    consent = world.authorized(expires_in=timedelta(hours=1))
    world.clock.advance(timedelta(minutes=59, seconds=59))
    assert consent.is_active(world.clock.now())
    with pytest.raises(ConsentTransitionError) as caught:
        world.service.expire(consent.id)
    assert caught.value.context["expires_at"] == consent.expires_at.isoformat()
    assert world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ) == consent
    world.clock.advance(timedelta(seconds=1))
    assert not consent.is_active(world.clock.now())
    with pytest.raises(ConsentNotActiveError) as refused:
        world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ)
    assert refused.value.context["status"] == "expired"
    expired = world.service.expire(consent.id)
    assert expired.status is ConsentStatus.EXPIRED
    assert expired.updated_at == T0 + timedelta(hours=1)


def test_an_expired_request_cannot_be_authorized(world: World) -> None:
    consent = world.create(expires_in=timedelta(hours=1))
    world.clock.advance(timedelta(hours=1))
    with pytest.raises(ConsentTransitionError):
        world.service.authorize(
            consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False, allow_cross_border=False
        )


@pytest.mark.parametrize(("by", "party_id"), [("customer", "cus_1"), ("partner", BANK)])
def test_revocation_takes_effect_on_the_next_check(world: World, by: Any, party_id: str) -> None:
    consent = world.authorized()
    revoked = world.service.revoke(consent.id, by=by, party_id=party_id)
    assert revoked.status is ConsentStatus.REVOKED
    assert revoked.revoked_by == by
    with pytest.raises(ConsentNotActiveError) as caught:
        world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ)
    assert caught.value.context == {"consent_id": consent.id, "scope": "accounts:read", "status": "revoked"}
    assert world.repository.events(consent.id)[-1].actor == f"{by}:{party_id}"


@pytest.mark.parametrize(("by", "party_id"), [("customer", "cus_2"), ("partner", SHOP)])
def test_only_the_customer_or_the_owning_partner_revokes(world: World, by: Any, party_id: str) -> None:
    consent = world.authorized()
    with pytest.raises(NotFoundError):
        world.service.revoke(consent.id, by=by, party_id=party_id)
    assert world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ).status is ConsentStatus.AUTHORIZED


def test_a_step_from_a_stale_copy_loses_the_race(world: World) -> None:
    consent = world.create()
    world.service.reject(consent.id, customer_id="cus_1")
    before = list(world.repository.events())
    stale = consent.authorize("cus_1", BASIC, opted_in_high_risk=False, allow_cross_border=False, now=T0)
    event = NewEvent(consent.id, EventKind.AUTHORIZED, T0, "customer:cus_1", {})
    lost = world.repository.transition(stale, expected=ConsentStatus.AWAITING_AUTHORIZATION, event=event)
    assert lost is None
    stored = world.repository.get(consent.id)
    assert stored is not None
    assert stored.status is ConsentStatus.REJECTED
    assert world.repository.events() == before


class StaleReads(InMemoryConsentRepository):
    """Hands out the consent as it was first read: another worker changes it meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.first_seen: dict[str, Consent] = {}

    def get(self, consent_id: str) -> Consent | None:
        current = super().get(consent_id)
        return self.first_seen.setdefault(consent_id, current) if current else None


def test_the_service_reports_a_lost_race_as_a_conflict_and_records_nothing() -> None:
    clock = FrozenClock(T0)
    repository = StaleReads()
    notified: list[Consent] = []
    service = ConsentService(repository, clock, listeners=(notified.append,))
    consent = service.create(
        partner_id=BANK,
        client_id="live_bank",
        permissions=BASIC,
        purpose="p",
        expires_at=T0 + timedelta(days=1),
    )
    service.authorize(
        consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False, allow_cross_border=False
    )
    with pytest.raises(ConsentTransitionError, match="changed meanwhile") as caught:
        service.reject(consent.id, customer_id="cus_1")  # read as awaiting; stored as authorized
    assert caught.value.context == {"consent_id": consent.id, "status": "awaiting_authorization"}
    assert [event.kind for event in repository.events()] == [EventKind.CREATED, EventKind.AUTHORIZED]
    assert [c.status for c in notified] == [ConsentStatus.AUTHORIZED]


# Listeners hear every committed transition, after the commit


def test_listeners_hear_each_committed_transition_once(world: World) -> None:
    consent = world.create()
    assert world.notified == []  # a request is not a transition
    authorized = world.service.authorize(
        consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False, allow_cross_border=False
    )
    revoked = world.service.revoke(consent.id, by="partner", party_id=BANK)
    with pytest.raises(ConsentTransitionError):
        world.service.revoke(consent.id, by="partner", party_id=BANK)
    assert world.notified == [authorized, revoked]


def test_a_failing_listener_does_not_undo_the_commit_nor_silence_the_others(world: World) -> None:
    heard: list[str] = []

    def broken(consent: Consent) -> None:
        raise RuntimeError("cache unreachable")

    service = ConsentService(world.repository, world.clock, listeners=(broken, lambda c: heard.append(c.id)))
    consent = world.authorized()
    with pytest.raises(RuntimeError, match="cache unreachable"):
        service.revoke(consent.id, by="customer", party_id="cus_1")
    assert heard == [consent.id]
    stored = world.repository.get(consent.id)
    assert stored is not None
    assert stored.status is ConsentStatus.REVOKED
    assert world.ledger_breaks_at() is None


# Partners see their own consents only


def test_partner_isolation(world: World) -> None:
    mine = world.create(partner_id=BANK)
    theirs = world.authorized(partner_id=SHOP)
    with pytest.raises(ConsentNotFoundError) as caught:
        world.service.get(mine.id, partner_id=SHOP)
    assert isinstance(caught.value, NotFoundError)
    with pytest.raises(ConsentMissingError) as missing:
        world.service.check(theirs.id, BANK, Scope.ACCOUNTS_READ)
    assert missing.value.context == {"consent_id": theirs.id, "scope": "accounts:read"}
    assert world.service.list_for_partner(partner_id=BANK).items == (mine,)
    assert world.service.list_for_partner(partner_id=SHOP, status=ConsentStatus.AUTHORIZED).items == (theirs,)
    assert world.service.list_for_partner(
        partner_id=SHOP, status=ConsentStatus.AWAITING_AUTHORIZATION
    ) == Page((), None)
    # Another partner's consent is no position to page from.
    assert world.service.list_for_partner(partner_id=BANK, after=theirs.id) == Page((), None)


def test_pages_visit_each_consent_once_oldest_first(world: World) -> None:
    created = []
    for minute in range(7):
        created.append(world.create())
        if minute % 2:
            world.clock.advance(timedelta(minutes=1))  # some share a created_at: the id breaks the tie
    world.create(partner_id=SHOP)
    seen: list[Consent] = []
    after: str | None = None
    for _ in range(10):
        page = world.service.list_for_partner(partner_id=BANK, after=after, limit=3)
        seen += page.items
        after = page.next_after
        if after is None:
            break
    assert seen == sorted(created, key=lambda c: (c.created_at, c.id))
    assert len(seen) == 7
    exact = world.service.list_for_partner(partner_id=BANK, limit=7)
    assert exact.next_after is None  # a full last page says so without another round trip


@pytest.mark.parametrize("limit", [0, 101])
def test_a_page_holds_1_to_100_consents(world: World, limit: int) -> None:
    with pytest.raises(RuleViolationError) as caught:
        world.service.list_for_partner(partner_id=BANK, limit=limit)
    assert caught.value.context["field"] == "limit"


def test_a_customer_lists_the_consents_they_authorized(world: World) -> None:
    first = world.authorized()
    world.create()  # asked, not yet authorized: no customer is attached
    world.clock.advance(timedelta(seconds=1))
    second = world.authorized(partner_id=SHOP)
    assert world.service.list_for_customer("cus_1") == [first, second]
    assert world.service.list_for_customer("cus_2") == []


def test_check_on_an_unknown_consent_is_missing(world: World) -> None:
    with pytest.raises(ConsentMissingError) as caught:
        world.service.check("cns_nope", BANK, Scope.ACCOUNTS_READ)
    assert isinstance(caught.value, RuleViolationError)


def test_a_pending_consent_is_not_active(world: World) -> None:
    consent = world.create()
    with pytest.raises(ConsentNotActiveError) as caught:
        world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ)
    assert caught.value.context["status"] == "awaiting_authorization"


# The ledger


def populated(world: World) -> list[ConsentEvent]:
    first = world.authorized(limits=(POINTS,))
    world.clock.advance(timedelta(minutes=5))
    world.service.revoke(first.id, by="customer", party_id="cus_1")
    second = world.create(partner_id=SHOP)
    world.service.reject(second.id, customer_id="cus_2")
    third = world.authorized(expires_in=timedelta(days=1))
    world.clock.advance(timedelta(days=1))
    world.service.expire(third.id)
    return list(world.repository.events())


def test_one_event_per_step_and_the_ledger_verifies(world: World) -> None:
    events = populated(world)
    assert [(event.seq, event.kind) for event in events] == [
        (1, EventKind.CREATED),
        (2, EventKind.AUTHORIZED),
        (3, EventKind.REVOKED),
        (4, EventKind.CREATED),
        (5, EventKind.REJECTED),
        (6, EventKind.CREATED),
        (7, EventKind.AUTHORIZED),
        (8, EventKind.EXPIRED),
    ]
    assert verify_ledger(events, world.repository.head()) is None
    assert world.repository.head() == ChainHead(8, events[-1].hash)
    assert events[0].details["limits"] == [POINTS.as_document()]
    assert events[0].details["cross_border"] is False
    assert events[1].details == {
        "customer_id": "cus_1",
        "granted": sorted(str(scope) for scope in BASIC),
        "opted_in_high_risk": True,
        "cross_border": False,
    }
    assert events[2].at == T0 + timedelta(minutes=5)
    assert events[7].actor == "system"
    assert [event.kind for event in world.repository.events(events[3].consent_id)] == [
        EventKind.CREATED,
        EventKind.REJECTED,
    ]


EDITS: dict[str, dict[str, Any]] = {
    "consent_id": {"consent_id": "cns_other"},
    "kind": {"kind": EventKind.REVOKED},
    "at": {"at": T0 - timedelta(days=1)},
    "actor": {"actor": "customer:cus_9"},
    "details": {"details": {"by": "partner"}},
    "hash": {"hash": "f" * 64},
}


@pytest.mark.parametrize("position", [1, 4, 8])
@pytest.mark.parametrize("change", sorted(EDITS))
def test_an_edit_is_found_at_its_seq(world: World, position: int, change: str) -> None:
    events = populated(world)
    events[position - 1] = replace(events[position - 1], **EDITS[change])
    assert verify_ledger(events, world.repository.head()) == position


def forge(event: ConsentEvent, prev_hash: str | None = None, **changes: Any) -> ConsentEvent:
    """An edit whose hash is recomputed, as someone who knows the canonical form would do it."""
    edited = replace(event, **changes)
    return link_event(edited.seq, event.prev_hash if prev_hash is None else prev_hash, edited.unlinked())


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(world: World) -> None:
    events = populated(world)
    events[2] = forge(events[2], details={"by": "partner"})
    assert verify_ledger(events, world.repository.head()) == 4


def test_a_forged_last_event_with_a_recomputed_hash_is_caught_by_the_head(world: World) -> None:
    events = populated(world)
    events[7] = forge(events[7], actor="customer:cus_1")
    assert verify_ledger(events, world.repository.head()) == 8


@pytest.mark.parametrize("position", [1, 3, 7, 8])
def test_a_deletion_is_found_at_its_seq(world: World, position: int) -> None:
    events = populated(world)
    del events[position - 1]
    assert verify_ledger(events, world.repository.head()) == position


@pytest.mark.parametrize("position", [1, 4, 7])
def test_a_reordering_is_found_at_the_first_moved_seq(world: World, position: int) -> None:
    events = populated(world)
    events[position - 1], events[position] = events[position], events[position - 1]
    assert verify_ledger(events, world.repository.head()) == position


@pytest.mark.parametrize("kept", [0, 1, 5, 7])
def test_a_truncated_tail_is_found_at_the_first_missing_seq(world: World, kept: int) -> None:
    events = populated(world)
    assert verify_ledger(events[:kept], world.repository.head()) == kept + 1


def test_a_head_that_no_longer_matches_the_event_it_names_is_found_there(world: World) -> None:
    # A head rewound consistently (seq and the real hash) hides a truncation: ADR 0004's limit.
    events = populated(world)
    assert verify_ledger(events[:5], ChainHead(5, "e" * 64)) == 5
    assert verify_ledger(events, ChainHead(8, events[6].hash)) == 8


def test_events_behind_the_head_are_found_at_the_first_of_them(world: World) -> None:
    events = populated(world)
    assert verify_ledger(events, ChainHead(6, events[5].hash)) == 7


def test_a_missing_head_is_found(world: World) -> None:
    assert verify_ledger(populated(world), None) == 1


def test_an_empty_ledger_verifies_and_an_emptied_one_does_not(world: World) -> None:
    assert verify_ledger([], None) is None
    assert world.repository.head() is None
    populated(world)
    assert verify_ledger([], world.repository.head()) == 1


def test_the_ledger_hashes_events_as_the_audit_chain_hashes_records(world: World) -> None:
    """One canonical form for both chains: sorted compact JSON of the fields, `seq` and `prev`."""
    first = populated(world)[0]
    document = json.loads(canonical_event(first.seq, first.prev_hash, first.unlinked()))
    assert document == {
        "seq": 1,
        "prev": GENESIS,
        "consent_id": first.consent_id,
        "kind": "created",
        "at": "2026-03-02T09:00:00.000000+00:00",
        "actor": f"partner:{BANK}",
        "details": dict(first.details),
    }
    fields = {key: value for key, value in document.items() if key not in {"seq", "prev"}}
    assert canonical_event(1, GENESIS, first.unlinked()) == canonical_record(1, GENESIS, fields)
    assert first.hash == hashlib.sha256(canonical_record(1, GENESIS, fields)).hexdigest()


# The lifecycle as a state machine


class ConsentMachine(RuleBasedStateMachine):
    """Random steps against a shadow model: only legal transitions land, data flows only while a
    consent is authorized and unexpired, and the ledger always verifies."""

    consents = Bundle("consents")

    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.expected: dict[str, ConsentStatus] = {}
        self.steps = 0

    def _landed(self, consent_id: str, status: ConsentStatus) -> None:
        assert status in TRANSITIONS[self.expected[consent_id]]
        self.expected[consent_id] = status
        self.steps += 1

    @rule(
        target=consents,
        permissions=st.frozensets(st.sampled_from(sorted(CUSTOMER_DELEGATED)), min_size=1),
        days=st.integers(min_value=1, max_value=365),
        cross_border=st.booleans(),
    )
    def create(self, permissions: frozenset[Scope], days: int, cross_border: bool) -> str:
        consent = self.world.create(
            permissions=permissions, expires_in=timedelta(days=days), cross_border=cross_border
        )
        assert consent.cross_border is cross_border
        self.expected[consent.id] = consent.status
        self.steps += 1
        return consent.id

    @rule(consent_id=consents, data=st.data(), opt_in=st.booleans(), allow_cross_border=st.booleans())
    def authorize(self, consent_id: str, data: st.DataObject, opt_in: bool, allow_cross_border: bool) -> None:
        consent = self.world.repository.get(consent_id)
        assert consent is not None
        granted = data.draw(st.frozensets(st.sampled_from(sorted(consent.permissions))))
        now = self.world.clock.now()

        def attempt() -> Consent:
            return self.world.service.authorize(
                consent_id,
                customer_id="cus_1",
                granted=granted,
                opted_in_high_risk=opt_in,
                allow_cross_border=allow_cross_border,
            )

        legal = consent.status is ConsentStatus.AWAITING_AUTHORIZATION and now < consent.expires_at
        if not legal:
            with pytest.raises(ConsentTransitionError):
                attempt()
        elif (
            not granted
            or (granted & HIGH_RISK and not opt_in)
            or (allow_cross_border and not consent.cross_border)
        ):
            with pytest.raises(InvalidConsentError):
                attempt()
        else:
            done = attempt()
            assert done.permissions == granted
            # Kept only if the partner asked and the customer allowed it; dropping it is always fine.
            assert done.cross_border == (consent.cross_border and allow_cross_border)
            event = self.world.repository.events(consent_id)[-1]
            assert event.details["cross_border"] is done.cross_border
            self._landed(consent_id, done.status)

    @rule(consent_id=consents)
    def reject(self, consent_id: str) -> None:
        if self.expected[consent_id] is ConsentStatus.AWAITING_AUTHORIZATION:
            self._landed(consent_id, self.world.service.reject(consent_id, customer_id="cus_1").status)
        else:
            with pytest.raises(ConsentTransitionError):
                self.world.service.reject(consent_id, customer_id="cus_1")

    @rule(consent_id=consents, by=st.sampled_from(["customer", "partner"]))
    def revoke(self, consent_id: str, by: Any) -> None:
        party_id = "cus_1" if by == "customer" else BANK
        stored = self.world.repository.get(consent_id)
        assert stored is not None
        owner = stored.customer_id if by == "customer" else stored.partner_id
        if owner != party_id:
            # Never authorized: no customer is attached who could see it, let alone revoke it.
            assert stored.customer_id is None
            with pytest.raises(ConsentNotFoundError):
                self.world.service.revoke(consent_id, by=by, party_id=party_id)
        elif self.expected[consent_id] is ConsentStatus.AUTHORIZED:
            self._landed(consent_id, self.world.service.revoke(consent_id, by=by, party_id=party_id).status)
        else:
            with pytest.raises(ConsentTransitionError):
                self.world.service.revoke(consent_id, by=by, party_id=party_id)

    @rule(consent_id=consents)
    def expire(self, consent_id: str) -> None:
        consent = self.world.repository.get(consent_id)
        assert consent is not None
        if consent.status is ConsentStatus.AUTHORIZED and self.world.clock.now() >= consent.expires_at:
            self._landed(consent_id, self.world.service.expire(consent_id).status)
        else:
            with pytest.raises(ConsentTransitionError):
                self.world.service.expire(consent_id)

    @rule(hours=st.integers(min_value=1, max_value=24 * 200))
    def advance_clock(self, hours: int) -> None:
        self.world.clock.advance(timedelta(hours=hours))

    @invariant()
    def statuses_match_the_shadow_model(self) -> None:
        for consent_id, status in self.expected.items():
            stored = self.world.repository.get(consent_id)
            assert stored is not None
            assert stored.status is status

    @invariant()
    def data_flows_only_while_authorized_and_unexpired(self) -> None:
        now = self.world.clock.now()
        for consent_id in self.expected:
            consent = self.world.repository.get(consent_id)
            assert consent is not None
            live = consent.status is ConsentStatus.AUTHORIZED and now < consent.expires_at
            for scope in sorted(CUSTOMER_DELEGATED):
                allowed = consent.allows(scope, now)
                assert allowed == (live and scope in consent.permissions)
                if allowed:
                    assert self.world.service.check(consent_id, BANK, scope) == consent
                else:
                    with pytest.raises((ConsentMissingError, ConsentNotActiveError)):
                        self.world.service.check(consent_id, BANK, scope)

    @invariant()
    def the_ledger_verifies_with_one_event_per_step(self) -> None:
        events = self.world.repository.events()
        assert len(events) == self.steps
        assert verify_ledger(events, self.world.repository.head()) is None


def test_the_lifecycle_state_machine() -> None:
    run_state_machine_as_test(
        ConsentMachine,
        settings=settings(max_examples=50, stateful_step_count=20, deadline=None, database=None),
    )
