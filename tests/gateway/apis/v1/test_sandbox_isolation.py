"""The sandbox's controls never touch production: persona resets, test clocks, scenarios and
triggered events write only to the sandbox database, and production's rows stay as they were."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.services import Platform
from gateway.storage.tables import metadata
from tests.gateway.apis.v1.test_test_clocks import next_cn_morning, subscription, trader
from tests.support import database_of

# Tables that the sandbox's controls would have to write if they leaked into production.
WATCHED = (
    "customers",
    "consents",
    "consent_events",
    "orders",
    "fills",
    "journal_entries",
    "ledger_balances",
    "outbox",
    "surveillance_alerts",
    "account_restrictions",
    "webhook_deliveries",
    "points_conversions",
    "order_events",
    "sandbox_persona_copies",
    "sandbox_test_clocks",
    "sandbox_clock_attachments",
)


def production_rows(platform: Platform) -> dict[str, int]:
    database = database_of(platform, Environment.PRODUCTION)
    tables = {name: metadata.tables[name] for name in WATCHED if name in metadata.tables}
    assert len(tables) == len(WATCHED), sorted(set(WATCHED) - set(tables))  # the names are real
    with database.engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in tables.items()
        }


def test_resets_clocks_scenarios_and_events_leave_production_untouched(
    client: TestClient[Any], platform: Platform
) -> None:
    before = production_rows(platform)
    partner, token = trader(client, platform)
    sdk = partner.app.sdk(client)
    start = next_cn_morning(platform.clock.now())
    clock = sdk.testing.create_test_clock(frozen_time=start, personas=["li.wei"])
    placed = partner.call(
        client, "POST", "/v1/orders", token, json=subscription("iso-1"), headers={"Idempotency-Key": "iso-1"}
    )
    assert placed.status_code == 201, placed.text
    sdk.testing.advance_test_clock(clock.id, frozen_time=start + timedelta(days=3))
    sdk.testing.run_scenario("manipulation")
    sdk.testing.trigger_event(type="order.filled")
    sdk.testing.reset_personas()
    assert production_rows(platform) == before
