"""Schema migrations (Alembic, shipped inside the package).

:func:`upgrade` is safe to call from several management servers at once: on
MySQL/MariaDB the first takes a named lock and migrates while the others wait
for it and then find nothing to do; on SQLite the write lock serializes them.

Alembic is imported only when there is something to migrate (or a caller asks
for it): a database already at the head is recognised by comparing its
``alembic_version`` row with the head read from the file names and
``revision``/``down_revision`` lines of the versions directory, which keeps
server start-up fast.

A database with no tables at all is not walked through every migration: the
tables are created from the models in one go and the version table is stamped
with the head, which is what the migrations would have produced (the schema
test proves the two agree) in a fraction of the time. When the head is known
from the scripts (:func:`quick_head`), the stamp is written directly (Alembic's
default ``alembic_version`` table: one ``version_num`` VARCHAR(32) primary key
named ``alembic_version_pkc``), so building a fresh database does not import
Alembic either.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    text,
)

from engine.db import Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_NAME = "nimbostack_schema_migration"
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"^['\"]([^'\"]+)['\"]$")


def alembic_config(url: str = "") -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@lru_cache(maxsize=1)
def quick_head() -> str | None:
    """The head revision read straight from the migration scripts, or None when
    they are not a simple chain (several heads, merges, unparsable lines): the
    caller then asks Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        rev = _REVISION.findall(source)
        if not rev:
            continue  # __init__.py and helpers
        down = _DOWN.findall(source)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        if down[0] != "None":
            parent = _QUOTED.match(down[0])
            if parent is None:
                return None  # a merge (tuple) or something unexpected
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _stored_revisions(conn: Connection) -> list[str] | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]


def _at_head(conn: Connection) -> bool:
    head = quick_head()
    if head is None:
        return current_revision(conn) == head_revision()
    stored = _stored_revisions(conn)
    return stored == [head]


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head", *, from_models: bool = True) -> None:
    """Bring the schema to ``revision``; returns once it is there.

    ``from_models`` lets an empty database be built from the models and stamped
    (only when the target is the head); False always runs the migrations.
    """
    with db.engine.connect() as conn:
        if db.is_mysql:
            got = conn.execute(text("SELECT GET_LOCK(:n, 300)"), {"n": _LOCK_NAME}).scalar()
            if got != 1:
                raise RuntimeError("timed out waiting for another server's schema migration")
        try:
            if revision == "head" and from_models and _is_empty(conn):
                _create_from_models(conn)
            elif revision != "head" or not _at_head(conn):
                from alembic import command

                cfg = alembic_config(str(db.engine.url))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
        finally:
            if db.is_mysql:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": _LOCK_NAME})
                conn.commit()


def _is_empty(conn: Connection) -> bool:
    return not inspect(conn).get_table_names()


def _create_from_models(conn: Connection) -> None:
    from engine.db import Base
    from engine.models import load_all

    load_all()  # every table on the metadata

    Base.metadata.create_all(conn, checkfirst=False)  # the caller saw no table at all
    head = quick_head()
    if head is not None:
        version = _version_table()
        version.create(conn)
        conn.execute(version.insert().values(version_num=head))
    else:
        from alembic import command

        cfg = alembic_config(str(conn.engine.url))
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "head")
    conn.commit()


def _version_table() -> Table:
    """Alembic's default version table, as ``alembic stamp`` creates it."""
    return Table("alembic_version", MetaData(),
                 Column("version_num", String(32), nullable=False),
                 PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def is_current(db: Database) -> bool:
    with db.engine.connect() as conn:
        return _at_head(conn)
