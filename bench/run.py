"""`python -m bench.run`: the gateway with two workers, each scenario measured against `/livez`.

Starts `gateway serve --workers 2` (Redis-backed limits and replay cache, SQLite in a fresh var
dir), registers a bench partner with a sandbox app (bearer tokens) on the `enterprise` plan, then
drives four scenarios for a fixed duration each with wrk (installed with apt when missing and
allowed) or a bounded asyncio driver.
Results go to `bench/results/<UTC timestamp>.json`, `bench/results/latest.md` and the README.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import redis
from openplatform import Client, ClientAssertionSigner

from gateway.demo import new_private_jwk, public_part
from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.registry import SqlRegistryStore
from partners.models import PartnerType
from partners.service import Registry

BENCH_DIR: Final = Path(__file__).resolve().parent
RESULTS_DIR: Final = BENCH_DIR / "results"
README: Final = BENCH_DIR / "README.md"
WRK_SCRIPT: Final = BENCH_DIR / "scenario.lua"
GATEWAY: Final = Path(sys.executable).parent / "gateway"
ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
WORKERS: Final = 2
STARTUP_SECONDS: Final = 90.0
REQUEST_TIMEOUT: Final = 10.0
# Pre-signed assertions per second of measurement: above any rate two workers reach here.
ASSERTIONS_PER_SECOND: Final = 3000
ASSERTION_LIFETIME: Final = 240  # the gateway accepts at most 300 s
README_START: Final = "<!-- latest results: written by bench/run.py -->"
README_END: Final = "<!-- end of latest results -->"
SUITABILITY_BODY: Final = {
    "customer": {"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "CN"},
    "product": {"risk": "R3", "product_type": "fund"},
}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    method: str
    path: str
    what: str
    budget: str = ""
    min_ratio: float | None = None  # the budget as a share of the bare endpoint's req/s
    min_rps: float | None = None  # or as an absolute rate
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    form_prefix: str = ""  # token issuance: each request appends a never-used assertion

    @property
    def single_use(self) -> bool:
        return bool(self.form_prefix)


@dataclass(frozen=True, slots=True)
class Measurement:
    scenario: str
    method: str
    path: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    ratio_to_bare: float = 1.0
    budget: str = ""
    note: str = ""
    measures: str = ""


# --- the server --------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    settings: Settings
    env: dict[str, str]
    log: Path

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def port(self) -> int:
        return self.settings.port

    def worker_pids(self) -> set[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in path.read_text().split()} if path.exists() else set()

    def workers_holding_connections(self) -> set[int]:
        """The workers owning the server side of open connections (they share one listening socket)."""
        port = f":{self.port:04X}"
        established = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(port) and fields[3] == "01":  # 01: TCP_ESTABLISHED
                    established.add(f"socket:[{fields[9]}]")
        holders = set()
        for pid in self.worker_pids():
            with suppress(OSError):
                fds = Path(f"/proc/{pid}/fd")
                if {os.readlink(fds / fd) for fd in os.listdir(fds)} & established:
                    holders.add(pid)
        return holders


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cli(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([str(GATEWAY), *args], env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"gateway {' '.join(args)} failed:\n{done.stderr}")


def start_server(var_dir: Path, redis_url: str) -> Server:
    port = _free_port()
    foreign = ("GATEWAY_", "DATABASE_", "SANDBOX_DATABASE_", "REDIS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(foreign)}
    env.update(
        GATEWAY_VAR_DIR=str(var_dir),
        GATEWAY_HOST="127.0.0.1",
        GATEWAY_PORT=str(port),
        GATEWAY_BASE_URL=f"http://127.0.0.1:{port}",
        GATEWAY_NAMESPACE=f"bench{secrets.token_hex(4)}",
        REDIS_URL=redis_url,
    )
    settings = Settings.from_env(env)
    _cli("migrate", env=env)
    _cli("seed", env=env)
    log = var_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(GATEWAY), "serve", "--workers", str(WORKERS), "--quiet", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, settings, env, log)
    try:
        asyncio.run(_until_every_worker_serves(server))
    except BaseException:
        stop_server(server)
        raise
    return server


async def _until_every_worker_serves(server: Server) -> None:
    """Bounded: until each worker has accepted one of 16 concurrent keep-alive connections."""
    deadline = time.monotonic() + STARTUP_SECONDS
    seen: set[int] = set()
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"the gateway exited:\n{server.log.read_text()}")
        async with httpx.AsyncClient(limits=limits, timeout=5) as client:
            url = f"{server.settings.base_url}/livez"
            with suppress(httpx.TransportError):
                await asyncio.gather(*(client.get(url) for _ in range(16)))
                seen |= server.workers_holding_connections()
        if len(seen) >= WORKERS:
            return
        await asyncio.sleep(0.3)
    raise SystemExit(f"not every worker served within {STARTUP_SECONDS:.0f} s:\n{server.log.read_text()}")


def stop_server(server: Server) -> None:
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        with suppress(ProcessLookupError):
            os.killpg(server.process.pid, sig)
        try:
            server.process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# --- the bench partner -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchApp:
    """A sandbox app: its tokens are bearer tokens, so one header serves every read and one
    assertion every token request (a production token is DPoP-bound: a fresh proof per request)."""

    client_id: str
    private_jwk: dict[str, Any]
    base_url: str
    issuer: str

    @property
    def prefix(self) -> str:
        return Environment.SANDBOX.path_prefix

    def assertions(self, count: int) -> list[str]:
        """Signed up front by the SDK's signer, each with its own jti."""
        signer = ClientAssertionSigner(self.client_id, self.private_jwk, self.issuer, time.time)
        return [signer.sign(lifetime=ASSERTION_LIFETIME) for _ in range(count)]

    def token_form_prefix(self) -> str:
        head = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_assertion_type": ASSERTION_TYPE,
            }
        )
        return head + "&client_assertion="

    def token(self) -> str:
        """The setup token, from the SDK's client."""
        with Client(
            self.client_id,
            self.private_jwk,
            base_url=self.base_url,
            use_dpop=False,
            timeout=REQUEST_TIMEOUT,
            max_retries=0,
        ) as client:
            return client.access_token()


def register_bench_app(settings: Settings) -> BenchApp:
    """A partner on the enterprise plan (5000/second): far above what two workers serve here."""
    database = Database(settings.database(Environment.PRODUCTION))
    try:
        registry = Registry(SqlRegistryStore(database), SystemClock())
        partner = registry.create_partner(
            name=f"Bench partner {secrets.token_hex(4)}", type=PartnerType.INSTITUTION, region="CN"
        )
        private = new_private_jwk()
        app = registry.create_app(
            partner_id=partner.id,
            name="bench",
            environment=Environment.SANDBOX,
            jwks={"keys": [public_part(private)]},
            scopes=[Scope.MARKET_READ.value, Scope.COMPLIANCE_SUITABILITY.value],
            plan_id="enterprise",
        )
    finally:
        database.dispose()
    return BenchApp(app.client_id, private, settings.base_url, settings.issuer(Environment.SANDBOX))


def scenarios(token: str, app: BenchApp) -> list[Scenario]:
    bearer = ("Authorization", f"Bearer {token}")
    return [
        Scenario("bare /livez", "GET", "/livez", "Litestar JSON endpoint, no auth: the baseline"),
        Scenario(
            "authenticated read",
            "GET",
            f"{app.prefix}/v1/market/instruments?limit=20",
            "JWT (cached) + client cache + Redis rate limit + 20-instrument page",
            budget=">= 50% of bare",
            min_ratio=0.5,
            headers=(bearer,),
        ),
        Scenario(
            "suitability check",
            "POST",
            f"{app.prefix}/v1/compliance/suitability-checks",
            "auth + rate limit + rulebook + durable record + audit append (SQLite)",
            headers=(bearer, ("Content-Type", "application/json")),
            body=json.dumps(SUITABILITY_BODY).encode(),
        ),
        Scenario(
            "token issuance",
            "POST",
            f"{app.prefix}/oauth2/token",
            "client credentials, private_key_jwt (ES256 verify, Redis jti) + ES256 token + audit",
            budget=">= 1,500 tokens/s",
            min_rps=1500,
            headers=(("Content-Type", "application/x-www-form-urlencoded"),),
            form_prefix=app.token_form_prefix(),
        ),
    ]


# --- the drivers -------------------------------------------------------------------------------


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


class PythonDriver:
    """Keep-alive HTTP/1.1 over raw asyncio streams; it shares the two cores with the server."""

    name = "python (asyncio streams, keep-alive)"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def measure(
        self, scenario: Scenario, duration: float, connections: int, assertions: list[str] | None
    ) -> Measurement:
        return asyncio.run(self._measure(scenario, duration, connections, iter(assertions or [])))

    def _request(self, scenario: Scenario, body: bytes) -> bytes:
        lines = [f"{scenario.method} {scenario.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in scenario.headers]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def _measure(
        self, scenario: Scenario, duration: float, connections: int, assertions: Iterator[str]
    ) -> Measurement:
        latencies: list[float] = []
        failures = 0
        exhausted = False
        fixed = self._request(scenario, scenario.body)
        started = time.perf_counter()
        deadline = started + duration

        async def one_connection() -> None:
            nonlocal failures, exhausted
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                while time.perf_counter() < deadline:
                    request = fixed
                    if scenario.single_use:
                        assertion = next(assertions, None)
                        if assertion is None:
                            exhausted = True
                            return
                        request = self._request(scenario, (scenario.form_prefix + assertion).encode())
                    sent = time.perf_counter()
                    writer.write(request)
                    async with asyncio.timeout(REQUEST_TIMEOUT):
                        status, close = await _read_response(reader)
                    latencies.append(time.perf_counter() - sent)
                    if not 200 <= status < 300:
                        failures += 1
                    if close:
                        writer.close()
                        await writer.wait_closed()
                        reader, writer = await asyncio.open_connection(self.host, self.port)
            finally:
                writer.close()
                with suppress(OSError):
                    await writer.wait_closed()

        outcomes = await asyncio.gather(
            *(one_connection() for _ in range(connections)), return_exceptions=True
        )
        elapsed = time.perf_counter() - started
        errors = failures + sum(1 for outcome in outcomes if isinstance(outcome, BaseException))
        latencies.sort()
        return Measurement(
            scenario=scenario.name,
            method=scenario.method,
            path=scenario.path,
            requests=len(latencies),
            errors=errors,
            seconds=round(elapsed, 2),
            rps=len(latencies) / elapsed,
            p50_ms=_percentile(latencies, 0.50) * 1000,
            p99_ms=_percentile(latencies, 0.99) * 1000,
            budget=scenario.budget,
            note="ran out of pre-signed assertions" if exhausted else "",
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise RuntimeError(f"response without Content-Length: {lines[0]}")
    await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection", "").lower() == "close"


class WrkDriver:
    """wrk with bench/scenario.lua: a C load generator, much lighter on the shared cores."""

    def __init__(self, executable: str, host: str, port: int, threads: int, workdir: Path) -> None:
        self.executable = executable
        self.base = f"http://{host}:{port}"
        self.threads = threads
        self.workdir = workdir
        version = subprocess.run([executable, "-v"], capture_output=True, text=True, check=False, timeout=10)
        first = (version.stdout or version.stderr).strip().splitlines()
        self.name = first[0].split(" [")[0] if first else "wrk"

    def measure(
        self, scenario: Scenario, duration: int, connections: int, assertions: list[str] | None
    ) -> Measurement:
        env = dict(os.environ)
        env.update(
            BENCH_METHOD=scenario.method,
            BENCH_HEADERS="\n".join(f"{name}: {value}" for name, value in scenario.headers),
            BENCH_BODY=scenario.body.decode(),
            BENCH_THREADS=str(self.threads),
        )
        if scenario.single_use:
            assertions_file = self.workdir / f"assertions-{secrets.token_hex(4)}.txt"
            assertions_file.write_text("\n".join(assertions or []) + "\n")
            env.update(BENCH_FORM_PREFIX=scenario.form_prefix, BENCH_ASSERTIONS=str(assertions_file))
        command = [
            self.executable,
            *("-t", str(self.threads), "-c", str(connections), "-d", f"{duration}s"),
            *("--timeout", f"{REQUEST_TIMEOUT:g}s", "-s", str(WRK_SCRIPT), self.base + scenario.path),
        ]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        result = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
        seconds = result["duration_us"] / 1e6
        # A thread stops at its last assertion, with up to one request per connection still unanswered.
        exhausted = scenario.single_use and result["requests"] + connections >= len(assertions or [])
        return Measurement(
            scenario=scenario.name,
            method=scenario.method,
            path=scenario.path,
            requests=result["requests"],
            errors=result["socket_errors"] + result["non_2xx"],
            seconds=round(seconds, 2),
            rps=result["requests"] / seconds,
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
            budget=scenario.budget,
            note="ran out of pre-signed assertions" if exhausted else "",
        )


def find_wrk(install: bool) -> str | None:
    """Find wrk on PATH; else, as root and when allowed, `apt-get install -y wrk` (once per machine)."""
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0:
        return found
    for step in (
        ["apt-get", "install", "-y", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wrk"],
    ):
        print(f"bench: {' '.join(step)}", flush=True)
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            return None
        if step[1] == "install" and done.returncode == 0:
            return shutil.which("wrk")
    print("bench: wrk could not be installed; using the Python driver", flush=True)
    return None


# --- the report --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "server": f"uvicorn, {WORKERS} workers ({_http_stack()}), SQLite (WAL), Redis limits",
    }


def _verdict(scenario: Scenario, rps: float, ratio: float) -> str:
    if scenario.min_ratio is not None:
        return f"{scenario.budget}: {'met' if ratio >= scenario.min_ratio else 'missed'}"
    if scenario.min_rps is not None:
        return f"{scenario.budget}: {'met' if rps >= scenario.min_rps else 'missed'}"
    return scenario.budget


def _line(m: Measurement) -> str:
    note = f"  ({m.note})" if m.note else ""
    return (
        f"  {m.scenario:<20} {m.rps:>9,.0f} req/s  p50 {m.p50_ms:6.1f} ms  p99 {m.p99_ms:6.1f} ms  "
        f"{m.ratio_to_bare:5.0%} of bare  errors {m.errors}{note}"
    )


def table(results: Sequence[Measurement]) -> str:
    rows = [
        "| scenario | req/s | p50 ms | p99 ms | x bare | errors | budget |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for m in results:
        budget = m.budget + (f" ({m.note})" if m.note else "")
        rows.append(
            f"| {m.scenario} | {m.rps:,.0f} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.ratio_to_bare:.0%} "
            f"| {m.errors} | {budget} |"
        )
    return "\n".join(rows)


def markdown(report: dict[str, Any], results: Sequence[Measurement]) -> str:
    host = report["machine"]
    load_before, load_after = report["load_average_before"], report["load_average_after"]
    return "\n".join(
        [
            f"Run {report['started_at']} (`python -m bench.run --duration {report['duration_s']:g} "
            f"--connections {report['connections']}`), results in `bench/results/{report['file']}`.",
            "",
            f"- machine: {host['cpu']}, {host['cores']} cores, {host['os']}, Python {host['python']}",
            f"- server: {host['server']}",
            f"- driver: {report['driver']}, {report['connections']} connections, "
            f"{report['duration_s']:g} s per scenario after {report['warmup_s']:g} s warm-up",
            f"- load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} "
            "(other work on the machine shows up here)",
            "",
            table(results),
            "",
        ]
    )


def update_readme(section: str) -> None:
    if not README.exists():
        return
    text = README.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return
    README.write_text(text[: start + len(README_START)] + "\n" + section + text[end:])


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured seconds before each scenario")
    parser.add_argument("--driver", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (default 1: leave the cores to the server)"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where results are written")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 600 or not 0 < args.connections <= 1024 or not 0 <= args.warmup <= 60:
        parser.error("duration must be in (0, 600] s, connections in (0, 1024], warmup in [0, 60] s")
    return args


def _ping_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise SystemExit(
            f"the bench needs Redis (two workers share limits and replay cache): {url}: {exc}"
        ) from exc
    finally:
        client.close()


def _forget_redis_keys(url: str, namespace: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for batch in _batches(client.scan_iter(match=f"{namespace}:*", count=1000), 1000):
            client.delete(*batch)
    finally:
        client.close()


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _ping_redis(args.redis_url)
    wrk = None if args.driver == "python" else find_wrk(install=not args.no_install)
    if args.driver == "wrk" and wrk is None:
        raise SystemExit("--driver wrk: wrk is not on PATH and could not be installed")
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        var_dir = Path(tmp)
        print(f"bench: starting the gateway ({WORKERS} workers) in {var_dir}", flush=True)
        server = start_server(var_dir, args.redis_url)
        try:
            app = register_bench_app(server.settings)
            driver: PythonDriver | WrkDriver = (
                WrkDriver(wrk, server.host, server.port, args.threads, var_dir)
                if wrk
                else PythonDriver(server.host, server.port)
            )
            print(
                f"bench: driver {driver.name}; {args.connections} connections, {args.duration:g} s each",
                flush=True,
            )
            results: list[Measurement] = []
            for scenario in scenarios(app.token(), app):
                warm, measured = None, None
                if scenario.single_use:
                    warm = app.assertions(int(args.warmup * ASSERTIONS_PER_SECOND) + args.connections)
                    measured = app.assertions(int(args.duration * ASSERTIONS_PER_SECOND))
                if args.warmup:
                    driver.measure(scenario, args.warmup, args.connections, warm)
                result = driver.measure(scenario, args.duration, args.connections, measured)
                bare = results[0].rps if results else result.rps
                ratio = result.rps / bare
                result = replace(
                    result,
                    rps=round(result.rps, 1),
                    p50_ms=round(result.p50_ms, 2),
                    p99_ms=round(result.p99_ms, 2),
                    ratio_to_bare=round(ratio, 3),
                    budget=_verdict(scenario, result.rps, ratio),
                    measures=scenario.what,
                )
                results.append(result)
                print(_line(result), flush=True)
        finally:
            stop_server(server)
            _forget_redis_keys(args.redis_url, server.settings.namespace)
    name = started_at.strftime("%Y%m%dT%H%M%SZ") + ".json"
    report: dict[str, Any] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "file": name,
        "machine": machine(),
        "driver": driver.name,
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
        "scenarios": [asdict(m) for m in results],
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / name).write_text(json.dumps(report, indent=2) + "\n")
    section = markdown(report, results)
    (args.results / "latest.md").write_text("# Latest bench results\n\n" + section)
    if args.results.resolve() == RESULTS_DIR:
        update_readme(section)
    print("\n" + table(results))
    print(f"\nbench: wrote {args.results / name} and {args.results / 'latest.md'}")
    return 1 if any(m.errors for m in results) else 0


def _http_stack() -> str:
    """What uvicorn's `auto` settings pick: httptools and uvloop when they are installed."""
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio loop"
    return f"{parser}, {loop}"


if __name__ == "__main__":
    sys.exit(main())
