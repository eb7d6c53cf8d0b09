"""The audit chain on SQL: appends serialise on the head row, in SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.domain.audit.chain import GENESIS, AuditEntry, AuditRecord, ChainHead, link
from gateway.storage.database import Database, as_utc
from gateway.storage.tables.audit import AuditHeadRow, AuditRecordRow

records = AuditRecordRow.__table__
heads = AuditHeadRow.__table__


class SqlAuditLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    def append(self, entry: AuditEntry) -> AuditRecord:
        return self.append_many([entry])[-1]

    def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Chain a batch in one transaction: one lock, one head update, however many records."""
        if not entries:
            return []
        chained: list[AuditRecord] = []
        with self._db.write() as conn:
            prev_hash, seq = self._claim(conn, len(entries))
            for entry in entries:
                record = link(seq, prev_hash, entry)
                chained.append(record)
                prev_hash, seq = record.hash, seq + 1
            conn.execute(
                records.insert(),
                [
                    {
                        "seq": r.seq,
                        "occurred_at": r.entry.occurred_at,
                        "actor": r.entry.actor,
                        "action": r.entry.action,
                        "resource": r.entry.resource,
                        "outcome": r.entry.outcome,
                        "request_id": r.entry.request_id,
                        "details": dict(r.entry.details),
                        "prev_hash": r.prev_hash,
                        "hash": r.hash,
                    }
                    for r in chained
                ],
            )
            conn.execute(heads.update().where(heads.c.id == 1).values(hash=chained[-1].hash))
        return chained

    @staticmethod
    def _claim(conn: Connection, count: int) -> tuple[str, int]:
        """Move the head `count` records on; return the previous hash and the first new seq."""
        # Taking the row lock first (UPDATE) serialises appenders across processes.
        bump = heads.update().where(heads.c.id == 1).values(seq=heads.c.seq + count)
        if not conn.execute(bump).rowcount:
            try:
                with conn.begin_nested():
                    conn.execute(heads.insert().values(id=1, seq=count, hash=GENESIS))
                return GENESIS, 1
            except sa.exc.IntegrityError:
                # Another first appender created the head meanwhile (PostgreSQL takes no lock on
                # a row that does not exist yet): queue behind its lock like any later appender.
                conn.execute(bump)
        head = conn.execute(sa.select(heads.c.seq, heads.c.hash).where(heads.c.id == 1)).one()
        return head.hash, head.seq - count + 1

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
