"""Usage metering: counts per app, UTC day, API version and operation match the calls made,
429s included; each environment meters apart; `GET /v1/usage` and `GET /admin/usage` read them
(rules: partners/usage.py)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Final

import pytest
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.edge.metering import UsageMeter
from gateway.services import Platform
from gateway.settings import Settings, SettingsError
from gateway.storage.usage import SqlUsageCounters
from partners.models import Plan
from partners.usage import Tally, UsageCount, UsageKey, api_version_of, outcome, totals
from sandbox.clock import FrozenClock
from tests.conftest import BASE_URL
from tests.support import (
    ALL_INSTITUTION_SCOPES,
    database_of,
    dpop_capable,
    register_app,
    staff_app,
    wait_until,
)

INSTRUMENTS: Final = "/v1/market/instruments"
MISSING: Final = "/v1/market/instruments/ins_0000000000"
SCOPES: Final = (*ALL_INSTITUTION_SCOPES, Scope.REPORTS_READ)


def by_operation(counts: list[UsageCount]) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(c.api_version, c.operation): (c.requests, c.throttled, c.errors) for c in counts}


# -- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Tally(1, 0, 0)),
        (201, Tally(1, 0, 0)),
        (304, Tally(1, 0, 0)),
        (404, Tally(1, 0, 1)),
        (422, Tally(1, 0, 1)),
        (429, Tally(1, 1, 0)),
        (500, Tally(1, 0, 1)),
        (503, Tally(1, 0, 1)),
    ],
)
def test_what_one_answer_counts(status: int, expected: Tally) -> None:
    assert outcome(status) == expected


@pytest.mark.parametrize(
    ("template", "version"),
    [
        ("/v1/orders/{order_id:str}", "v1"),
        ("/v1/usage", "v1"),
        ("/v2", "v2"),
        ("/admin/usage", "admin"),
        ("/", "other"),
        ("", "other"),
    ],
)
def test_the_api_version_is_the_first_path_segment(template: str, version: str) -> None:
    assert api_version_of(template) == version


class FlakyStore:
    def __init__(self) -> None:
        self.failures = 1
        self.rows: dict[UsageKey, Tally] = {}

    def add(self, batch: Mapping[UsageKey, Tally]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        for key, tally in batch.items():
            self.rows[key] = self.rows.get(key, Tally()) + tally

    def daily(self, client_id: str, since: date, until: date) -> list[UsageCount]:
        return [
            UsageCount(k.day, k.api_version, k.operation, t.requests, t.throttled, t.errors)
            for k, t in self.rows.items()
            if k.client_id == client_id and since <= k.day <= until
        ]

    def by_app(
        self, since: date, until: date, *, partner_id: str | None = None, client_id: str | None = None
    ) -> list[tuple[str, str, UsageCount]]:
        return []


def test_a_failed_flush_keeps_the_counts_for_the_next_one() -> None:
    store = FlakyStore()
    meter = UsageMeter(store)
    key = UsageKey("live_a", "prt_a", date(2026, 11, 23), "v1", "listInstruments")
    meter.record(key, outcome(200))
    with pytest.raises(ConnectionError):
        meter.flush()
    meter.record(key, outcome(429))  # arrives while the failed batch waits
    assert meter.daily("live_a", key.day, key.day) == [UsageCount(key.day, "v1", "listInstruments", 2, 1, 0)]
    meter.flush()  # nothing pending: adds nothing twice
    assert totals(store.daily("live_a", key.day, key.day)) == Tally(2, 1, 0)


# -- storage: workers' batches add up (both backends) -------------------------------------------


@pytest.mark.usefixtures("client")  # its lifespan closes the app's database pools
def test_two_workers_flushing_the_same_counter_add_up(platform: Platform) -> None:
    database = database_of(platform, Environment.PRODUCTION)
    workers = [UsageMeter(SqlUsageCounters(database)), UsageMeter(SqlUsageCounters(database))]
    client_id, day = f"live_{secrets.token_hex(6)}", date(2026, 11, 23)
    key = UsageKey(client_id, "prt_x", day, "v1", "placeOrder")
    other_day = UsageKey(client_id, "prt_x", day + timedelta(days=1), "v1", "placeOrder")
    for n, worker in enumerate(workers):
        worker.record(key, outcome(201))
        worker.record(key, outcome(429 if n else 422))
        worker.record(other_day, outcome(500))
        worker.flush()
    workers[0].record(key, outcome(200))
    workers[0].flush()
    counts = workers[1].daily(client_id, day, day + timedelta(days=1))
    assert counts == [
        UsageCount(day, "v1", "placeOrder", 5, 1, 1),
        UsageCount(day + timedelta(days=1), "v1", "placeOrder", 2, 0, 2),
    ]
    assert workers[0].daily(client_id, day, day) == counts[:1]  # `until` is included, later days are not


# -- over HTTP ----------------------------------------------------------------------------------


def test_counts_match_the_calls_made_including_429s_and_errors(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    plan_id = f"usage-{secrets.token_hex(4)}"
    platform.registry.store.upsert_plan(Plan(plan_id, "Five a minute", ("5/minute",)))
    partner = register_app(platform, plan=plan_id, scopes=SCOPES)
    headers = partner.headers(client)
    statuses = [client.get(INSTRUMENTS, headers=headers).status_code for _ in range(3)]
    statuses.append(client.get(MISSING, headers=headers).status_code)
    statuses += [client.get(INSTRUMENTS, headers=headers).status_code for _ in range(3)]
    statuses.append(client.get(MISSING, headers=headers).status_code)
    client.get(INSTRUMENTS, headers={"Authorization": "Bearer not-a-token"})  # no app: not metered
    assert statuses == [200, 200, 200, 404, 200, 429, 429, 429]

    today = clock.now().date()
    counts = platform.environments[Environment.PRODUCTION].usage.daily(partner.client_id, today, today)

    assert by_operation(counts) == {("v1", "listInstruments"): (6, 2, 0), ("v1", "getInstrument"): (2, 1, 1)}
    assert {c.day for c in counts} == {today}


def test_each_environment_meters_apart_and_days_are_utc_days_of_the_clock(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    live = register_app(platform, scopes=SCOPES)
    sandbox = register_app(
        platform, scopes=SCOPES, partner_id=live.partner_id, environment=Environment.SANDBOX
    )
    live_headers, sandbox_headers = live.headers(client), sandbox.headers(client)
    assert client.get(INSTRUMENTS, headers=live_headers).status_code == 200
    for _ in range(2):
        assert client.get(f"/sandbox{INSTRUMENTS}", headers=sandbox_headers).status_code == 200
    today = clock.now().date()
    tomorrow = today + timedelta(days=1)
    clock.advance(timedelta(days=1))
    assert client.get(f"/sandbox{INSTRUMENTS}", headers=sandbox.headers(client)).status_code == 200

    production = platform.environments[Environment.PRODUCTION].usage
    in_sandbox = platform.environments[Environment.SANDBOX].usage
    assert by_operation(production.daily(live.client_id, today, tomorrow)) == {
        ("v1", "listInstruments"): (1, 0, 0)
    }
    assert production.daily(sandbox.client_id, today, tomorrow) == []
    assert in_sandbox.daily(sandbox.client_id, today, tomorrow) == [
        UsageCount(today, "v1", "listInstruments", 2, 0, 0),
        UsageCount(tomorrow, "v1", "listInstruments", 1, 0, 0),
    ]


def test_get_usage_reports_the_calling_apps_own_usage(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    partner = register_app(platform, scopes=SCOPES)
    neighbour = register_app(platform, scopes=SCOPES, partner_id=partner.partner_id)
    headers = partner.headers(client)
    for _ in range(2):
        client.get(INSTRUMENTS, headers=headers)
    client.get(MISSING, headers=headers)
    client.get(INSTRUMENTS, headers=neighbour.headers(client))  # another app: not in this report
    first = client.get("/v1/usage", headers=headers)
    assert first.status_code == 200, first.text

    report = client.get("/v1/usage", headers=headers).json()

    today = clock.now().date()
    assert report["object"] == "usage"
    assert report["client_id"] == partner.client_id
    assert (report["from"], report["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    assert report["totals"] == {
        "requests": 4,
        "throttled": 0,
        "errors": 1,
    }  # the first read counts, this one not yet
    assert report["data"] == [
        {
            "day": today.isoformat(),
            "api_version": "v1",
            "operation": op,
            "requests": r,
            "throttled": 0,
            "errors": e,
        }
        for op, r, e in (("getInstrument", 1, 1), ("getUsage", 1, 0), ("listInstruments", 2, 0))
    ]
    old = client.get("/v1/usage", headers=headers, params={"from": "2026-01-01", "to": "2026-01-31"}).json()
    assert (old["data"], old["totals"]["requests"]) == ([], 0)


BAD_PERIODS: Final = (
    ({"from": "2026-11-20", "to": "2026-11-19"}, "from", "on or before"),
    ({"from": "2025-01-01", "to": "2026-11-19"}, "from", "at most 366 days"),
    ({"from": "yesterday"}, "from", "YYYY-MM-DD"),
    ({"from": "2026-11-1"}, "from", "YYYY-MM-DD"),
    ({"to": "2026-13-01"}, "to", "YYYY-MM-DD"),
    ({"to": "20261101"}, "to", "YYYY-MM-DD"),
    ({"to": "2026-11-0100"}, "to", "YYYY-MM-DD"),  # Python 3.11 alone would read it as 2026-11-01
    ({"to": "0001-01-01"}, "to", "between 2000-01-01 and 2099-12-31"),  # no overflow into a 500
)


def test_get_usage_refuses_a_bad_period_naming_the_field(client: TestClient[Any], platform: Platform) -> None:
    headers = register_app(platform, scopes=SCOPES).headers(client)
    for params, field, message in BAD_PERIODS:
        response = client.get("/v1/usage", headers=headers, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert message in problem["detail"], params
        assert problem["context"]["field"] == field, params


def test_get_usage_needs_reports_read(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    partner = register_app(platform)  # no reports:read
    assert client.get("/v1/usage", headers=partner.headers(client)).status_code == 403
    today = clock.now().date()  # refused by the authentication middleware: no app, not metered
    assert platform.environments[Environment.PRODUCTION].usage.daily(partner.client_id, today, today) == []


def test_staff_read_every_apps_usage_per_environment(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    live = register_app(platform, scopes=SCOPES)
    sandbox = register_app(
        platform, scopes=SCOPES, partner_id=live.partner_id, environment=Environment.SANDBOX
    )
    other = register_app(platform, scopes=SCOPES)
    client.get(INSTRUMENTS, headers=live.headers(client))
    client.get(f"/sandbox{INSTRUMENTS}", headers=sandbox.headers(client))
    client.get(INSTRUMENTS, headers=other.headers(client))
    officer = staff_app(platform)
    staff_headers = officer.headers(client)
    today = clock.now().date().isoformat()

    production = client.get("/admin/usage", headers=staff_headers, params={"partner_id": live.partner_id})
    in_sandbox = client.get(
        "/admin/usage",
        headers=staff_headers,
        params={"partner_id": live.partner_id, "environment": "sandbox"},
    )
    staff_own = client.get("/admin/usage", headers=staff_headers, params={"client_id": officer.client_id})

    assert production.status_code == 200, production.text
    row = {"day": today, "api_version": "v1", "operation": "listInstruments", "requests": 1, "throttled": 0,
           "errors": 0, "partner_id": live.partner_id}  # fmt: skip
    assert production.json()["data"] == [{**row, "client_id": live.client_id}]
    assert production.json()["environment"] == "production"
    assert in_sandbox.json()["data"] == [{**row, "client_id": sandbox.client_id}]
    staff_rows = staff_own.json()["data"]
    assert [(r["api_version"], r["operation"], r["requests"]) for r in staff_rows] == [
        ("admin", "adminGetUsage", 2)
    ]
    partner_token = live.headers(client)
    assert (
        client.get("/admin/usage", headers=partner_token).status_code == 401
    )  # partner tokens: wrong audience


# -- the flush: periodic, at shutdown ------------------------------------------------------------


def metered_app(settings: Settings, clock: FrozenClock, flush_seconds: int) -> Any:
    changes = {"usage_flush_seconds": flush_seconds, "background_jobs": True}
    return create_app(settings.with_changes(**changes), clock=clock)


def stored(platform: Platform, client_id: str, day: date) -> list[UsageCount]:
    """The table itself, without the flush a read through the meter makes first."""
    return SqlUsageCounters(database_of(platform, Environment.PRODUCTION)).daily(client_id, day, day)


def test_workers_flush_their_counts_periodically(settings: Settings, clock: FrozenClock) -> None:
    application = metered_app(settings, clock, flush_seconds=1)
    platform: Platform = application.state.platform
    try:
        with TestClient(app=application, base_url=BASE_URL) as http:
            dpop_capable(http)
            partner = register_app(platform, scopes=SCOPES)
            assert http.get(INSTRUMENTS, headers=partner.headers(http)).status_code == 200
            today = clock.now().date()
            wait_until(lambda: stored(platform, partner.client_id, today) != [], timeout=10)
            assert by_operation(stored(platform, partner.client_id, today)) == {
                ("v1", "listInstruments"): (1, 0, 0)
            }
    finally:
        for services in platform.environments.values():
            services.database.dispose()


def test_the_shutdown_flushes_what_is_left(settings: Settings, clock: FrozenClock) -> None:
    application = metered_app(settings, clock, flush_seconds=300)
    platform: Platform = application.state.platform
    try:
        with TestClient(app=application, base_url=BASE_URL) as http:
            dpop_capable(http)
            partner = register_app(platform, scopes=SCOPES)
            assert http.get(MISSING, headers=partner.headers(http)).status_code == 404
            today = clock.now().date()
            assert stored(platform, partner.client_id, today) == []  # still in the worker's buffer
        assert by_operation(stored(platform, partner.client_id, today)) == {
            ("v1", "getInstrument"): (1, 0, 1)
        }
    finally:
        for services in platform.environments.values():
            services.database.dispose()


def test_the_flush_interval_is_bounded() -> None:
    for bad in ("0", "301", "soon"):
        with pytest.raises(SettingsError, match="USAGE_FLUSH_SECONDS"):
            Settings.from_env({"USAGE_FLUSH_SECONDS": bad})
    assert Settings.from_env({"USAGE_FLUSH_SECONDS": "2"}).usage_flush_seconds == 2
