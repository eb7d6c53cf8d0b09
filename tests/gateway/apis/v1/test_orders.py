"""Orders over HTTP under a customer's consent: preview, place (Idempotency-Key and client order
id), list and read, cancel; consent limits as 403 problems naming the limit; no order of one
partner or customer visible to another; partner-own tokens have no orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from sandbox.clock import FrozenClock
from tests.delegation import DelegatingApp, Grant, authorize, delegating_app, seed_customer
from tests.trading import CN_MONEY_MARKET, CN_MORNING, CN_STOCK, US_STOCK

TRADING_SCOPES = (Scope.CONSENTS_MANAGE, Scope.ORDERS_READ, Scope.ORDERS_WRITE, Scope.ACCOUNTS_READ)


@pytest.fixture
def trading_clock(clock: FrozenClock) -> FrozenClock:
    clock.set(CN_MORNING)
    return clock


def trader(
    client: TestClient[Any],
    platform: Platform,
    *,
    persona: str = "zhang.min",
    limits: list[Any] | None = None,
) -> tuple[DelegatingApp, Grant, str]:
    customer = seed_customer(platform, Environment.PRODUCTION, persona)
    bank = delegating_app(platform, scopes=TRADING_SCOPES)
    grant = authorize(client, bank, customer, ["orders:read", "orders:write"], limits=limits or [])
    return bank, grant, customer.id


def order_body(**terms: Any) -> dict[str, Any]:
    return {"client_order_id": "co-1", "instrument_id": CN_STOCK, "side": "buy", "order_type": "market",
            "quantity": "100", **terms}  # fmt: skip


def test_preview_place_read_and_list_an_order(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    bank, grant, _ = trader(client, platform)
    terms = order_body()
    del terms["client_order_id"]  # a preview is not an order: it has no id of yours
    preview = bank.call(client, "POST", "/v1/orders/preview", grant.access_token, json=terms)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["can_place"] is True
    assert {c["code"] for c in body["checks"]} >= {"trading_hours", "buying_power", "lot_size", "suitable"}
    assert body["fees"]
    assert body["fees_total"] != "0.00"

    placed = bank.call(
        client,
        "POST",
        "/v1/orders",
        grant.access_token,
        json=order_body(),
        headers={"Idempotency-Key": "k-1"},
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "filled"
    assert order["fills"][0]["liquidity"] == "reference"
    replay = bank.call(
        client,
        "POST",
        "/v1/orders",
        grant.access_token,
        json=order_body(),
        headers={"Idempotency-Key": "k-1"},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == placed.content
    # The same client order id under a new key returns the one order (200), never a second.
    again = bank.call(
        client,
        "POST",
        "/v1/orders",
        grant.access_token,
        json=order_body(),
        headers={"Idempotency-Key": "k-2"},
    )
    assert again.status_code == 200
    assert again.json()["order_id"] == order["order_id"]
    clash = bank.call(client, "POST", "/v1/orders", grant.access_token, json=order_body(quantity="200"))
    assert clash.status_code == 409
    assert clash.json()["context"]["field"] == "client_order_id"

    read = bank.call(client, "GET", f"/v1/orders/{order['order_id']}", grant.access_token)
    assert read.status_code == 200
    assert read.json()["filled_quantity"] == "100"
    listed = bank.call(client, "GET", "/v1/orders?status=filled", grant.access_token)
    assert [o["order_id"] for o in listed.json()["data"]] == [order["order_id"]]


def test_list_pages_with_a_cursor_newest_first(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    bank, grant, _ = trader(client, platform)
    ids = []
    for n in range(3):
        body = order_body(
            client_order_id=f"page-{n}",
            order_type="fund_subscription",
            instrument_id=CN_MONEY_MARKET,
            amount="10.00",
        )
        body.pop("quantity")
        placed = bank.call(client, "POST", "/v1/orders", grant.access_token, json=body)
        assert placed.status_code == 201, placed.text
        ids.append(placed.json()["order_id"])
        trading_clock.advance(timedelta(seconds=1))
    first = bank.call(client, "GET", "/v1/orders?limit=2", grant.access_token).json()
    assert [o["order_id"] for o in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    second = bank.call(client, "GET", f"/v1/orders?limit=2&cursor={first['next_cursor']}", grant.access_token)
    assert [o["order_id"] for o in second.json()["data"]] == ids[:1]
    assert second.json()["has_more"] is False


def test_a_rejected_order_is_a_422_problem_with_every_failed_check(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    bank, grant, _ = trader(client, platform)
    refused = bank.call(
        client,
        "POST",
        "/v1/orders",
        grant.access_token,
        json=order_body(instrument_id=US_STOCK, quantity="1"),
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/problems/rule-violation")
    assert "market_closed" in {reason["code"] for reason in problem["context"]["reasons"]}
    assert bank.call(client, "GET", "/v1/orders", grant.access_token).json()["data"] == []


def test_the_consent_limit_is_a_403_problem_naming_the_limit(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    limit = {"type": "order_placement", "max_notional_per_order": "500.00", "currency": "CNY",
             "instruments": ["stock"]}  # fmt: skip
    bank, grant, _ = trader(client, platform, limits=[limit])
    refused = bank.call(client, "POST", "/v1/orders", grant.access_token, json=order_body())
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/problems/limit-exceeded")
    assert refused.json()["context"]["limit"] == "order_placement.max_notional_per_order"
    fund = order_body(instrument_id=CN_MONEY_MARKET, order_type="fund_subscription", amount="10.00")
    fund.pop("quantity")
    refused = bank.call(client, "POST", "/v1/orders", grant.access_token, json=fund)
    assert refused.status_code == 403
    assert refused.json()["context"]["limit"] == "order_placement.instruments"


def test_no_order_is_visible_to_another_partner_or_customer(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    bank, grant, _ = trader(client, platform)
    order = bank.call(client, "POST", "/v1/orders", grant.access_token, json=order_body()).json()
    other_bank, other_grant, _ = trader(client, platform)
    for path, method in (
        (f"/v1/orders/{order['order_id']}", "GET"),
        (f"/v1/orders/{order['order_id']}/cancel", "POST"),
    ):
        response = other_bank.call(client, method, path, other_grant.access_token)
        assert response.status_code == 404, response.text
        assert CN_STOCK not in response.text
        assert "filled" not in response.text
    assert other_bank.call(client, "GET", "/v1/orders", other_grant.access_token).json()["data"] == []


def test_orders_need_the_write_scope_and_a_customer(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION, "zhang.min")
    bank = delegating_app(platform, scopes=TRADING_SCOPES)
    reader = authorize(client, bank, customer, ["orders:read"])
    refused = bank.call(client, "POST", "/v1/orders", reader.access_token, json=order_body())
    assert refused.status_code == 403
    partner_token = bank.client_token(client)
    assert bank.call(client, "GET", "/v1/orders", partner_token).status_code == 403


def test_cancel_an_open_limit_order(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    bank, grant, _ = trader(client, platform)
    reference = platform.prices.reference_price(platform.catalogue.get(CN_STOCK), trading_clock.now())
    limit = str((reference * Decimal("0.95")).quantize(Decimal("0.01")))
    placed = bank.call(
        client,
        "POST",
        "/v1/orders",
        grant.access_token,
        json=order_body(order_type="limit", limit_price=limit),
    ).json()
    assert placed["status"] == "open"
    cancelled = bank.call(client, "POST", f"/v1/orders/{placed['order_id']}/cancel", grant.access_token)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = bank.call(client, "POST", f"/v1/orders/{placed['order_id']}/cancel", grant.access_token)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", 100), ("quantity", "1e3"), ("quantity", "-100"), ("quantity", "NaN"), ("limit_price", 18.5),
     ("status", "filled"), ("filled_quantity", "100"), ("partner_id", "ptn_x")],
)  # fmt: skip
def test_money_and_server_owned_fields_are_refused(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock, field: str, value: Any
) -> None:
    bank, grant, _ = trader(client, platform)
    refused = bank.call(client, "POST", "/v1/orders", grant.access_token, json=order_body(**{field: value}))
    assert refused.status_code == 422, refused.text
    assert field in refused.text
    assert bank.call(client, "GET", "/v1/orders", grant.access_token).json()["data"] == []


def test_accounts_and_holdings_show_the_ledger_after_a_fill(
    client: TestClient[Any], platform: Platform, trading_clock: FrozenClock
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION, "zhang.min")
    bank = delegating_app(platform, scopes=(*TRADING_SCOPES, Scope.HOLDINGS_READ))
    grant = authorize(client, bank, customer, ["orders:write", "accounts:read", "holdings:read"])

    def cny() -> dict[str, str]:
        accounts = bank.call(client, "GET", "/v1/accounts", grant.access_token).json()["data"]
        master = next(a for a in accounts if a["kind"] == "master")
        return next(b for b in master["balances"] if b["currency"] == "CNY")

    before = cny()
    order = bank.call(client, "POST", "/v1/orders", grant.access_token, json=order_body()).json()
    spent = Decimal(order["filled_notional"]) + Decimal(order["fees"])
    assert Decimal(cny()["total"]) == Decimal(before["total"]) - spent
    holdings = bank.call(client, "GET", "/v1/holdings", grant.access_token).json()["data"]
    bought = next(h for h in holdings if h["instrument_id"] == CN_STOCK)
    assert bought["quantity"] == "100"
    assert bought["average_cost"] == order["average_price"][:-2]  # 4 decimals on the order, cents here
