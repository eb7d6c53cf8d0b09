"""The partner registry's vocabulary: partners, their apps (OAuth clients) and plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from gateway.domain.environment import Environment
from gateway.domain.scopes import CUSTOMER_DELEGATED, STAFF, Scope


class PartnerType(StrEnum):
    INSTITUTION = "institution"
    LIFESTYLE_PLATFORM = "lifestyle_platform"
    DEVELOPER = "developer"
    SERVICE_PROVIDER = "service_provider"


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class AppStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


# Which partner-own scopes each kind of partner may hold (the rule table; DOMAIN.md lists the scopes).
ALLOWED_SCOPES: Final[dict[PartnerType, frozenset[Scope]]] = {
    PartnerType.INSTITUTION: frozenset(
        {
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.ADVISORY_WHITE_LABEL,
            Scope.COMPLIANCE_SUITABILITY,
            Scope.COMPLIANCE_SCREENING,
            Scope.WEBHOOKS_MANAGE,
            Scope.REPORTS_READ,
            Scope.CONSENTS_MANAGE,
        }
    ),
    PartnerType.LIFESTYLE_PLATFORM: frozenset(
        {
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.POINTS_VALUATIONS_WRITE,
            Scope.WEBHOOKS_MANAGE,
            Scope.REPORTS_READ,
            Scope.CONSENTS_MANAGE,
        }
    ),
    PartnerType.DEVELOPER: frozenset(
        {
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.ADVISORY_WHITE_LABEL,
            Scope.COMPLIANCE_SUITABILITY,
            Scope.COMPLIANCE_SCREENING,
            Scope.WEBHOOKS_MANAGE,
            Scope.CONSENTS_MANAGE,
        }
    ),
    PartnerType.SERVICE_PROVIDER: frozenset(
        {Scope.MARKET_READ, Scope.FUNDS_READ, Scope.WEBHOOKS_MANAGE, Scope.REPORTS_READ}
    ),
}
# Which customer-delegated scopes an app of each kind may ask customers for (authorization code flow).
DELEGATED_SCOPES: Final[dict[PartnerType, frozenset[Scope]]] = {
    PartnerType.INSTITUTION: frozenset(CUSTOMER_DELEGATED),
    # A shop converts points and may personalise; it never gets deep analysis of a customer.
    PartnerType.LIFESTYLE_PLATFORM: frozenset(
        {Scope.ACCOUNTS_READ, Scope.POINTS_CONVERT, Scope.HOLDINGS_READ, Scope.PROFILE_RISK_READ}
    ),
    PartnerType.DEVELOPER: frozenset(CUSTOMER_DELEGATED),  # sandbox only, synthetic personas
    PartnerType.SERVICE_PROVIDER: frozenset(),
}
# Developers build against the sandbox; production needs the lifecycle review (a later issue).
SANDBOX_ONLY: Final = frozenset({PartnerType.DEVELOPER})
REGIONS: Final = frozenset({"CN", "HK", "EU", "US", "SG", "GB"})


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    rate_limits: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    type: PartnerType
    region: str
    status: PartnerStatus
    operator: bool
    created_at: datetime

    def allowed_scopes(self) -> frozenset[Scope]:
        return STAFF if self.operator else ALLOWED_SCOPES[self.type] | DELEGATED_SCOPES[self.type]


@dataclass(frozen=True, slots=True)
class App:
    client_id: str
    partner_id: str
    name: str
    environment: Environment
    jwks: dict[str, Any]
    scopes: frozenset[str]
    plan_id: str
    status: AppStatus
    created_at: datetime
    redirect_uris: tuple[str, ...] = ()  # exact-match targets of the authorization code flow


@dataclass(frozen=True, slots=True)
class Client:
    """What the authorization and resource servers need to know about a caller, in one read."""

    app: App
    partner: Partner
    plan: Plan

    @property
    def active(self) -> bool:
        return self.app.status is AppStatus.ACTIVE and self.partner.status is PartnerStatus.ACTIVE
