"""`gateway serve` as a process group on a free loopback port, ready once every worker serves.

The bench and the real-server tests (tests/e2e/servers.py) both start the gateway this way; a
failure raises `GatewayError` with the server's log, which each caller reports in its own terms.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import redis

from gateway.settings import Settings

GATEWAY: Final = Path(sys.executable).parent / "gateway"
# Generous: on a loaded 2-core machine each worker spends ~10 s importing before it can serve.
STARTUP_SECONDS: Final = 90.0
COMMAND_SECONDS: Final = 300.0
# Variables of the developer's shell that would leak into the server.
FOREIGN_PREFIXES: Final = (
    "GATEWAY_",
    "DATABASE_",
    "SANDBOX_DATABASE_",
    "REDIS_",
    "ACCESS_TOKEN_",
    "SCREENING_",
)
PROBES: Final = 16  # concurrent keep-alive connections per readiness probe


class GatewayError(RuntimeError):
    """A `gateway` command failed or the server did not serve; the message carries its output."""


def loopback_env(var_dir: Path, *, namespace: str, redis_url: str) -> dict[str, str]:
    """A fresh server's variables on loopback over the environment, less the gateway's own variables."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        GATEWAY_VAR_DIR=str(var_dir),
        GATEWAY_HOST="127.0.0.1",
        GATEWAY_PORT=str(port),
        GATEWAY_BASE_URL=f"http://127.0.0.1:{port}",
        GATEWAY_NAMESPACE=namespace,
        REDIS_URL=redis_url,
    )
    return env


def run_gateway(*args: str, env: Mapping[str, str]) -> str:
    """`gateway <args>` to completion; its standard output."""
    done = subprocess.run(
        [str(GATEWAY), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise GatewayError(f"gateway {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


@dataclass
class GatewayServer:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    settings: Settings
    workers: int
    log: Path

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def worker_pids(self) -> set[int]:
        """The processes that serve: the one process, or the supervisor's children."""
        if self.workers == 1:
            return {self.process.pid}
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with suppress(OSError):
            return {int(pid) for pid in path.read_text().split()}
        return set()

    def accepted_sockets(self) -> dict[int, list[int]]:
        """The file descriptors of the open connections each worker process has accepted.

        Workers share one listening socket, so only the kernel knows who accepted what: an
        established socket whose local port is ours, found in a worker's file descriptor table.
        """
        port = f":{self.port:04X}"
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
            except OSError:
                continue  # a worker that is gone holds nothing
            if fds:
                accepted[pid] = fds
        return accepted

    def connections_per_worker(self) -> Counter[int]:
        return Counter({pid: len(fds) for pid, fds in self.accepted_sockets().items()})

    def stop(self) -> str:
        """SIGTERM the process group (supervisor and workers), SIGKILL if it lingers; the log."""
        for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        return self.logs()


def serve(env: Mapping[str, str], *, workers: int, log: Path) -> GatewayServer:
    """`gateway serve --workers N --quiet` on the environment's address, once every worker serves."""
    env = dict(env)
    settings = Settings.from_env(env)
    address = ("--host", settings.host, "--port", str(settings.port))
    with log.open("ab") as out:  # a restarted server appends to the same log
        process = subprocess.Popen(
            [str(GATEWAY), "serve", "--workers", str(workers), "--quiet", *address],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = GatewayServer(process, env, settings, workers, log)
    try:
        asyncio.run(_until_every_worker_serves(server))
    except BaseException:
        server.stop()
        raise
    return server


async def _until_every_worker_serves(server: GatewayServer) -> None:
    """Bounded: until each worker owns some of the concurrent keep-alive connections held open."""
    deadline = time.monotonic() + STARTUP_SECONDS
    seen: set[int] = set()
    limits = httpx.Limits(max_connections=PROBES, max_keepalive_connections=PROBES)
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise GatewayError(f"the server exited with {server.process.returncode}:\n{server.logs()}")
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=5) as client:
            with suppress(httpx.TransportError):
                await asyncio.gather(*(client.get("/livez") for _ in range(PROBES)))
                seen |= set(server.connections_per_worker())
        if len(seen) >= server.workers:
            return
        await asyncio.sleep(0.3)
    raise GatewayError(
        f"{len(seen)} of {server.workers} workers served within {STARTUP_SECONDS:.0f} s:\n{server.logs()}"
    )


def forget_redis_keys(redis_url: str, namespace: str) -> None:
    """Delete the keys a server wrote under its namespace, in batches."""
    client = redis.Redis.from_url(redis_url)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
