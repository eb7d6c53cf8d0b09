"""The services one environment offers, the platform that holds both environments, and the
dependencies through which a handler receives the one typed service it uses.

A handler names what it needs (`orders: NamedDependency[OrderEntry]`); the provider resolves
it in the request's environment. Handlers never receive the containers themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

from litestar import Request
from litestar.di import NamedDependency, Provide

from gateway.auth.delegation import Delegation
from gateway.auth.developers import DeveloperAccounts
from gateway.auth.keys import KeyRing
from gateway.auth.login import CustomerLogin
from gateway.auth.server import AuthorizationServer
from gateway.auth.staff import StaffLogin
from gateway.domain.advisory.service import AdvisoryService
from gateway.domain.clock import Clock
from gateway.domain.compliance.service import ComplianceService, SurveillanceService
from gateway.domain.consent.service import ConsentService
from gateway.domain.customers.ports import CustomerRecords
from gateway.domain.environment import Environment
from gateway.domain.idempotency.ports import IdempotencyStore
from gateway.domain.identity.ports import AppCustomers
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.ports import PriceSource
from gateway.domain.points.service import PointsService
from gateway.domain.sharing.service import SharingService
from gateway.domain.trading.dealing import FundDealing
from gateway.domain.trading.entry import OrderEntry
from gateway.domain.trading.positions import Positions
from gateway.edge.audit import AuditTrail
from gateway.edge.authentication import ClientCache
from gateway.edge.faults import FaultPoints
from gateway.edge.metering import UsageMeter
from gateway.edge.principal import Principal
from gateway.edge.quotas import BusinessQuotas
from gateway.edge.rate_limits import LoginThrottle
from gateway.settings import Settings
from partners.service import Registry
from partners.webhooks.service import WebhookService
from sandbox.clocks import TestClocks
from sandbox.conformance import Conformance, Graduation
from sandbox.events import SandboxEvents
from sandbox.scenarios import Scenarios
from sandbox.supervision import SandboxCohorts
from sandbox.workspaces import SandboxWorkspaces


class Connections(Protocol):
    """An environment's database connections, closed when the app shuts down."""

    def dispose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EnvironmentServices:
    environment: Environment
    issuer: str
    database: Connections
    keys: KeyRing
    auth_server: AuthorizationServer
    delegation: Delegation
    audit: AuditTrail
    idempotency: IdempotencyStore
    compliance: ComplianceService
    surveillance: SurveillanceService
    consents: ConsentService
    customers: CustomerRecords
    login: CustomerLogin
    app_customers: AppCustomers  # whom a sign-in stands for when an app asks
    workspaces: SandboxWorkspaces | None  # the sandbox's persona workspaces; None in production
    clocks: TestClocks | None  # the sandbox's test clocks; None in production
    orders: OrderEntry
    fund_dealing: FundDealing
    positions: Positions
    points: PointsService
    advisory: AdvisoryService
    sharing: SharingService
    webhooks: WebhookService
    usage: UsageMeter
    sandbox_events: SandboxEvents | None = None  # the sandbox's events on demand; None in production
    scenarios: Scenarios | None = None  # the sandbox's scenario library; None in production
    conformance: Conformance | None = None  # the sandbox's conformance suite; None in production


@dataclass(frozen=True, slots=True)
class Platform:
    settings: Settings
    clock: Clock
    registry: Registry
    clients: ClientCache
    catalogue: Catalogue
    prices: PriceSource
    faults: FaultPoints
    environments: dict[Environment, EnvironmentServices]
    login_throttle: LoginThrottle
    quotas: BusinessQuotas
    developers: DeveloperAccounts  # the developer portal's accounts and sessions
    staff: StaffLogin  # the supervisor console's officers and sessions
    graduation: Graduation  # review requests with the sandbox's signed evidence, and the staff's read
    sandbox_cohorts: SandboxCohorts  # the supervisor's report of each partner's sandbox cohort


def _platform(request: Request[Any, Any, Any]) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _environment_services(request: Request[Any, Any, Any]) -> EnvironmentServices:
    return _platform(request).environments[request.scope["state"]["environment"]]


def services_in(request: Request[Any, Any, Any], environment: Environment) -> EnvironmentServices:
    """The services of `environment` for staff, who work both environments from the production
    control plane and name one with `?environment=`."""
    return _platform(request).environments[environment]


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.scope["state"]["principal"]
    return principal


def _from_environment(name: str) -> Callable[[Request[Any, Any, Any]], Any]:
    def provide(request: Request[Any, Any, Any]) -> Any:
        return getattr(_environment_services(request), name)

    return provide


def _from_platform(name: str) -> Callable[[Request[Any, Any, Any]], Any]:
    def provide(request: Request[Any, Any, Any]) -> Any:
        return getattr(_platform(request), name)

    return provide


# Parts that are not services a handler may ask for: handlers never build adapters on a database.
_PLATFORM_INTERNALS = frozenset({"environments", "settings"})
_ENVIRONMENT_INTERNALS = frozenset({"environment", "database"})


def dependencies() -> dict[str, Provide]:
    """One provider per service, named as the handler parameter that receives it."""
    provided = {
        "principal": Provide(provide_principal, sync_to_thread=False),
    }
    for item in fields(Platform):
        if item.name not in _PLATFORM_INTERNALS:
            provided[item.name] = Provide(_from_platform(item.name), sync_to_thread=False)
    for item in fields(EnvironmentServices):
        if item.name not in _ENVIRONMENT_INTERNALS:
            provided[item.name] = Provide(_from_environment(item.name), sync_to_thread=False)
    return provided


# Explicit dependency markers (the Litestar 3.0 style; inferred dependencies are deprecated).
PrincipalDep = NamedDependency[Principal]
