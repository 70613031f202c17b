"""The rows a launch creates, written with one INSERT per table.

A launch makes several new rows per instance (instance, NIC, volumes, group
and affinity memberships, tags, events, jobs). The ORM's unit of work would
sort and write them object by object in several flushes; :class:`NewRows`
instead collects them and writes each table's rows with one executemany
``INSERT`` (prepared: :mod:`engine.statements`) on the session's connection, in foreign-key order, in the caller's
transaction. The objects are then attached to the session as persistent
(loaded) rows, so later reads and changes in the same unit of work see them
as if the ORM had inserted them.

Contract for the objects handed over: new rows of plain column mappings (no
relationships, no server-side defaults), their primary keys set or given by
a Python column default. Unset columns get their Python default (or None),
written onto the object too, so the object equals what a fresh read returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.base import instance_state

from engine.db import Base
from engine.statements import Prepared

# (attribute name, column name, default or None) for each column of a mapped class.
_Columns = tuple[tuple[str, str, Callable[[], Any] | None], ...]


@functools.cache
def _columns(mapper: Mapper[Any]) -> _Columns:
    out = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        default = column.default
        fill: Callable[[], Any] | None = None
        if default is not None and getattr(default, "is_scalar", False):
            fill = functools.partial(lambda v: v, default.arg)  # type: ignore[attr-defined]
        elif default is not None and getattr(default, "is_callable", False):
            # SQLAlchemy wraps a no-argument default to take an execution context.
            fill = functools.partial(default.arg, None)  # type: ignore[attr-defined]
        elif default is not None or column.server_default is not None:
            raise TypeError(f"{mapper.class_.__name__}.{prop.key}: unsupported default")
        out.append((prop.key, column.key, fill))
    return tuple(out)


@functools.cache
def _table_order() -> dict[str, int]:
    """Table name -> position in foreign-key dependency order."""
    return {t.name: n for n, t in enumerate(Base.metadata.sorted_tables)}


@functools.cache
def _insert(table: Table) -> Prepared:
    return Prepared(table.insert())


class NewRows:
    """New ORM objects waiting to be written with one INSERT per table."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self._pending: list[Any] = []

    def add(self, *objects: Any) -> None:
        """Take over new objects (out of the session's pending set, if there)."""
        for obj in objects:
            if instance_state(obj).pending:
                self._s.expunge(obj)
            self._pending.append(obj)

    def add_all(self, objects: Iterable[Any]) -> None:
        self.add(*objects)

    def write(self) -> None:
        """INSERT everything taken over so far, then attach it as persistent."""
        if not self._pending:
            return
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for obj in self._pending:
            mapper = instance_state(obj).mapper
            values = obj.__dict__
            row = {}
            for attr, column, fill in _columns(mapper):
                if attr not in values:  # a transient object: no history to keep
                    values[attr] = fill() if fill is not None else None
                row[column] = values[attr]
            by_table.setdefault(mapper.local_table, []).append(row)  # type: ignore[arg-type]
        conn = self._s.connection()
        order = _table_order()
        for table in sorted(by_table, key=lambda t: order[t.name]):
            _insert(table).executemany(conn, by_table[table])
        objects, self._pending = self._pending, []
        for obj in objects:
            make_transient_to_detached(obj)
        self._s.add_all(objects)
