"""The services one environment offers, and the platform that holds both environments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from gateway.auth.keys import KeyRing
from gateway.auth.login import CustomerLogin
from gateway.auth.server import AuthorizationServer
from gateway.domain.clock import Clock
from gateway.domain.compliance.service import ComplianceService
from gateway.domain.consent.service import ConsentService
from gateway.domain.environment import Environment
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.prices import PriceFeed
from gateway.domain.points.service import PointsService
from gateway.domain.trading.service import TradingService
from gateway.edge.audit import AuditTrail
from gateway.edge.authentication import ClientCache
from gateway.edge.faults import FaultPoints
from gateway.edge.metering import UsageMeter
from gateway.edge.principal import Principal
from gateway.edge.quotas import BusinessQuotas
from gateway.edge.rate_limits import LoginThrottle
from gateway.settings import Settings
from gateway.storage.customers import SqlCustomerStore
from gateway.storage.database import Database
from gateway.storage.idempotency import SqlIdempotencyStore
from partners.service import Registry
from partners.webhooks.service import WebhookService


@dataclass(frozen=True, slots=True)
class EnvironmentServices:
    environment: Environment
    issuer: str
    database: Database
    keys: KeyRing
    auth_server: AuthorizationServer
    audit: AuditTrail
    idempotency: SqlIdempotencyStore
    compliance: ComplianceService
    consents: ConsentService
    customers: SqlCustomerStore
    login: CustomerLogin
    trading: TradingService
    points: PointsService
    webhooks: WebhookService
    usage: UsageMeter


@dataclass(frozen=True, slots=True)
class Platform:
    settings: Settings
    clock: Clock
    registry: Registry
    clients: ClientCache
    catalogue: Catalogue
    prices: PriceFeed
    faults: FaultPoints
    environments: dict[Environment, EnvironmentServices]
    login_throttle: LoginThrottle
    quotas: BusinessQuotas


def provide_platform(request: Request[Any, Any, Any]) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def provide_env(request: Request[Any, Any, Any]) -> EnvironmentServices:
    platform: Platform = request.app.state.platform
    return platform.environments[request.scope["state"]["environment"]]


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.scope["state"]["principal"]
    return principal


# Explicit dependency markers (the Litestar 3.0 style; inferred dependencies are deprecated).
EnvDep = NamedDependency[EnvironmentServices]
PlatformDep = NamedDependency[Platform]
PrincipalDep = NamedDependency[Principal]
