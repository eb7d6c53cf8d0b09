"""The surveillance desk of one environment: the alert queue and account restrictions that the
trading service records, as the surveillance service reads and clears them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain.compliance.alerts import (
    Alert,
    AlertQuery,
    AlertStatus,
    Clearance,
    Restriction,
    RestrictionQuery,
)
from gateway.domain.compliance.surveillance import Severity
from gateway.domain.paging import Page
from gateway.storage.database import Database, as_utc
from gateway.storage.paging import keyset_page
from gateway.storage.tables.surveillance import AlertRow, RestrictionRow

alerts = AlertRow.__table__
restrictions = RestrictionRow.__table__


class SqlSurveillanceDesk:
    """Each call is one transaction; a clearing is a conditional update of what is still open."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # alerts -------------------------------------------------------------------------------------
    def list_alerts(self, query: AlertQuery) -> Page[Alert]:
        select = alerts.select()
        for column, value in (
            (alerts.c.status, query.status),
            (alerts.c.severity, query.severity),
            (alerts.c.customer_id, query.customer_id),
            (alerts.c.account_id, query.account_id),
        ):
            if value is not None:
                select = select.where(column == str(value))
        select = keyset_page(select, alerts, query.after, query.limit + 1)
        with self._db.read() as conn:
            found = [_alert(row) for row in conn.execute(select)]
        return Page.of(found, query.limit)

    def get_alert(self, alert_id: str) -> Alert | None:
        with self._db.read() as conn:
            row = conn.execute(alerts.select().where(alerts.c.id == alert_id)).first()
        return None if row is None else _alert(row)

    def clear_alert(self, alert_id: str, clearance: Clearance) -> bool:
        with self._db.write() as conn:
            updated = conn.execute(
                alerts.update()
                .where((alerts.c.id == alert_id) & (alerts.c.status == AlertStatus.OPEN.value))
                .values(
                    status=AlertStatus.CLEARED.value,
                    cleared_at=clearance.at,
                    cleared_by=clearance.officer,
                    clear_reason=clearance.reason,
                )
            )
        return bool(updated.rowcount == 1)

    # restrictions -------------------------------------------------------------------------------
    def restrictions(self, query: RestrictionQuery) -> Page[Restriction]:
        select = restrictions.select()
        if query.active is not None:
            select = select.where(
                restrictions.c.cleared_at.is_(None)
                if query.active
                else restrictions.c.cleared_at.is_not(None)
            )
        for column, value in (
            (restrictions.c.customer_id, query.customer_id),
            (restrictions.c.account_id, query.account_id),
        ):
            if value is not None:
                select = select.where(column == value)
        select = keyset_page(select, restrictions, query.after, query.limit + 1, at="restricted_at")
        with self._db.read() as conn:
            found = [_restriction(row) for row in conn.execute(select)]
        return Page.of(found, query.limit)

    def account_restrictions(self, account_id: str) -> list[Restriction]:
        with self._db.read() as conn:
            rows = conn.execute(
                restrictions.select()
                .where(restrictions.c.account_id == account_id)
                .order_by(restrictions.c.restricted_at.desc(), restrictions.c.id.desc())
            ).all()
        return [_restriction(row) for row in rows]

    def clear_restrictions(self, restriction_ids: Sequence[str], clearance: Clearance) -> int:
        with self._db.write() as conn:
            updated = conn.execute(
                restrictions.update()
                .where(restrictions.c.id.in_(list(restriction_ids)) & restrictions.c.cleared_at.is_(None))
                .values(cleared_at=clearance.at, cleared_by=clearance.officer, clear_reason=clearance.reason)
            )
        return int(updated.rowcount)


def _clearance(row: Any) -> Clearance | None:
    if row.cleared_at is None:
        return None
    return Clearance(officer=row.cleared_by or "", reason=row.clear_reason or "", at=as_utc(row.cleared_at))


def _alert(row: Any) -> Alert:
    return Alert(
        id=row.id,
        rule=row.rule,
        code=row.code,
        severity=Severity(row.severity),
        status=AlertStatus(row.status),
        account_id=row.account_id,
        customer_id=row.customer_id,
        instrument_id=row.instrument_id,
        message=row.message,
        facts={str(k): str(v) for k, v in row.facts.items()},
        order_ids=tuple(row.order_ids),
        created_at=as_utc(row.created_at),
        clearance=_clearance(row),
    )


def _restriction(row: Any) -> Restriction:
    return Restriction(
        id=row.id,
        account_id=row.account_id,
        customer_id=row.customer_id,
        reason=row.reason,
        alert_ids=tuple(row.alert_ids),
        restricted_at=as_utc(row.restricted_at),
        clearance=_clearance(row),
    )
