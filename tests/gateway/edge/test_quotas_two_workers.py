"""Business quotas and pilot caps across two workers sharing Redis: never more than the limit,
exactly the limit out of a 3x concurrent burst (ADR 0012)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Final

import pytest
import redis
from limits.aio.storage import Storage
from limits.storage import storage_from_string
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.market.catalogue import Catalogue
from gateway.edge.quotas import BusinessQuotas, MemoryPilotCustomers, QuotaExceededError, RedisPilotCustomers
from gateway.services import Platform
from partners.models import PartnerStage, PilotCaps, Plan
from sandbox.clock import FrozenClock
from sandbox.prices import PriceFeed
from tests.conftest import REDIS_URL, require_redis
from tests.gateway.edge.test_quotas import BIG, order, principal, trading_app
from tests.trading import CN_MORNING

pytestmark = pytest.mark.redis
WORKERS: Final = 2


async def _storage(namespace: str) -> Storage:
    storage = storage_from_string(
        "async+" + REDIS_URL, implementation="redispy", key_prefix=f"{namespace}:limits"
    )
    assert isinstance(storage, Storage)
    return storage


@pytest.fixture
async def workers() -> AsyncIterator[list[BusinessQuotas]]:
    """Two workers' quota engines: each its own Redis connections, one shared namespace."""
    require_redis()
    namespace = f"t{secrets.token_hex(4)}"
    storages = [await _storage(namespace) for _ in range(WORKERS)]
    catalogue = Catalogue.from_file()
    prices = PriceFeed(catalogue)
    engines = [
        BusinessQuotas(
            storage,
            namespace,
            clock=FrozenClock(CN_MORNING),
            catalogue=catalogue,
            prices=prices,
            customers=MemoryPilotCustomers(),
            placed={},
        )
        for storage in storages
    ]
    yield engines
    for storage in storages:
        bridge: Any = getattr(storage, "bridge", None)
        if bridge is not None:
            await bridge.storage.aclose()


async def burst(calls: list[Any]) -> tuple[int, set[str]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    refused = [r for r in results if isinstance(r, QuotaExceededError)]
    assert [r for r in results if isinstance(r, BaseException) and r not in refused] == []
    return len(results) - len(refused), {str(r.extra["quota"]) for r in refused if isinstance(r.extra, dict)}


async def test_orders_per_minute_across_two_workers(workers: list[BusinessQuotas]) -> None:
    caller = principal(Plan("four", "Four", (), orders_per_minute=4))
    admitted, quotas = await burst(
        [workers[n % WORKERS].charge_order(caller, Decimal("10"), "CNY") for n in range(12)]
    )
    assert (admitted, quotas) == (4, {"orders_per_minute"})


async def test_notional_per_day_across_two_workers(workers: list[BusinessQuotas]) -> None:
    caller = principal(Plan("small", "Small", (), orders_per_minute=1000, notional_per_day=Decimal("500")))
    admitted, quotas = await burst(
        [workers[n % WORKERS].charge_order(caller, Decimal("100"), "CNY") for n in range(15)]
    )
    assert (admitted, quotas) == (5, {"notional_per_day"})
    # The refusals gave their increments back: what is left is exactly nothing, not less.
    with pytest.raises(QuotaExceededError) as left:
        await workers[0].charge_order(caller, Decimal("1"), "CNY")
    assert isinstance(left.value.extra, dict)
    assert left.value.extra["remaining"] == "0.00"


async def test_pilot_daily_points_per_partner_across_two_workers_and_apps(
    workers: list[BusinessQuotas],
) -> None:
    caps = PilotCaps(customers=10, daily_notional=Decimal("1000"), daily_points=300)
    apps = [principal(BIG, client_id=f"live_{n}", stage=PartnerStage.PILOT, caps=caps) for n in range(3)]
    admitted, quotas = await burst([workers[n % WORKERS].charge_points(apps[n % 3], 100) for n in range(9)])
    assert (admitted, quotas) == (3, {"pilot_daily_points"})


def test_pilot_customer_cap_across_two_workers() -> None:
    require_redis()
    clients = [redis.Redis.from_url(REDIS_URL) for _ in range(WORKERS)]
    try:
        sets = [RedisPilotCustomers(client) for client in clients]
        key = f"t{secrets.token_hex(4)}:production:pilot-customers:prt_x"
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda n: sets[n % WORKERS].admit(key, f"cus_{n}", 4), range(12)))
        assert results.count(True) == 4
        admitted = [n for n, ok in enumerate(results) if ok]
        assert all(sets[1].admit(key, f"cus_{n}", 4) for n in admitted)  # served customers stay served
        assert not sets[0].admit(key, "cus_new", 4)
        assert clients[0].scard(key) == 4
        assert 0 < clients[0].ttl(key) <= 400 * 24 * 3600
        clients[0].delete(key)
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def trading_clock(clock: FrozenClock) -> FrozenClock:
    clock.set(CN_MORNING)
    return clock


def test_place_order_across_two_app_instances_sharing_redis(
    two_workers: tuple[TestClient[Any], TestClient[Any]], trading_clock: FrozenClock
) -> None:
    first, _ = two_workers
    platform: Platform = first.app.state.platform
    plan_id = f"quota-{secrets.token_hex(4)}"
    platform.registry.store.upsert_plan(Plan(plan_id, "Four a minute", ("1000/second",), orders_per_minute=4))
    bank, grant = trading_app(first, platform, plan_id)

    def place(n: int) -> int:
        body = order(f"two-{n}")
        worker = two_workers[n % WORKERS]
        return bank.call(worker, "POST", "/v1/orders", grant.access_token, json=body).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(place, range(12)))

    assert statuses == [201] * 4 + [429] * 8
    today = trading_clock.now().date()
    counted = [
        count
        for worker in two_workers
        for count in worker.app.state.platform.environments[Environment.PRODUCTION].usage.daily(
            bank.app.client_id, today, today
        )
        if count.operation == "placeOrder"
    ]
    # Both workers flushed into one table: the later read sees all twelve calls once.
    assert (counted[-1].requests, counted[-1].throttled) == (12, 8)
