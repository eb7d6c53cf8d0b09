"""Sandbox workspaces in SQL: a copy, its opening balances and its restrictions land in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from gateway.domain.customers.models import Customer
from gateway.domain.ids import new_id
from gateway.domain.trading.ports import Restriction
from gateway.domain.trading.positions import opening_entry
from gateway.storage.database import Database
from gateway.storage.tables.customers import CustomerRow
from gateway.storage.tables.sandbox import PersonaCopyRow, SandboxWorkspaceRow
from gateway.storage.trading import SqlTradingSession

workspaces = SandboxWorkspaceRow.__table__
copies = PersonaCopyRow.__table__
customers = CustomerRow.__table__
# Never a valid Argon2 hash: a copy cannot be signed into by its own username, only through its persona.
NO_PASSWORD: Final = "!persona-copy"  # noqa: S105 (a marker that no password matches)
RESTRICTION_REASON: Final = "sandbox persona: restricted account (clear it in the supervisor console)"


class SqlWorkspaceStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def generation(self, client_id: str) -> int:
        with self._db.read() as conn:
            value = conn.execute(
                sa.select(workspaces.c.generation).where(workspaces.c.client_id == client_id)
            ).scalar()
        return int(value or 0)

    def next_generation(self, client_id: str, *, at: datetime) -> tuple[int, Sequence[str]]:
        with self._db.write() as conn:
            current = conn.execute(
                sa.select(workspaces.c.generation).where(workspaces.c.client_id == client_id)
            ).scalar()
            if current is None:
                conn.execute(workspaces.insert().values(client_id=client_id, generation=1, reset_at=at))
                generation = 1
            else:
                generation = int(current) + 1
                conn.execute(
                    workspaces.update()
                    .where(workspaces.c.client_id == client_id, workspaces.c.generation == current)
                    .values(generation=generation, reset_at=at)
                )
            old = conn.execute(
                sa.select(copies.c.customer_id)
                .where(copies.c.client_id == client_id, copies.c.generation < generation)
                .order_by(copies.c.customer_id)
            ).scalars()
            return generation, list(old)

    def owner(self, customer_id: str) -> str | None:
        with self._db.read() as conn:
            value = conn.execute(
                sa.select(copies.c.client_id).where(copies.c.customer_id == customer_id)
            ).scalar()
        return None if value is None else str(value)

    def add_copy(
        self, client_id: str, generation: int, customer: Customer, *, restricted: bool, at: datetime
    ) -> bool:
        with self._db.write() as conn:
            trading = SqlTradingSession(conn)
            trading.lock_trading()  # the opening entry moves balances: one trading writer at a time
            exists = conn.execute(sa.select(copies.c.customer_id).where(copies.c.customer_id == customer.id))
            if exists.first() is not None:
                return False
            persona = customer.username.rsplit(".", 1)[0]
            conn.execute(
                copies.insert().values(
                    customer_id=customer.id,
                    client_id=client_id,
                    generation=generation,
                    persona=persona,
                    created_at=at,
                )
            )
            conn.execute(
                customers.insert().values(
                    id=customer.id,
                    username=customer.username,
                    password_hash=NO_PASSWORD,
                    failed_logins=0,
                    document=customer.to_document(),
                    created_at=at,
                )
            )
            entry = opening_entry(customer, at)
            if entry is not None:
                trading.post(entry)
            if restricted:
                for account in customer.accounts:
                    trading.restrict(
                        new_id("rst"),
                        Restriction(account.id, customer.id, RESTRICTION_REASON, (), at),
                    )
            return True
