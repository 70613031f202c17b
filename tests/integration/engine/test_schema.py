"""The shipped migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import engine.models  # noqa: F401
from engine import schema
from engine.db import Base, connect


def test_migrations_match_the_models(db_url: str) -> None:
    db = connect(db_url)
    try:
        schema.upgrade(db)
        assert schema.is_current(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        schema.upgrade(db)  # a second run finds nothing to do
    finally:
        db.dispose()
