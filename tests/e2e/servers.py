"""The real thing: `gateway migrate | seed | serve --workers 2` as subprocesses, spoken to over TCP.

Two worker processes share Redis for rate limits and single-use assertion `jti`s, and one
database (a SQLite file or PostgreSQL schemas). `tests/e2e/conftest.py` starts one server per
backend for the whole session; this module holds the machinery and a partner that drives the
delegated flow over the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec
import pytest
import redis
import sqlalchemy as sa
from openplatform import AuthorizationRequest, Client, ClientAssertionSigner, DelegatedGrant, DPoPKey

from gateway.demo import DEMO_REDIRECT_URI, new_private_jwk, public_part
from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.registry import SqlRegistryStore
from partners.models import PartnerType, Plan
from partners.service import Registry
from tests.conftest import POSTGRES_URL, REDIS_URL, require_postgres
from tests.delegation import hidden
from tests.support import DPOP_CLIENTS, DPOP_HOLDERS, Holder

GATEWAY: Final = Path(sys.executable).parent / "gateway"
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Generous: on a loaded 2-core machine each worker spends ~10 s importing before it can serve.
STARTUP_SECONDS: Final = 60.0
BACKENDS: Final = ("sqlite", "postgresql")
CLI_SECONDS: Final = 120.0
E2E_PLAN: Final = Plan("e2e", "E2E", ("10/minute",))
BANK: Final = "Demo Regional Bank"
SHOP: Final = "Demo ShopMall"
# Variables of the developer's shell that would leak into the servers under test.
FOREIGN_PREFIXES: Final = (
    "GATEWAY_",
    "DATABASE_",
    "SANDBOX_DATABASE_",
    "REDIS_",
    "ACCESS_TOKEN_",
    "SCREENING_",
)


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
    base_url: str
    env: dict[str, str]
    settings: Settings
    process: subprocess.Popen[bytes]
    registry: Registry

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
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return {int(pid) for pid in children.split()}

    def accepted_sockets(self) -> dict[int, list[int]]:
        """The file descriptors of the open connections each worker process has accepted.

        Workers share one listening socket, so only the kernel knows who accepted what: an
        established socket whose local port is ours, found in a worker's file descriptor table.
        """
        port = f":{self.settings.port:04X}"
        established: set[str] = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(port) and fields[3] == "01":  # 01: TCP_ESTABLISHED
                    established.add(f"socket:[{fields[9]}]")
        accepted: dict[int, list[int]] = {}
        for pid in self.worker_pids():
            fd_dir = Path(f"/proc/{pid}/fd")
            try:
                fds = [int(fd) for fd in os.listdir(fd_dir) if os.readlink(fd_dir / fd) in established]
            except (FileNotFoundError, ProcessLookupError):
                continue  # a worker that is gone holds nothing
            if fds:
                accepted[pid] = fds
        return accepted

    def connections_per_worker(self) -> Counter[int]:
        return Counter({pid: len(fds) for pid, fds in self.accepted_sockets().items()})


def run_cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(GATEWAY), *args], env=env, capture_output=True, text=True, timeout=CLI_SECONDS, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"gateway {' '.join(args)} exited {result.returncode}:\n{result.stderr}", pytrace=False)
    return result.stdout


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group (supervisor and workers), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _serving(server: RealServer, log: Path, deadline: float) -> None:
    """Bounded: poll /livez until the one server process answers."""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"the server exited with {server.process.returncode}:\n{log.read_text()}", pytrace=False
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.base_url}/livez", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"the server did not serve within {STARTUP_SECONDS} s:\n{log.read_text()}")


async def _both_workers_accepting(server: RealServer, log: Path, deadline: float) -> None:
    """Bounded: hold concurrent keep-alive connections until both workers own some of them."""
    seen: set[int] = set()
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            pytest.fail(f"the server exited with {code}:\n{log.read_text()}", pytrace=False)
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=5) as client:
            try:
                await asyncio.gather(*(client.get("/livez") for _ in range(16)))
            except httpx.TransportError:
                await asyncio.sleep(0.3)
                continue
            seen |= set(server.connections_per_worker())
        if len(seen) >= 2:
            return
        await asyncio.sleep(0.3)
    pytest.fail(f"both workers did not serve within {STARTUP_SECONDS} s (seen {seen}):\n{log.read_text()}")


def _server_env(tmp: Path, backend: str) -> dict[str, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        GATEWAY_VAR_DIR=str(tmp),
        GATEWAY_HOST="127.0.0.1",
        GATEWAY_PORT=str(port),
        GATEWAY_BASE_URL=f"http://127.0.0.1:{port}",
        GATEWAY_NAMESPACE=f"e2e{secrets.token_hex(4)}-{backend}",
        REDIS_URL=REDIS_URL,
    )
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


def _forget_redis_keys(namespace: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


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
        self.process: subprocess.Popen[bytes] | None = None

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
        address = ("--host", self.settings.host, "--port", str(self.settings.port))
        environment = self.env | (env or {})
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(GATEWAY), "serve", "--workers", str(self.workers), "--quiet", *address],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        real = RealServer(self.settings.base_url, environment, self.settings, self.process, registry)
        deadline = time.monotonic() + STARTUP_SECONDS
        if self.workers == 1:
            _serving(real, self.log_path, deadline)
        else:
            asyncio.run(_both_workers_accepting(real, self.log_path, deadline))
        return real

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
        if self.database is not None:
            self.database.dispose()
        _forget_redis_keys(self.settings.namespace)
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
