"""Stored responses for `Idempotency-Key`, claimed atomically by the first request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.domain.idempotency.errors import IdempotencyContentionError
from gateway.domain.idempotency.ports import IdempotencyRecord, StoredResponse
from gateway.storage.database import Database, as_utc
from gateway.storage.tables.idempotency import IdempotencyRow

rows = IdempotencyRow.__table__
IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class SqlIdempotencyStore:
    def __init__(self, database: Database, *, lease: timedelta = timedelta(seconds=30)) -> None:
        self._db = database
        self._lease = lease

    def claim(
        self, *, client_id: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None:
        """None when this request now owns the key; otherwise the record that holds it."""
        values: dict[str, Any] = {
            "client_id": client_id,
            "key": key,
            "fingerprint": fingerprint,
            "state": IN_PROGRESS,
            "status_code": None,
            "response_headers": [],
            "response_body": b"",
            "created_at": now,
            "expires_at": expires_at,
        }
        where = (rows.c.client_id == client_id) & (rows.c.key == key)
        for _attempt in range(3):
            try:
                with self._db.write() as conn:
                    conn.execute(rows.insert().values(**values))
                return None
            except IntegrityError:
                pass  # someone holds the key: read what they stored (PostgreSQL needs a new transaction)
            with self._db.read() as conn:
                row = conn.execute(rows.select().where(where)).first()
            if row is not None and as_utc(row.expires_at) > now and not self._abandoned(row, now):
                return _record(row)
            # Gone, expired, or abandoned by a request whose worker died: clear the row (only if it is
            # still the one we saw) and race for the key again.
            stale = (rows.c.expires_at <= now) | (
                (rows.c.state == IN_PROGRESS) & (rows.c.created_at <= now - self._lease)
            )
            with self._db.write() as conn:
                conn.execute(rows.delete().where(where & stale))
        raise IdempotencyContentionError("the Idempotency-Key is contended; retry shortly")

    def _abandoned(self, row: Any, now: datetime) -> bool:
        return bool(row.state == IN_PROGRESS and as_utc(row.created_at) <= now - self._lease)

    def complete(self, *, client_id: str, key: str, response: StoredResponse) -> None:
        with self._db.write() as conn:
            conn.execute(
                rows.update()
                .where((rows.c.client_id == client_id) & (rows.c.key == key))
                .values(
                    state=COMPLETED,
                    status_code=response.status,
                    response_headers=[list(pair) for pair in response.headers],
                    response_body=response.body,
                )
            )

    def release(self, *, client_id: str, key: str) -> None:
        with self._db.write() as conn:
            conn.execute(rows.delete().where((rows.c.client_id == client_id) & (rows.c.key == key)))

    def purge(self, now: datetime) -> int:
        with self._db.write() as conn:
            return int(conn.execute(sa.delete(rows).where(rows.c.expires_at <= now)).rowcount)


def _record(row: Any) -> IdempotencyRecord:
    response = None
    if row.state == COMPLETED and row.status_code is not None:
        response = StoredResponse(
            status=row.status_code,
            headers=[(str(name), str(value)) for name, value in row.response_headers],
            body=bytes(row.response_body),
        )
    return IdempotencyRecord(fingerprint=row.fingerprint, response=response)
