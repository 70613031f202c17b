"""The shipped migrations build exactly the schema the models describe, and an
empty database built straight from the models is the same schema at the head."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import engine.models  # noqa: F401
from engine import schema
from engine.db import Base, Database, connect


def _diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def test_migrations_match_the_models(empty_db_url: str) -> None:
    db = connect(empty_db_url)
    try:
        schema.upgrade(db, from_models=False)
        assert schema.is_current(db)
        assert _diff(db) == []
        schema.upgrade(db)  # a second run finds nothing to do
    finally:
        db.dispose()


def test_an_empty_database_is_built_from_the_models_and_stamped(empty_db_url: str) -> None:
    db = connect(empty_db_url)
    try:
        schema.upgrade(db)
        assert schema.is_current(db)
        with db.engine.connect() as conn:
            assert schema.current_revision(conn) == schema.head_revision()
            tables = set(inspect(conn).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
        assert _diff(db) == []
    finally:
        db.dispose()
