"""The staff surveillance API: the alert queue and account restrictions, for operator apps holding
`admin:compliance` (alerts are raised by real wash trades through the trading service)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.domain.compliance.surveillance import RULES
from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.errors import DomainError
from gateway.domain.scopes import Scope
from gateway.domain.trading.entry import OrderEntry
from gateway.domain.trading.errors import AccountRestrictedError
from gateway.domain.trading.models import Actor, OrderStatus
from gateway.services import Platform
from partners.models import PartnerType
from sandbox.clock import FrozenClock
from tests.delegation import seed_customer
from tests.support import PartnerApp, register_app
from tests.trading import CN_MORNING, CN_STOCK, actor_for, request

ALERTS = "/admin/surveillance/alerts"
RESTRICTIONS = "/admin/surveillance/restrictions"
REASON = "Reviewed the orders: a mistaken double entry, not a wash trade."


@pytest.fixture
def clock(clock: FrozenClock) -> FrozenClock:
    """The shared clock at a Shanghai trading morning."""
    clock.set(CN_MORNING)
    return clock


@dataclass
class Trader:
    customer: Customer
    actor: Actor
    trading: OrderEntry

    @property
    def account_id(self) -> str:
        return next(a.id for a in self.customer.accounts if a.jurisdiction.value == "CN")

    def buy(self, **terms: Any) -> OrderStatus:
        return self.trading.place(self.actor, request(instrument_id=CN_STOCK, **terms)).order.status


RESTING: list[tuple[Trader, str]] = []


@pytest.fixture(autouse=True)
def cancel_resting_orders() -> Iterator[None]:
    """The book outlives a test (one database per run): take back the sell a wash trader left."""
    yield
    while RESTING:
        trader, order_id = RESTING.pop()
        with contextlib.suppress(DomainError):
            trader.trading.cancel(trader.actor, order_id)


def wash_trader(
    platform: Platform, clock: FrozenClock, blocked: int, environment: Environment = Environment.PRODUCTION
) -> Trader:
    """A customer whose buy orders would trade with their own resting sell: each is blocked with a
    high alert (SURV-03); the third restricts the account (SURV-RESTRICT)."""
    customer = seed_customer(platform, environment, "zhang.min")
    trader = Trader(customer, actor_for(customer), platform.environments[environment].orders)
    trader.buy(quantity=400)
    reference = platform.prices.reference_price(platform.catalogue.get(CN_STOCK), clock.now())
    ask = (reference * Decimal("1.02")).quantize(Decimal("0.01"))
    resting = trader.trading.place(
        trader.actor,
        request(instrument_id=CN_STOCK, side="sell", order_type="limit", quantity=100, limit_price=ask),
    )
    RESTING.append((trader, resting.order.id))
    for _ in range(blocked):
        clock.advance(timedelta(seconds=5))
        assert trader.buy(order_type="limit", quantity=100, limit_price=ask) is OrderStatus.REJECTED
    return trader


def compliance_app(platform: Platform, *scopes: Scope) -> PartnerApp:
    return register_app(
        platform,
        partner_type=PartnerType.SERVICE_PROVIDER,
        scopes=scopes or (Scope.ADMIN_COMPLIANCE,),
        operator=True,
    )


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith(f"/problems/{slug}")
    return problem


def alerts_of(client: TestClient[Any], headers: dict[str, str], customer_id: str, **params: Any) -> Any:
    response = client.get(ALERTS, params={"customer_id": customer_id, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- alerts -----------------------------------------------------------------------------------


def test_staff_list_filter_and_read_an_alert(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    headers = compliance_app(platform).headers(client)

    page = alerts_of(client, headers, trader.customer.id)

    assert page["environment"] == "production"
    assert (page["has_more"], page["next_cursor"]) == (False, None)
    (alert,) = page["data"]
    assert alert["id"].startswith("alt_")
    assert alert["object"] == "surveillance_alert"
    assert (alert["rule"], alert["code"], alert["severity"], alert["status"]) == (
        "SURV-03",
        "wash_trade",
        "high",
        "open",
    )
    assert (alert["account_id"], alert["instrument_id"]) == (trader.account_id, CN_STOCK)
    assert alert["cleared_at"] is alert["cleared_by"] is alert["clear_reason"] is None
    read = client.get(f"{ALERTS}/{alert['id']}", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json() == alert
    assert alert["rule_text"] == RULES["SURV-03"]
    assert alert["facts"]["action"] == "block_incoming_order"
    assert len(alert["order_ids"]) == 2
    assert alert["facts"]["incoming_order_id"] == alert["order_ids"][-1]
    assert alerts_of(client, headers, trader.customer.id, severity="medium")["data"] == []
    assert alerts_of(client, headers, trader.customer.id, status="cleared")["data"] == []
    assert len(alerts_of(client, headers, trader.customer.id, status="open", severity="high")["data"]) == 1
    assert alerts_of(client, headers, "cus_nobody")["data"] == []


def test_alerts_page_newest_first_with_a_cursor(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=3)
    headers = compliance_app(platform).headers(client)

    first = alerts_of(client, headers, trader.customer.id, limit=2)
    second = alerts_of(client, headers, trader.customer.id, limit=2, cursor=first["next_cursor"])

    assert first["has_more"] is True
    assert (second["has_more"], second["next_cursor"]) == (False, None)
    seen = first["data"] + second["data"]
    assert len({a["id"] for a in seen}) == 3
    times = [a["created_at"] for a in seen]
    assert times == sorted(times, reverse=True)
    assert_problem(
        client.get(ALERTS, params={"cursor": "not-a-cursor"}, headers=headers), 422, "rule-violation"
    )


def test_clearing_an_alert_records_who_and_why_once(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    officer = compliance_app(platform)
    headers = officer.headers(client)
    (alert,) = alerts_of(client, headers, trader.customer.id)["data"]
    clock.advance(timedelta(minutes=1))

    cleared = client.post(f"{ALERTS}/{alert['id']}/clear", json={"reason": REASON}, headers=headers)
    again = client.post(f"{ALERTS}/{alert['id']}/clear", json={"reason": REASON}, headers=headers)

    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert (body["status"], body["cleared_by"], body["clear_reason"]) == (
        "cleared",
        officer.client_id,
        REASON,
    )
    assert body["cleared_at"].startswith("2026-11-23T02:01:")
    assert_problem(again, 409, "conflict")
    assert client.get(f"{ALERTS}/{alert['id']}", headers=headers).json() == body
    assert alerts_of(client, headers, trader.customer.id, status="open")["data"] == []
    assert_problem(client.get(f"{ALERTS}/alt_missing", headers=headers), 404, "not-found")
    missing = client.post(f"{ALERTS}/alt_missing/clear", json={"reason": REASON}, headers=headers)
    assert_problem(missing, 404, "not-found")


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"reason": "too short"}, "validation-failed"),
        ({"reason": "x" * 501}, "validation-failed"),
        ({"reason": " " * 20}, "validation-failed"),
        ({"reason": "  too short  \n"}, "validation-failed"),
        ({}, "validation-failed"),
        ({"reason": REASON, "cleared_by": "someone else"}, "validation-failed"),
    ],
)
def test_a_clearing_needs_a_proper_reason(
    client: TestClient[Any], platform: Platform, clock: FrozenClock, body: dict[str, Any], slug: str
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    headers = compliance_app(platform).headers(client)
    (alert,) = alerts_of(client, headers, trader.customer.id)["data"]

    response = client.post(f"{ALERTS}/{alert['id']}/clear", json=body, headers=headers)

    assert_problem(response, 422, slug)
    assert client.get(f"{ALERTS}/{alert['id']}", headers=headers).json()["status"] == "open"


# -- restrictions -----------------------------------------------------------------------------


def test_clearing_a_restriction_lets_the_customer_trade_again(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=3)
    officer = compliance_app(platform)
    headers = officer.headers(client)
    with pytest.raises(AccountRestrictedError):
        trader.buy(quantity=100)
    listed = client.get(RESTRICTIONS, params={"customer_id": trader.customer.id}, headers=headers)
    assert listed.status_code == 200, listed.text
    (restriction,) = listed.json()["data"]
    assert restriction["object"] == "account_restriction"
    assert (restriction["account_id"], restriction["active"]) == (trader.account_id, True)
    high = {a["id"] for a in alerts_of(client, headers, trader.customer.id)["data"]}
    assert set(restriction["alert_ids"]) == high
    clock.advance(timedelta(minutes=1))  # past the wash window of the customer's resting sell

    path = f"{RESTRICTIONS}/{trader.account_id}/clear"
    cleared = client.post(path, json={"reason": REASON}, headers=headers)
    again = client.post(path, json={"reason": REASON}, headers=headers)

    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["active"], cleared.json()["cleared_by"]) == (False, officer.client_id)
    assert_problem(again, 409, "conflict")
    assert trader.buy(quantity=100) is OrderStatus.FILLED
    active = client.get(RESTRICTIONS, params={"customer_id": trader.customer.id}, headers=headers)
    assert active.json()["data"] == []
    every = client.get(
        RESTRICTIONS, params={"customer_id": trader.customer.id, "status": "all"}, headers=headers
    )
    assert [r["id"] for r in every.json()["data"]] == [restriction["id"]]
    # The alerts stay in the queue: clearing the account is not a verdict on each alert.
    assert len(alerts_of(client, headers, trader.customer.id, status="open")["data"]) == 3


def test_an_account_never_restricted_is_not_found(client: TestClient[Any], platform: Platform) -> None:
    headers = compliance_app(platform).headers(client)
    response = client.post(f"{RESTRICTIONS}/acc_never/clear", json={"reason": REASON}, headers=headers)
    assert_problem(response, 404, "not-found")


# -- environments and access ------------------------------------------------------------------


def test_sandbox_alerts_are_read_from_the_sandbox_database(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1, environment=Environment.SANDBOX)
    headers = compliance_app(platform).headers(client)

    sandbox = alerts_of(client, headers, trader.customer.id, environment="sandbox")

    assert sandbox["environment"] == "sandbox"
    assert len(sandbox["data"]) == 1
    assert alerts_of(client, headers, trader.customer.id)["data"] == []
    # Staff routes are the production control plane: there is no copy under /sandbox.
    assert_problem(client.get(f"/sandbox{ALERTS}", headers=headers), 404, "not-found")


def test_partners_and_other_staff_are_refused(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    (alert,) = alerts_of(client, compliance_app(platform).headers(client), trader.customer.id)["data"]
    partner = register_app(platform).headers(client)
    auditor = compliance_app(platform, Scope.ADMIN_PARTNERS, Scope.ADMIN_AUDIT).headers(
        client
    )  # no compliance
    clear = f"{ALERTS}/{alert['id']}/clear"

    for response in (
        client.get(ALERTS, headers=partner),
        client.post(clear, json={"reason": REASON}, headers=partner),
    ):
        assert "aud" in assert_problem(response, 401, "unauthorized")["detail"]
    for response in (
        client.get(ALERTS, headers=auditor),
        client.get(RESTRICTIONS, headers=auditor),
        client.post(clear, json={"reason": REASON}, headers=auditor),
    ):
        assert_problem(response, 403, "forbidden")
    assert_problem(client.get(ALERTS), 401, "unauthorized")
    assert_problem(client.post(clear, json={"reason": REASON}), 401, "unauthorized")
    headers = compliance_app(platform).headers(client)
    assert client.get(f"{ALERTS}/{alert['id']}", headers=headers).json()["status"] == "open"
