"""The migrations build exactly the tables the code declares, on both backends: a table, column,
index or type added to `storage/tables/` without its migration fails here, not in a deployment."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.domain.environment import Environment
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.tables import metadata


def test_migrated_schema_matches_the_tables(backend_settings: Settings) -> None:
    for environment in Environment:
        database = Database(backend_settings.database(environment))
        try:
            with database.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                differences = compare_metadata(context, metadata)
        finally:
            database.dispose()
        assert differences == [], f"{environment.value}: migrations and tables differ: {differences}"
