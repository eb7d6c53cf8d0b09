"""Data categories of shared customer data, and which categories each customer-delegated scope grants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from gateway.domain.scopes import Scope


class DataCategory(StrEnum):
    """Every field of a shared view belongs to exactly one of these (ARCHITECTURE.md, minimisation)."""

    ACCOUNT_REFERENCE = "account_reference"  # account id, masked number, kind, jurisdiction, base currency
    CASH_BALANCE = "cash_balance"  # available and total cash per currency
    HOLDING = "holding"  # which instruments, how many, in which account
    HOLDING_VALUE = "holding_value"  # average cost and market value of the holdings
    TRANSACTION = "transaction"  # booked cash movements and trades
    RISK_PROFILE = "risk_profile"  # risk level C1-C5 and investor class
    IDENTITY = "identity"  # legal name, date of birth, nationality
    NATIONAL_ID = "national_id"  # leaves masked or not at all
    RESIDENCY = "residency"  # country of residence and of the address

    @property
    def personal(self) -> bool:
        """Whether the category describes the person rather than their money (see PERSONAL)."""
        return self in PERSONAL


# All of it is personal data in law (PIPL art. 4, GDPR art. 4(1)); the flag splits what describes the
# person (who they are, where they live, their investor profile) from the financial records of their
# accounts, because the cross-border rules treat the two differently (see crossborder.py).
PERSONAL: Final = frozenset(
    {DataCategory.IDENTITY, DataCategory.NATIONAL_ID, DataCategory.RESIDENCY, DataCategory.RISK_PROFILE}
)
FINANCIAL: Final = frozenset(DataCategory) - PERSONAL

# DOMAIN.md, "Permissions and consent tiers". Scopes that act (orders, points) or derive data (advisory,
# alerts, analytics) share no customer record of their own here; their views come with later issues.
# Every customer-delegated scope is listed, so a new one has to decide what it shares (a test checks).
SCOPE_CATEGORIES: Final[Mapping[Scope, frozenset[DataCategory]]] = MappingProxyType(
    {
        Scope.ACCOUNTS_READ: frozenset({DataCategory.ACCOUNT_REFERENCE, DataCategory.CASH_BALANCE}),
        Scope.HOLDINGS_READ: frozenset({DataCategory.HOLDING, DataCategory.HOLDING_VALUE}),
        Scope.TRANSACTIONS_READ: frozenset({DataCategory.TRANSACTION}),
        Scope.PROFILE_RISK_READ: frozenset({DataCategory.RISK_PROFILE}),
        Scope.PROFILE_READ: frozenset(
            {DataCategory.IDENTITY, DataCategory.NATIONAL_ID, DataCategory.RESIDENCY}
        ),
        Scope.ORDERS_READ: frozenset(),
        Scope.ORDERS_WRITE: frozenset(),
        Scope.POINTS_CONVERT: frozenset(),
        Scope.ADVISORY_READ: frozenset(),
        Scope.ALERTS_SUBSCRIBE: frozenset(),
        Scope.ANALYTICS_READ: frozenset(),
    }
)


def categories_for(scopes: Iterable[str]) -> frozenset[DataCategory]:
    """The categories a set of granted scopes opens; partner-own, staff and unknown scopes open none."""
    granted: set[DataCategory] = set()
    for value in scopes:
        try:
            scope = Scope(value)
        except ValueError:
            continue
        granted |= SCOPE_CATEGORIES.get(scope, frozenset())
    return frozenset(granted)
