"""The migrations carry a POPULATED database to the head with foreign keys
enforced: every row of an older revision's world survives, column for column,
with its references intact.

The world is made generically from the old revision's own tables (read from
the inspector, not from today's models): one row per table, in dependency
order, every column filled with a value of its type and every foreign key
pointing at the row of the table it references. So each table is referenced
where the schema allows, and a migration that rebuilds (drops and re-creates)
a table other rows point at fails here on SQLite, as it would on a real
database, instead of only on an empty one. The second test proves that this
detector bites.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    exc,
    func,
    select,
    text,
)
from sqlalchemy import Column as SaColumn

from engine import schema
from engine.db import Database, connect

OLD = "0020"  # a revision from before the last rounds of migrations
# Tables a working cloud always has rows in: the world must hold each of them.
CORE = ("zones", "hosts", "accounts", "service_offerings", "templates", "instances", "nics",
        "volumes", "public_ips", "tags", "jobs")
_WHEN = datetime(2024, 5, 6, 7, 8, 9, 123456)

Row = dict[str, Any]
World = dict[str, Row]


@pytest.fixture
def db(empty_db_url: str) -> Iterator[Database]:
    database = connect(empty_db_url)  # SQLite: PRAGMA foreign_keys=ON on every connection
    try:
        yield database
    finally:
        database.dispose()


# ------------------------------------------------------------------ the world
def _schema(conn: Connection) -> MetaData:
    """The tables as the database has them now (one reflection: cheap on MariaDB)."""
    meta = MetaData()
    meta.reflect(conn)
    meta.remove(meta.tables["alembic_version"])
    return meta


def _value(table: str, column: SaColumn[Any]) -> Any:
    """A value of ``column``'s type (strings fit its length)."""
    kind = column.type
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):  # Integer, BigInteger, SmallInteger (MariaDB's TINYINT(1))
        return 1
    if isinstance(kind, Float):
        return 0.5
    if isinstance(kind, DateTime):
        return _WHEN
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 255
        if column.primary_key and length >= 36:
            return str(uuid.uuid4())
        return f"{table}.{column.name}"[:length]
    raise AssertionError(f"{table}.{column.name}: no value for type {kind!r}")


def _links(table: Table) -> list[tuple[list[str], str, list[str]]]:
    """``table``'s foreign keys: (its columns, the parent table, the parent's columns)."""
    return [([e.parent.name for e in fk.elements], fk.referred_table.name,
             [e.column.name for e in fk.elements]) for fk in table.foreign_key_constraints]


def _order(meta: MetaData) -> list[Table]:
    """The tables parents first, following only foreign keys that must be set
    (a nullable reference to a table not yet filled is set afterwards)."""
    needs: dict[str, set[str]] = {}
    for t in meta.tables.values():
        needs[t.name] = {parent for cols, parent, _ in _links(t) if parent != t.name
                         and any(not t.c[c].nullable for c in cols)}
    out: list[str] = []
    while needs:
        ready = sorted(name for name, deps in needs.items() if deps <= set(out))
        assert ready, f"foreign keys that must be set form a cycle: {sorted(needs)}"
        out += ready
        for name in ready:
            del needs[name]
    return [meta.tables[name] for name in out]


def _fill(conn: Connection) -> World:
    """One row in every table of the current schema, every column set and
    every foreign key pointing at the referenced table's row."""
    meta = _schema(conn)
    world: World = {}
    later: list[tuple[Table, list[str], str, list[str]]] = []  # nullable refs set after
    for table in _order(meta):
        row: Row = {}
        for column in table.columns:
            if column.primary_key and column.autoincrement is True:
                continue  # the database numbers it
            row[column.name] = _value(table.name, column)
        for cols, parent, refs in _links(table):
            if parent in world and parent != table.name:
                row.update({c: world[parent][r] for c, r in zip(cols, refs, strict=True)})
            else:  # self-reference or a parent filled later: NULL for now
                row.update({c: None for c in cols})
                later.append((table, cols, parent, refs))
        result = conn.execute(table.insert().values(row))
        key = result.inserted_primary_key or ()
        for c, v in zip(table.primary_key.columns, key, strict=True):
            row[c.name] = v  # a database-numbered key
        world[table.name] = row
    for table, cols, parent, refs in later:
        values = {c: world[parent][r] for c, r in zip(cols, refs, strict=True)}
        conn.execute(table.update().where(_by_key(table, world[table.name])).values(values))
        world[table.name].update(values)
    return world


def _by_key(table: Table, row: Row) -> Any:
    return and_(*(c == row[c.name] for c in table.primary_key.columns))


# ------------------------------------------------------------------ the checks
def _orphans(conn: Connection) -> list[str]:
    """Foreign keys of the current schema whose value names no row."""
    meta = _schema(conn)
    out = []
    for child in meta.tables.values():
        for cols, parent_name, refs in _links(child):
            parent = meta.tables[parent_name]
            match = and_(*(child.c[c] == parent.c[r] for c, r in zip(cols, refs, strict=True)))
            missing = conn.scalar(
                select(func.count()).select_from(child)
                .where(and_(*(child.c[c].is_not(None) for c in cols)))
                .where(~select(parent).where(match).exists()))
            if missing:
                out.append(f"{child.name}({', '.join(cols)}) -> {parent_name}: {missing}")
    return out


def _survivors(conn: Connection, world: World) -> list[str]:
    """What of ``world`` is not in the database as it was."""
    meta = _schema(conn)
    lost = []
    for name, row in world.items():
        table = meta.tables.get(name)
        if table is None:
            lost.append(f"table {name} is gone")
            continue
        got = conn.execute(select(table).where(_by_key(table, row))).mappings().all()
        if len(got) != 1:
            lost.append(f"{name}: {len(got)} rows for the old one")
            continue
        changed = {c: (v, got[0].get(c)) for c, v in row.items() if got[0].get(c) != v}
        if changed:
            lost.append(f"{name}: {changed}")
    return lost


def test_a_populated_database_upgrades_with_every_row_and_reference(db: Database) -> None:
    schema.upgrade(db, OLD, from_models=False)
    with db.engine.begin() as conn:
        world = _fill(conn)
        assert set(CORE) <= set(world)
        assert _orphans(conn) == []
        if db.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    schema.upgrade(db)  # to the head, on the populated database
    assert schema.is_current(db)
    with db.engine.connect() as conn:
        assert _survivors(conn, world) == []
        assert _orphans(conn) == []
        if db.engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []


def test_rebuilding_a_referenced_table_is_caught(db: Database) -> None:
    """What the test above guards against: on SQLite a batch migration that
    rebuilds ``instances`` (copy, drop, rename) fails once other rows point at
    it, and the failed migration leaves every row as it was. (MariaDB alters
    tables in place: there is no rebuild to catch.)"""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's batch rebuild only")
    schema.upgrade(db)
    with db.engine.begin() as conn:
        world = _fill(conn)
    with db.engine.connect() as conn:
        ops = Operations(MigrationContext.configure(conn))
        with pytest.raises(exc.IntegrityError), \
                ops.batch_alter_table("instances", recreate="always") as batch:
            batch.add_column(SaColumn("probe", Integer, nullable=True))
        conn.rollback()
        assert _survivors(conn, world) == []
