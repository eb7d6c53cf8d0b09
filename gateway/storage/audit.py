"""The audit chain on SQL: appends serialise on the head row, in SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.domain.audit.chain import GENESIS, AuditEntry, AuditRecord, ChainHead, link
from gateway.storage.database import Database, as_utc
from gateway.storage.tables import AuditHeadRow, AuditRecordRow

records = AuditRecordRow.__table__  # type: ignore[attr-defined]
heads = AuditHeadRow.__table__  # type: ignore[attr-defined]


class SqlAuditLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    def append(self, entry: AuditEntry) -> AuditRecord:
        with self._db.write() as conn:
            prev_hash, seq = self._claim_next(conn)
            record = link(seq, prev_hash, entry)
            conn.execute(
                records.insert().values(
                    seq=record.seq,
                    occurred_at=entry.occurred_at,
                    actor=entry.actor,
                    action=entry.action,
                    resource=entry.resource,
                    outcome=entry.outcome,
                    request_id=entry.request_id,
                    details=dict(entry.details),
                    prev_hash=record.prev_hash,
                    hash=record.hash,
                )
            )
            conn.execute(heads.update().where(heads.c.id == 1).values(hash=record.hash))
        return record

    @staticmethod
    def _claim_next(conn: Connection) -> tuple[str, int]:
        """Bump the head and return the previous hash and the new seq, holding the head's lock."""
        # Taking the row lock first (UPDATE) serialises appenders across processes.
        bump = heads.update().where(heads.c.id == 1).values(seq=heads.c.seq + 1)
        if not conn.execute(bump).rowcount:
            try:
                with conn.begin_nested():
                    conn.execute(heads.insert().values(id=1, seq=1, hash=GENESIS))
                return GENESIS, 1
            except sa.exc.IntegrityError:
                # Another first appender created the head meanwhile (PostgreSQL takes no lock on
                # a row that does not exist yet): queue behind its lock like any later appender.
                conn.execute(bump)
        head = conn.execute(sa.select(heads.c.seq, heads.c.hash).where(heads.c.id == 1)).one()
        return head.hash, head.seq

    def head(self) -> ChainHead | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(heads.c.seq, heads.c.hash).where(heads.c.id == 1)).first()
        return ChainHead(row.seq, row.hash) if row else None

    def records(self, *, after: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        query = records.select().where(records.c.seq > after).order_by(records.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            for row in conn.execute(query):
                entry = AuditEntry(
                    occurred_at=as_utc(row.occurred_at),
                    actor=row.actor,
                    action=row.action,
                    resource=row.resource,
                    outcome=row.outcome,
                    request_id=row.request_id,
                    details=row.details,
                )
                yield AuditRecord(seq=row.seq, entry=entry, prev_hash=row.prev_hash, hash=row.hash)
