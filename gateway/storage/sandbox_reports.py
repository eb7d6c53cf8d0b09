"""What the supervisor's sandbox report reads (sandbox/supervision.py): the sandbox's consents,
orders, points conversions, surveillance alerts and webhook deliveries of a period, per partner.

Read-only, in autocommit: each list is one query (alerts two: the alerts, then whose orders they
name), filtered on the tables' creation moments, so a period of days costs the same on SQLite and
PostgreSQL whatever the books hold outside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from gateway.storage.database import Database, as_utc
from gateway.storage.tables.consent import ConsentRow
from gateway.storage.tables.points import PointsConversionRow
from gateway.storage.tables.surveillance import AlertRow
from gateway.storage.tables.trading import OrderRow
from gateway.storage.tables.webhooks import WebhookDeliveryRow
from sandbox.supervision import AlertFact, ConsentFact, ConversionFact, DeliveryCount, OrderFact

consents = ConsentRow.__table__
orders = OrderRow.__table__
conversions = PointsConversionRow.__table__
alerts = AlertRow.__table__
deliveries = WebhookDeliveryRow.__table__
IDS_PER_QUERY: Final = 500  # bound parameters per IN list, well under every driver's limit


def _in_period(table: sa.Table, start: datetime, end: datetime, partner_id: str | None) -> Any:
    condition = (table.c.created_at >= start) & (table.c.created_at < end)
    if partner_id is not None:
        condition = condition & (table.c.partner_id == partner_id)
    return condition


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


class SqlCohortRecords:
    """`sandbox.supervision.CohortRecords` on the sandbox's database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def consents(self, start: datetime, end: datetime, partner_id: str | None) -> list[ConsentFact]:
        query = sa.select(
            consents.c.partner_id, consents.c.created_at, consents.c.status, consents.c.customer_id
        ).where(_in_period(consents, start, end, partner_id))
        with self._db.read() as conn:
            return [
                ConsentFact(row.partner_id, as_utc(row.created_at), row.status, row.customer_id)
                for row in conn.execute(query)
            ]

    def orders(self, start: datetime, end: datetime, partner_id: str | None) -> list[OrderFact]:
        query = sa.select(
            orders.c.partner_id,
            orders.c.created_at,
            orders.c.customer_id,
            orders.c.instrument_id,
            orders.c.order_type,
            orders.c.status,
            orders.c.currency,
            orders.c.quantity,
            orders.c.amount,
            orders.c.limit_price,
        ).where(_in_period(orders, start, end, partner_id))
        with self._db.read() as conn:
            return [
                OrderFact(
                    partner_id=row.partner_id,
                    created_at=as_utc(row.created_at),
                    customer_id=row.customer_id,
                    instrument_id=row.instrument_id,
                    order_type=row.order_type,
                    status=row.status,
                    currency=row.currency,
                    quantity=row.quantity,
                    amount=row.amount,
                    limit_price=row.limit_price,
                )
                for row in conn.execute(query)
            ]

    def conversions(self, start: datetime, end: datetime, partner_id: str | None) -> list[ConversionFact]:
        query = sa.select(
            conversions.c.partner_id,
            conversions.c.created_at,
            conversions.c.customer_id,
            conversions.c.state,
            conversions.c.points,
        ).where(_in_period(conversions, start, end, partner_id))
        with self._db.read() as conn:
            return [
                ConversionFact(
                    row.partner_id, as_utc(row.created_at), row.customer_id, row.state, int(row.points)
                )
                for row in conn.execute(query)
            ]

    def alerts(self, start: datetime, end: datetime, partner_id: str | None) -> list[AlertFact]:
        """Alerts of the period on accounts the partner (any partner) traded on, each with the
        partners whose orders it names."""
        traded = sa.select(orders.c.account_id)
        if partner_id is not None:
            traded = traded.where(orders.c.partner_id == partner_id)
        query = sa.select(alerts.c.created_at, alerts.c.rule, alerts.c.severity, alerts.c.order_ids).where(
            (alerts.c.created_at >= start) & (alerts.c.created_at < end) & alerts.c.account_id.in_(traded)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            owners = self._owners(conn, {order_id for row in rows for order_id in row.order_ids or ()})
        return [
            AlertFact(
                created_at=as_utc(row.created_at),
                rule=row.rule,
                severity=row.severity,
                partner_ids=frozenset(owners[o] for o in row.order_ids or () if o in owners),
            )
            for row in rows
        ]

    def deliveries(self, start: datetime, end: datetime, partner_id: str | None) -> list[DeliveryCount]:
        query = (
            sa.select(deliveries.c.partner_id, deliveries.c.state, sa.func.count().label("deliveries"))
            .where(_in_period(deliveries, start, end, partner_id))
            .group_by(deliveries.c.partner_id, deliveries.c.state)
        )
        with self._db.read() as conn:
            return [
                DeliveryCount(row.partner_id, row.state, int(row.deliveries)) for row in conn.execute(query)
            ]

    @staticmethod
    def _owners(conn: sa.Connection, order_ids: Iterable[str]) -> dict[str, str]:
        """The partner of each of these orders."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(order_ids), IDS_PER_QUERY):
            query = sa.select(orders.c.id, orders.c.partner_id).where(orders.c.id.in_(chunk))
            found.update({row.id: row.partner_id for row in conn.execute(query)})
        return found
