"""Schema migrations (Alembic, shipped inside the package).

:func:`upgrade` is safe to call from several management servers at once: on
MySQL/MariaDB the first takes a named lock and migrates while the others wait
for it and then find nothing to do; on SQLite the write lock serializes them.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from engine.db import Database

_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_NAME = "nimbostack_schema_migration"


def alembic_config(url: str = "") -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; returns once it is there."""
    with db.engine.connect() as conn:
        if db.is_mysql:
            got = conn.execute(text("SELECT GET_LOCK(:n, 300)"), {"n": _LOCK_NAME}).scalar()
            if got != 1:
                raise RuntimeError("timed out waiting for another server's schema migration")
        try:
            if current_revision(conn) != head_revision() or revision != "head":
                cfg = alembic_config(str(db.engine.url))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
        finally:
            if db.is_mysql:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": _LOCK_NAME})
                conn.commit()


def is_current(db: Database) -> bool:
    with db.engine.connect() as conn:
        return current_revision(conn) == head_revision()
