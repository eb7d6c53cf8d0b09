"""kill -9 between commit and answer: the server dies after an order's (or a points conversion's)
transaction committed and
before its response left; after a restart the client's retry with the same Idempotency-Key
returns that one order. Nothing is lost, nothing is doubled, the ledger balances, the audit
chain verifies (ENGINEERING.md, "Limits, idempotency, crashes")."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import sqlalchemy as sa

from gateway.domain.environment import Environment
from gateway.storage.database import Database
from gateway.storage.tables.points import PointsConversionRow
from gateway.storage.tables.trading import OrderRow
from gateway.storage.trading import SqlTradingStore
from tests.delegation import hidden
from tests.e2e.servers import BANK, SHOP, CookieBrowser, Launch, Partner, RealServer, run_cli
from tests.trading import CN_MONEY_MARKET

pytestmark = pytest.mark.slow

CUSTOMER: Final = "li.wei"  # the other e2e modules use other customers
LEASE_SECONDS: Final = 2


def _delegated_token(server: RealServer, partner: Partner, permissions: list[str]) -> str:
    consent = partner.create_consent(permissions, "Invest spare cash in a fund")
    pushed = partner.push(consent["id"])
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        browser = CookieBrowser(http)
        signed_in = browser.sign_in(browser.follow(pushed.url), server.customer(CUSTOMER))
        assert signed_in.status_code == 303, signed_in.text
        screen = browser.follow(signed_in.headers["location"])
        decision = {
            "csrf_token": hidden(screen.text, "csrf_token"),
            "transaction_id": hidden(screen.text, "transaction_id"),
            "decision": "approve",
            "scope": permissions,
        }
        answer = browser.request("POST", "/oauth2/authorize/decision", data=decision)
    return partner.redeem(answer.headers["location"], pushed).access_token


def _killed_then_retried(
    launch: Launch, partner: Partner, token: str, path: str, body: dict[str, Any], key: str
) -> dict[str, Any]:
    """The call kills the worker after its commit; after a restart the retry with the same key waits
    out the dead request's lease and gets the committed object (200), and then a byte-identical replay."""
    server = partner.server
    with pytest.raises(httpx.TransportError):
        partner.call("POST", path, token, json=body, headers={"Idempotency-Key": key})
    assert server.process.wait(timeout=30) == -signal.SIGKILL  # killed itself after the commit

    partner.server = launch.serve(server.registry, env={"GATEWAY_CRASH_AT": ""})
    deadline = time.monotonic() + 10 * LEASE_SECONDS  # bounded wait for the lease
    while True:
        retry = partner.call("POST", path, token, json=body, headers={"Idempotency-Key": key})
        if retry.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert retry.status_code == 200, retry.text  # the object that was committed, not a new one
    replay = partner.call("POST", path, token, json=body, headers={"Idempotency-Key": key})
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.content == retry.content
    answer: dict[str, Any] = retry.json()
    return answer


def _rows(launch: Launch, table: Any, column: str, value: str) -> int:
    database = Database(launch.settings.database(Environment.PRODUCTION))
    try:
        rows = table.__table__
        with database.read() as conn:
            count: int = conn.execute(
                sa.select(sa.func.count()).select_from(rows).where(rows.c[column] == value)
            ).scalar_one()
        assert all(total == 0 for total in SqlTradingStore(database).asset_totals().values())
    finally:
        database.dispose()
    return count


def _launch(tmp_path: Path, point: str) -> Launch:
    env = {"GATEWAY_CRASH_AT": point, "IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS)}
    return Launch("sqlite", tmp_path, workers=1, env=env)


def test_an_order_committed_before_a_kill_is_answered_once_after_the_restart(tmp_path: Path) -> None:
    launch = _launch(tmp_path, "order_committed")
    try:
        server = launch.start()
        with httpx.Client(timeout=30) as http:
            partner = Partner(server, server.credentials(BANK, Environment.PRODUCTION), http)
            token = _delegated_token(server, partner, ["orders:read", "orders:write"])
            order: dict[str, Any] = {
                "client_order_id": "crash-test-1",
                "instrument_id": CN_MONEY_MARKET,
                "side": "buy",
                "order_type": "fund_subscription",
                "amount": "100.00",
            }
            placed = _killed_then_retried(launch, partner, token, "/v1/orders", order, "crash-key-1")
            assert (placed["client_order_id"], placed["status"]) == ("crash-test-1", "open")
            listed = partner.call("GET", "/v1/orders", token).json()["data"]
            assert [o["order_id"] for o in listed if o["client_order_id"] == "crash-test-1"] == [
                placed["order_id"]
            ]
        assert _rows(launch, OrderRow, "client_order_id", "crash-test-1") == 1
        assert "audit chain verifies" in run_cli("audit", "verify", env=launch.env)
    finally:
        launch.stop()


def test_a_conversion_committed_before_a_kill_is_answered_once_after_the_restart(tmp_path: Path) -> None:
    launch = _launch(tmp_path, "conversion_committed")
    try:
        server = launch.start()
        with httpx.Client(timeout=30) as http:
            shop = Partner(server, server.credentials(SHOP, Environment.PRODUCTION), http)
            token = _delegated_token(server, shop, ["points:convert"])
            quoted = shop.call(
                "POST", "/v1/points/quotes", token, json={"instrument_id": CN_MONEY_MARKET, "points": 1500}
            )
            assert quoted.status_code == 201, quoted.text
            body = {"partner_conversion_id": "basket-crash-1", "quote_id": quoted.json()["quote_id"]}
            path = "/v1/points/conversions"
            converted = _killed_then_retried(launch, shop, token, path, body, "crash-key-2")
            assert (converted["partner_conversion_id"], converted["points"]) == ("basket-crash-1", 1500)
            assert converted["state"] == "accepted"
        assert _rows(launch, PointsConversionRow, "partner_conversion_id", "basket-crash-1") == 1
        assert _rows(launch, OrderRow, "id", converted["order_id"]) == 1  # one fund order for it
        assert "audit chain verifies" in run_cli("audit", "verify", env=launch.env)
    finally:
        launch.stop()
