"""The real thing: `gateway migrate | seed | serve --workers 2` as subprocesses, spoken to over TCP.

Two worker processes share Redis for rate limits and single-use assertion `jti`s, and one
database (a SQLite file or PostgreSQL schemas); every test runs against both databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import redis
import sqlalchemy as sa

from gateway.demo import client_assertion, new_private_jwk, public_part
from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.registry import SqlRegistryStore
from partners.models import PartnerType, Plan
from partners.service import Registry
from tests.conftest import POSTGRES_URL, REDIS_URL, require_postgres, require_redis

pytestmark = pytest.mark.slow

GATEWAY: Final = Path(sys.executable).parent / "gateway"
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Generous: on a loaded 2-core machine each worker spends ~10 s importing before it can serve.
STARTUP_SECONDS: Final = 60.0
BACKENDS: Final = ("sqlite", "postgresql")
CLI_SECONDS: Final = 120.0
E2E_PLAN: Final = Plan("e2e", "E2E", ("10/minute",))
LIMIT: Final = 10
BURST: Final = 3 * LIMIT
INSTRUMENTS: Final = "/v1/market/instruments"
SYS_PIDFD_GETFD: Final = 438  # pidfd_getfd(2): the same number on every Linux architecture
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
        response = httpx.post(
            f"{self.issuer(app.environment)}/oauth2/token", data=self.token_form(app), timeout=30
        )
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


def _tcp_nodelay(pid: int, fd: int) -> bool:
    """TCP_NODELAY of another process's socket, read on a copy of its descriptor (pidfd_getfd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copy: int = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"pidfd_getfd({pid}, {fd}): {os.strerror(errno)}")
    finally:
        os.close(pidfd)
    with socket.socket(fileno=copy) as sock:  # closing the copy leaves the worker's socket open
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run_cli(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(GATEWAY), *args], env=env, capture_output=True, text=True, timeout=CLI_SECONDS, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"gateway {' '.join(args)} exited {result.returncode}:\n{result.stderr}", pytrace=False)
    return result.stdout


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

    def __init__(self, backend: str, tmp: Path) -> None:
        self.backend = backend
        self.env = _server_env(tmp, backend)
        self.settings = Settings.from_env(self.env)
        self.log_path = tmp / "server.log"
        self.database: Database | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RealServer:
        if self.backend == "postgresql":
            require_postgres()
        _run_cli("migrate", env=self.env)
        _run_cli("seed", env=self.env)
        self.database = Database(self.settings.database(Environment.PRODUCTION))
        registry = Registry(SqlRegistryStore(self.database), SystemClock())
        registry.store.upsert_plan(E2E_PLAN)
        address = ("--host", self.settings.host, "--port", str(self.settings.port))
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(GATEWAY), "serve", "--workers", "2", "--quiet", *address],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        real = RealServer(self.settings.base_url, self.env, self.settings, self.process, registry)
        asyncio.run(_both_workers_accepting(real, self.log_path, time.monotonic() + STARTUP_SECONDS))
        return real

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
        if self.database is not None:
            self.database.dispose()
        _forget_redis_keys(self.settings.namespace)
        if self.backend == "postgresql":
            _drop_schemas(self.settings)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RealServer]]:
    """Both backends' servers, started side by side: starting is mostly imports, CPU-bound and serial."""
    require_redis()
    launches = [Launch(backend, tmp_path_factory.mktemp(f"e2e-{backend}")) for backend in BACKENDS]
    try:
        with ThreadPoolExecutor(len(launches)) as pool:
            started = list(pool.map(Launch.start, launches))
        yield dict(zip(BACKENDS, started, strict=True))
    finally:
        for launch in launches:
            launch.stop()


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, servers: dict[str, RealServer]) -> RealServer:
    return servers[request.param]


async def _burst(server: RealServer, app: E2EApp) -> tuple[list[httpx.Response], Counter[int]]:
    """Fire BURST concurrent reads, each on its own connection; report which workers served them."""
    headers = {"Authorization": f"Bearer {server.token(app)}"}
    # Every request is in flight at once, so each opens a new connection; the connections are kept
    # open afterwards only so that the kernel can tell which worker accepted each of them.
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
        responses = await asyncio.gather(*(client.get(INSTRUMENTS, headers=headers) for _ in range(BURST)))
        workers = server.connections_per_worker()
    return responses, workers


async def test_rate_limit_admits_exactly_the_plan_across_two_workers(server: RealServer) -> None:
    rounds: list[Counter[int]] = []
    while len(rounds) < 2 or (len(rounds) < 4 and not any(len(w) == 2 for w in rounds)):
        app = server.new_app(E2E_PLAN.id)  # registered before any request names it (10 s client cache)
        responses, workers = await _burst(server, app)
        statuses = Counter(r.status_code for r in responses)
        where = f"round {len(rounds) + 1}, connections per worker {dict(workers)}"
        assert statuses == {200: LIMIT, 429: BURST - LIMIT}, f"{where}: {statuses}"
        for refused in (r for r in responses if r.status_code == 429):
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["content-type"].startswith("application/problem+json")
        rounds.append(workers)
    assert any(len(w) == 2 for w in rounds), f"no round reached both workers: {rounds}"


async def test_replayed_client_assertion_is_accepted_once_across_two_workers(server: RealServer) -> None:
    app = server.new_app("enterprise")
    issuer = server.issuer(Environment.PRODUCTION)
    rounds: list[Counter[int]] = []
    while not rounds or (len(rounds) < 4 and len(rounds[-1]) < 2):
        form = server.token_form(app)  # one assertion, sent ten times at once
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.post(f"{issuer}/oauth2/token", data=form) for _ in range(10))
            )
            rounds.append(server.connections_per_worker())
        accepted = [r for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code != 200]
        assert len(accepted) == 1, [r.text for r in responses]
        # RFC 6749 §5.2: 400 is right when the client authenticated in the body, not a header.
        assert {r.status_code for r in refused} == {400}
        assert {r.json()["error"] for r in refused} == {"invalid_client"}
        assert all(r.headers["cache-control"] == "no-store" for r in responses)
    assert len(rounds[-1]) == 2, f"no round reached both workers: {rounds}"


def test_sandbox_and_production_tokens_stay_in_their_environment(server: RealServer) -> None:
    developer = server.credentials("Demo Developer", Environment.SANDBOX)
    bank = server.credentials("Demo Regional Bank", Environment.PRODUCTION)
    sandbox_token, production_token = server.token(developer), server.token(bank)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:

        def status(path: str, token: str) -> int:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 401:
                assert "invalid_token" in response.headers["www-authenticate"]
            return response.status_code

        assert status(f"/sandbox{INSTRUMENTS}", sandbox_token) == 200
        assert status(INSTRUMENTS, sandbox_token) == 401
        assert status(INSTRUMENTS, production_token) == 200
        assert status(f"/sandbox{INSTRUMENTS}", production_token) == 401
        # Nor does a production client get a token from the sandbox issuer.
        sandbox_issuer = server.issuer(Environment.SANDBOX)
        form = server.token_form(bank, client_assertion(bank.client_id, bank.private_jwk, sandbox_issuer))
        crossed = client.post("/sandbox/oauth2/token", data=form)
        assert crossed.status_code == 400
        assert crossed.json()["error"] == "invalid_client"


def test_readme_demo_token_screens_a_sanctioned_name(server: RealServer) -> None:
    token = _run_cli("demo", "token", "--partner", "bank", env=server.env).strip()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        response = client.post(
            "/v1/compliance/screenings",
            json={"name": "陳偉國"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201, response.text
    assert response.json()["decision"] == "block"


async def test_workers_send_responses_without_waiting_for_acks(server: RealServer) -> None:
    """Every accepted connection has TCP_NODELAY: with Nagle's algorithm on, each keep-alive
    response after the first waits for the client's delayed ACK (~40 ms on Linux)."""
    nodelay: dict[tuple[int, int], bool] = {}
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    for _ in range(5):  # bounded: until connections of both workers have been looked at
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
            await asyncio.gather(*(client.get("/livez") for _ in range(16)))
            for pid, fds in server.accepted_sockets().items():
                nodelay.update({(pid, fd): _tcp_nodelay(pid, fd) for fd in fds})
        if len({pid for pid, _ in nodelay}) == 2:
            break
    assert len({pid for pid, _ in nodelay}) == 2, f"connections of both workers not seen: {nodelay}"
    assert all(nodelay.values()), f"sockets without TCP_NODELAY (worker, fd): {nodelay}"
