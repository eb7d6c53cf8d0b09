"""Test clocks through the API and the SDK: a persona on a clock trades in the clock's time, an
advance runs the jobs due in the span in order (allotment after the NAV cut-off, the cooling-off
window closing, consent expiry), and no other app's or real-time object moves."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from openplatform import errors

from gateway.domain.environment import Environment
from gateway.domain.market import calendar
from gateway.domain.market.models import Market
from gateway.domain.scopes import Scope
from gateway.services import Platform
from sandbox.clocks import MAX_CLOCKS, MAX_SPAN
from sandbox.personas import load_personas
from tests.delegation import DelegatingApp, delegating_app, hidden, redirect_parameters
from tests.gateway.apis.v1.test_testing import sign_in_through_app
from tests.trading import CN_MONEY_MARKET, CN_STOCK

SANDBOX = Environment.SANDBOX
SCOPES = (
    Scope.CONSENTS_MANAGE,
    Scope.ACCOUNTS_READ,
    Scope.ORDERS_READ,
    Scope.ORDERS_WRITE,
    Scope.SANDBOX_TESTING,
)
PERMISSIONS = ["accounts:read", "orders:read", "orders:write"]


def next_cn_morning(after: datetime) -> datetime:
    """10:00 in Shanghai on the first trading day at least two days after `after`."""
    day = calendar.next_trading_day(Market.CN, (after + timedelta(days=2)).date())
    return datetime.combine(day, time(2, 0), tzinfo=UTC)


def trader(client: TestClient[Any], platform: Platform) -> tuple[DelegatingApp, str]:
    """A sandbox app and a delegated token of its copy of li.wei (CN, C2)."""
    partner = delegating_app(platform, SANDBOX, scopes=SCOPES)
    browser, authorize_url = sign_in_through_app(client, partner, "li.wei", PERMISSIONS)
    screen = browser.get(authorize_url)
    decision = {
        "csrf_token": hidden(screen.text, "csrf_token"),
        "transaction_id": hidden(screen.text, "transaction_id"),
        "decision": "approve",
        "scope": PERMISSIONS,
    }
    answer = redirect_parameters(browser.post(f"{partner.prefix}/oauth2/authorize/decision", data=decision))
    token = partner.redeem(client, answer["code"])
    assert token.status_code == 200, token.text
    return partner, token.json()["access_token"]


def call(
    client: TestClient[Any], partner: DelegatingApp, method: str, path: str, token: str, **kw: Any
) -> Any:
    response = partner.call(client, method, path, token, **kw)
    assert response.status_code < 300, response.text
    return response.json()


def subscription(client_order_id: str) -> dict[str, Any]:
    return {
        "client_order_id": client_order_id,
        "instrument_id": CN_MONEY_MARKET,
        "side": "buy",
        "order_type": "fund_subscription",
        "amount": "100.00",
    }


def test_a_clock_is_created_listed_read_and_deleted_through_the_sdk(
    client: TestClient[Any], platform: Platform
) -> None:
    partner = delegating_app(platform, SANDBOX, scopes=SCOPES)
    sdk = partner.app.sdk(client)
    start = next_cn_morning(platform.clock.now())
    clock = sdk.testing.create_test_clock(frozen_time=start, personas=["li.wei", "zhang.min"], name="cut-off")
    assert clock.frozen_time == start
    assert clock.personas == ["li.wei", "zhang.min"]
    assert [c.id for c in sdk.testing.list_test_clocks().data] == [clock.id]
    assert sdk.testing.get_test_clock(clock.id).name == "cut-off"
    with pytest.raises(errors.ConflictError):  # a persona runs on one clock at a time
        sdk.testing.create_test_clock(frozen_time=start, personas=["li.wei"])
    with pytest.raises(errors.RuleViolationError):  # never behind the present
        sdk.testing.create_test_clock(
            frozen_time=platform.clock.now() - timedelta(hours=1), personas=["john.doe"]
        )
    with pytest.raises(errors.RuleViolationError):
        sdk.testing.create_test_clock(frozen_time=start, personas=["nobody.here"])
    with pytest.raises(errors.RuleViolationError):  # a clock only moves forward
        sdk.testing.advance_test_clock(clock.id, frozen_time=start - timedelta(minutes=1))
    sdk.testing.delete_test_clock(clock.id)
    assert sdk.testing.list_test_clocks().data == []
    other = delegating_app(platform, SANDBOX, scopes=SCOPES).app.sdk(client)
    with pytest.raises(errors.NotFoundError):  # another app's clock is not found, like an unknown one
        other.testing.get_test_clock(clock.id)


def test_a_persona_on_a_clock_trades_in_its_time_and_an_advance_runs_what_falls_due(
    client: TestClient[Any], platform: Platform
) -> None:
    partner, token = trader(client, platform)
    sdk = partner.app.sdk(client)
    start = next_cn_morning(platform.clock.now())
    clock = sdk.testing.create_test_clock(frozen_time=start, personas=["li.wei"])

    stock = {"instrument_id": CN_STOCK, "side": "buy", "order_type": "market", "quantity": "100"}
    preview = call(client, partner, "POST", "/v1/orders/preview", token, json=stock)
    assert {c["code"]: c["status"] for c in preview["checks"]}[
        "trading_hours"
    ] == "passed"  # 10:00 in Shanghai

    order = call(client, partner, "POST", "/v1/orders", token, json=subscription("f1"),
                 headers={"Idempotency-Key": "f1"})  # fmt: skip
    assert datetime.fromisoformat(order["created_at"]) == start  # created in the clock's time
    assert order["status"] == "open"

    # Past the 15:00 cut-off and the NAV's publication: the subscription is allotted.
    evening = start + timedelta(hours=12)
    advance = sdk.testing.advance_test_clock(clock.id, frozen_time=evening)
    assert advance.clock.frozen_time == evening
    assert advance.moved["fund_orders_dealt"] == 1
    allotted = call(client, partner, "GET", f"/v1/orders/{order['order_id']}", token)
    assert allotted["status"] == "filled"

    # Past 48 hours after acceptance: the cooling-off window has closed.
    sdk.testing.advance_test_clock(clock.id, frozen_time=start + timedelta(hours=49))
    late = partner.call(
        client, "POST", f"/v1/orders/{order['order_id']}/cooling-off-cancellation", token,
        headers={"Idempotency-Key": "cool-1"},
    )  # fmt: skip
    assert late.status_code == 409, late.text
    assert "48" in late.json()["detail"]

    # The weekend: outside market hours, whatever the real time is.
    later = start + timedelta(hours=49)
    saturday = later + timedelta(days=(5 - later.weekday()) % 7 or 7)
    sdk.testing.advance_test_clock(clock.id, frozen_time=saturday)
    closed = call(client, partner, "POST", "/v1/orders/preview", token, json=stock)
    assert {c["code"]: c["status"] for c in closed["checks"]}["market_closed"] == "failed"


def test_an_advance_never_moves_another_apps_objects(client: TestClient[Any], platform: Platform) -> None:
    clocked = delegating_app(platform, SANDBOX, scopes=SCOPES)
    bystander, bystander_token = trader(client, platform)
    start = next_cn_morning(platform.clock.now())
    clock = clocked.app.sdk(client).testing.create_test_clock(frozen_time=start, personas=["li.wei"])
    order = call(client, bystander, "POST", "/v1/orders", bystander_token, json=subscription("b1"),
                 headers={"Idempotency-Key": "b1"})  # fmt: skip
    clocked.app.sdk(client).testing.advance_test_clock(clock.id, frozen_time=start + timedelta(days=3))
    assert (
        call(client, bystander, "GET", f"/v1/orders/{order['order_id']}", bystander_token)["status"] == "open"
    )


def test_consent_expiry_follows_the_clock(client: TestClient[Any], platform: Platform) -> None:
    partner, token = trader(client, platform)
    sdk = partner.app.sdk(client)
    start = next_cn_morning(platform.clock.now())
    clock = sdk.testing.create_test_clock(frozen_time=start, personas=["li.wei"])
    sdk.testing.advance_test_clock(clock.id, frozen_time=platform.clock.now() + timedelta(days=91))
    refused = partner.call(client, "GET", "/v1/accounts", token)
    assert refused.status_code == 401, refused.text  # the 90-day consent expired in the clock's time


def test_the_limits_of_a_clock(client: TestClient[Any], platform: Platform) -> None:
    sdk = delegating_app(platform, SANDBOX, scopes=SCOPES).app.sdk(client)
    start = next_cn_morning(platform.clock.now())
    with pytest.raises(errors.RuleViolationError):  # at least one persona
        sdk.testing.create_test_clock(frozen_time=start, personas=[])
    with pytest.raises(errors.RuleViolationError):  # at most 732 days ahead
        sdk.testing.create_test_clock(frozen_time=start + MAX_SPAN, personas=["li.wei"])
    names = [p.customer.username for p in load_personas()]
    clocks = [
        sdk.testing.create_test_clock(frozen_time=start, personas=[name]) for name in names[:MAX_CLOCKS]
    ]
    with pytest.raises(errors.RuleViolationError):  # at most ten clocks per app
        sdk.testing.create_test_clock(frozen_time=start, personas=[names[MAX_CLOCKS]])
    with pytest.raises(errors.RuleViolationError):  # one advance moves at most 732 days
        sdk.testing.advance_test_clock(clocks[0].id, frozen_time=start + MAX_SPAN + timedelta(days=1))
    # A persona reset ends the app's clocks: they were about the old copies.
    sdk.testing.reset_personas()
    assert sdk.testing.list_test_clocks().data == []


def test_the_same_advance_takes_the_same_steps(client: TestClient[Any], platform: Platform) -> None:
    answers = []
    start = next_cn_morning(platform.clock.now())
    for run in ("a", "b"):
        partner, token = trader(client, platform)
        sdk = partner.app.sdk(client)
        clock = sdk.testing.create_test_clock(frozen_time=start, personas=["li.wei"])
        call(client, partner, "POST", "/v1/orders", token, json=subscription(f"d-{run}"),
             headers={"Idempotency-Key": f"d-{run}"})  # fmt: skip
        advance = sdk.testing.advance_test_clock(clock.id, frozen_time=start + timedelta(days=5))
        answers.append((advance.steps, advance.moved))
    assert answers[0] == answers[1]
    assert answers[0][1]["fund_orders_dealt"] == 1
