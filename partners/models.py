"""The partner registry's vocabulary: partners, their apps (OAuth clients) and plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from gateway.domain.environment import Environment
from gateway.domain.scopes import STAFF, Scope


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
        }
    ),
    PartnerType.LIFESTYLE_PLATFORM: frozenset(
        {
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.POINTS_VALUATIONS_WRITE,
            Scope.WEBHOOKS_MANAGE,
            Scope.REPORTS_READ,
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
        }
    ),
    PartnerType.SERVICE_PROVIDER: frozenset(
        {Scope.MARKET_READ, Scope.FUNDS_READ, Scope.WEBHOOKS_MANAGE, Scope.REPORTS_READ}
    ),
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
        return STAFF if self.operator else ALLOWED_SCOPES[self.type]


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


@dataclass(frozen=True, slots=True)
class Client:
    """What the authorization and resource servers need to know about a caller, in one read."""

    app: App
    partner: Partner
    plan: Plan

    @property
    def active(self) -> bool:
        return self.app.status is AppStatus.ACTIVE and self.partner.status is PartnerStatus.ACTIVE
