"""The composition root: the one place where adapters meet services."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import redis
from limits.aio.storage import Storage
from limits.storage import storage_from_string
from litestar import Router
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme, Server

from gateway.adapters.webhook_sender import HttpSender
from gateway.apis import meta
from gateway.apis.admin.lifecycle import PartnerLifecycleController
from gateway.apis.admin.routes import AuditController, PartnersController
from gateway.apis.admin.sandbox import SandboxCohortsController
from gateway.apis.admin.surveillance import SurveillanceController
from gateway.apis.admin.usage import UsageAdminController
from gateway.apis.oauth import routes as oauth_routes
from gateway.apis.v1.advisory.routes import AdvisoryController
from gateway.apis.v1.compliance.routes import ComplianceController
from gateway.apis.v1.consent.routes import ConsentsController
from gateway.apis.v1.customers.routes import CustomerDataController
from gateway.apis.v1.market.routes import MarketController
from gateway.apis.v1.orders.routes import OrdersController
from gateway.apis.v1.partners.routes import AppKeysController, PartnerReviewController
from gateway.apis.v1.points.routes import PointsController
from gateway.apis.v1.testing.conformance import ConformanceController
from gateway.apis.v1.testing.events import EventsController
from gateway.apis.v1.testing.routes import TestClocksController, TestingController
from gateway.apis.v1.testing.scenarios import ScenariosController
from gateway.apis.v1.usage.routes import UsageController
from gateway.apis.v1.webhooks.routes import WebhooksController
from gateway.auth.client_auth import ClientAssertionVerifier
from gateway.auth.delegation import Delegation, refresh_tokens_die_with_consent
from gateway.auth.developers import DeveloperAccounts
from gateway.auth.dpop import DPoPVerifier
from gateway.auth.dpop_nonces import DPoPNonces
from gateway.auth.evidence import EvidenceSigner
from gateway.auth.keys import KeyRing
from gateway.auth.login import CustomerLogin
from gateway.auth.pairwise import PairwiseSubjects
from gateway.auth.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from gateway.auth.revocation import RevocationList
from gateway.auth.secret_files import secret_file
from gateway.auth.server import AuthorizationServer
from gateway.auth.staff import OfficerDirectory, StaffLogin, officers_file, session_key_file
from gateway.auth.tokens import TokenService
from gateway.background import PeriodicTask
from gateway.domain.advisory.service import AdvisoryService
from gateway.domain.clock import Clock, SystemClock
from gateway.domain.compliance.sanctions_data import load_sanctions_list
from gateway.domain.compliance.screening import Screener, ScreeningThresholds
from gateway.domain.compliance.service import ComplianceService, SurveillanceService
from gateway.domain.consent.service import ConsentService
from gateway.domain.customers.service import CustomersThemselves
from gateway.domain.environment import Environment
from gateway.domain.errors import NotFoundError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.points.service import PointsService
from gateway.domain.scopes import PARTNER_OWN, STAFF
from gateway.domain.sharing.crossborder import decide
from gateway.domain.sharing.service import SharingService
from gateway.domain.trading.acknowledgements import AcknowledgementSigner
from gateway.domain.trading.dealing import FundDealing
from gateway.domain.trading.entry import OrderEntry
from gateway.domain.trading.positions import Positions
from gateway.domain.trading.venue import Venue
from gateway.edge.access import SECURITY_SCHEME, public
from gateway.edge.audit import AuditMiddleware, AuditTrail
from gateway.edge.authentication import AuthenticationMiddleware, ClientCache, EnvironmentAuth
from gateway.edge.conformance import ConformanceMiddleware, ConformanceRecorder
from gateway.edge.consent_gate import ConsentEpoch, ConsentGate, MemoryEpoch, RedisEpoch
from gateway.edge.entry import Gateway
from gateway.edge.faults import FaultPoints
from gateway.edge.idempotency import IdempotencyMiddleware, IdempotencyPurger
from gateway.edge.metering import UsageMeter, UsageMiddleware
from gateway.edge.quotas import (
    BusinessQuotas,
    MemoryPilotCustomers,
    PilotCustomerMiddleware,
    RedisPilotCustomers,
)
from gateway.edge.rate_limits import LoginThrottle, RateLimiter, RateLimitMiddleware
from gateway.edge.strict_body import decode_strictly
from gateway.edge.test_clocks import TestClockMiddleware
from gateway.problems import EXCEPTION_HANDLERS
from gateway.services import EnvironmentServices, Platform, dependencies
from gateway.settings import Settings
from gateway.storage.audit import SqlAuditLog
from gateway.storage.compliance import SqlComplianceRecords
from gateway.storage.conformance import SqlConformanceLog
from gateway.storage.consent import SqlConsentRepository
from gateway.storage.customers import SqlCustomerStore
from gateway.storage.database import Database
from gateway.storage.developers import SqlDeveloperStore
from gateway.storage.grants import SqlGrantStore
from gateway.storage.idempotency import SqlIdempotencyStore
from gateway.storage.partners import SqlRegistryStore
from gateway.storage.points import SqlPointsStore
from gateway.storage.proposals import SqlProposalStore
from gateway.storage.revocations import SqlRevocations
from gateway.storage.sandbox import SqlClockStore, SqlWorkspaceStore
from gateway.storage.sandbox_reports import SqlCohortRecords
from gateway.storage.surveillance import SqlSurveillanceDesk
from gateway.storage.trading import SqlTradingStore
from gateway.storage.usage import SqlPlacedOrders, SqlUsageCounters
from gateway.storage.webhooks import SecretBox, SqlWebhookStore
from gateway.web import consent_screen, dashboard
from gateway.web import login as login_pages
from gateway.web import partner_review as partner_review_pages
from gateway.web import supervisor as supervisor_pages
from gateway.web import supervisor_sandbox as supervisor_sandbox_pages
from gateway.web.pages import static_files, template_config
from gateway.web.portal import routes as portal_pages
from openapi.spec import PublishedOpenAPIConfig
from partners.service import Registry
from partners.webhooks.backoff import Backoff
from partners.webhooks.delivery import DeliveryWorker, Lane
from partners.webhooks.ports import Sender
from partners.webhooks.service import WebhookService
from partners.webhooks.url_guard import UrlPolicy
from sandbox.clock_jobs import clocked_jobs
from sandbox.clocks import ClockRouter, TestClocks
from sandbox.conformance import Conformance, Graduation
from sandbox.events import SandboxEvents
from sandbox.isolation import check_isolation
from sandbox.magic import MagicVenue
from sandbox.personas import load_personas
from sandbox.prices import PriceFeed
from sandbox.scenarios import Scenarios
from sandbox.supervision import SandboxCohorts
from sandbox.tapes import TapeRouter, TapeVenue
from sandbox.venue import InProcessVenue
from sandbox.webhooks import FailingEndpoints
from sandbox.workspaces import ConsentsOfApp, SandboxWorkspaces

API_VERSION = "1.0.0"


@functools.cache
def sanctions_screener(review: float, block: float) -> Screener:
    """One screener per process and thresholds: it normalises every listed name once (~13 ms), and
    the list is read-only data shipped with the code, so every app of the process may share it."""
    return Screener(load_sanctions_list(), ScreeningThresholds(review=review, block=block))


def create_app(settings: Settings, *, clock: Clock | None = None) -> Gateway:
    # Refused before any database is opened: the sandbox never touches production data (ADR 0001).
    check_isolation(settings.database(Environment.PRODUCTION), settings.database(Environment.SANDBOX))
    clock = clock or SystemClock()
    databases = {env: Database(settings.database(env)) for env in Environment}
    # What the sandbox sees of its apps' traffic, for their conformance score (sandbox/conformance.py).
    observations = ConformanceRecorder(SqlConformanceLog(databases[Environment.SANDBOX]), clock)
    registry_store = SqlRegistryStore(databases[Environment.PRODUCTION])
    clients = ClientCache(registry_store.get_client)
    # A registry change bites at once in this worker, in the others within the client cache's TTL.
    registry = Registry(registry_store, clock, listeners=(clients.forget,))
    sync_redis = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    replay: ReplayCache = (
        RedisReplayCache(sync_redis, settings.namespace)
        if sync_redis
        else MemoryReplayCache(settings.namespace)
    )
    screener = sanctions_screener(settings.screening_review_threshold, settings.screening_block_threshold)
    dpop = DPoPVerifier(replay.first_use, clock)  # proofs are single use across all workers
    catalogue = Catalogue.from_file()
    prices = PriceFeed(catalogue)
    webhook_sender = HttpSender(timeout_seconds=settings.webhook_timeout_seconds)
    environments: dict[Environment, EnvironmentServices] = {}
    auth: dict[Environment, EnvironmentAuth] = {}
    for env, database in databases.items():
        issuer = settings.issuer(env)
        keys = KeyRing(
            settings.keys_dir / env.value,
            clock,
            token_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        )
        keys.ensure()
        tokens = TokenService(
            keys=keys,
            clock=clock,
            issuer=issuer,
            environment=env,
            ttl_seconds=settings.access_token_ttl_seconds,
        )
        revocations = RevocationList(SqlRevocations(database), clock)
        grants = SqlGrantStore(database)
        consent_records = SqlConsentRepository(database)
        gate = ConsentGate(consent_records.get, _consent_epoch(sync_redis, settings.namespace, env), clock)
        # The sandbox's services read the time of the test clock a call or job runs on (ADR 0018).
        timed: Clock = ClockRouter(clock) if env is Environment.SANDBOX else clock
        consents = ConsentService(
            consent_records,
            timed,
            listeners=(
                gate.changed,
                refresh_tokens_die_with_consent(grants, clock),
                *((observations.consent_changed,) if env is Environment.SANDBOX else ()),
            ),
        )
        customers = SqlCustomerStore(database)
        nonces = (
            DPoPNonces.from_directory(settings.keys_dir / env.value, clock)
            if settings.dpop_nonce_required
            else None
        )
        delegation = Delegation(
            grants=grants,
            consents=consents,
            tokens=tokens,
            revocations=revocations,
            pairwise=PairwiseSubjects.from_directory(settings.keys_dir / env.value),
            clock=clock,
            dpop_required=env is Environment.PRODUCTION and settings.production_requires_dpop,
        )
        assertions = ClientAssertionVerifier(
            lookup=clients.get,
            first_use=replay.first_use,
            clock=clock,
            issuer=issuer,
            max_lifetime_seconds=settings.client_assertion_max_age_seconds,
            client_id_prefix=env.client_id_prefix,
        )
        # Order entry, fund dealing and positions share the environment's trading store: one
        # trading transaction at a time under the trading lock (ADR 0008).
        trades = SqlTradingStore(database)
        # The sandbox's venue answers its magic client order ids (docs/sandbox/magic-values.md) and
        # plays a scenario run's price tape (docs/sandbox/scenarios.md).
        tapes = TapeRouter(prices) if env is Environment.SANDBOX else None
        quotes = tapes or prices
        magic = TapeVenue(MagicVenue(InProcessVenue(quotes), quotes), tapes, timed) if tapes else None
        venue: Venue = magic or InProcessVenue(prices)
        orders = OrderEntry(
            store=trades,
            customers=customers,
            catalogue=catalogue,
            prices=quotes,
            fx=prices,
            venue=venue,
            forced=magic,
            clock=timed,
            signer=AcknowledgementSigner(secret_file(settings.keys_dir / env.value / "acknowledgements.key")),
        )
        fund_dealing = FundDealing(
            store=trades, orders=orders, customers=customers, catalogue=catalogue, venue=venue, clock=timed
        )
        positions = Positions(store=trades, catalogue=catalogue, prices=prices, clock=timed)
        points = PointsService(
            store=SqlPointsStore(database), funds=fund_dealing, catalogue=catalogue, clock=timed
        )
        webhooks = webhook_service(settings, env, database, timed)
        workspaces: SandboxWorkspaces | None = None
        clocks: TestClocks | None = None
        sandbox_events: SandboxEvents | None = None
        scenarios: Scenarios | None = None
        if isinstance(timed, ClockRouter):
            clock_store = SqlClockStore(database)
            workspaces = SandboxWorkspaces(
                personas=load_personas(catalogue=catalogue),
                store=SqlWorkspaceStore(database),
                consents=ConsentsOfApp(consents),
                clock=clock,
                is_app=functools.partial(_is_sandbox_app, clients),
                listeners=(clock_store.delete_for_app,),  # a reset ends the app's clocks
            )
            clocks = TestClocks(
                store=clock_store,
                router=timed,
                jobs=clocked_jobs(fund_dealing, points, consents, webhooks, FailingEndpoints(webhook_sender)),
                copies=workspaces.customer_for,
                accounts=functools.partial(_account_ids, customers),
                partner_of=functools.partial(_partner_of, clients),
            )
            sandbox_events = SandboxEvents(trades, customers, catalogue, timed, workspaces.customer_for)
            if tapes is not None:
                scenarios = Scenarios(
                    orders=orders,
                    catalogue=catalogue,
                    tapes=tapes,
                    router=timed,
                    personas=workspaces.persona,
                    workspaces=SqlWorkspaceStore(database),
                    surveillance=SurveillanceService(SqlSurveillanceDesk(database), timed),
                    webhooks=webhooks,
                    sender=FailingEndpoints(webhook_sender),
                )
        environments[env] = EnvironmentServices(
            environment=env,
            issuer=issuer,
            database=database,
            keys=keys,
            auth_server=AuthorizationServer(
                tokens=tokens,
                assertions=assertions,
                revocations=revocations,
                dpop=dpop,
                delegation=delegation,
                dpop_nonces=nonces,
            ),
            delegation=delegation,
            audit=AuditTrail(SqlAuditLog(database)),
            idempotency=SqlIdempotencyStore(
                database, lease=timedelta(seconds=settings.idempotency_lease_seconds)
            ),
            compliance=ComplianceService(SqlComplianceRecords(database), screener, timed),
            surveillance=SurveillanceService(SqlSurveillanceDesk(database), timed),
            consents=consents,
            customers=customers,
            # Sandbox personas sign in with published passwords, into the asking app's workspace.
            login=CustomerLogin(customers, clock, lockout=workspaces is None),
            app_customers=workspaces or CustomersThemselves(),
            workspaces=workspaces,
            clocks=clocks,
            orders=orders,
            fund_dealing=fund_dealing,
            positions=positions,
            points=points,
            advisory=AdvisoryService(
                catalogue=catalogue,
                prices=prices,
                clock=timed,
                proposals=SqlProposalStore(database),
                customers=customers,
                balances=positions,  # valuation reads the ledger, never writes it
                disclosures=customers,
                transfers=decide,
            ),
            sharing=SharingService(
                customers=customers, positions=positions, disclosures=customers, clock=timed
            ),
            webhooks=webhooks,
            usage=UsageMeter(SqlUsageCounters(database)),
            sandbox_events=sandbox_events,
            scenarios=scenarios,
            conformance=Conformance(observations, webhooks, webhook_sender, clock)
            if env is Environment.SANDBOX
            else None,
        )
        auth[env] = EnvironmentAuth(tokens, revocations, dpop, gate, nonces)
    limiter = RateLimiter(_limits_storage(settings), settings.namespace)
    platform = Platform(
        settings=settings,
        clock=clock,
        registry=registry,
        clients=clients,
        catalogue=catalogue,
        prices=prices,
        faults=FaultPoints(settings.crash_at),
        environments=environments,
        login_throttle=LoginThrottle(limiter),
        # Business quotas and pilot caps share the rate limiter's storage (ADR 0012).
        quotas=BusinessQuotas(
            limiter.storage,
            settings.namespace,
            clock=clock,
            catalogue=catalogue,
            prices=prices,
            customers=RedisPilotCustomers(sync_redis) if sync_redis else MemoryPilotCustomers(),
            placed={env: SqlPlacedOrders(database) for env, database in databases.items()},
        ),
        # Production's control plane: their own session keys, production's revocation list.
        developers=DeveloperAccounts(
            SqlDeveloperStore(databases[Environment.PRODUCTION]),
            registry,
            secret_file(settings.keys_dir / "production" / "portal-sessions.key"),
            environments[Environment.PRODUCTION].auth_server.revocations,
            clock,
        ),
        staff=StaffLogin(
            OfficerDirectory(officers_file(settings.var_dir)),
            secret_file(session_key_file(settings.keys_dir)),
            environments[Environment.PRODUCTION].auth_server.revocations,
            clock,
        ),
        graduation=_graduation(registry, environments, clock),
        # Read only, over the sandbox's database; partners come from production's registry.
        sandbox_cohorts=SandboxCohorts(
            records=SqlCohortRecords(databases[Environment.SANDBOX]),
            usage=environments[Environment.SANDBOX].usage,
            partners=registry,
            catalogue=catalogue,
            prices=prices,
            clock=clock,
        ),
    )
    purger = IdempotencyPurger([s.idempotency for s in environments.values()], clock)
    webhook_worker = DeliveryWorker(
        [delivery_lane(env, services.webhooks, webhook_sender) for env, services in environments.items()]
    )
    usage_every = timedelta(seconds=settings.usage_flush_seconds)
    jobs = [
        PeriodicTask("purge idempotency keys", purger.purge, timedelta(hours=1)),
        *(
            PeriodicTask(f"flush usage ({env.value})", services.usage.flush, usage_every)
            for env, services in environments.items()
        ),
        # Allot subscriptions and pay redemptions once their NAV is out; every worker may try, the
        # trading lock lets one at a time through and a dealt order is no longer due.
        *(
            PeriodicTask(f"deal funds ({env.value})", services.fund_dealing.deal, timedelta(minutes=1))
            for env, services in environments.items()
        ),
        # Points conversions follow the clock and their fund orders (ADR 0009); idempotent, under
        # the trading lock, so every worker may run it.
        *(
            PeriodicTask(f"advance conversions ({env.value})", services.points.advance, timedelta(minutes=1))
            for env, services in environments.items()
        ),
        # Calls are refused at expiry already; the sweep writes `expired` into the consent ledger.
        *(
            PeriodicTask(
                f"expire consents ({env.value})", services.consents.expire_lapsed, timedelta(minutes=1)
            )
            for env, services in environments.items()
        ),
    ]
    jobs.append(PeriodicTask("flush conformance observations", observations.flush, usage_every))
    if settings.webhooks_embedded:
        # A deployment with a separate `gateway worker` sets WEBHOOKS_EMBEDDED=0 (ADR 0010).
        jobs.append(PeriodicTask("deliver webhooks", webhook_worker.run_once, timedelta(seconds=2)))

    async def start() -> None:
        for job in jobs if settings.background_jobs else ():
            job.start()

    async def close() -> None:
        for job in jobs:
            await job.stop()
        for services in environments.values():
            services.audit.flush()
            services.usage.flush()
        observations.flush()
        webhook_sender.close()
        bridge: Any = getattr(limiter.storage, "bridge", None)
        if bridge is not None:
            await bridge.storage.aclose()
        if sync_redis is not None:
            sync_redis.close()
        for database in databases.values():
            database.dispose()

    app = Gateway(
        route_handlers=[
            *oauth_routes.ROUTES,
            *meta.ROUTES,
            AdvisoryController,
            ComplianceController,
            ConsentsController,
            MarketController,
            CustomerDataController,
            OrdersController,
            PointsController,
            UsageController,
            TestingController,
            TestClocksController,
            EventsController,
            ScenariosController,
            WebhooksController,
            PartnersController,
            PartnerLifecycleController,
            AppKeysController,
            PartnerReviewController,
            ConformanceController,
            AuditController,
            SurveillanceController,
            UsageAdminController,
            SandboxCohortsController,
            *login_pages.ROUTES,
            *consent_screen.ROUTES,
            *dashboard.ROUTES,
            *supervisor_pages.ROUTES,
            *supervisor_sandbox_pages.ROUTES,
            *partner_review_pages.ROUTES,
            *portal_pages.ROUTES,
            static_files(),
        ],
        template_config=template_config(),
        dependencies=dependencies(),
        middleware=[
            # Outermost, acting in the sandbox only: it sees every answer, the refusals of
            # authentication, the rate limit and idempotency included (gateway/edge/conformance.py).
            DefineMiddleware(
                ConformanceMiddleware, recorder=observations, auth=auth[Environment.SANDBOX], clock=clock
            ),
            DefineMiddleware(AuthenticationMiddleware, environments=auth, clients=clients),
            # Between authentication and the rate limit: it sees the app and the limiter's 429s.
            DefineMiddleware(
                UsageMiddleware, meters={e: s.usage for e, s in environments.items()}, clock=clock
            ),
            DefineMiddleware(RateLimitMiddleware, limiter=limiter),
            DefineMiddleware(PilotCustomerMiddleware, quotas=platform.quotas),
            DefineMiddleware(
                AuditMiddleware, trails={e: s.audit for e, s in environments.items()}, clock=clock
            ),
            DefineMiddleware(
                IdempotencyMiddleware,
                stores={e: s.idempotency for e, s in environments.items()},
                clock=clock,
                retention=timedelta(hours=settings.idempotency_retention_hours),
                max_body_bytes=settings.max_body_bytes,
            ),
            # Innermost: handlers of a persona on a test clock run in its time (ADR 0018).
            DefineMiddleware(TestClockMiddleware, clocks=environments[Environment.SANDBOX].clocks),
        ],
        before_request=decode_strictly,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        openapi_config=_openapi_config(settings),
        on_startup=[start],
        on_shutdown=[close],
        state=State({"settings": settings, "platform": platform}),
    )
    return app


def _account_ids(customers: SqlCustomerStore, customer_id: str) -> list[str]:
    customer = customers.get(customer_id)
    return [account.id for account in customer.accounts] if customer else []


def _partner_of(clients: ClientCache, client_id: str) -> str:
    client = clients.get(client_id)
    if client is None:
        raise NotFoundError("no such app", client_id=client_id)
    return client.partner.id


def _graduation(
    registry: Registry, environments: dict[Environment, EnvironmentServices], clock: Clock
) -> Graduation:
    """Review requests carry the sandbox's score of the app, signed by the sandbox issuer."""
    sandbox = environments[Environment.SANDBOX]
    if sandbox.conformance is None:
        raise RuntimeError("the sandbox has no conformance suite")
    return Graduation(registry, sandbox.conformance, EvidenceSigner(sandbox.keys, sandbox.issuer), clock)


def _is_sandbox_app(clients: ClientCache, client_id: str) -> bool:
    client = clients.get(client_id)
    return client is not None and client.active and client.app.environment is Environment.SANDBOX


def create_app_from_env() -> Gateway:
    """Factory for the ASGI server (`uvicorn --factory`), one per worker process."""
    return create_app(Settings.from_env())


def url_policy(settings: Settings, environment: Environment) -> UrlPolicy:
    """The SSRF policy of an environment: https only and no loopback, unless the settings allow it."""
    local = environment.value in settings.webhook_loopback_environments
    return UrlPolicy(allow_http=local, allow_loopback=local)


def webhook_service(
    settings: Settings, environment: Environment, database: Database, clock: Clock
) -> WebhookService:
    """An environment's webhooks, for the server and for `gateway worker` alike."""
    box = SecretBox(secret_file(settings.keys_dir / environment.value / "webhook-secrets.key"))
    return WebhookService(
        store=SqlWebhookStore(database, box),
        clock=clock,
        policy=url_policy(settings, environment),
        backoff=Backoff(max_attempts=settings.webhook_max_attempts),
    )


def delivery_lane(environment: Environment, service: WebhookService, sender: Sender) -> Lane:
    """An environment's deliveries; the sandbox's sender answers its magic failing endpoints itself."""
    return Lane(service, FailingEndpoints(sender) if environment is Environment.SANDBOX else sender)


def _consent_epoch(client: redis.Redis | None, namespace: str, environment: Environment) -> ConsentEpoch:
    if client is None:
        return MemoryEpoch()  # one process: settings refuse several workers without Redis
    return RedisEpoch(client, f"{namespace}:{environment.value}:consent-epoch")


def _limits_storage(settings: Settings) -> Storage:
    if settings.redis_url:
        uri = "async+" + settings.redis_url
        storage = storage_from_string(
            uri, implementation="redispy", key_prefix=f"{settings.namespace}:limits"
        )
    else:
        storage = storage_from_string("async+memory://")
    assert isinstance(storage, Storage)  # noqa: S101 (the async+ scheme guarantees it)
    return storage


def _openapi_config(settings: Settings) -> PublishedOpenAPIConfig:
    production = settings.issuer(Environment.PRODUCTION)
    return PublishedOpenAPIConfig(
        title="Open Platform API",
        version=API_VERSION,
        description=(
            "Trading, advisory and compliance capabilities of the brokerage for partners. "
            "Production is served at the root, the sandbox under /sandbox (same operations, "
            "separate credentials, data and issuer)."
        ),
        servers=[
            Server(url=production, description="production"),
            Server(url=settings.issuer(Environment.SANDBOX), description="sandbox (synthetic data)"),
        ],
        components=Components(
            security_schemes={
                SECURITY_SCHEME: SecurityScheme(
                    type="oauth2",
                    description="Client credentials with private_key_jwt (RFC 7523); JWT access tokens.",
                    flows=OAuthFlows(
                        client_credentials=OAuthFlow(
                            token_url=f"{production}/oauth2/token",
                            scopes={scope.value: scope.value for scope in sorted(PARTNER_OWN | STAFF)},
                        )
                    ),
                )
            }
        ),
        path="/docs",
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        openapi_router=Router(path="/docs", route_handlers=[], include_in_schema=False, **public()),
        use_handler_docstrings=False,
    )
