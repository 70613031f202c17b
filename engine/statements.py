"""Hot Core statements, compiled once per dialect and run on the DBAPI cursor.

SQLAlchemy's ``Connection.execute`` does a lot per call: cache-key the
statement, build an execution context, process parameters by name, wrap the
cursor in a result. For the few statements a request runs many times (the
allocators' conditional UPDATEs, a launch's INSERTs) that costs several times
what the database itself spends. :class:`Prepared` does that work once: it
compiles the statement for the connection's dialect and remembers, for each
parameter, where its value comes from (the caller's parameters by
name, or a literal of the statement) and which bind conversion its type needs
(SQLite stores timestamps as text and booleans as integers; enums are stored
as their values). Each run then only builds the parameter tuple and calls
``cursor.execute`` on the transaction's own DBAPI connection, so it sees and
is part of everything the session did in that transaction.

It uses three of SQLAlchemy's internal but long-standing hooks (a compiled
statement's bind processors, a type's cached result processor, the
connection's DBAPI error handler); tests/unit/engine/test_statements.py
holds its results equal to ``Connection.execute``'s. What it keeps of
SQLAlchemy's behaviour: the engine's
``before_cursor_execute``/``after_cursor_execute`` events fire (statement
counts stay honest), DBAPI errors are raised wrapped as SQLAlchemy's
``DBAPIError`` (with a lost connection invalidated), and result columns get
their type's result conversion. Statements it cannot prepare (an expanding
``IN``, whose SQL text is completed per call) run through ``Connection.execute``
instead, with the same parameters, returning the same :class:`Rows`.

Contract for callers: name caller-given parameters with ``bindparam`` names
(``p_*`` by convention) that do not collide with the anonymous names
SQLAlchemy gives the statement's literals.

Rows of one mapped class read this way (:func:`select_rows` builds the
select) become the session's persistent objects with :func:`loaded`, as the
ORM's own loading would make them, for callers that go on using the objects.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Dialect, Select, inspect, select
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

T = TypeVar("T")
_Convert = Callable[[Any], Any] | None
_MISSING = object()
# How a named parameter appears in the SQL text, per DBAPI paramstyle.
_NAMED = {"pyformat": "%({})s", "named": ":{}"}


@dataclass(frozen=True)
class _Plan:
    """One statement as compiled for one dialect."""

    sql: str
    # Per parameter: (caller's name or None, literal value, bind conversion).
    params: tuple[tuple[str | None, Any, _Convert], ...]
    keys: tuple[str, ...] | None  # the parameters' names in ``sql``; None: positional
    results: tuple[_Convert, ...] | None  # per result column; None: no conversions needed


class Rows:
    """The fetched rows of one run (all of them) and the row count."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def all(self) -> list[tuple[Any, ...]]:
        return self.rows

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self.rows[0][0] if self.rows else None

    def scalars(self) -> list[Any]:
        return [r[0] for r in self.rows]


class Prepared:
    """A Core statement prepared per dialect (see the module docstring)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan | None] = {}  # dialect name -> plan (None: not preparable)

    def execute(self, session: Session | Connection,
                params: Mapping[str, Any] | None = None) -> Rows:
        """Run the statement once in ``session``'s transaction. A session is
        flushed first (as ``Session.execute`` autoflushes); a connection is not."""
        if isinstance(session, Session):
            if session.autoflush:
                session.flush()  # nothing to do (cheap) unless something changed
            conn = session.connection()
        else:
            conn = session
        plan = self._plan(conn.dialect)
        values = params or {}
        if plan is None:
            return _fallback(conn, self.statement, values)
        return _run(conn, plan, (_bind(plan, values),), many=False)

    def executemany(self, session: Session | Connection,
                    rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter set (an INSERT's rows) with
        one ``executemany``."""
        if not rows:
            return
        conn = session.connection() if isinstance(session, Session) else session
        plan = self._plan(conn.dialect)
        if plan is None:
            conn.execute(self.statement, list(rows))  # type: ignore[arg-type]
            return
        _run(conn, plan, [_bind(plan, r) for r in rows], many=True)

    def _plan(self, dialect: Dialect) -> _Plan | None:
        try:
            return self._plans[dialect.name]
        except KeyError:
            plan = self._plans[dialect.name] = _compile(self.statement, dialect)
            return plan


def _compile(statement: Executable, dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    binds = compiled.binds
    if compiled.post_compile_params:
        return None  # SQL text completed per call (an expanding IN)
    escaped: dict[str, str] = dict(compiled.escaped_bind_names or {})
    names = {v: k for k, v in escaped.items()}
    keys: tuple[str, ...] | None = None
    if dialect.positional:  # SQLite's qmark
        rendered = list(compiled.positiontup or ())
    elif dialect.paramstyle in _NAMED:  # PyMySQL's pyformat: %(name)s
        token = _NAMED[dialect.paramstyle]
        keys = tuple(k for k in dict.fromkeys(escaped.get(n, n)
                                              for n in compiled.bind_names.values())
                     if token.format(k) in compiled.string)
        rendered = list(keys)
    else:
        return None
    convert = compiled._bind_processors  # the types' bind conversions, by rendered name
    params: list[tuple[str | None, Any, _Convert]] = []
    for position in rendered:
        name = names.get(position, position)
        bind = binds[name]
        fn = cast(_Convert, convert.get(position))  # no tuple binds in these statements
        if bind.required or bind.callable is not None:
            params.append((name, None, fn))
        else:
            value = bind.effective_value
            params.append((None, fn(value) if fn else value, None))
    results = tuple(  # each result column's type's own result conversion
        c.type._cached_result_processor(dialect, None) for c in compiled._result_columns)
    return _Plan(compiled.string, tuple(params), keys,
                 results if any(r is not None for r in results) else None)


def _bind(plan: _Plan, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
    out = []
    for name, literal, fn in plan.params:
        if name is None:
            out.append(literal)
            continue
        value = values.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(f"no value for the parameter {name!r}")
        out.append(fn(value) if fn is not None and value is not None else value)
    return tuple(out) if plan.keys is None else dict(zip(plan.keys, out, strict=True))


def _run(conn: Connection, plan: _Plan, params: Any, *, many: bool) -> Rows:
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None
    events = conn._has_events or conn.engine._has_events
    sql = plan.sql
    args = params if many else params[0]
    cursor = dbapi_conn.cursor()
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, args, None, many)
        if many:
            cursor.executemany(sql, args)
        else:
            cursor.execute(sql, args)
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, args, None, many)
        rows = list(cursor.fetchall()) if cursor.description is not None else []
        rowcount = cursor.rowcount
    except Exception as exc:  # noqa: BLE001 - wrapped and re-raised as SQLAlchemy does
        cursor.close()
        # What Connection.execute does with a DBAPI error: wrap it (and
        # invalidate the connection if it was lost).
        conn._handle_dbapi_exception(exc, sql, args, cursor, None)
    cursor.close()
    if plan.results is not None and rows:
        rows = _converted(rows, plan.results)
    return Rows(rows, rowcount)


def _converted(rows: list[tuple[Any, ...]], conv: tuple[_Convert, ...]) -> list[tuple[Any, ...]]:
    """``rows`` with each column's conversion applied (None for no conversion):
    only the converted columns are touched, per row (thousands of rows of a
    listing have a few converted columns among many)."""
    width = len(conv)
    which = [(i, f) for i, f in enumerate(conv) if f is not None]
    out = []
    for r in rows:
        if len(r) != width:
            raise ValueError(f"a row of {len(r)} columns for {width} conversions")
        values = list(r)
        for i, f in which:
            values[i] = f(values[i])
        out.append(tuple(values))
    return out


def _fallback(conn: Connection, statement: Executable, values: Mapping[str, Any]) -> Rows:
    result = conn.execute(statement, dict(values))  # type: ignore[call-overload]
    rows = [tuple(r) for r in result.all()] if result.returns_rows else []
    return Rows(rows, result.rowcount)


@functools.cache
def _attributes(mapper: Mapper[Any]) -> tuple[tuple[str, Any], ...]:
    """(attribute key, column) of every mapped column, in mapper order."""
    return tuple((prop.key, prop.columns[0]) for prop in mapper.column_attrs)


@functools.cache
def _primary_key(mapper: Mapper[Any]) -> tuple[str, ...]:
    return tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)


def row_keys(model: type[Any]) -> tuple[str, ...]:
    """The attribute keys of a :func:`select_rows` row's columns, in order."""
    return tuple(key for key, _column in _attributes(inspect(model)))


def row_columns(model: type[Any]) -> list[Any]:
    """Every mapped column of ``model``'s table, in the order :func:`loaded`
    takes them (to select several classes' rows side by side)."""
    return [column for _key, column in _attributes(inspect(model))]


def select_rows(model: type[Any], of: Select[Any] | None = None) -> Select[Any]:
    """A select of :func:`row_columns` of ``model`` (add the WHERE clause); or
    the select ``of`` (of ``model``, with its joins, WHERE, ORDER BY and
    LIMIT) reading these columns instead."""
    columns = row_columns(model)
    return select(*columns) if of is None else of.with_only_columns(*columns)


def loaded(session: Session, model: type[T], row: Sequence[Any], *,
           refresh: bool = False) -> T:
    """The session's persistent ``model`` object for ``row`` (read with
    :func:`select_rows`), as an ORM query returns it: the object the session
    holds already for that primary key (its values replaced by the row's
    with ``refresh``, as ``populate_existing`` does), else a new one, added
    as loaded (clean: no pending changes)."""
    mapper: Mapper[Any] = inspect(model)
    attributes = _attributes(mapper)
    values = {k: v for (k, _c), v in zip(attributes, row, strict=True)}
    key = mapper.identity_key_from_primary_key(tuple(values[k] for k in _primary_key(mapper)))
    existing = session.identity_map.get(key)
    if existing is not None:
        if refresh:
            for name, value in values.items():
                set_committed_value(existing, name, value)
        return existing  # type: ignore[no-any-return]
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj  # type: ignore[no-any-return]


def loaded_side_by_side(session: Session, row: Sequence[Any],
                        *models: type[Any]) -> list[Any]:
    """:func:`loaded` for a row holding :func:`row_columns` of each of
    ``models`` in turn (after any leading plain columns: ``row`` ends with
    them); a class whose primary key is NULL (an outer join found no row)
    gives None (its columns are all NULL)."""
    widths = [len(_attributes(inspect(m))) for m in models]
    at = len(row) - sum(widths)
    out = []
    for model, width in zip(models, widths, strict=True):
        part = row[at:at + width]
        at += width
        out.append(None if all(v is None for v in part) else loaded(session, model, part))
    return out


__all__ = ["Prepared", "Rows", "loaded", "loaded_side_by_side", "row_columns", "row_keys",
           "select_rows"]
