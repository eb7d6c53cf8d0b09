"""The real thing over TCP: two workers sharing Redis and one database (SQLite or PostgreSQL);
every test runs against both backends' servers (started once per session in conftest.py)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
from collections import Counter
from typing import Final

import httpx
import pytest

from gateway.domain.environment import Environment
from tests.e2e.servers import E2E_PLAN, E2EApp, RealServer, run_cli
from tests.support import DPOP_CLIENTS, dpop_capable, dpop_capable_async

pytestmark = pytest.mark.slow

LIMIT: Final = 10  # E2E_PLAN's "10/minute"
BURST: Final = 3 * LIMIT
INSTRUMENTS: Final = "/v1/market/instruments"
SYS_PIDFD_GETFD: Final = 438  # pidfd_getfd(2): the same number on every Linux architecture


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


async def _burst(server: RealServer, app: E2EApp) -> tuple[list[httpx.Response], Counter[int]]:
    """Fire BURST concurrent reads, each on its own connection; report which workers served them."""
    headers = {"Authorization": f"Bearer {server.token(app)}"}
    # Every request is in flight at once, so each opens a new connection; the connections are kept
    # open afterwards only so that the kernel can tell which worker accepted each of them.
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
        dpop_capable_async(client)
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


async def _connections_on_both_workers(server: RealServer, per_worker: int) -> list[httpx.AsyncClient]:
    """Open keep-alive connections one at a time and keep `per_worker` on each worker: a burst on
    fresh connections can land on one worker only (whichever wakes first accepts them all)."""
    kept: list[httpx.AsyncClient] = []
    placed: Counter[int] = Counter()
    for _ in range(200):  # bounded: the kernel hands single connections to either worker
        if len(placed) == 2 and min(placed.values()) >= per_worker:
            break
        client = httpx.AsyncClient(base_url=server.base_url, timeout=30)
        before = server.connections_per_worker()
        assert (await client.get("/livez")).status_code == 200
        grown = [pid for pid, count in server.connections_per_worker().items() if count > before[pid]]
        if len(grown) == 1 and placed[grown[0]] < per_worker:
            placed[grown[0]] += 1
            kept.append(client)
        else:
            await client.aclose()
    assert sorted(placed.values()) == [per_worker, per_worker], f"connections per worker: {placed}"
    return kept


async def test_replayed_client_assertion_is_accepted_once_across_two_workers(server: RealServer) -> None:
    app = server.new_app("enterprise")
    issuer = server.issuer(Environment.PRODUCTION)
    clients = await _connections_on_both_workers(server, per_worker=5)
    try:
        form = server.token_form(app)  # one assertion, sent ten times at once, five to each worker
        # Each request its own DPoP proof (only the assertion repeats), all signed before the burst.
        proofs = [DPOP_CLIENTS[app.client_id].proof("POST", f"{issuer}/oauth2/token") for _ in clients]
        responses = await asyncio.gather(
            *(
                client.post(f"{issuer}/oauth2/token", data=form, headers={"DPoP": proof})
                for client, proof in zip(clients, proofs, strict=True)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    accepted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(accepted) == 1, [r.text for r in responses]
    # RFC 6749 §5.2: 400 is right when the client authenticated in the body, not a header.
    assert {r.status_code for r in refused} == {400}
    assert {r.json()["error"] for r in refused} == {"invalid_client"}
    assert all(r.headers["cache-control"] == "no-store" for r in responses)


def test_sandbox_and_production_tokens_stay_in_their_environment(server: RealServer) -> None:
    developer = server.credentials("Demo Developer", Environment.SANDBOX)
    bank = server.credentials("Demo Regional Bank", Environment.PRODUCTION)
    sandbox_token, production_token = server.token(developer), server.token(bank)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        dpop_capable(client)

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
        form = server.token_form(bank, server.assertion(bank, audience=sandbox_issuer))
        crossed = client.post("/sandbox/oauth2/token", data=form)
        assert crossed.status_code == 400
        assert crossed.json()["error"] == "invalid_client"


def test_readme_demo_token_screens_a_sanctioned_name(server: RealServer) -> None:
    """The README's production call by hand: a DPoP-bound token and a fresh proof per call."""
    token = run_cli("demo", "token", "--partner", "bank", env=server.env).strip()
    url = f"{server.base_url}/v1/compliance/screenings"
    proof = run_cli("demo", "proof", "POST", url, "--token", token, env=server.env).strip()
    with httpx.Client(timeout=30) as client:
        response = client.post(
            url, json={"name": "陳偉國"}, headers={"Authorization": f"DPoP {token}", "DPoP": proof}
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
