"""The partner registry's vocabulary: partners, their apps (OAuth clients) and plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
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


class PartnerStage(StrEnum):
    """Where a partner stands on the road to production (partners/lifecycle.py has the rule table)."""

    APPLICATION = "application"
    SANDBOX = "sandbox"
    REVIEW = "review"
    PILOT = "pilot"
    PRODUCTION = "production"


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotCaps:
    """Limits staff put on a partner in pilot; the rules are in partners/quotas.py."""

    customers: int  # distinct customers the partner may serve
    daily_notional: Decimal  # order notional per day, in `currency`
    currency: str = "CNY"
    daily_points: int  # points converted per day


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
            Scope.PARTNER_MANAGE,
            Scope.SANDBOX_TESTING,
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
            Scope.PARTNER_MANAGE,
            Scope.SANDBOX_TESTING,
        }
    ),
    # A developer builds any kind of integration: a bank's, a shop's or a provider's.
    PartnerType.DEVELOPER: frozenset(
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
    ),
    PartnerType.SERVICE_PROVIDER: frozenset(
        {
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.WEBHOOKS_MANAGE,
            Scope.REPORTS_READ,
            Scope.PARTNER_MANAGE,
            Scope.SANDBOX_TESTING,
        }
    ),
}
# Which customer-delegated scopes an app of each kind may ask customers for (authorization code flow).
DELEGATED_SCOPES: Final[dict[PartnerType, frozenset[Scope]]] = {
    PartnerType.INSTITUTION: frozenset(CUSTOMER_DELEGATED),
    # A shop converts points and may personalise; it never gets deep analysis of a customer.
    PartnerType.LIFESTYLE_PLATFORM: frozenset(
        {Scope.ACCOUNTS_READ, Scope.POINTS_CONVERT, Scope.HOLDINGS_READ, Scope.PROFILE_RISK_READ}
    ),
    PartnerType.DEVELOPER: frozenset(CUSTOMER_DELEGATED),
    PartnerType.SERVICE_PROVIDER: frozenset(),
}
# Which environments a partner may hold (and use) apps in, by stage (partners/lifecycle.py, ADR 0011):
# the one gate to production, for every type of partner.
STAGE_ENVIRONMENTS: Final[dict[PartnerStage, frozenset[Environment]]] = {
    PartnerStage.APPLICATION: frozenset(),
    PartnerStage.SANDBOX: frozenset({Environment.SANDBOX}),
    PartnerStage.REVIEW: frozenset({Environment.SANDBOX}),
    PartnerStage.PILOT: frozenset({Environment.SANDBOX, Environment.PRODUCTION}),
    PartnerStage.PRODUCTION: frozenset({Environment.SANDBOX, Environment.PRODUCTION}),
}
REGIONS: Final = frozenset({"CN", "HK", "EU", "US", "SG", "GB"})


# Business quotas of a plan that names none (and the database default for existing rows): the
# starter plan's (partners/service.py DEFAULT_PLANS; ADR 0012).
DEFAULT_ORDERS_PER_MINUTE: Final = 600
DEFAULT_NOTIONAL_PER_DAY: Final = Decimal("10000000.00")  # CNY
DEFAULT_POINTS_PER_DAY: Final = 5_000_000


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    rate_limits: tuple[str, ...]  # request rates, enforced by gateway/edge/rate_limits.py
    description: str = ""
    # Business quotas per app (partners/quotas.py): orders placed per minute (moving window),
    # order notional per UTC day in CNY, points converted per UTC day.
    orders_per_minute: int = DEFAULT_ORDERS_PER_MINUTE
    notional_per_day: Decimal = DEFAULT_NOTIONAL_PER_DAY
    points_per_day: int = DEFAULT_POINTS_PER_DAY


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    type: PartnerType
    region: str
    status: PartnerStatus
    operator: bool
    created_at: datetime
    stage: PartnerStage = PartnerStage.PRODUCTION
    pilot_caps: PilotCaps | None = None  # None unless staff set them

    def allowed_scopes(self) -> frozenset[Scope]:
        return STAFF if self.operator else ALLOWED_SCOPES[self.type] | DELEGATED_SCOPES[self.type]

    @property
    def environments(self) -> frozenset[Environment]:
        """Where the partner's stage lets it hold and use apps (`STAGE_ENVIRONMENTS`)."""
        return STAGE_ENVIRONMENTS[self.stage]


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
        """Usable at the token endpoint and the resource server: app and partner active, and the
        partner's stage opens the app's environment (a partner sent back from pilot to review loses
        its production apps at once, without touching them)."""
        return (
            self.app.status is AppStatus.ACTIVE
            and self.partner.status is PartnerStatus.ACTIVE
            and self.app.environment in self.partner.environments
        )
