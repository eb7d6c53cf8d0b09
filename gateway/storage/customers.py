"""Customers, their login state and browser sessions, and the log of what partners read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.domain.customers.models import Customer
from gateway.domain.identity.models import Credentials, SessionRecord
from gateway.domain.sharing.models import DisclosureRecord
from gateway.storage.database import Database, as_utc
from gateway.storage.tables.customers import CustomerRow, CustomerSessionRow, DisclosureRow

customers = CustomerRow.__table__
sessions = CustomerSessionRow.__table__
disclosures = DisclosureRow.__table__


class SqlCustomerStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # customers ----------------------------------------------------------------------------------
    def upsert(self, customer: Customer, *, password_hash: str, now: datetime) -> None:
        """Seed or refresh a customer (demo data); a new password clears any lockout."""
        values = {
            "username": customer.username,
            "password_hash": password_hash,
            "failed_logins": 0,
            "locked_until": None,
            "document": customer.to_document(),
        }
        with self._db.write() as conn:
            updated = conn.execute(customers.update().where(customers.c.id == customer.id).values(**values))
            if not updated.rowcount:
                conn.execute(customers.insert().values(id=customer.id, created_at=now, **values))

    def refresh(self, customer: Customer) -> bool:
        """Rewrite a seeded customer's record (new facts in the seed data), keeping its sign-in state."""
        with self._db.write() as conn:
            updated = conn.execute(
                customers.update()
                .where(customers.c.id == customer.id, customers.c.document != customer.to_document())
                .values(document=customer.to_document())
            )
        return bool(updated.rowcount)

    def get(self, customer_id: str) -> Customer | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(customers.c.document).where(customers.c.id == customer_id)).first()
        return Customer.from_document(row.document) if row else None

    def list_ids(self) -> list[str]:
        with self._db.read() as conn:
            return [row.id for row in conn.execute(sa.select(customers.c.id).order_by(customers.c.id))]

    def credentials(self, username: str) -> Credentials | None:
        query = sa.select(
            customers.c.id, customers.c.password_hash, customers.c.failed_logins, customers.c.locked_until
        ).where(customers.c.username == username)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        locked = as_utc(row.locked_until) if row.locked_until is not None else None
        return Credentials(row.id, row.password_hash, row.failed_logins, locked)

    def record_failure(self, customer_id: str, *, now: datetime, lock_after: int, lock_for: timedelta) -> int:
        """Count a failed login atomically; the `lock_after`-th in a row locks the account."""
        with self._db.write() as conn:
            conn.execute(
                customers.update()
                .where(customers.c.id == customer_id)
                .values(failed_logins=customers.c.failed_logins + 1)
            )
            failures: int = conn.execute(
                sa.select(customers.c.failed_logins).where(customers.c.id == customer_id)
            ).scalar_one()
            if failures >= lock_after:
                conn.execute(
                    customers.update()
                    .where(customers.c.id == customer_id)
                    .values(failed_logins=0, locked_until=now + lock_for)
                )
        return failures

    def record_success(self, customer_id: str, *, password_hash: str | None = None) -> None:
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if password_hash is not None:
            values["password_hash"] = password_hash
        with self._db.write() as conn:
            conn.execute(customers.update().where(customers.c.id == customer_id).values(**values))

    # sessions -----------------------------------------------------------------------------------
    def add_session(self, id_hash: str, record: SessionRecord, *, now: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at <= now))
            conn.execute(
                sessions.insert().values(
                    id_hash=id_hash,
                    customer_id=record.customer_id,
                    csrf_token=record.csrf_token,
                    created_at=now,
                    expires_at=record.expires_at,
                )
            )

    def session(self, id_hash: str) -> SessionRecord | None:
        query = sa.select(sessions.c.customer_id, sessions.c.csrf_token, sessions.c.expires_at).where(
            sessions.c.id_hash == id_hash
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return SessionRecord(row.customer_id, row.csrf_token, as_utc(row.expires_at)) if row else None

    def end_session(self, id_hash: str) -> None:
        with self._db.write() as conn:
            conn.execute(sessions.delete().where(sessions.c.id_hash == id_hash))

    # disclosures --------------------------------------------------------------------------------
    def add_disclosure(self, record: DisclosureRecord) -> None:
        with self._db.write() as conn:
            conn.execute(
                disclosures.insert().values(
                    id=record.id,
                    consent_id=record.consent_id,
                    customer_id=record.customer_id,
                    partner_id=record.partner_id,
                    client_id=record.client_id,
                    resource=record.resource,
                    categories=list(record.categories),
                    fields=list(record.fields),
                    masked=list(record.masked),
                    withheld=list(record.withheld),
                    decisions=[dict(d) for d in record.decisions],
                    at=record.at,
                )
            )

    def disclosures(self, customer_id: str, *, limit: int = 100) -> Sequence[DisclosureRecord]:
        query = (
            disclosures.select()
            .where(disclosures.c.customer_id == customer_id)
            .order_by(disclosures.c.at.desc(), disclosures.c.id.desc())
            .limit(limit)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [
            DisclosureRecord(
                id=row.id,
                consent_id=row.consent_id,
                customer_id=row.customer_id,
                partner_id=row.partner_id,
                client_id=row.client_id,
                resource=row.resource,
                categories=tuple(row.categories),
                fields=tuple(row.fields),
                masked=tuple(row.masked),
                withheld=tuple(row.withheld),
                decisions=tuple(row.decisions),
                at=as_utc(row.at),
            )
            for row in rows
        ]
