"""Business quotas (orders/minute, notional/day, points/day) and pilot caps (customers, daily
notional and points per partner): exactly the limit out of a 3x burst, nothing consumed by a
refusal, a 429 `quota-exceeded` problem naming the quota with Retry-After (rules: gateway/edge/quotas.py)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

import httpx
import pytest
from limits.aio.storage import MemoryStorage
from litestar.testing import TestClient

from gateway.auth.tokens import AccessToken
from gateway.domain.consent.models import Consent, ConsentStatus
from gateway.domain.environment import Environment
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.money import Currency
from gateway.domain.scopes import Scope
from gateway.edge.principal import Principal
from gateway.edge.quotas import BusinessQuotas, MemoryPilotCustomers, QuotaExceededError
from gateway.services import Platform
from partners.models import (
    App,
    AppStatus,
    Client,
    Partner,
    PartnerStage,
    PartnerStatus,
    PartnerType,
    PilotCaps,
    Plan,
)
from partners.service import DEFAULT_PLANS
from sandbox.clock import FrozenClock
from sandbox.prices import PriceFeed
from tests.conftest import BASE_URL
from tests.delegation import REDIRECT_URI, DelegatingApp, Grant, authorize, seed_customer
from tests.support import Holder, register_app
from tests.trading import CN_MORNING, CN_STOCK

TRADING_SCOPES: Final = (Scope.CONSENTS_MANAGE, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.ACCOUNTS_READ)
BIG: Final = Plan("big", "Big", ("1000/second",), orders_per_minute=10_000, points_per_day=10**9)
CATALOGUE: Final = Catalogue.from_file()
PRICES: Final = PriceFeed(CATALOGUE)


# -- the quota engine on its own (memory storage, the injected clock) ---------------------------


def principal(
    plan: Plan = BIG,
    *,
    partner_id: str = "prt_a",
    client_id: str = "live_a",
    environment: Environment = Environment.PRODUCTION,
    stage: PartnerStage = PartnerStage.PRODUCTION,
    caps: PilotCaps | None = None,
    customer_id: str | None = None,
) -> Principal:
    partner = Partner(
        id=partner_id,
        name="Partner",
        type=PartnerType.INSTITUTION,
        region="CN",
        status=PartnerStatus.ACTIVE,
        operator=False,
        created_at=CN_MORNING,
        stage=stage,
        pilot_caps=caps,
    )
    app = App(
        client_id=client_id,
        partner_id=partner_id,
        name="app",
        environment=environment,
        jwks={},
        scopes=frozenset(),
        plan_id=plan.id,
        status=AppStatus.ACTIVE,
        created_at=CN_MORNING,
    )
    token = AccessToken(
        jti="jti",
        client_id=client_id,
        subject=client_id,
        scopes=frozenset(),
        audience=("api",),
        issued_at=0,
        expires_at=0,
        environment=environment,
    )
    consent = None
    if customer_id is not None:
        consent = Consent(
            id=f"cns_{customer_id}",
            partner_id=partner_id,
            client_id=client_id,
            customer_id=customer_id,
            permissions=frozenset({Scope.ORDERS_WRITE}),
            purpose="trading",
            expires_at=CN_MORNING + timedelta(days=90),
            limits=(),
            cross_border=False,
            status=ConsentStatus.AUTHORIZED,
            created_at=CN_MORNING,
            updated_at=CN_MORNING,
        )
    return Principal(client=Client(app, partner, plan), token=token, environment=environment, consent=consent)


def engine(clock: FrozenClock | None = None) -> BusinessQuotas:
    return BusinessQuotas(
        MemoryStorage(),
        f"t{secrets.token_hex(4)}",
        clock=clock or FrozenClock(CN_MORNING),
        catalogue=CATALOGUE,
        prices=PRICES,
        customers=MemoryPilotCustomers(),
        placed={},
    )


async def outcomes(calls: list[Any]) -> tuple[int, list[QuotaExceededError]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    refused = [r for r in results if isinstance(r, QuotaExceededError)]
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, QuotaExceededError)
    ]
    assert unexpected == []
    return len(results) - len(refused), refused


def ctx(error: QuotaExceededError) -> dict[str, Any]:
    assert isinstance(error.extra, dict)
    return error.extra


def assert_refusal(error: QuotaExceededError, quota: str, *, retry_after: range) -> dict[str, Any]:
    assert error.status_code == 429
    assert isinstance(error.extra, dict)
    assert error.extra["quota"] == quota
    headers = error.headers or {}
    assert int(headers["Retry-After"]) in retry_after
    assert headers["RateLimit-Remaining"] == "0"
    assert headers["RateLimit-Reset"] == headers["Retry-After"]
    return error.extra


async def test_orders_per_minute_admit_exactly_the_limit_of_a_3x_burst() -> None:
    quotas, caller = engine(), principal(replace(BIG, orders_per_minute=5))
    admitted, refused = await outcomes([quotas.charge_order(caller, Decimal("10"), "CNY") for _ in range(15)])
    assert (admitted, len(refused)) == (5, 10)
    for error in refused:
        context = assert_refusal(error, "orders_per_minute", retry_after=range(1, 61))
        assert (context["limit"], context["remaining"], context["unit"]) == (5, 0, "orders")
        assert (error.headers or {})["RateLimit-Limit"] == "5"


async def test_notional_per_day_admits_exactly_the_limit_and_refills_at_utc_midnight() -> None:
    clock = FrozenClock(CN_MORNING)  # 02:00 UTC: 22 hours to the next UTC day
    quotas, caller = engine(clock), principal(replace(BIG, notional_per_day=Decimal("500.00")))
    admitted, refused = await outcomes(
        [quotas.charge_order(caller, Decimal("100"), "CNY") for _ in range(15)]
    )
    assert (admitted, len(refused)) == (5, 10)
    context = assert_refusal(refused[0], "notional_per_day", retry_after=range(22 * 3600, 22 * 3600 + 1))
    assert context == {
        "quota": "notional_per_day",
        "scope": "app",
        "unit": "CNY",
        "limit": "500.00",
        "remaining": "0.00",
        "requested": "100.00",
    }
    clock.advance(timedelta(hours=22))  # the next UTC day: a fresh window
    await quotas.charge_order(caller, Decimal("500"), "CNY")


async def test_notional_in_another_currency_is_charged_in_cny_at_the_reference_rate() -> None:
    quotas, caller = engine(), principal(replace(BIG, notional_per_day=Decimal("10000.00")))
    await quotas.charge_order(caller, Decimal("100.00"), "USD")
    rate = PRICES.fx_rate(Currency.USD, Currency.CNY, CN_MORNING)
    with pytest.raises(QuotaExceededError) as refused:
        await quotas.charge_order(caller, Decimal("10000.00"), "CNY")
    assert ctx(refused.value)["remaining"] == str(
        Decimal("10000.00") - (100 * rate).quantize(Decimal("0.01"))
    )


async def test_a_charge_refused_by_one_window_consumes_no_other() -> None:
    quotas = engine()
    caller = principal(replace(BIG, orders_per_minute=3, notional_per_day=Decimal("1000.00")))
    with pytest.raises(QuotaExceededError) as too_big:  # refused by notional: no order slot used
        await quotas.charge_order(caller, Decimal("2000.00"), "CNY")
    assert ctx(too_big.value)["quota"] == "notional_per_day"
    for _ in range(3):
        await quotas.charge_order(caller, Decimal("100.00"), "CNY")
    with pytest.raises(QuotaExceededError) as too_many:  # refused by orders: no notional used
        await quotas.charge_order(caller, Decimal("100.00"), "CNY")
    assert ctx(too_many.value)["quota"] == "orders_per_minute"
    with pytest.raises(QuotaExceededError) as left:
        await quotas.charge_order(caller, Decimal("800.00"), "CNY")
    assert ctx(left.value)["remaining"] == "700.00"


async def test_a_window_that_fills_between_test_and_hit_takes_back_the_windows_hit_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race the pre-check cannot see: the moving window refuses at the hit (as if a concurrent
    charge took the last slot); the fixed windows it already incremented are given back."""
    quotas = engine()
    caps = PilotCaps(customers=10, daily_notional=Decimal("1000.00"), daily_points=10)
    plan = replace(BIG, orders_per_minute=1, notional_per_day=Decimal("1000.00"))
    caller = principal(plan, stage=PartnerStage.PILOT, caps=caps)
    await quotas.charge_order(caller, Decimal("100.00"), "CNY")

    async def passes(*_: Any, **__: Any) -> bool:
        return True

    monkeypatch.setattr(quotas.moving, "test", passes)
    with pytest.raises(QuotaExceededError) as raced:
        await quotas.charge_order(caller, Decimal("100.00"), "CNY")
    assert ctx(raced.value)["quota"] == "orders_per_minute"
    monkeypatch.undo()
    with pytest.raises(QuotaExceededError) as app_left:  # 100 of the plan's 1000 used, not 200
        await quotas.charge_order(caller, Decimal("950.00"), "CNY")
    assert (ctx(app_left.value)["quota"], ctx(app_left.value)["remaining"]) == (
        "notional_per_day",
        "900.00",
    )
    roomier = principal(
        replace(plan, notional_per_day=Decimal("5000.00")), stage=PartnerStage.PILOT, caps=caps
    )
    with pytest.raises(QuotaExceededError) as partner_left:  # and 100 of the partner's 1000
        await quotas.charge_order(roomier, Decimal("950.00"), "CNY")
    assert (ctx(partner_left.value)["quota"], ctx(partner_left.value)["remaining"]) == (
        "pilot_daily_notional",
        "900.00",
    )


async def test_a_fixed_window_that_refuses_at_the_hit_gives_its_increment_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quotas = engine()
    caller = principal(replace(BIG, notional_per_day=Decimal("300.00")))
    results = []
    for _ in range(2):  # two charges that both pass the pre-check; only one fits
        monkeypatch.setattr(quotas.fixed, "test", lambda *_, **__: asyncio.sleep(0, result=True))
        results.append(quotas.charge_order(caller, Decimal("200.00"), "CNY"))
    admitted, refused = await outcomes(results)
    monkeypatch.undo()
    assert (admitted, len(refused)) == (1, 1)
    await quotas.charge_order(caller, Decimal("100.00"), "CNY")  # 200 + 100: the refused 200 is not counted


async def test_points_per_day_per_app_and_the_pilot_cap_per_partner_across_its_apps() -> None:
    quotas = engine()
    caps = PilotCaps(customers=10, daily_notional=Decimal("1000"), daily_points=1000)
    plan = replace(BIG, points_per_day=700)
    first = principal(plan, client_id="live_1", stage=PartnerStage.PILOT, caps=caps)
    second = principal(plan, client_id="live_2", stage=PartnerStage.PILOT, caps=caps)
    await quotas.charge_points(first, 600)
    with pytest.raises(QuotaExceededError) as per_app:
        await quotas.charge_points(first, 101)
    assert ctx(per_app.value)["quota"] == "points_per_day"
    await quotas.charge_points(second, 400)  # the partner's 1000 are used up across both apps
    with pytest.raises(QuotaExceededError) as per_partner:
        await quotas.charge_points(second, 1)
    assert ctx(per_partner.value) == {
        "quota": "pilot_daily_points",
        "scope": "partner",
        "unit": "points",
        "limit": 1000,
        "remaining": 0,
        "requested": 1,
    }
    await quotas.charge_points(first, 0)  # nothing to charge
    sandbox = principal(
        plan, client_id="sbx_1", environment=Environment.SANDBOX, stage=PartnerStage.PILOT, caps=caps
    )
    await quotas.charge_points(sandbox, 700)  # pilot caps bind production only


async def test_pilot_points_admit_exactly_the_cap_of_a_3x_burst_over_several_apps() -> None:
    quotas = engine()
    caps = PilotCaps(customers=10, daily_notional=Decimal("1000"), daily_points=50)
    apps = [principal(client_id=f"live_{n}", stage=PartnerStage.PILOT, caps=caps) for n in range(3)]
    admitted, refused = await outcomes([quotas.charge_points(apps[n % 3], 10) for n in range(15)])
    assert (admitted, len(refused)) == (5, 10)
    assert {ctx(e)["quota"] for e in refused} == {"pilot_daily_points"}


async def test_pilot_notional_counts_in_the_caps_currency() -> None:
    quotas = engine()
    caps = PilotCaps(customers=10, daily_notional=Decimal("1000.00"), currency="HKD", daily_points=10)
    caller = principal(stage=PartnerStage.PILOT, caps=caps)
    await quotas.charge_order(caller, Decimal("500.00"), "CNY")
    rate = PRICES.fx_rate(Currency.CNY, Currency.HKD, CN_MORNING)
    with pytest.raises(QuotaExceededError) as refused:
        await quotas.charge_order(caller, Decimal("1000.00"), "HKD")
    assert ctx(refused.value)["quota"] == "pilot_daily_notional"
    assert ctx(refused.value)["unit"] == "HKD"
    assert ctx(refused.value)["remaining"] == str(Decimal("1000.00") - (500 * rate).quantize(Decimal("0.01")))


async def test_pilot_caps_bind_only_a_partner_in_pilot() -> None:
    quotas = engine()
    caps = PilotCaps(customers=1, daily_notional=Decimal("10.00"), daily_points=1)
    for stage in (PartnerStage.PRODUCTION, PartnerStage.REVIEW):
        caller = principal(stage=stage, caps=caps, customer_id=f"cus_{stage.value}")
        await quotas.charge_order(caller, Decimal("100.00"), "CNY")
        await quotas.charge_points(caller, 5)
        quotas.admit_customer(caller)
        quotas.admit_customer(principal(stage=stage, caps=caps, customer_id=f"cus_other_{stage.value}"))


def test_the_pilot_customer_cap_admits_exactly_n_distinct_customers() -> None:
    quotas = engine()
    caps = PilotCaps(customers=3, daily_notional=Decimal("10.00"), daily_points=1)
    customers = [f"cus_{n:02d}" for n in range(9)]
    admitted, refused = [], []
    for customer in customers:
        try:
            quotas.admit_customer(principal(stage=PartnerStage.PILOT, caps=caps, customer_id=customer))
            admitted.append(customer)
        except QuotaExceededError as failure:
            refused.append(failure)
    assert admitted == customers[:3]
    assert len(refused) == 6
    error = refused[0]
    assert error.status_code == 403  # a cap, not a window: retrying later does not help
    assert error.headers in (None, {})
    assert error.extra == {"quota": "pilot_customers", "limit": 3, "unit": "customers", "scope": "partner"}
    for customer in customers[:3]:  # customers already served stay served, on any app of the partner
        quotas.admit_customer(
            principal(client_id="live_b", stage=PartnerStage.PILOT, caps=caps, customer_id=customer)
        )
    other_partner = principal(
        partner_id="prt_b", stage=PartnerStage.PILOT, caps=caps, customer_id=customers[8]
    )
    quotas.admit_customer(other_partner)


def test_memory_pilot_customers_is_atomic_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    customers = MemoryPilotCustomers()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: customers.admit("k", f"cus_{n}", 5), range(15)))
    assert results.count(True) == 5


def test_default_plans_grow_from_sandbox_to_enterprise() -> None:
    by_id = {plan.id: plan for plan in DEFAULT_PLANS}
    order = ["sandbox", "starter", "growth", "enterprise"]
    for field in ("orders_per_minute", "notional_per_day", "points_per_day"):
        values = [getattr(by_id[plan_id], field) for plan_id in order]
        assert values == sorted(values), field
        assert len(set(values)) == 4, field


@pytest.mark.usefixtures("client")  # its lifespan closes the app's database pools
def test_plans_keep_their_quotas_in_the_registry(platform: Platform) -> None:
    store = platform.registry.store
    assert [store.get_plan(plan.id) for plan in DEFAULT_PLANS] == list(DEFAULT_PLANS)
    custom = Plan(f"custom-{secrets.token_hex(4)}", "Custom", ("1/second",), "", 7, Decimal("1234.56"), 89)
    store.upsert_plan(custom)
    assert store.get_plan(custom.id) == custom
    store.upsert_plan(replace(custom, notional_per_day=Decimal("0.01")))
    plan = store.get_plan(custom.id)
    assert plan is not None
    assert plan.notional_per_day == Decimal("0.01")


# -- over HTTP: placeOrder, on SQLite and PostgreSQL --------------------------------------------


@pytest.fixture
def trading_clock(clock: FrozenClock) -> FrozenClock:
    clock.set(CN_MORNING)
    return clock


def quota_plan(platform: Platform, **quotas: Any) -> str:
    plan_id = f"quota-{secrets.token_hex(4)}"
    platform.registry.store.upsert_plan(Plan(plan_id, "Quota test", ("1000/second",), **quotas))
    return plan_id


def trading_app(
    client: TestClient[Any], platform: Platform, plan_id: str, *, partner_id: str | None = None
) -> tuple[DelegatingApp, Grant]:
    customer = seed_customer(platform, Environment.PRODUCTION, "zhang.min")
    app = register_app(
        platform, scopes=TRADING_SCOPES, redirect_uris=(REDIRECT_URI,), plan=plan_id, partner_id=partner_id
    )
    bank = DelegatingApp(app, Holder(platform.clock))
    return bank, authorize(client, bank, customer, ["orders:read", "orders:write"])


def order(client_order_id: str) -> dict[str, Any]:
    terms = {"instrument_id": CN_STOCK, "side": "buy", "order_type": "market", "quantity": "100"}
    return {"client_order_id": client_order_id, **terms}


Call = tuple[DelegatingApp, str, str, "dict[str, Any] | None"]  # app, token, method, order body


async def send_all(app: Any, calls: list[Call]) -> list[httpx.Response]:
    """All calls in flight together against the in-process app (it runs in this event loop)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:

        def send(bank: DelegatingApp, token: str, method: str, body: dict[str, Any] | None) -> Any:
            headers = {
                "Authorization": f"DPoP {token}",
                "DPoP": bank.holder.proof(method, bank.url("/v1/orders"), token=token),
            }
            return http.request(method, "/v1/orders", json=body, headers=headers)

        return list(await asyncio.gather(*(send(*call) for call in calls)))


async def burst(
    app: Any, bank: DelegatingApp, token: str, bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    return await send_all(app, [(bank, token, "POST", body) for body in bodies])


def assert_quota_problem(response: httpx.Response, quota: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"{BASE_URL}/problems/quota-exceeded"
    assert problem["context"]["quota"] == quota
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-remaining"] == "0"
    assert quota in problem["detail"]
    return problem


async def test_place_order_admits_exactly_the_orders_per_minute_of_a_3x_burst(
    client: TestClient[Any], platform: Platform, app: Any, trading_clock: FrozenClock
) -> None:
    bank, grant = trading_app(client, platform, quota_plan(platform, orders_per_minute=3))
    responses = await burst(app, bank, grant.access_token, [order(f"burst-{n}") for n in range(9)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [429] * 6, [r.text for r in responses if r.status_code not in (201, 429)]
    for response in responses:
        if response.status_code == 429:
            assert_quota_problem(response, "orders_per_minute")
            assert int(response.headers["retry-after"]) <= 60
    today = trading_clock.now().date()
    usage = platform.environments[Environment.PRODUCTION].usage.daily(bank.app.client_id, today, today)
    placed = next(count for count in usage if count.operation == "placeOrder")
    assert (placed.api_version, placed.requests, placed.throttled, placed.errors) == ("v1", 9, 6, 0)


async def test_place_order_admits_exactly_the_notional_per_day_of_a_3x_burst(
    client: TestClient[Any], platform: Platform, app: Any, trading_clock: FrozenClock
) -> None:
    instrument = platform.catalogue.get(CN_STOCK)
    one = 100 * platform.prices.reference_price(instrument, trading_clock.now())
    bank, grant = trading_app(client, platform, quota_plan(platform, notional_per_day=3 * one))
    responses = await burst(app, bank, grant.access_token, [order(f"notional-{n}") for n in range(9)])
    assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 6
    problem = assert_quota_problem(next(r for r in responses if r.status_code == 429), "notional_per_day")
    assert problem["context"]["limit"] == f"{3 * one:.2f}"


def test_a_replayed_client_order_id_is_not_charged_twice(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    bank, grant = trading_app(client, platform, quota_plan(platform, orders_per_minute=2))

    def place(client_order_id: str) -> httpx.Response:
        return bank.call(client, "POST", "/v1/orders", grant.access_token, json=order(client_order_id))

    assert place("first").status_code == 201
    replay = place("first")
    assert replay.status_code == 200, replay.text  # the first order again, not a second charge
    assert place("second").status_code == 201
    assert_quota_problem(place("third"), "orders_per_minute")
    assert place("first").status_code == 200  # a replay is never refused by the quota it did not use


def test_a_refused_order_is_not_stored_under_its_idempotency_key(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    instrument = platform.catalogue.get(CN_STOCK)
    one = 100 * platform.prices.reference_price(instrument, trading_clock.now())
    bank, grant = trading_app(client, platform, quota_plan(platform, notional_per_day=one))

    def place(client_order_id: str, key: str) -> httpx.Response:
        return bank.call(
            client, "POST", "/v1/orders", grant.access_token, json=order(client_order_id),
            headers={"Idempotency-Key": key},
        )  # fmt: skip

    assert place("day-1", "k-1").status_code == 201
    refused = place("day-2", "k-2")
    assert_quota_problem(refused, "notional_per_day")
    assert int(refused.headers["retry-after"]) == 22 * 3600  # 02:00 UTC: until the next UTC day
    trading_clock.advance(timedelta(hours=23, minutes=45))  # Tuesday 09:45 in Shanghai, a new UTC day
    refreshed = bank.refresh(client, grant.refresh_token)  # the access token expired meanwhile
    assert refreshed.status_code == 200, refreshed.text
    grant.access_token = refreshed.json()["access_token"]
    retried = place("day-2", "k-2")  # same key, same body: runs again instead of replaying the 429
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers


def pilot_partner(platform: Platform, caps: PilotCaps) -> str:
    """A partner that staff moved into pilot with these caps (partners/lifecycle.py)."""
    registry = platform.registry
    partner = registry.create_partner(
        name=f"Pilot bank {secrets.token_hex(4)}",
        type=PartnerType.INSTITUTION,
        region="CN",
        stage=PartnerStage.REVIEW,
    )
    registry.lifecycle.set_pilot_caps(partner.id, caps, actor="staff:test", reason="a small pilot")
    registry.lifecycle.move(
        partner.id,
        PartnerStage.PILOT,
        actor="staff:test",
        reason="review passed",
        override="a pilot bank without sandbox evidence",
    )
    return partner.id


async def test_the_pilot_customer_cap_admits_one_customer_out_of_three_concurrent(
    client: TestClient[Any], platform: Platform, app: Any, trading_clock: FrozenClock
) -> None:
    caps = PilotCaps(customers=1, daily_notional=Decimal("1000000.00"), daily_points=1000)
    partner_id = pilot_partner(platform, caps)
    bank, first = trading_app(client, platform, quota_plan(platform), partner_id=partner_id)
    grants = [first]
    for _ in range(2):  # the consent flow itself is not capped: it serves no data
        customer = seed_customer(platform, Environment.PRODUCTION, "zhang.min")
        grants.append(authorize(client, bank, customer, ["orders:read", "orders:write"]))

    responses = await send_all(app, [(bank, grant.access_token, "GET", None) for grant in grants * 3])

    served = {grants[n % 3].consent_id for n, r in enumerate(responses) if r.status_code == 200}
    assert len(served) == 1
    assert sorted(r.status_code for r in responses) == [200] * 3 + [403] * 6
    refused = next(r for r in responses if r.status_code == 403)
    problem = refused.json()
    assert problem["type"] == f"{BASE_URL}/problems/quota-exceeded"
    assert problem["context"] == {
        "quota": "pilot_customers",
        "limit": 1,
        "unit": "customers",
        "scope": "partner",
    }
    assert "retry-after" not in refused.headers  # the cap does not refill with time
    winner = next(g for g in grants if g.consent_id in served)
    assert bank.call(client, "GET", "/v1/orders", winner.access_token).status_code == 200


async def test_pilot_daily_notional_admits_exactly_the_cap_across_the_partners_apps(
    client: TestClient[Any], platform: Platform, app: Any, trading_clock: FrozenClock
) -> None:
    instrument = platform.catalogue.get(CN_STOCK)
    one = 100 * platform.prices.reference_price(instrument, trading_clock.now())
    caps = PilotCaps(customers=10, daily_notional=3 * one, daily_points=1000)
    partner_id = pilot_partner(platform, caps)
    plan_id = quota_plan(platform)
    apps = [trading_app(client, platform, plan_id, partner_id=partner_id) for _ in range(2)]

    calls: list[Call] = []
    for n in range(9):  # alternating between the partner's two apps
        bank, grant = apps[n % 2]
        calls.append((bank, grant.access_token, "POST", order(f"pilot-{n}")))
    responses = await send_all(app, calls)

    assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 6
    problem = assert_quota_problem(next(r for r in responses if r.status_code == 429), "pilot_daily_notional")
    assert problem["context"]["scope"] == "partner"
    assert problem["context"]["limit"] == f"{3 * one:.2f}"
