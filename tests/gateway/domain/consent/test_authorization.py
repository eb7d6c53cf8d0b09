"""What a customer grants: the tiers, narrowing, and the explicit opt-in for deep analysis."""

from __future__ import annotations

import pytest

from gateway.domain.consent.errors import (
    ConsentMissingError,
    InvalidConsentError,
)
from gateway.domain.consent.models import (
    HIGH_RISK,
    TIERS,
    ConsentStatus,
    Tier,
    default_selection,
)
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope
from tests.gateway.domain.consent.world import BANK, EVERYTHING, T0, World

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
