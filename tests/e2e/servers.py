"""The real thing: `gateway migrate | seed | serve --workers 2` as subprocesses, spoken to over TCP.

Two worker processes share Redis for rate limits and single-use assertion `jti`s, and one
database (a SQLite file or PostgreSQL schemas). `tests/e2e/conftest.py` starts one server per
backend for the whole session; this module holds the machinery and a partner that drives the
delegated flow over the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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
from urllib.parse import urlencode

import httpx
import pytest
import redis
import sqlalchemy as sa

from gateway.demo import DEMO_REDIRECT_URI, client_assertion, new_private_jwk, public_part
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
from tests.support import DPOP_CLIENTS, Holder, b64url, dpop_capable

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

    def new_app(self, plan_id: str) -> E2EApp:
        """A partner and app registered in the shared database (never seen by a worker's client cache)."""
        partner = self.registry.create_partner(
            name=f"E2E partner {secrets.token_hex(6)}", type=PartnerType.INSTITUTION, region="CN"
        )
        private = new_private_jwk()
        app = self.registry.create_app(
            partner_id=partner.id,
            name="e2e app",
            environment=Environment.PRODUCTION,
            jwks={"keys": [public_part(private)]},
            scopes=[Scope.MARKET_READ.value, Scope.COMPLIANCE_SCREENING.value],
            plan_id=plan_id,
        )
        DPOP_CLIENTS[app.client_id] = Holder(SystemClock())
        return E2EApp(app.client_id, private, Environment.PRODUCTION)

    def token_form(self, app: E2EApp, assertion: str | None = None) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion
            or client_assertion(app.client_id, app.private_jwk, self.issuer(app.environment)),
        }

    def token(self, app: E2EApp) -> str:
        """A token for `app`: DPoP-bound in production (its key is in `DPOP_CLIENTS`), so calls made
        through a `dpop_capable` client carry a proof of it."""
        with httpx.Client(timeout=30) as client:
            dpop_capable(client)
            if app.environment is Environment.PRODUCTION:
                DPOP_CLIENTS.setdefault(app.client_id, Holder(SystemClock()))
            response = client.post(f"{self.issuer(app.environment)}/oauth2/token", data=self.token_form(app))
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
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


@dataclass(frozen=True, slots=True)
class Pushed:
    """A pushed authorization request (RFC 9126) and the secrets the app keeps until the callback."""

    request_uri: str
    state: str
    verifier: str


@dataclass
class Partner:
    """A production demo app that runs PAR, PKCE and DPoP with plain HTTP calls and its own key."""

    server: RealServer
    app: E2EApp
    http: httpx.Client
    holder: Holder = field(default_factory=lambda: Holder(SystemClock()))

    @property
    def issuer(self) -> str:
        return self.server.issuer(self.app.environment)

    def _client_auth(self) -> dict[str, str]:
        assertion = client_assertion(self.app.client_id, self.app.private_jwk, self.issuer)
        return {
            "client_id": self.app.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }

    def _post_form(self, path: str, form: dict[str, str]) -> httpx.Response:
        url = f"{self.issuer}{path}"
        proof = self.holder.proof("POST", url)
        return self.http.post(url, data=form | self._client_auth(), headers={"DPoP": proof})

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        proof = self.holder.proof(method, f"{self.issuer}{path}", token=token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.issuer}{path}", headers=headers, **kwargs)

    def client_token(self) -> str:
        form = {"grant_type": "client_credentials", "scope": Scope.CONSENTS_MANAGE.value}
        response = self._post_form("/oauth2/token", form)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def create_consent(self, permissions: list[str], purpose: str, **extra: Any) -> dict[str, Any]:
        body = {
            "permissions": permissions,
            "purpose": purpose,
            "expires_at": (datetime.now(UTC) + timedelta(days=90)).isoformat(timespec="seconds"),
            **extra,
        }
        response = self.call("POST", "/v1/consents", self.client_token(), json=body)
        assert response.status_code == 201, response.text
        consent: dict[str, Any] = response.json()
        assert consent["status"] == "awaiting_authorization"
        return consent

    def consent(self, consent_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/v1/consents/{consent_id}", self.client_token())
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def push(self, consent_id: str) -> Pushed:
        verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        form = {
            "response_type": "code",
            "redirect_uri": DEMO_REDIRECT_URI,
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),  # RFC 7636 §4.2
            "code_challenge_method": "S256",
            "consent_id": consent_id,
            "state": state,
        }
        response = self._post_form("/oauth2/par", form)
        assert response.status_code == 201, response.text
        return Pushed(response.json()["request_uri"], state, verifier)

    def authorize_url(self, pushed: Pushed) -> str:
        query = urlencode({"client_id": self.app.client_id, "request_uri": pushed.request_uri})
        return f"{self.issuer}/oauth2/authorize?{query}"

    def redeem(self, code: str, pushed: Pushed) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": DEMO_REDIRECT_URI,
            "code_verifier": pushed.verifier,
        }
        return self._post_form("/oauth2/token", form)

    def refresh(self, refresh_token: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._post_form("/oauth2/token", form)


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
