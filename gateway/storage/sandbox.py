"""Sandbox workspaces in SQL: a copy, its opening balances and its restrictions land in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.domain.customers.models import Customer
from gateway.domain.ids import new_id
from gateway.domain.trading.ports import Restriction
from gateway.domain.trading.positions import opening_entry
from gateway.storage.database import Database, as_utc
from gateway.storage.tables.customers import CustomerRow
from gateway.storage.tables.sandbox import (
    ClockAttachmentRow,
    PersonaCopyRow,
    SandboxWorkspaceRow,
    TestClockRow,
)
from gateway.storage.trading import SqlTradingSession
from sandbox.clocks import TestClock

workspaces = SandboxWorkspaceRow.__table__
copies = PersonaCopyRow.__table__
customers = CustomerRow.__table__
clocks = TestClockRow.__table__
attachments_table = ClockAttachmentRow.__table__
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


class SqlClockStore:
    """Test clocks and their attachments (sandbox/clocks.py `ClockStore`)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, clock: TestClock, attachments: Sequence[tuple[str, str]]) -> None:
        with self._db.write() as conn:
            conn.execute(
                clocks.insert().values(
                    id=clock.id,
                    client_id=clock.client_id,
                    name=clock.name,
                    frozen_time=clock.frozen_time,
                    created_at=clock.created_at,
                )
            )
            for persona, customer_id in attachments:
                conn.execute(
                    attachments_table.insert().values(
                        customer_id=customer_id, clock_id=clock.id, persona=persona
                    )
                )

    def get(self, client_id: str, clock_id: str) -> TestClock | None:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(clocks).where(clocks.c.id == clock_id, clocks.c.client_id == client_id)
            ).first()
            return None if row is None else _clock(row, _personas(conn, [row.id])[row.id])

    def clocks_of(self, client_id: str) -> list[TestClock]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(clocks)
                .where(clocks.c.client_id == client_id)
                .order_by(clocks.c.created_at, clocks.c.id)
            ).all()
            personas = _personas(conn, [row.id for row in rows])
        return [_clock(row, personas[row.id]) for row in rows]

    def customers(self, clock_id: str) -> list[str]:
        with self._db.read() as conn:
            return list(
                conn.execute(
                    sa.select(attachments_table.c.customer_id)
                    .where(attachments_table.c.clock_id == clock_id)
                    .order_by(attachments_table.c.customer_id)
                ).scalars()
            )

    def attached(self, customer_ids: Sequence[str]) -> dict[str, str]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(attachments_table.c.customer_id, attachments_table.c.clock_id).where(
                    attachments_table.c.customer_id.in_(list(customer_ids))
                )
            ).all()
        return {row.customer_id: row.clock_id for row in rows}

    def move(self, clock_id: str, before: datetime, after: datetime) -> bool:
        with self._db.write() as conn:
            moved = conn.execute(
                clocks.update()
                .where(clocks.c.id == clock_id, clocks.c.frozen_time == before)
                .values(frozen_time=after)
            )
        return bool(moved.rowcount)

    def delete(self, clock_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(attachments_table.delete().where(attachments_table.c.clock_id == clock_id))
            conn.execute(clocks.delete().where(clocks.c.id == clock_id))

    def delete_for_app(self, client_id: str) -> int:
        with self._db.write() as conn:
            ids = list(conn.execute(sa.select(clocks.c.id).where(clocks.c.client_id == client_id)).scalars())
            conn.execute(attachments_table.delete().where(attachments_table.c.clock_id.in_(ids)))
            conn.execute(clocks.delete().where(clocks.c.id.in_(ids)))
        return len(ids)

    def time_of(self, customer_id: str) -> datetime | None:
        query = (
            sa.select(clocks.c.frozen_time)
            .join(attachments_table, attachments_table.c.clock_id == clocks.c.id)
            .where(attachments_table.c.customer_id == customer_id)
        )
        with self._db.read() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else as_utc(value)


def _personas(conn: Connection, clock_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {clock_id: [] for clock_id in clock_ids}
    rows = conn.execute(
        sa.select(attachments_table.c.clock_id, attachments_table.c.persona)
        .where(attachments_table.c.clock_id.in_(list(clock_ids)))
        .order_by(attachments_table.c.persona)
    )
    for row in rows:
        found[row.clock_id].append(row.persona)
    return {clock_id: tuple(personas) for clock_id, personas in found.items()}


def _clock(row: Any, personas: tuple[str, ...]) -> TestClock:
    return TestClock(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        frozen_time=as_utc(row.frozen_time),
        created_at=as_utc(row.created_at),
        personas=personas,
    )
