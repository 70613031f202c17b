"""The rows a launch creates, written with one INSERT per table.

A launch makes several new rows per instance (instance, NIC, volumes, group
and affinity memberships, tags, events, jobs). The ORM's unit of work would
build, sort and write them object by object in several flushes;
:class:`NewRows` instead collects them and writes each table's rows with one
executemany ``INSERT`` (prepared: :mod:`engine.statements`) on the session's
connection, in foreign-key order, in the caller's transaction.

Rows are handed over as plain values (:func:`new_row` completes them with
their columns' Python defaults and gives the read-only
:class:`~engine.querying.Record` a fresh read would return, for the
response): they never enter the session, so nothing in the unit of work
tracks them; a later read in the same transaction reads them from the
database. New ORM objects are taken too (:meth:`NewRows.add`): they are
attached to the session as persistent (loaded) rows after the INSERT, as if
the ORM had inserted them.

Contract for what is handed over: new rows of plain column mappings (no
relationships, no server-side defaults), their primary keys set or given by
a Python column default. Unset columns get their Python default (or None),
written onto the object (or the values) too, so it equals what a fresh read
returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.base import instance_state

from engine.db import Base
from engine.querying import Record, record_type
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


@dataclass(frozen=True)
class _Shape:
    """How values of one model become its record and its INSERT's row."""

    mapper: Mapper[Any]
    record: type[Record]
    fills: tuple[tuple[str, Callable[[], Any] | None], ...]  # every attribute, its default
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]  # the record's values, in order
    same_keys: bool  # every attribute named as its column: the values are the row


@functools.cache
def _shape(model: type) -> _Shape:
    mapper: Mapper[Any] = inspect(model)
    record = record_type(model)
    columns = _columns(mapper)
    if record._fields != tuple(attr for attr, _c, _f in columns) or len(columns) < 2:
        raise TypeError(f"{model.__name__}: not a row of plain columns")
    return _Shape(mapper, record, tuple((attr, fill) for attr, _c, fill in columns),
                  itemgetter(*record._fields), all(a == c for a, c, _f in columns))


def new_row(model: type, values: dict[str, Any]) -> Record:
    """Complete ``values`` (a new ``model`` row by attribute name) with the
    Python defaults of the columns not given (None without one), in place,
    and return the row's read-only record (what a fresh read would give)."""
    shape = _shape(model)
    for attr, fill in shape.fills:
        if attr not in values:
            values[attr] = fill() if fill is not None else None
    return shape.record(shape.values_of(values))


@functools.cache
def _table_order() -> dict[str, int]:
    """Table name -> position in foreign-key dependency order (of every
    model: they are all loaded first, so the order is never partial)."""
    from engine.models import load_all

    load_all()
    return {t.name: n for n, t in enumerate(Base.metadata.sorted_tables)}


@functools.cache
def _insert(table: Table) -> Prepared:
    return Prepared(table.insert())


class NewRows:
    """New rows (values or ORM objects) waiting to be written with one INSERT
    per table."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self._pending: list[Any] = []
        self._values: list[tuple[type, dict[str, Any]]] = []

    def add_values(self, rows: Iterable[tuple[type, dict[str, Any]]]) -> None:
        """Take over new rows as (model, values completed by :func:`new_row`)."""
        self._values.extend(rows)

    def add(self, *objects: Any) -> None:
        """Take over new objects (out of the session's pending set, if there)."""
        for obj in objects:
            if instance_state(obj).pending:
                self._s.expunge(obj)
            self._pending.append(obj)

    def add_all(self, objects: Iterable[Any]) -> None:
        self.add(*objects)

    def write(self) -> None:
        """INSERT everything taken over so far, then attach the ORM objects as
        persistent."""
        if not self._pending and not self._values:
            return
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for model, values in self._values:
            shape = _shape(model)
            by_table.setdefault(shape.mapper.local_table, []).append(  # type: ignore[arg-type]
                values if shape.same_keys else
                {column: values[attr] for attr, column, _f in _columns(shape.mapper)})
        self._values = []
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


def insert_rows(session: Session, rows: Iterable[tuple[type, dict[str, Any]]]) -> None:
    """Write new rows given as (model, values by attribute name) now, in the
    session's transaction, without the ORM (see :class:`NewRows`)."""
    new = NewRows(session)
    for model, values in rows:
        new_row(model, values)
        new.add_values([(model, values)])
    new.write()
