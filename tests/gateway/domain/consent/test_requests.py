"""Consent requests: expiry, scopes, purpose, structured limits and cross-border asks."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain.consent.errors import (
    InvalidConsentError,
)
from gateway.domain.consent.models import (
    ConsentLimit,
    ConsentStatus,
    OrderPlacementLimit,
    PointsConversionLimit,
    askable,
    limit_from_document,
)
from gateway.domain.errors import RuleViolationError
from gateway.domain.market.models import InstrumentType
from gateway.domain.money import Currency, Money
from gateway.domain.scopes import PARTNER_OWN, STAFF, Scope
from tests.gateway.domain.consent.world import BANK, BASIC, ORDERS, POINTS, T0, World

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
