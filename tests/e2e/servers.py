"""The real thing: `gateway migrate | seed | serve --workers 2` as subprocesses, spoken to over TCP.

Two worker processes share Redis for rate limits and single-use assertion `jti`s, and one
database (a SQLite file or PostgreSQL schemas). `tests/e2e/conftest.py` starts one server per
backend for the whole session with the bench's server harness (bench/harness/server.py); this
module prepares the databases, wraps the server with the demo data, and holds a partner that
drives the delegated flow over the wire.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from openplatform import AuthorizationRequest, Client, ClientAssertionSigner, DelegatedGrant, DPoPKey

from bench.harness.server import (
    GatewayError,
    GatewayServer,
    forget_redis_keys,
    loopback_env,
    run_gateway,
    serve,
)
from gateway.demo import DEMO_REDIRECT_URI, new_private_jwk, public_part
from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.partners import SqlRegistryStore
from partners.models import PartnerType, Plan
from partners.service import Registry
from tests.conftest import POSTGRES_URL, REDIS_URL, require_postgres
from tests.delegation import hidden
from tests.support import DPOP_CLIENTS, DPOP_HOLDERS, Holder

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BACKENDS: Final = ("sqlite", "postgresql")
E2E_PLAN: Final = Plan("e2e", "E2E", ("10/minute",))
BANK: Final = "Demo Regional Bank"
SHOP: Final = "Demo ShopMall"


@dataclass(frozen=True, slots=True)
class E2EApp:
    client_id: str
    private_jwk: dict[str, Any]
    environment: Environment


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """A demo customer's sign-in, as `gateway seed` wrote it to customers.json."""

    username: str
    password: str
    residency: str


@dataclass
class RealServer:
    """A running gateway with the demo data `gateway seed` wrote and a registry on its database."""

    gateway: GatewayServer
    registry: Registry

    @property
    def base_url(self) -> str:
        return self.gateway.base_url

    @property
    def env(self) -> dict[str, str]:
        return self.gateway.env

    @property
    def settings(self) -> Settings:
        return self.gateway.settings

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.gateway.process

    def issuer(self, environment: Environment) -> str:
        return self.settings.issuer(environment)

    def credentials(self, partner: str, environment: Environment) -> E2EApp:
        """A demo app that `gateway seed` wrote to credentials.json."""
        items = json.loads((self.settings.demo_dir / "credentials.json").read_text())
        item = next(i for i in items if i["partner"] == partner and i["environment"] == environment.value)
        return E2EApp(item["client_id"], item["private_jwk"], environment)

    def customer(self, username: str) -> DemoLogin:
        """A demo customer that `gateway seed` wrote to customers.json."""
        items = json.loads((self.settings.demo_dir / "customers.json").read_text())
        item = next(i for i in items if i["username"] == username)
        return DemoLogin(item["username"], item["password"], item["residency"])

    def new_app(
        self,
        plan_id: str = "enterprise",
        *,
        environment: Environment = Environment.PRODUCTION,
        scopes: tuple[Scope, ...] = (Scope.MARKET_READ, Scope.COMPLIANCE_SCREENING),
        redirect_uris: tuple[str, ...] = (),
    ) -> E2EApp:
        """A partner and app registered in the shared database (never seen by a worker's client cache)."""
        partner = self.registry.create_partner(
            name=f"E2E partner {secrets.token_hex(6)}", type=PartnerType.INSTITUTION, region="CN"
        )
        private = new_private_jwk()
        app = self.registry.create_app(
            partner_id=partner.id,
            name="e2e app",
            environment=environment,
            jwks={"keys": [public_part(private)]},
            scopes=[scope.value for scope in scopes],
            plan_id=plan_id,
            redirect_uris=redirect_uris,
        )
        if environment is Environment.PRODUCTION:
            DPOP_CLIENTS[app.client_id] = Holder(SystemClock())
        return E2EApp(app.client_id, private, environment)

    def assertion(self, app: E2EApp, audience: str | None = None) -> str:
        """The SDK's client assertion for `app`; `audience` may name the other environment's issuer,
        which an SDK `Client` never does (its audience is its own environment's issuer)."""
        audience = audience or self.issuer(app.environment)
        signer = ClientAssertionSigner(app.client_id, app.private_jwk, audience, time.time)
        return signer.sign()

    def token_form(self, app: E2EApp, assertion: str | None = None) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion or self.assertion(app),
        }

    def sdk(self, app: E2EApp, http: httpx.Client | None = None, **options: Any) -> Client:
        """The SDK's client of `app`: a production app signs with its key in `DPOP_CLIENTS` unless
        given another, a sandbox app holds bearer tokens. No retries unless asked for."""
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 30.0)
        if app.environment is not Environment.PRODUCTION:
            options.setdefault("use_dpop", False)
        elif options.get("dpop_key") is None:
            options["dpop_key"] = DPOP_CLIENTS.setdefault(app.client_id, Holder(SystemClock())).dpop
        return Client(
            app.client_id,
            app.private_jwk,
            base_url=self.base_url,
            http_client=http,
            allow_insecure_loopback=True,
            **options,
        )

    def token(self, app: E2EApp) -> str:
        """A token for `app` from the SDK: DPoP-bound in production (its key is in `DPOP_CLIENTS`), so
        calls made through a `dpop_capable` client carry a proof of it."""
        with self.sdk(app) as client:
            value = client.access_token()
        if app.environment is Environment.PRODUCTION:
            DPOP_HOLDERS[value] = DPOP_CLIENTS[app.client_id]
        return value

    def worker_pids(self) -> set[int]:
        return self.gateway.worker_pids()

    def accepted_sockets(self) -> dict[int, list[int]]:
        return self.gateway.accepted_sockets()

    def connections_per_worker(self) -> Counter[int]:
        return self.gateway.connections_per_worker()


def run_cli(*args: str, env: dict[str, str]) -> str:
    try:
        return run_gateway(*args, env=env)
    except GatewayError as exc:
        pytest.fail(str(exc), pytrace=False)


def _server_env(tmp: Path, backend: str) -> dict[str, str]:
    env = loopback_env(tmp, namespace=f"e2e{secrets.token_hex(4)}-{backend}", redis_url=REDIS_URL)
    if backend == "postgresql":
        env.update(DATABASE_URL=POSTGRES_URL, DATABASE_SCHEMA_PREFIX=f"e2e{secrets.token_hex(4)}_")
    return env


def _drop_schemas(settings: Settings) -> None:
    for environment in Environment:
        target = settings.database(environment)
        if target.schema is None:
            continue
        engine = sa.create_engine(target.url)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE'))
        engine.dispose()


class Launch:
    """One backend's server: prepared and started on a thread, stopped and cleaned up afterwards."""

    def __init__(
        self, backend: str, tmp: Path, *, workers: int = 2, env: dict[str, str] | None = None
    ) -> None:
        self.backend = backend
        self.workers = workers
        self.env = _server_env(tmp, backend) | (env or {})
        self.settings = Settings.from_env(self.env)
        self.log_path = tmp / "server.log"
        self.database: Database | None = None
        self.gateway: GatewayServer | None = None

    def start(self) -> RealServer:
        if self.backend == "postgresql":
            require_postgres()
        run_cli("migrate", env=self.env)
        run_cli("seed", env=self.env)
        self.database = Database(self.settings.database(Environment.PRODUCTION))
        registry = Registry(SqlRegistryStore(self.database), SystemClock())
        registry.store.upsert_plan(E2E_PLAN)
        return self.serve(registry)

    def serve(self, registry: Registry, *, env: dict[str, str] | None = None) -> RealServer:
        """Start (or start again) the server processes on the prepared databases."""
        try:
            self.gateway = serve(self.env | (env or {}), workers=self.workers, log=self.log_path)
        except GatewayError as exc:
            pytest.fail(str(exc), pytrace=False)
        return RealServer(self.gateway, registry)

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        if self.database is not None:
            self.database.dispose()
        forget_redis_keys(REDIS_URL, self.settings.namespace)
        if self.backend == "postgresql":
            _drop_schemas(self.settings)


# -- a partner app driving the delegated flow over the wire --------------------------------------


@dataclass
class Partner:
    """A production demo app: the SDK runs PAR, PKCE, the code exchange and refresh with DPoP; `call`
    sends a request as written (with the SDK key's proof), for tests that look at the raw answer."""

    server: RealServer
    app: E2EApp
    http: httpx.Client
    dpop: DPoPKey = field(default_factory=lambda: DPoPKey(clock=time.time))

    @property
    def issuer(self) -> str:
        return self.server.issuer(self.app.environment)

    @property
    def client(self) -> Client:
        """The SDK client, made anew for the current server (a restarted server is a new one)."""
        return self.server.sdk(self.app, self.http, dpop_key=self.dpop)

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        proof = self.dpop.proof(method, f"{self.issuer}{path}", access_token=token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.issuer}{path}", headers=headers, **kwargs)

    def create_consent(self, permissions: list[str], purpose: str) -> dict[str, Any]:
        consents = self.client.with_options(scopes=[Scope.CONSENTS_MANAGE.value]).consents
        created = consents.create(
            permissions=permissions,
            purpose=purpose,
            expires_at=datetime.now(UTC) + timedelta(days=90),
        )
        consent: dict[str, Any] = msgspec.to_builtins(created)
        assert consent["status"] == "awaiting_authorization"
        return consent

    def consent(self, consent_id: str) -> dict[str, Any]:
        found = self.client.with_options(scopes=[Scope.CONSENTS_MANAGE.value]).consents.get(consent_id)
        consent: dict[str, Any] = msgspec.to_builtins(found)
        return consent

    def push(self, consent_id: str) -> AuthorizationRequest:
        """A pushed authorization request (RFC 9126) with PKCE; its `url` is the customer's link."""
        return self.client.oauth.authorization_request(consent_id=consent_id, redirect_uri=DEMO_REDIRECT_URI)

    def redeem(self, callback_url: str, pushed: AuthorizationRequest) -> DelegatedGrant:
        """The callback checked (issuer, state) and its code exchanged for the customer's tokens."""
        return self.client.oauth.exchange_code(callback_url, pushed)

    def refresh(self, grant: DelegatedGrant) -> DelegatedGrant:
        return self.client.oauth.refresh(grant)


@dataclass
class CookieBrowser:
    """A customer's browser in httpx: Python's cookie jars send no `Secure` cookie over http, and
    the session cookie is `__Host-` (Secure), so this one keeps its cookies by hand."""

    http: httpx.Client
    cookies: dict[str, str] = field(default_factory=dict)

    def _remember(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **kwargs.pop("headers", {}),
        }
        return self._remember(
            self.http.request(method, url, headers=headers, follow_redirects=False, **kwargs)
        )

    def follow(self, url: str) -> httpx.Response:
        """GET, following redirects within the gateway; stop at the first one that leaves it."""
        response = self.request("GET", url)
        while response.status_code in (302, 303) and response.headers["location"].startswith("/"):
            response = self.request("GET", response.headers["location"])
        return response

    def sign_in(self, login_page: httpx.Response, login: DemoLogin) -> httpx.Response:
        assert login_page.status_code == 200, login_page.text
        assert 'data-testid="login-heading"' in login_page.text
        form = {
            "username": login.username,
            "password": login.password,
            "csrf_token": hidden(login_page.text, "csrf_token"),
            "return_to": hidden(login_page.text, "return_to"),
        }
        return self.request("POST", "/login", data=form)
