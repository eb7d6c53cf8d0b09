"""Points conversion over HTTP: a lifestyle platform publishes valuations (its own token), quotes
and converts under a customer's consent (exactly once, limits and caps as 403 problems), cools
off, and reconciles its day as JSON and CSV; nothing of one partner or customer leaks to another."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from partners.models import PartnerType, Plan
from sandbox.clock import FrozenClock
from tests.delegation import DelegatingApp, Grant, authorize, delegating_app, seed_customer
from tests.support import database_of
from tests.trading import CN_MONEY_MARKET, CN_MORNING, assert_ledger_balanced, build_desk

SHOP_SCOPES = (
    Scope.CONSENTS_MANAGE,
    Scope.POINTS_CONVERT,
    Scope.POINTS_VALUATIONS_WRITE,
    Scope.REPORTS_READ,
)
LIMIT = {"type": "points_conversion", "funds": ["F000001"], "max_points_per_month": 5000,
         "max_points_per_conversion": 2000}  # fmt: skip


@pytest.fixture
def points_clock(clock: FrozenClock) -> FrozenClock:
    clock.set(CN_MORNING)
    return clock


def shop(platform: Platform) -> DelegatingApp:
    return delegating_app(platform, scopes=SHOP_SCOPES, partner_type=PartnerType.LIFESTYLE_PLATFORM)


def shopper(
    client: TestClient[Any], platform: Platform, app: DelegatingApp, *, limits: list[Any] | None = None
) -> tuple[Grant, str]:
    customer = seed_customer(platform, Environment.PRODUCTION, "li.wei")
    grant = authorize(client, app, customer, ["points:convert"], limits=[LIMIT] if limits is None else limits)
    return grant, customer.id


def own(client: TestClient[Any], app: DelegatingApp, scope: Scope) -> dict[str, str]:
    """Headers for the partner's own calls (client credentials; the DPoP proof is added per request)."""
    return app.app.headers(client, scope.value)


def publish(client: TestClient[Any], app: DelegatingApp, **terms: Any) -> Any:
    now = app.app.clock.now()
    body = {"points": 100, "amount": "1.00", "currency": "CNY",
            "valid_until": (now + timedelta(days=30)).isoformat(), **terms}  # fmt: skip
    return client.post(
        "/v1/points/valuations", json=body, headers=own(client, app, Scope.POINTS_VALUATIONS_WRITE)
    )


def quote(client: TestClient[Any], app: DelegatingApp, grant: Grant, points: int, **terms: Any) -> Any:
    body = {"instrument_id": CN_MONEY_MARKET, "points": points, **terms}
    return app.call(client, "POST", "/v1/points/quotes", grant.access_token, json=body)


def convert(
    client: TestClient[Any], app: DelegatingApp, grant: Grant, body: dict[str, Any], key: str | None = None
) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return app.call(client, "POST", "/v1/points/conversions", grant.access_token, json=body, headers=headers)


def test_valuation_quote_conversion_and_cooling_off(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    app = shop(platform)
    published = publish(client, app)
    assert published.status_code == 201, published.text
    assert published.json()["valuation_id"].startswith("pvl_")
    listed = client.get("/v1/points/valuations", headers=own(client, app, Scope.POINTS_VALUATIONS_WRITE))
    assert [v["valuation_id"] for v in listed.json()["data"]] == [published.json()["valuation_id"]]
    grant, _ = shopper(client, platform, app)

    quoted = quote(client, app, grant, 1234)
    assert quoted.status_code == 201, quoted.text
    offer = quoted.json()
    assert (offer["points"], offer["amount"], offer["currency"], offer["fund_code"]) == (
        1234,
        "12.34",
        "CNY",
        "F000001",
    )
    assert (offer["minimum_subscription"], offer["dealing_day"], offer["suitability"]) == (
        "1.00",
        "2026-11-23",
        "suitable",
    )
    assert offer["expires_at"] == (points_clock.now() + timedelta(seconds=60)).isoformat().replace(
        "+00:00", "Z"
    )

    body = {"partner_conversion_id": "shop-order-1", "quote_id": offer["quote_id"]}
    first = convert(client, app, grant, body, key="k-1")
    assert first.status_code == 201, first.text
    conversion = first.json()
    assert (conversion["state"], conversion["points"], conversion["amount"]) == ("accepted", 1234, "12.34")
    replay = convert(client, app, grant, body, key="k-1")  # Idempotency-Key: a byte-identical replay
    assert (replay.status_code, replay.content) == (201, first.content)
    again = convert(client, app, grant, body, key="k-2")  # a new key: partner_conversion_id answers
    assert again.status_code == 200
    assert again.json()["conversion_id"] == conversion["conversion_id"]
    other = quote(client, app, grant, 500).json()
    clash = convert(
        client, app, grant, {"partner_conversion_id": "shop-order-1", "quote_id": other["quote_id"]}
    )
    assert clash.status_code == 409
    assert clash.json()["context"]["field"] == "partner_conversion_id"

    path = f"/v1/points/conversions/{conversion['conversion_id']}"
    assert app.call(client, "GET", path, grant.access_token).json()["state"] == "accepted"
    page = app.call(client, "GET", "/v1/points/conversions?limit=1", grant.access_token).json()
    assert [c["conversion_id"] for c in page["data"]] == [conversion["conversion_id"]]
    assert page["has_more"] is False
    undone = app.call(client, "POST", f"{path}/cooling-off-cancellation", grant.access_token)
    assert undone.status_code == 200, undone.text
    assert (undone.json()["state"], undone.json()["points_returned"]) == ("reversed", 1234)
    twice = app.call(client, "POST", f"{path}/cooling-off-cancellation", grant.access_token)
    assert twice.status_code == 409


def test_the_plan_counts_the_points_of_new_conversions_only(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    plan = Plan(f"points-{secrets.token_hex(4)}", "Points test", ("1000/second",), points_per_day=1500)
    platform.registry.store.upsert_plan(plan)
    app = delegating_app(
        platform, scopes=SHOP_SCOPES, partner_type=PartnerType.LIFESTYLE_PLATFORM, plan=plan.id
    )
    assert publish(client, app).status_code == 201
    grant, _ = shopper(client, platform, app, limits=[])

    def conversion(partner_conversion_id: str, points: int) -> Any:
        offer = quote(client, app, grant, points).json()
        body = {"partner_conversion_id": partner_conversion_id, "quote_id": offer["quote_id"]}
        return convert(client, app, grant, body), body

    first, body = conversion("basket-1", 1000)
    assert first.status_code == 201, first.text
    assert convert(client, app, grant, body).status_code == 200  # a replay: charged once, when made
    refused, _ = conversion("basket-2", 600)
    assert refused.status_code == 429, refused.text
    assert refused.json()["context"]["quota"] == "points_per_day"
    assert "retry-after" in refused.headers
    fits, _ = conversion("basket-3", 500)  # the refusal consumed nothing: 1000 + 500 fit exactly
    assert fits.status_code == 201, fits.text


def test_limits_and_the_daily_cap_are_403_problems_naming_them(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    app = shop(platform)
    publish(client, app)
    grant, _ = shopper(client, platform, app)
    per_conversion = quote(client, app, grant, 2001)
    assert per_conversion.status_code == 403
    problem = per_conversion.json()
    assert problem["type"].endswith("/limit-exceeded")
    assert problem["context"]["limit"] == "points_conversion.max_points_per_conversion"
    other_fund = quote(client, app, grant, 1500, instrument_id="ins_lq72t5v5r5")
    assert other_fund.json()["context"]["limit"] == "points_conversion.funds"
    for number in range(2):
        offer = quote(client, app, grant, 2000).json()
        done = convert(
            client, app, grant, {"partner_conversion_id": f"ok-{number}", "quote_id": offer["quote_id"]}
        )
        assert done.status_code == 201, done.text
    offer = quote(client, app, grant, 1001).json()
    refused = convert(client, app, grant, {"partner_conversion_id": "over", "quote_id": offer["quote_id"]})
    assert refused.status_code == 403
    assert refused.json()["context"]["limit"] == "points_conversion.max_points_per_month"
    rejected_id = refused.json()["context"]["conversion_id"]
    stored = app.call(client, "GET", f"/v1/points/conversions/{rejected_id}", grant.access_token).json()
    assert stored["state"] == "rejected"
    assert [r["code"] for r in stored["reasons"]] == ["max_points_per_month"]
    # The daily cap (20,000 points a customer a day) binds over every consent and partner.
    roomy = {**LIMIT, "max_points_per_month": 100000, "max_points_per_conversion": 20000}
    big_shop = shop(platform)
    publish(client, big_shop)
    customer = seed_customer(platform, Environment.PRODUCTION, "li.wei")
    big = authorize(client, big_shop, customer, ["points:convert"], limits=[roomy])
    offer = quote(client, big_shop, big, 20000).json()
    assert (
        convert(
            client, big_shop, big, {"partner_conversion_id": "a", "quote_id": offer["quote_id"]}
        ).status_code
        == 201
    )
    offer = quote(client, big_shop, big, 100).json()
    capped = convert(client, big_shop, big, {"partner_conversion_id": "b", "quote_id": offer["quote_id"]})
    assert capped.status_code == 403
    assert capped.json()["context"]["limit"] == "daily_points_cap"


def test_no_conversion_of_one_partner_or_customer_is_visible_to_another(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    app = shop(platform)
    publish(client, app)
    grant, _ = shopper(client, platform, app)
    offer = quote(client, app, grant, 500).json()
    made = convert(
        client, app, grant, {"partner_conversion_id": "mine", "quote_id": offer["quote_id"]}
    ).json()
    path = f"/v1/points/conversions/{made['conversion_id']}"
    rival = shop(platform)
    publish(client, rival)
    rival_grant, _ = shopper(client, platform, rival)
    assert rival.call(client, "GET", path, rival_grant.access_token).status_code == 404
    assert (
        rival.call(client, "POST", f"{path}/cooling-off-cancellation", rival_grant.access_token).status_code
        == 404
    )
    assert rival.call(client, "GET", "/v1/points/conversions", rival_grant.access_token).json()["data"] == []
    stolen = convert(
        client, rival, rival_grant, {"partner_conversion_id": "x", "quote_id": offer["quote_id"]}
    )
    assert stolen.status_code == 404  # another partner's quote does not exist for this one
    neighbour, _ = shopper(client, platform, app)  # same partner, another customer
    assert app.call(client, "GET", path, neighbour.access_token).status_code == 404
    # A partner-own token has no customer: no conversions.
    headers = own(client, app, Scope.REPORTS_READ)
    assert client.get("/v1/points/conversions", headers=headers).status_code in (403, 404)


BAD_INPUT = [
    ("/v1/points/quotes", {"instrument_id": CN_MONEY_MARKET, "points": 1.5}, "points"),
    ("/v1/points/quotes", {"instrument_id": CN_MONEY_MARKET, "points": 0}, "points"),
    ("/v1/points/quotes", {"instrument_id": CN_MONEY_MARKET, "points": 100, "amount": "1.00"}, "amount"),
    ("/v1/points/quotes", {"instrument_id": "F000001", "points": 100}, "instrument_id"),
    ("/v1/points/quotes", {"instrument_id": "ins_br6lly2jbc", "points": 100}, "instrument_id"),  # a stock
    ("/v1/points/conversions", {"partner_conversion_id": "a", "quote_id": "q"}, "quote_id"),
    ("/v1/points/conversions", {"partner_conversion_id": "a b", "quote_id": "pqt_" + "0" * 20},
     "partner_conversion_id"),
    ("/v1/points/conversions",
     {"partner_conversion_id": "a", "quote_id": "pqt_" + "0" * 20, "state": "settled"}, "state"),
]  # fmt: skip
BAD_VALUATIONS: list[dict[str, Any]] = [
    {"amount": "1.001"},
    {"amount": 1.0},
    {"amount": "0"},
    {"points": -5},
    {"points": 1.5},
    {"valid_until": "2026-11-30T00:00:00"},  # no offset
    {"valid_from": "2026-11-01T00:00:00Z"},  # in the past
    {"valid_until": "2026-11-22T00:00:00Z"},  # before valid_from (now)
    {"currency": "XYZ"},
    {"partner_id": "ptn_someoneelse"},  # server-owned: mass assignment is refused
]


def test_bad_input_is_a_422_problem_naming_the_field(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    app = shop(platform)
    publish(client, app)
    grant, _ = shopper(client, platform, app)
    for path, body, field in BAD_INPUT:
        response = app.call(client, "POST", path, grant.access_token, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in response.text, (body, response.text)
    for terms in BAD_VALUATIONS:
        refused = publish(client, app, **terms)
        assert refused.status_code == 422, (terms, refused.text)
    assert (
        len(
            client.get(
                "/v1/points/valuations", headers=own(client, app, Scope.POINTS_VALUATIONS_WRITE)
            ).json()["data"]
        )
        == 1
    )


def test_overlapping_valuation_is_a_409(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    app = shop(platform)
    first = publish(client, app).json()
    clash = publish(client, app, points=50)
    assert clash.status_code == 409
    assert clash.json()["context"]["valuation_id"] == first["valuation_id"]


def test_reconciliation_as_json_and_csv(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    app = shop(platform)
    publish(client, app, points=150)  # 1.5 points a cent: 1000 points take 999
    grant, _ = shopper(client, platform, app)
    ids = []
    for number, points in enumerate((1000, 1500, 1501)):
        offer = quote(client, app, grant, points).json()
        made = convert(
            client, app, grant, {"partner_conversion_id": f"r-{number}", "quote_id": offer["quote_id"]}
        )
        ids.append(made.json().get("conversion_id") or made.json()["context"]["conversion_id"])
    app.call(client, "POST", f"/v1/points/conversions/{ids[1]}/cooling-off-cancellation", grant.access_token)
    headers = own(client, app, Scope.REPORTS_READ)
    report = client.get("/v1/points/reconciliation?date=2026-11-23", headers=headers)
    assert report.status_code == 200, report.text
    body = report.json()
    # 999 + 1500 taken; 1501 more would pass the month (5000) but not... all three fit: 999+1500+1500.
    assert body["points_taken"] == body["points_converted"] + body["points_returned"]
    assert (body["points_converted"], body["points_returned"]) == (999 + 1500, 1500)
    assert body["balanced"] is True
    states = {line["state"]: line for line in body["lines"]}
    assert states["accepted"]["count"] == 2
    assert states["reversed"]["points_returned"] == 1500
    table = client.get("/v1/points/reconciliation.csv?date=2026-11-23", headers=headers)
    assert table.status_code == 200
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    figures = {r["state"]: int(r["points"]) for r in rows if r["record"] == "figure"}
    assert figures == {"points_taken": body["points_taken"], "points_converted": body["points_converted"],
                       "points_returned": 1500, "points_rejected": 0, "balanced": 1}  # fmt: skip
    empty = client.get("/v1/points/reconciliation?date=2026-11-24", headers=headers).json()
    assert (empty["lines"], empty["points_taken"]) == ([], 0)
    assert client.get("/v1/points/reconciliation?date=yesterday", headers=headers).status_code in (400, 422)
    # A delegated token is not the partner's own: no reports.
    assert (
        app.call(client, "GET", "/v1/points/reconciliation?date=2026-11-23", grant.access_token).status_code
        == 403
    )


def test_the_jobs_move_a_conversion_to_settled_and_the_ledger_balances(
    client: TestClient[Any], platform: Platform, points_clock: FrozenClock
) -> None:
    app = shop(platform)
    publish(client, app)
    grant, _ = shopper(client, platform, app)
    offer = quote(client, app, grant, 1500).json()
    made = convert(client, app, grant, {"partner_conversion_id": "job", "quote_id": offer["quote_id"]}).json()
    services = platform.environments[Environment.PRODUCTION]
    for moment in (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), datetime(2026, 11, 23, 16, 0, tzinfo=UTC)):
        points_clock.set(moment)
        services.fund_dealing.deal()
        services.points.advance()
    settled = services.points.store.get_conversion(made["conversion_id"])  # the token expired meanwhile
    assert settled is not None
    assert settled.state.value == "settled"
    assert settled.units > 0
    assert_ledger_balanced(build_desk(database_of(platform, Environment.PRODUCTION), points_clock))
