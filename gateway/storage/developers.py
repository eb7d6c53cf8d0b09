"""Developer portal accounts on SQL (the control plane, in the production database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.domain.identity.models import Developer, DeveloperCredentials
from gateway.storage.database import Database, as_utc
from gateway.storage.tables.developers import DeveloperAccountRow

accounts = DeveloperAccountRow.__table__


def _developer(row: Any) -> Developer:
    return Developer(id=row.id, email=row.email, partner_id=row.partner_id, created_at=as_utc(row.created_at))


class SqlDeveloperStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, developer: Developer, password_hash: str) -> bool:
        """Insert the account; False when the e-mail was taken meanwhile (the unique constraint decides)."""
        try:
            with self._db.write() as conn:
                conn.execute(
                    accounts.insert().values(
                        id=developer.id,
                        email=developer.email,
                        partner_id=developer.partner_id,
                        password_hash=password_hash,
                        failed_logins=0,
                        locked_until=None,
                        created_at=developer.created_at,
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def get(self, developer_id: str) -> Developer | None:
        with self._db.read() as conn:
            row = conn.execute(accounts.select().where(accounts.c.id == developer_id)).first()
        return _developer(row) if row else None

    def email_taken(self, email: str) -> bool:
        with self._db.read() as conn:
            row = conn.execute(sa.select(accounts.c.id).where(accounts.c.email == email)).first()
        return row is not None

    def credentials(self, email: str) -> DeveloperCredentials | None:
        with self._db.read() as conn:
            row = conn.execute(accounts.select().where(accounts.c.email == email)).first()
        if row is None:
            return None
        locked = as_utc(row.locked_until) if row.locked_until is not None else None
        return DeveloperCredentials(_developer(row), row.password_hash, row.failed_logins, locked)

    def record_failure(
        self, developer_id: str, *, now: datetime, lock_after: int, lock_for: timedelta
    ) -> int:
        """Count a failed sign-in atomically; the `lock_after`-th in a row locks the account."""
        with self._db.write() as conn:
            conn.execute(
                accounts.update()
                .where(accounts.c.id == developer_id)
                .values(failed_logins=accounts.c.failed_logins + 1)
            )
            failures: int = conn.execute(
                sa.select(accounts.c.failed_logins).where(accounts.c.id == developer_id)
            ).scalar_one()
            if failures >= lock_after:
                conn.execute(
                    accounts.update()
                    .where(accounts.c.id == developer_id)
                    .values(failed_logins=0, locked_until=now + lock_for)
                )
        return failures

    def record_success(self, developer_id: str, *, password_hash: str | None = None) -> None:
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if password_hash is not None:
            values["password_hash"] = password_hash
        with self._db.write() as conn:
            conn.execute(accounts.update().where(accounts.c.id == developer_id).values(**values))
