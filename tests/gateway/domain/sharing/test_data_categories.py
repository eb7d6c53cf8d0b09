from __future__ import annotations

import pytest

from gateway.domain.scopes import CUSTOMER_DELEGATED, PARTNER_OWN, Scope
from gateway.domain.sharing.categories import (
    FINANCIAL,
    PERSONAL,
    SCOPE_CATEGORIES,
    DataCategory,
    categories_for,
)

C = DataCategory


def test_every_customer_delegated_scope_decides_what_it_shares() -> None:
    assert set(SCOPE_CATEGORIES) == CUSTOMER_DELEGATED


@pytest.mark.parametrize(
    ("scope", "categories"),
    [
        (Scope.ACCOUNTS_READ, {C.ACCOUNT_REFERENCE, C.CASH_BALANCE}),
        (Scope.HOLDINGS_READ, {C.HOLDING, C.HOLDING_VALUE}),
        (Scope.TRANSACTIONS_READ, {C.TRANSACTION}),
        (Scope.PROFILE_RISK_READ, {C.RISK_PROFILE}),
        (Scope.PROFILE_READ, {C.IDENTITY, C.NATIONAL_ID, C.RESIDENCY}),
        (Scope.ORDERS_READ, set()),
        (Scope.ORDERS_WRITE, set()),
        (Scope.POINTS_CONVERT, set()),
        (Scope.ADVISORY_READ, set()),
        (Scope.ALERTS_SUBSCRIBE, set()),
        (Scope.ANALYTICS_READ, set()),
    ],
)
def test_scope_categories(scope: Scope, categories: set[DataCategory]) -> None:
    assert SCOPE_CATEGORIES[scope] == categories


def test_personal_and_financial_split_the_categories() -> None:
    assert {c for c in DataCategory if c.personal} == {C.IDENTITY, C.NATIONAL_ID, C.RESIDENCY, C.RISK_PROFILE}
    assert set(DataCategory) == PERSONAL | FINANCIAL
    assert not PERSONAL & FINANCIAL
    assert not C.HOLDING.personal


def test_categories_for_unites_the_granted_scopes() -> None:
    assert categories_for(["accounts:read", "profile:risk:read"]) == {
        C.ACCOUNT_REFERENCE,
        C.CASH_BALANCE,
        C.RISK_PROFILE,
    }
    assert categories_for([Scope.HOLDINGS_READ, Scope.HOLDINGS_READ]) == {C.HOLDING, C.HOLDING_VALUE}


def test_partner_own_staff_and_unknown_scopes_open_nothing() -> None:
    assert categories_for([*PARTNER_OWN, "admin:audit", "accounts:write", "", "ACCOUNTS:READ"]) == frozenset()
    assert categories_for([]) == frozenset()
