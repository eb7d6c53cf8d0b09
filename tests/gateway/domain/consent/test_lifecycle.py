"""The consent lifecycle: legal transitions only, expiry by the clock, revocation, races, listeners,
and partner isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gateway.domain.consent.errors import (
    ConsentMissingError,
    ConsentNotActiveError,
    ConsentNotFoundError,
    ConsentTransitionError,
)
from gateway.domain.consent.memory import InMemoryConsentRepository
from gateway.domain.consent.models import (
    TRANSITIONS,
    Consent,
    ConsentStatus,
    EventKind,
    NewEvent,
)
from gateway.domain.consent.service import ConsentService
from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError
from gateway.domain.paging import Page
from gateway.domain.scopes import Scope
from sandbox.clock import FrozenClock
from tests.gateway.domain.consent.world import BANK, BASIC, SHOP, T0, World

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
