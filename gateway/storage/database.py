"""One SQLAlchemy engine per environment, with the pragmas and locking that make SQLite safe
for several worker processes and the same code correct on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gateway.settings import DatabaseTarget


class Database:
    """Reads run in autocommit; writes run in one transaction that takes the write lock up front."""

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target
        self.engine = _create_engine(target)
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._reader.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(target: DatabaseTarget) -> Engine:
    if target.is_sqlite:
        path = target.sqlite_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(target.url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    options = f"-csearch_path={target.schema}" if target.schema else ""
    return sa.create_engine(target.url, connect_args={"options": options}, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy docs, "pysqlite
        # serializable isolation"); WAL lets readers go on while one writer commits.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock at the start, so two processes never deadlock
        # upgrading a read lock; autocommit readers never reach this hook.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
