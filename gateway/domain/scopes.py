"""The scope catalogue (DOMAIN.md, "Permissions and consent tiers")."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Scope(StrEnum):
    # Partner-own scopes: client credentials, no customer involved.
    MARKET_READ = "market:read"
    FUNDS_READ = "funds:read"
    ADVISORY_WHITE_LABEL = "advisory:white-label"
    COMPLIANCE_SUITABILITY = "compliance:suitability"
    COMPLIANCE_SCREENING = "compliance:screening"
    POINTS_VALUATIONS_WRITE = "points:valuations:write"
    WEBHOOKS_MANAGE = "webhooks:manage"
    REPORTS_READ = "reports:read"
    # Asking customers for consent (create, read, revoke the app's consents): ADR 0007.
    CONSENTS_MANAGE = "consents:manage"
    # The partner's own registration: the calling app's keys, the review request (ADR 0011).
    PARTNER_MANAGE = "partner:manage"
    # The sandbox's own controls (personas, test clocks, events, scenarios); never on a production app.
    SANDBOX_TESTING = "sandbox:testing"
    # Customer-delegated scopes: only through a customer's consent (authorization code flow).
    ACCOUNTS_READ = "accounts:read"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    POINTS_CONVERT = "points:convert"
    HOLDINGS_READ = "holdings:read"
    PROFILE_RISK_READ = "profile:risk:read"
    ADVISORY_READ = "advisory:read"
    ALERTS_SUBSCRIBE = "alerts:subscribe"
    TRANSACTIONS_READ = "transactions:read"
    PROFILE_READ = "profile:read"
    ANALYTICS_READ = "analytics:read"
    # Staff scopes: only for the operator's own apps.
    ADMIN_PARTNERS = "admin:partners"
    ADMIN_AUDIT = "admin:audit"
    ADMIN_COMPLIANCE = "admin:compliance"  # the surveillance alert queue and account restrictions


PARTNER_OWN: Final = frozenset(
    {
        Scope.MARKET_READ,
        Scope.FUNDS_READ,
        Scope.ADVISORY_WHITE_LABEL,
        Scope.COMPLIANCE_SUITABILITY,
        Scope.COMPLIANCE_SCREENING,
        Scope.POINTS_VALUATIONS_WRITE,
        Scope.WEBHOOKS_MANAGE,
        Scope.REPORTS_READ,
        Scope.CONSENTS_MANAGE,
        Scope.PARTNER_MANAGE,
        Scope.SANDBOX_TESTING,
    }
)
SANDBOX_ONLY_SCOPES: Final = frozenset({Scope.SANDBOX_TESTING})
STAFF: Final = frozenset({Scope.ADMIN_PARTNERS, Scope.ADMIN_AUDIT, Scope.ADMIN_COMPLIANCE})
CUSTOMER_DELEGATED: Final = frozenset(Scope) - PARTNER_OWN - STAFF


def parse_scopes(value: str) -> frozenset[str]:
    """Split an RFC 6749 §3.3 scope string."""
    return frozenset(part for part in value.split(" ") if part)
