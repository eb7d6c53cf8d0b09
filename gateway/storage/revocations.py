"""Revoked access tokens (RFC 7009), kept until the token would have expired anyway."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from gateway.storage.database import Database, as_utc
from gateway.storage.tables.revocations import RevokedTokenRow

revoked = RevokedTokenRow.__table__


class SqlRevocations:
    def __init__(self, database: Database) -> None:
        self._db = database

    def revoke(self, *, jti: str, client_id: str, expires_at: datetime, revoked_at: datetime) -> None:
        with self._db.write() as conn:
            exists = conn.execute(sa.select(revoked.c.jti).where(revoked.c.jti == jti)).first()
            if exists is None:
                conn.execute(
                    revoked.insert().values(
                        jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=revoked_at
                    )
                )

    def revoked_since(self, moment: datetime) -> list[tuple[str, datetime]]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(revoked.c.jti, revoked.c.revoked_at).where(revoked.c.revoked_at >= moment)
            ).all()
        return [(row.jti, as_utc(row.revoked_at)) for row in rows]
