"""The models and the migrations describe one schema: a database migrated to the head has
every table, column, index and constraint the models declare, and nothing else."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from store import migrate
from store.models import Base


def test_a_migrated_database_has_exactly_the_models_schema(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            # Types are left out: the models' own types (UTC and minute times) are
            # decorators over the migrations' plain ones.
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
