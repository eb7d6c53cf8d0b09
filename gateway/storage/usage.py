"""Usage counters in the environment's database: workers add their buffered counts by one
upsert-increment per batch, so counts from any number of workers simply add up (ADR 0012)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gateway.storage.database import Database
from gateway.storage.tables.trading import OrderRow
from gateway.storage.tables.usage import UsageCounterRow
from partners.usage import Tally, UsageCount, UsageKey

counters = UsageCounterRow.__table__
orders = OrderRow.__table__
KEY_COLUMNS = ("client_id", "day", "api_version", "operation")


def _count(row: Any) -> UsageCount:
    return UsageCount(
        day=row.day,
        api_version=row.api_version,
        operation=row.operation,
        requests=int(row.requests),
        throttled=int(row.throttled),
        errors=int(row.errors),
    )


class SqlUsageCounters:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, batch: Mapping[UsageKey, Tally]) -> None:
        """Add a batch to the counters in one transaction; rows in key order, so two workers that
        flush overlapping rows lock them in the same order (no deadlock on PostgreSQL)."""
        if not batch:
            return
        rows = [
            {
                "client_id": key.client_id,
                "day": key.day,
                "api_version": key.api_version,
                "operation": key.operation,
                "partner_id": key.partner_id,
                "requests": tally.requests,
                "throttled": tally.throttled,
                "errors": tally.errors,
            }
            for key, tally in sorted(
                batch.items(),
                key=lambda item: (item[0].client_id, item[0].day, item[0].api_version, item[0].operation),
            )
        ]
        with self._db.write() as conn:
            insert: Any = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
                counters
            )
            statement = insert.on_conflict_do_update(
                index_elements=list(KEY_COLUMNS),
                set_={
                    name: counters.c[name] + insert.excluded[name]
                    for name in ("requests", "throttled", "errors")
                },
            )
            for row in rows:  # one statement per row: upserts with `excluded` do not batch on every driver
                conn.execute(statement, row)

    def daily(self, client_id: str, since: date, until: date) -> list[UsageCount]:
        """One app's counters from `since` to `until` (both included), by day, version and operation."""
        query = (
            counters.select()
            .where(counters.c.client_id == client_id, counters.c.day >= since, counters.c.day <= until)
            .order_by(counters.c.day, counters.c.api_version, counters.c.operation)
        )
        with self._db.read() as conn:
            return [_count(row) for row in conn.execute(query).all()]

    def by_app(
        self, since: date, until: date, *, partner_id: str | None = None, client_id: str | None = None
    ) -> list[tuple[str, str, UsageCount]]:
        """Counters of every app (or one partner's, or one app's), as (partner_id, client_id, count)."""
        query = counters.select().where(counters.c.day >= since, counters.c.day <= until)
        if partner_id is not None:
            query = query.where(counters.c.partner_id == partner_id)
        if client_id is not None:
            query = query.where(counters.c.client_id == client_id)
        query = query.order_by(
            counters.c.partner_id,
            counters.c.client_id,
            counters.c.day,
            counters.c.api_version,
            counters.c.operation,
        )
        with self._db.read() as conn:
            return [(row.partner_id, row.client_id, _count(row)) for row in conn.execute(query).all()]


class SqlPlacedOrders:
    """Has this app placed this `client_order_id` before? The order quota's replay check: a replay
    returns the first order and must not be charged again (a read on `uq_orders_client_order_id`)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def placed(self, client_id: str, client_order_id: str) -> bool:
        query = sa.select(orders.c.id).where(
            orders.c.client_id == client_id, orders.c.client_order_id == client_order_id
        )
        with self._db.read() as conn:
            return conn.execute(query).first() is not None
