"""Plan rate limits: exact under a concurrent burst, counted per app and per environment."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest
from limits import parse_many
from limits.aio.storage import MemoryStorage
from litestar.exceptions import TooManyRequestsException
from litestar.testing import TestClient

from gateway.auth.tokens import AccessToken
from gateway.domain.environment import Environment
from gateway.edge.principal import Principal
from gateway.edge.rate_limits import RateLimiter
from gateway.services import Platform
from partners.models import Plan
from tests.conftest import BASE_URL
from tests.support import dpop_capable_async, register_app

INSTRUMENTS = "/v1/market/instruments"


def tiny_plan(platform: Platform) -> str:
    """A plan of five requests a minute, private to the test (the plans table is shared)."""
    plan_id = f"tiny-{secrets.token_hex(4)}"
    platform.registry.store.upsert_plan(Plan(plan_id, "Tiny", ("5/minute",)))
    return plan_id


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == f"{BASE_URL}/problems/rate-limited"
    assert problem["status"] == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-remaining"] == "0"


def assert_admitted(response: httpx.Response, limit: int = 5) -> int:
    assert response.status_code == 200, response.text
    assert response.headers["ratelimit-limit"] == str(limit)
    remaining = int(response.headers["ratelimit-remaining"])
    assert 0 <= remaining < limit
    assert 1 <= int(response.headers["ratelimit-reset"]) <= 60
    return remaining


async def test_a_burst_gets_exactly_the_plan_limit(
    client: TestClient[Any], platform: Platform, app: Any
) -> None:
    partner = register_app(platform, plan=tiny_plan(platform))
    headers = partner.headers(client)
    # The app runs in this event loop, so the 15 requests are in flight together.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as burst:
        dpop_capable_async(burst)
        responses = await asyncio.gather(*(burst.get(INSTRUMENTS, headers=headers) for _ in range(15)))

    admitted = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert (len(admitted), len(limited)) == (5, 10), sorted(r.status_code for r in responses)
    assert sorted(assert_admitted(r) for r in admitted)[0] == 0  # the fifth request used the last one
    for response in limited:
        assert_rate_limited(response)


def test_limits_are_counted_per_app(client: TestClient[Any], platform: Platform) -> None:
    plan = tiny_plan(platform)
    busy = register_app(platform, plan=plan)
    neighbour = register_app(platform, plan=plan, partner_id=busy.partner_id)  # same partner, same plan
    busy_headers, neighbour_headers = busy.headers(client), neighbour.headers(client)

    remaining = [assert_admitted(client.get(INSTRUMENTS, headers=busy_headers)) for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    assert_rate_limited(client.get(INSTRUMENTS, headers=busy_headers))

    assert assert_admitted(client.get(INSTRUMENTS, headers=neighbour_headers)) == 4
    assert_rate_limited(client.get(INSTRUMENTS, headers=busy_headers))


def test_sandbox_and_production_are_counted_apart(client: TestClient[Any], platform: Platform) -> None:
    plan = tiny_plan(platform)
    live = register_app(platform, plan=plan)
    sandbox = register_app(platform, plan=plan, partner_id=live.partner_id, environment=Environment.SANDBOX)
    live_headers, sandbox_headers = live.headers(client), sandbox.headers(client)
    for _ in range(5):
        assert_admitted(client.get(INSTRUMENTS, headers=live_headers))
    assert_rate_limited(client.get(INSTRUMENTS, headers=live_headers))

    in_sandbox = [client.get(f"/sandbox{INSTRUMENTS}", headers=sandbox_headers) for _ in range(6)]

    assert [assert_admitted(r) for r in in_sandbox[:5]] == [4, 3, 2, 1, 0]
    assert_rate_limited(in_sandbox[5])
    assert_rate_limited(client.get(INSTRUMENTS, headers=live_headers))


@pytest.mark.usefixtures("client")  # its lifespan closes the app's database pools
async def test_the_limiter_counts_each_environment_apart(platform: Platform) -> None:
    # Client ids already differ per environment (live_/sbx_); the limiter's key keeps them apart
    # even so, as the README promises separate rate-limit namespaces.
    app = register_app(platform, plan=tiny_plan(platform))
    client = platform.clients.get(app.client_id)
    assert client is not None
    token = AccessToken(
        jti="jti-1",
        client_id=app.client_id,
        subject=app.client_id,
        scopes=frozenset(),
        audience=("api",),
        issued_at=0,
        expires_at=0,
        environment=Environment.PRODUCTION,
    )
    limiter = RateLimiter(MemoryStorage(), "limits-test")
    live = Principal(client=client, token=token, environment=Environment.PRODUCTION)
    sandbox = Principal(client=client, token=token, environment=Environment.SANDBOX)
    for _ in range(5):
        await limiter.admit(live)
    with pytest.raises(TooManyRequestsException):
        await limiter.admit(live)

    assert (b"ratelimit-remaining", b"4") in await limiter.admit(sandbox)


async def test_daily_quotas_count_in_fixed_windows_and_rates_in_moving_ones() -> None:
    limiter = RateLimiter(MemoryStorage(), "quota-test")
    plan = Plan("mixed", "Mixed", ("1000/second", "3/day"))
    second, day = (parse_many(spec)[0] for spec in plan.rate_limits)
    assert limiter.strategy(second) is limiter.moving
    assert limiter.strategy(day) is limiter.fixed


def test_a_daily_quota_refuses_with_a_retry_after_until_the_next_period(
    client: TestClient[Any], platform: Platform
) -> None:
    plan_id = f"daily-{secrets.token_hex(4)}"
    platform.registry.store.upsert_plan(Plan(plan_id, "Daily", ("1000/second", "3/day")))
    headers = register_app(platform, plan=plan_id).headers(client)
    statuses = [client.get(INSTRUMENTS, headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get(INSTRUMENTS, headers=headers)
    assert int(refused.headers["retry-after"]) > 60  # the day's period, not the second's
