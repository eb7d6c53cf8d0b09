"""The surveillance desk of one environment: the alert queue and account restrictions that the
trading service records, read and cleared by compliance officers (gateway.domain.compliance.alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Connection

from gateway.domain.compliance.alerts import (
    Alert,
    AlertAlreadyClearedError,
    AlertNotFoundError,
    AlertQuery,
    AlertStatus,
    Clearance,
    Page,
    Restriction,
    RestrictionNotActiveError,
    RestrictionNotFoundError,
    RestrictionQuery,
)
from gateway.domain.compliance.surveillance import Severity
from gateway.storage.database import Database, as_utc
from gateway.storage.paging import keyset_page
from gateway.storage.tables import AlertRow, RestrictionRow


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)
alerts = AlertRow.__table__  # type: ignore[attr-defined]
restrictions = RestrictionRow.__table__  # type: ignore[attr-defined]


class SqlSurveillanceDesk:
    """Each call is one transaction; a clearing is a conditional update, so two officers racing to
    clear the same alert or restriction get one success and one conflict."""

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
        return _page(found, query.limit)

    def get_alert(self, alert_id: str) -> Alert:
        with self._db.read() as conn:
            return _load_alert(conn, alert_id)

    def clear_alert(self, alert_id: str, *, officer: str, reason: str, now: datetime) -> Alert:
        clearance = Clearance.of(officer, reason, now)
        with self._db.write() as conn:
            cleared = _load_alert(conn, alert_id).clear(clearance)  # CLR-01 on what this transaction sees
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
            if updated.rowcount != 1:  # another officer's clearing committed first
                raise AlertAlreadyClearedError("the alert is already cleared", alert_id=alert_id)
        return cleared

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
        return _page(found, query.limit)

    def clear_restriction(self, account_id: str, *, officer: str, reason: str, now: datetime) -> Restriction:
        """Clear the account's active restriction (CLR-02); the account may place orders again."""
        clearance = Clearance.of(officer, reason, now)
        with self._db.write() as conn:
            rows = conn.execute(
                restrictions.select()
                .where(restrictions.c.account_id == account_id)
                .order_by(restrictions.c.restricted_at.desc(), restrictions.c.id.desc())
            ).all()
            if not rows:
                raise RestrictionNotFoundError("the account has no restriction", account_id=account_id)
            active = [r for r in (_restriction(row) for row in rows) if r.active]
            if not active:  # CLR-02
                raise RestrictionNotActiveError(
                    "the account's restriction is already cleared", account_id=account_id
                )
            # A race in the trading service may have left two active ones: one clearing ends both.
            updated = conn.execute(
                restrictions.update()
                .where((restrictions.c.account_id == account_id) & restrictions.c.cleared_at.is_(None))
                .values(cleared_at=clearance.at, cleared_by=clearance.officer, clear_reason=clearance.reason)
            )
            if updated.rowcount == 0:  # another officer's clearing committed first
                raise RestrictionNotActiveError(
                    "the account's restriction is already cleared", account_id=account_id
                )
        return active[0].clear(clearance)


def _page(found: Sequence[T], limit: int) -> Page[T]:
    """`found` holds up to `limit + 1` items: one more than the page says that a next page exists."""
    items = tuple(found[:limit])
    more = len(found) > limit
    return Page(items=items, next_after=items[-1].id if more else None)


def _load_alert(conn: Connection, alert_id: str) -> Alert:
    row = conn.execute(alerts.select().where(alerts.c.id == alert_id)).first()
    if row is None:
        raise AlertNotFoundError("no such alert", alert_id=alert_id)
    return _alert(row)


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
