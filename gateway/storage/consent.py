"""Consents and their ledger on SQL: each write changes the consent, appends the event and moves
the ledger head in one transaction, in SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.domain.audit.chain import GENESIS, ChainHead
from gateway.domain.consent.models import (
    Consent,
    ConsentEvent,
    ConsentStatus,
    EventKind,
    NewEvent,
    limit_from_document,
    link_event,
)
from gateway.domain.ids import new_id
from gateway.domain.scopes import Scope
from gateway.storage.database import Database, as_utc
from gateway.storage.paging import keyset_page
from gateway.storage.tables.consent import ConsentEventRow, ConsentHeadRow, ConsentRow
from gateway.storage.tables.outbox import OutboxRow

consents = ConsentRow.__table__
events = ConsentEventRow.__table__
heads = ConsentHeadRow.__table__
outbox = OutboxRow.__table__
HEAD_ID = 1


class SqlConsentRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, consent: Consent, event: NewEvent) -> ConsentEvent:
        with self._db.write() as conn:
            conn.execute(consents.insert().values(id=consent.id, **_columns(consent)))
            return _announce(conn, consent, _append(conn, event))

    def transition(
        self, updated: Consent, *, expected: ConsentStatus, event: NewEvent
    ) -> ConsentEvent | None:
        # The consent row first, the head last: every writer takes the locks in this order, so
        # none waits for another in a cycle. On PostgreSQL the loser of a race blocks on the row,
        # then re-reads it (READ COMMITTED) and no longer matches `expected`; on SQLite BEGIN
        # IMMEDIATE already serialised the two.
        compare_and_set = (
            consents.update()
            .where((consents.c.id == updated.id) & (consents.c.status == expected.value))
            .values(**_columns(updated))
        )
        with self._db.write() as conn:
            if conn.execute(compare_and_set).rowcount != 1:
                return None  # nothing written: the transaction ends empty
            return _announce(conn, updated, _append(conn, event))

    def get(self, consent_id: str) -> Consent | None:
        with self._db.read() as conn:
            row = conn.execute(consents.select().where(consents.c.id == consent_id)).first()
        return _consent(row) if row else None

    def list_for_partner(
        self,
        partner_id: str,
        *,
        status: ConsentStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Sequence[Consent]:
        query = consents.select().where(consents.c.partner_id == partner_id)
        if status is not None:
            query = query.where(consents.c.status == status.value)
        owner = {"partner_id": partner_id}
        query = keyset_page(query, consents, after, limit, owner=owner, newest_first=False)
        with self._db.read() as conn:
            return [_consent(row) for row in conn.execute(query)]

    def list_for_customer(self, customer_id: str) -> Sequence[Consent]:
        query = (
            consents.select()
            .where(consents.c.customer_id == customer_id)
            .order_by(consents.c.created_at, consents.c.id)
        )
        with self._db.read() as conn:
            return [_consent(row) for row in conn.execute(query)]

    def lapsed(
        self, now: datetime, *, limit: int = 100, customer_ids: Collection[str] | None = None
    ) -> Sequence[str]:
        query = (
            sa.select(consents.c.id)
            .where(_authorized(customer_ids) & (consents.c.expires_at <= now))
            .order_by(consents.c.expires_at, consents.c.id)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [row.id for row in conn.execute(query)]

    def earliest_expiry(self, customer_ids: Collection[str]) -> datetime | None:
        query = sa.select(sa.func.min(consents.c.expires_at)).where(_authorized(customer_ids))
        with self._db.read() as conn:
            earliest = conn.execute(query).scalar()
        return _utc(earliest) if earliest is not None else None

    def events(self, consent_id: str | None = None) -> Sequence[ConsentEvent]:
        query = events.select().order_by(events.c.seq)
        if consent_id is not None:
            query = query.where(events.c.consent_id == consent_id)
        with self._db.read() as conn:
            return [_event(row) for row in conn.execute(query)]

    def head(self) -> ChainHead | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(heads.c.seq, heads.c.hash).where(heads.c.id == HEAD_ID)).first()
        return ChainHead(row.seq, row.hash) if row else None


def _authorized(customer_ids: Collection[str] | None) -> sa.ColumnElement[bool]:
    condition = consents.c.status == ConsentStatus.AUTHORIZED.value
    if customer_ids is not None:
        condition = condition & consents.c.customer_id.in_(list(customer_ids))
    return condition


def _append(conn: Connection, event: NewEvent) -> ConsentEvent:
    """Chain one event behind the head and move the head onto it, inside the caller's transaction."""
    prev_hash, seq = _claim(conn)
    linked = link_event(seq, prev_hash, event)
    conn.execute(
        events.insert().values(
            seq=linked.seq,
            consent_id=linked.consent_id,
            kind=linked.kind.value,
            at=linked.at.astimezone(UTC),  # SQLite keeps the wall time only: always UTC
            actor=linked.actor,
            details=dict(linked.details),
            prev_hash=linked.prev_hash,
            hash=linked.hash,
        )
    )
    conn.execute(heads.update().where(heads.c.id == HEAD_ID).values(hash=linked.hash))
    return linked


def _announce(conn: Connection, consent: Consent, event: ConsentEvent) -> ConsentEvent:
    """Put `consent.<kind>` for the partner into the outbox, in the transaction of the change."""
    conn.execute(
        outbox.insert().values(
            id=new_id("evt"),
            type=f"consent.{event.kind.value}",
            partner_id=consent.partner_id,
            subject_id=consent.id,
            payload={
                "consent_id": consent.id,
                "status": consent.status.value,
                "at": event.at.astimezone(UTC).isoformat(),
                **{key: str(value) for key, value in event.details.items()},
            },
            created_at=event.at.astimezone(UTC),
        )
    )
    return event


def _claim(conn: Connection) -> tuple[str, int]:
    """Move the head one event on and return the hash to link to and the new seq (as the audit log)."""
    # Read the head under its row lock (UPDATE first): appenders in other processes queue here.
    bump = heads.update().where(heads.c.id == HEAD_ID).values(seq=heads.c.seq + 1)
    if not conn.execute(bump).rowcount:
        try:
            with conn.begin_nested():
                conn.execute(heads.insert().values(id=HEAD_ID, seq=1, hash=GENESIS))
            return GENESIS, 1
        except sa.exc.IntegrityError:
            # Another first appender created the head meanwhile (PostgreSQL locks no row that does
            # not exist yet): queue behind its lock like any later appender.
            conn.execute(bump)
    head = conn.execute(sa.select(heads.c.seq, heads.c.hash).where(heads.c.id == HEAD_ID)).one()
    return head.hash, head.seq


def _columns(consent: Consent) -> dict[str, Any]:
    return {
        "partner_id": consent.partner_id,
        "client_id": consent.client_id,
        "customer_id": consent.customer_id,
        "permissions": sorted(str(scope) for scope in consent.permissions),
        "purpose": consent.purpose,
        "expires_at": consent.expires_at.astimezone(UTC),
        "limits": [limit.as_document() for limit in consent.limits],
        "cross_border": consent.cross_border,
        "status": consent.status.value,
        "created_at": consent.created_at.astimezone(UTC),
        "updated_at": consent.updated_at.astimezone(UTC),
        "revoked_by": consent.revoked_by,
    }


def _utc(moment: datetime) -> datetime:
    # SQLite gives naive UTC back, PostgreSQL the session's zone: the same instant, told in UTC.
    return as_utc(moment).astimezone(UTC)


def _consent(row: Any) -> Consent:
    return Consent(
        id=row.id,
        partner_id=row.partner_id,
        client_id=row.client_id,
        customer_id=row.customer_id,
        permissions=frozenset(Scope(scope) for scope in row.permissions),
        purpose=row.purpose,
        expires_at=_utc(row.expires_at),
        limits=tuple(limit_from_document(document) for document in row.limits),
        cross_border=bool(row.cross_border),
        status=ConsentStatus(row.status),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        revoked_by=row.revoked_by,
    )


def _event(row: Any) -> ConsentEvent:
    return ConsentEvent(
        seq=row.seq,
        consent_id=row.consent_id,
        kind=EventKind(row.kind),
        at=_utc(row.at),
        actor=row.actor,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
