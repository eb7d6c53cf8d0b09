"""Bring an environment's database to the newest schema with Alembic."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.partners import SqlRegistryStore
from partners.service import Registry

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def migrate(database: Database) -> None:
    schema = database.target.schema
    with database.engine.begin() as connection:
        if schema is not None:
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        command.upgrade(alembic_config(connection, schema), "head")


def revision(database: Database, message: str) -> None:
    """Autogenerate a migration from the tables (a developer tool: `gateway db revision`)."""
    with database.engine.begin() as connection:
        command.revision(alembic_config(connection, database.target.schema), message, autogenerate=True)


def prepare(settings: Settings) -> None:
    """Migrate both environments and load the reference data every deployment needs (plans)."""
    for environment in Environment:
        database = Database(settings.database(environment))
        try:
            migrate(database)
            if environment is Environment.PRODUCTION:
                Registry(SqlRegistryStore(database), SystemClock()).ensure_default_plans()
        finally:
            database.dispose()
