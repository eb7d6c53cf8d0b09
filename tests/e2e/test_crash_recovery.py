"""kill -9 between commit and answer: the server dies after an order's transaction committed and
before its response left; after a restart the client's retry with the same Idempotency-Key
returns that one order. Nothing is lost, nothing is doubled, the ledger balances, the audit
chain verifies (ENGINEERING.md, "Limits, idempotency, crashes")."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from gateway.domain.environment import Environment
from gateway.storage.database import Database
from gateway.storage.tables import OrderRow
from gateway.storage.trading import SqlTradingStore
from tests.delegation import hidden
from tests.e2e.servers import BANK, CookieBrowser, Launch, Partner, RealServer, run_cli
from tests.trading import CN_MONEY_MARKET

pytestmark = pytest.mark.slow

CUSTOMER: Final = "li.wei"  # the other e2e modules use other customers
LEASE_SECONDS: Final = 2


def _delegated_token(server: RealServer, partner: Partner) -> str:
    consent = partner.create_consent(["orders:read", "orders:write"], "Invest spare cash in a fund")
    pushed = partner.push(consent["id"])
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        browser = CookieBrowser(http)
        signed_in = browser.sign_in(browser.follow(partner.authorize_url(pushed)), server.customer(CUSTOMER))
        assert signed_in.status_code == 303, signed_in.text
        screen = browser.follow(signed_in.headers["location"])
        decision = {
            "csrf_token": hidden(screen.text, "csrf_token"),
            "transaction_id": hidden(screen.text, "transaction_id"),
            "decision": "approve",
            "scope": ["orders:read", "orders:write"],
        }
        answer = browser.request("POST", "/oauth2/authorize/decision", data=decision)
    code = dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]
    token = partner.redeem(code, pushed)
    assert token.status_code == 200, token.text
    value: str = token.json()["access_token"]
    return value


def test_an_order_committed_before_a_kill_is_answered_once_after_the_restart(tmp_path: Path) -> None:
    launch = Launch(
        "sqlite",
        tmp_path,
        workers=1,
        env={"GATEWAY_CRASH_AT": "order_committed", "IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS)},
    )
    database = None
    try:
        server = launch.start()
        with httpx.Client(timeout=30) as http:
            partner = Partner(server, server.credentials(BANK, Environment.PRODUCTION), http)
            token = _delegated_token(server, partner)
            order: dict[str, Any] = {
                "client_order_id": "crash-test-1",
                "instrument_id": CN_MONEY_MARKET,
                "side": "buy",
                "order_type": "fund_subscription",
                "amount": "100.00",
            }
            key = {"Idempotency-Key": "crash-key-1"}

            with pytest.raises(httpx.TransportError):
                partner.call("POST", "/v1/orders", token, json=order, headers=key)
            assert server.process.wait(timeout=30) == -signal.SIGKILL  # killed itself after the commit

            restarted = launch.serve(server.registry, env={"GATEWAY_CRASH_AT": ""})
            partner.server = restarted
            # The dead request still holds the key for its lease; the retry waits it out (bounded).
            deadline = time.monotonic() + 10 * LEASE_SECONDS
            while True:
                retry = partner.call("POST", "/v1/orders", token, json=order, headers=key)
                if retry.status_code != 409 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert retry.status_code == 200, retry.text  # the order that was committed, not a new one
            placed = retry.json()
            assert placed["client_order_id"] == "crash-test-1"
            assert placed["status"] == "open"
            # A second retry replays the stored answer byte for byte.
            replay = partner.call("POST", "/v1/orders", token, json=order, headers=key)
            assert replay.headers.get("idempotent-replayed") == "true"
            assert replay.content == retry.content
            listed = partner.call("GET", "/v1/orders", token).json()["data"]
            assert [o["order_id"] for o in listed if o["client_order_id"] == "crash-test-1"] == [
                placed["order_id"]
            ]

        database = Database(launch.settings.database(Environment.PRODUCTION))
        rows = OrderRow.__table__  # type: ignore[attr-defined]
        with database.read() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(rows).where(rows.c.client_order_id == "crash-test-1")
            ).scalar_one()
        assert count == 1
        assert all(total == 0 for total in SqlTradingStore(database).asset_totals().values())
        assert "audit chain verifies" in run_cli("audit", "verify", env=launch.env)
    finally:
        if database is not None:
            database.dispose()
        launch.stop()
