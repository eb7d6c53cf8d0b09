"""The consent lifecycle as a state machine against a shadow model (hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from gateway.domain.consent.errors import (
    ConsentMissingError,
    ConsentNotActiveError,
    ConsentNotFoundError,
    ConsentTransitionError,
    InvalidConsentError,
)
from gateway.domain.consent.models import (
    HIGH_RISK,
    TRANSITIONS,
    Consent,
    ConsentStatus,
    verify_ledger,
)
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope
from tests.gateway.domain.consent.world import BANK, World

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
