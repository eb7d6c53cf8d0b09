"""Consents: creation rules, tiers, the lifecycle, partner isolation, the check the edge relies on,
and the hash-chained ledger that records every step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from gateway.domain.clock import FrozenClock
from gateway.domain.consent.errors import (
    ConsentMissingError,
    ConsentNotActiveError,
    ConsentNotFoundError,
    ConsentTransitionError,
    InvalidConsentError,
)
from gateway.domain.consent.memory import InMemoryConsentLedger, InMemoryConsentStore
from gateway.domain.consent.models import (
    HIGH_RISK,
    TIERS,
    TRANSITIONS,
    Consent,
    ConsentEvent,
    ConsentLimit,
    ConsentStatus,
    EventKind,
    OrderPlacementLimit,
    PointsConversionLimit,
    Tier,
    default_selection,
    link_event,
    verify_ledger,
)
from gateway.domain.consent.service import ConsentService
from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError
from gateway.domain.market.models import InstrumentType
from gateway.domain.money import Currency, Money
from gateway.domain.scopes import CUSTOMER_DELEGATED, PARTNER_OWN, STAFF, Scope

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BANK, SHOP = "prt_bank", "prt_shop"
BASIC = frozenset({Scope.ACCOUNTS_READ, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.POINTS_CONVERT})
EVERYTHING = frozenset(CUSTOMER_DELEGATED)
POINTS = PointsConversionLimit(funds=("F000001",), max_points_per_month=5000, max_points_per_conversion=500)
ORDERS = OrderPlacementLimit(Money(Decimal("10000.00"), Currency.CNY), instruments=("ETF", "FUND"))


class World:
    def __init__(self) -> None:
        self.clock = FrozenClock(T0)
        self.store = InMemoryConsentStore()
        self.ledger = InMemoryConsentLedger()
        self.service = ConsentService(self.store, self.ledger, self.clock)

    def create(
        self,
        partner_id: str = BANK,
        permissions: frozenset[Scope] = BASIC,
        expires_in: timedelta = timedelta(days=90),
        limits: tuple[ConsentLimit, ...] = (),
        purpose: str = "convert loyalty points into money-market funds",
    ) -> Consent:
        return self.service.create(
            partner_id=partner_id,
            client_id=f"live_{partner_id}",
            permissions=permissions,
            purpose=purpose,
            expires_at=self.clock.now() + expires_in,
            limits=limits,
        )

    def authorized(self, permissions: frozenset[Scope] = BASIC, **kwargs: Any) -> Consent:
        consent = self.create(permissions=permissions, **kwargs)
        return self.service.authorize(
            consent.id, customer_id="cus_1", granted=permissions, opted_in_high_risk=True
        )


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
        assert world.ledger.events() == []


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
        consent.id, customer_id="cus_1", granted=granted, opted_in_high_risk=False
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
        world.service.authorize(consent.id, customer_id="cus_1", granted=granted, opted_in_high_risk=True)
    assert caught.value.context["field"] == field
    assert world.store.get(consent.id) == consent


@pytest.mark.parametrize("scope", sorted(HIGH_RISK))
def test_deep_analysis_needs_an_explicit_opt_in(world: World, scope: Scope) -> None:
    requested = frozenset({Scope.ACCOUNTS_READ, scope})
    consent = world.create(permissions=requested)
    with pytest.raises(InvalidConsentError) as caught:
        world.service.authorize(consent.id, customer_id="cus_1", granted=requested, opted_in_high_risk=False)
    assert caught.value.context["high_risk"] == [str(scope)]
    # Leaving the deep-analysis box unticked works without the opt-in; ticking it needs it.
    narrowed = world.service.authorize(
        consent.id, customer_id="cus_1", granted=frozenset({Scope.ACCOUNTS_READ}), opted_in_high_risk=False
    )
    assert not narrowed.allows(scope, T0)
    other = world.create(permissions=requested)
    opted = world.service.authorize(other.id, customer_id="cus_1", granted=requested, opted_in_high_risk=True)
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
            consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False
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
    before = list(world.ledger.events())
    with pytest.raises(ConsentTransitionError) as caught:
        take(world, consent, step)
    assert isinstance(caught.value, ConflictError)
    assert caught.value.context["status"] == str(status)
    assert world.store.get(consent.id) == consent
    assert world.ledger.events() == before


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
        world.service.authorize(consent.id, customer_id="cus_1", granted=BASIC, opted_in_high_risk=False)


@pytest.mark.parametrize(("by", "party_id"), [("customer", "cus_1"), ("partner", BANK)])
def test_revocation_takes_effect_on_the_next_check(world: World, by: Any, party_id: str) -> None:
    consent = world.authorized()
    revoked = world.service.revoke(consent.id, by=by, party_id=party_id)
    assert revoked.status is ConsentStatus.REVOKED
    assert revoked.revoked_by == by
    with pytest.raises(ConsentNotActiveError) as caught:
        world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ)
    assert caught.value.context == {"consent_id": consent.id, "scope": "accounts:read", "status": "revoked"}
    assert world.ledger.events(consent.id)[-1].actor == f"{by}:{party_id}"


@pytest.mark.parametrize(("by", "party_id"), [("customer", "cus_2"), ("partner", SHOP)])
def test_only_the_customer_or_the_owning_partner_revokes(world: World, by: Any, party_id: str) -> None:
    consent = world.authorized()
    with pytest.raises(NotFoundError):
        world.service.revoke(consent.id, by=by, party_id=party_id)
    assert world.service.check(consent.id, BANK, Scope.ACCOUNTS_READ).status is ConsentStatus.AUTHORIZED


def test_a_step_from_a_stale_copy_loses_the_race(world: World) -> None:
    consent = world.create()
    world.service.reject(consent.id, customer_id="cus_1")
    stale = consent.authorize("cus_1", BASIC, opted_in_high_risk=False, now=T0)
    assert not world.store.replace(stale, expected=ConsentStatus.AWAITING_AUTHORIZATION)
    stored = world.store.get(consent.id)
    assert stored is not None
    assert stored.status is ConsentStatus.REJECTED


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
    assert world.service.list_for_partner(partner_id=BANK) == [mine]
    assert world.service.list_for_partner(partner_id=SHOP, status=ConsentStatus.AUTHORIZED) == [theirs]
    assert world.service.list_for_partner(partner_id=SHOP, status=ConsentStatus.AWAITING_AUTHORIZATION) == []


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
    return list(world.ledger.events())


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
    assert verify_ledger(events) is None
    assert events[0].details["limits"] == [POINTS.as_document()]
    assert events[1].details == {
        "customer_id": "cus_1",
        "granted": sorted(str(scope) for scope in BASIC),
        "opted_in_high_risk": True,
    }
    assert events[2].at == T0 + timedelta(minutes=5)
    assert events[7].actor == "system"
    assert [event.kind for event in world.ledger.events(events[3].consent_id)] == [
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
    assert verify_ledger(events) == position


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(world: World) -> None:
    events = populated(world)
    forged = replace(events[2], details={"by": "partner"})
    events[2] = link_event(
        forged.seq,
        forged.prev_hash,
        consent_id=forged.consent_id,
        kind=forged.kind,
        at=forged.at,
        actor=forged.actor,
        details=forged.details,
    )
    assert verify_ledger(events) == 4


@pytest.mark.parametrize("position", [1, 3, 7])
def test_a_deletion_is_found_at_its_seq(world: World, position: int) -> None:
    events = populated(world)
    del events[position - 1]
    assert verify_ledger(events) == position


@pytest.mark.parametrize("position", [1, 4, 7])
def test_a_reordering_is_found_at_the_first_moved_seq(world: World, position: int) -> None:
    events = populated(world)
    events[position - 1], events[position] = events[position], events[position - 1]
    assert verify_ledger(events) == position


def test_an_empty_ledger_verifies() -> None:
    assert verify_ledger([]) is None


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
    )
    def create(self, permissions: frozenset[Scope], days: int) -> str:
        consent = self.world.create(permissions=permissions, expires_in=timedelta(days=days))
        self.expected[consent.id] = consent.status
        self.steps += 1
        return consent.id

    @rule(consent_id=consents, data=st.data(), opt_in=st.booleans())
    def authorize(self, consent_id: str, data: st.DataObject, opt_in: bool) -> None:
        consent = self.world.store.get(consent_id)
        assert consent is not None
        granted = data.draw(st.frozensets(st.sampled_from(sorted(consent.permissions))))
        now = self.world.clock.now()
        legal = consent.status is ConsentStatus.AWAITING_AUTHORIZATION and now < consent.expires_at
        if not legal:
            with pytest.raises(ConsentTransitionError):
                self.world.service.authorize(
                    consent_id, customer_id="cus_1", granted=granted, opted_in_high_risk=opt_in
                )
        elif not granted or (granted & HIGH_RISK and not opt_in):
            with pytest.raises(InvalidConsentError):
                self.world.service.authorize(
                    consent_id, customer_id="cus_1", granted=granted, opted_in_high_risk=opt_in
                )
        else:
            done = self.world.service.authorize(
                consent_id, customer_id="cus_1", granted=granted, opted_in_high_risk=opt_in
            )
            assert done.permissions == granted
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
        stored = self.world.store.get(consent_id)
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
        consent = self.world.store.get(consent_id)
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
            stored = self.world.store.get(consent_id)
            assert stored is not None
            assert stored.status is status

    @invariant()
    def data_flows_only_while_authorized_and_unexpired(self) -> None:
        now = self.world.clock.now()
        for consent_id in self.expected:
            consent = self.world.store.get(consent_id)
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
        events = self.world.ledger.events()
        assert len(events) == self.steps
        assert verify_ledger(events) is None


def test_the_lifecycle_state_machine() -> None:
    run_state_machine_as_test(
        ConsentMachine,
        settings=settings(max_examples=50, stateful_step_count=20, deadline=None, database=None),
    )
