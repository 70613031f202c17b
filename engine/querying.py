"""Declarative list queries: criteria, wildcards, tag filters, ownership scope, paging.

A list service declares a :class:`FieldMap` (neutral field name -> SQL column
expression). Callers pass :class:`Criterion` objects; every criterion becomes
SQL, values of one criterion are OR-ed, criteria are AND-ed. ``*`` and ``?``
are wildcards when ``wildcards`` is set. Fields ``tag:<key>``, ``tag-key`` and
``tag-value`` match the resource's tags. An unknown field raises
:class:`InvalidParameter` so a typo never silently matches nothing.

Paging is keyset paging over ``(created_at, uuid)``, or offset paging for
callers that number pages; keyset tokens are opaque and bound to the query
that produced them.

Big listings may read rows as :class:`Record` snapshots (:func:`record_type`)
instead of ORM objects: same attribute names, read-only, no identity map.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Column, ColumnElement, Select, and_, false, func, inspect, or_, select, true
from sqlalchemy.engine import Row
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.errors import InvalidParameter, ResourceKind
from engine.models import Account, Domain
from engine.principal import Principal

T = TypeVar("T")
ColumnLike = ColumnElement[Any] | InstrumentedAttribute[Any]
FieldMap = Mapping[str, ColumnLike | Callable[[Sequence[str]], ColumnElement[bool]]]


@dataclass(frozen=True)
class Criterion:
    """``field`` matches any of ``values``."""

    field: str
    values: tuple[str, ...]
    wildcards: bool = True


@dataclass(frozen=True)
class Paging:
    """Either ``limit`` + ``token`` (keyset) or ``limit`` + ``offset``."""

    limit: int | None = None
    token: str | None = None
    offset: int = 0


@dataclass
class ListResult:
    items: list[Any]
    next_token: str | None = None
    total: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def like_pattern(value: str) -> str:
    """Translate ``*``/``?`` wildcards to a LIKE pattern (escape char ``\\``)."""
    out = []
    for ch in value:
        if ch in "%_\\":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def match_values(column: ColumnLike, values: Iterable[str], wildcards: bool = True) -> ColumnElement[bool]:
    """``column`` equals (or LIKE-matches) any of ``values``."""
    exact: list[str] = []
    conds: list[ColumnElement[bool]] = []
    for v in values:
        if wildcards and ("*" in v or "?" in v):
            conds.append(column.like(like_pattern(v), escape="\\"))
        else:
            exact.append(v)
    if exact:
        conds.append(column.in_(exact) if len(exact) > 1 else column == exact[0])
    if not conds:
        return false()
    return or_(*conds) if len(conds) > 1 else conds[0]


def tag_condition(
    uuid_column: ColumnLike, kind: ResourceKind, crit: Criterion
) -> ColumnElement[bool] | None:
    """SQL for ``tag:<k>``, ``tag-key`` and ``tag-value`` criteria, else None."""
    from engine.models import Tag  # not needed by a server's first call

    if crit.field.startswith("tag:"):
        key = crit.field[4:]
        cond = and_(Tag.key == key, match_values(Tag.value, crit.values, crit.wildcards))
    elif crit.field == "tag-key":
        cond = match_values(Tag.key, crit.values, crit.wildcards)
    elif crit.field == "tag-value":
        cond = match_values(Tag.value, crit.values, crit.wildcards)
    else:
        return None
    # An IN over the tag index, not a correlated EXISTS: the database then looks
    # the few matching tags up first instead of probing tags row by row.
    return uuid_column.in_(  # type: ignore[union-attr]
        select(Tag.resource_uuid).where(Tag.resource_kind == kind, cond))


def apply_criteria(
    stmt: Select[Any],
    fields: FieldMap,
    criteria: Iterable[Criterion],
    *,
    uuid_column: ColumnLike,
    kind: ResourceKind,
) -> Select[Any]:
    """AND every criterion onto ``stmt``; unknown fields raise InvalidParameter."""
    for crit in criteria:
        cond = tag_condition(uuid_column, kind, crit)
        if cond is None:
            target = fields.get(crit.field)
            if target is None:
                raise InvalidParameter("Filter", crit.field, f"The filter '{crit.field}' is invalid")
            if callable(target) and not isinstance(target, (ColumnElement, InstrumentedAttribute)):
                cond = target(crit.values)
            else:
                cond = match_values(target, crit.values, crit.wildcards)
        stmt = stmt.where(cond)
    return stmt


def owner_scope(
    account_column: ColumnLike, principal: Principal, *, list_all: bool = True
) -> ColumnElement[bool]:
    """Rows the principal may see: all (root admin), its domain subtree (domain
    admin) or its own account. ``list_all=False`` narrows admins to their own."""
    if not list_all or not (principal.is_root_admin or principal.is_domain_admin):
        return account_column == principal.account_uuid
    if principal.is_root_admin:
        return true()
    subtree = (
        select(Account.uuid)
        .join(Domain, Domain.uuid == Account.domain_uuid)
        .where(Domain.path.like(like_pattern(principal.domain_path) + "%", escape="\\"))
    )
    return account_column.in_(subtree)


def _fingerprint(query_key: str) -> str:
    return hashlib.sha256(query_key.encode()).hexdigest()[:12]


def encode_token(created: datetime, uuid: str, query_key: str) -> str:
    raw = json.dumps({"c": created.isoformat(), "u": uuid, "q": _fingerprint(query_key)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, query_key: str) -> tuple[datetime, str]:
    """Return the (created_at, uuid) to continue after; raise for a foreign token."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created, uuid, q = datetime.fromisoformat(data["c"]), str(data["u"]), data["q"]
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidParameter("NextToken", token, "The token is invalid") from exc
    if q != _fingerprint(query_key):
        raise InvalidParameter("NextToken", token, "The token does not belong to this query")
    return created, uuid


def paginate(
    session: Session,
    stmt: Select[Any],
    *,
    created_column: ColumnLike,
    uuid_column: ColumnLike,
    paging: Paging,
    query_key: str,
    count: bool = False,
    newest_first: bool = False,
    record: type[Record] | None = None,
) -> ListResult:
    """Run ``stmt`` ordered by (created_at, uuid) one page at a time, oldest
    first (or newest first with ``newest_first``).

    With ``count`` the total number of matches (ignoring paging) is returned too.
    With ``record``, ``stmt`` selects ``record_columns(record)`` and the items
    are ``record`` snapshots (read without flushing: the caller flushes).
    """
    total = None
    if count:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if paging.limit is not None and paging.limit <= 0:
        return ListResult(items=[], next_token=None, total=total)
    if newest_first:
        stmt = stmt.order_by(created_column.desc(), uuid_column.desc())  # type: ignore[union-attr]
    else:
        stmt = stmt.order_by(created_column, uuid_column)
    if paging.token:
        created, uuid = decode_token(paging.token, f"{query_key}|desc={newest_first}")
        # The plain bound on created_at (implied by the OR) lets the database
        # start the page at the token in the created_at index instead of
        # walking the index from its end.
        if newest_first:
            stmt = stmt.where(created_column <= created,
                              or_(created_column < created,
                                  and_(created_column == created, uuid_column < uuid)))
        else:
            stmt = stmt.where(created_column >= created,
                              or_(created_column > created,
                                  and_(created_column == created, uuid_column > uuid)))
    elif paging.offset:
        stmt = stmt.offset(paging.offset)
    if paging.limit is not None:
        stmt = stmt.limit(paging.limit + 1)
    if record is None:
        rows = list(session.execute(stmt).all())
        items = [r[0] if len(r) == 1 else r for r in rows]
    else:  # Core rows, on the session's connection: no ORM loading (no autoflush either)
        items = list(map(record, session.connection().execute(stmt).all()))
    next_token = None
    if paging.limit is not None and len(items) > paging.limit:
        items = items[: paging.limit]
        last = items[-1]
        obj = last if record is not None else (
            last[0] if isinstance(last, (tuple, Row)) else last)  # a multi-entity row
        next_token = encode_token(obj.created_at, obj.uuid, f"{query_key}|desc={newest_first}")
    return ListResult(items=items, next_token=next_token, total=total)


def query_key(*parts: object) -> str:
    """A stable text form of a query's parameters, to bind tokens to it."""
    return json.dumps(parts, sort_keys=True, default=str)


def list_owned(
    session: Session,
    model: Any,
    principal: Principal,
    *,
    kind: ResourceKind,
    fields: FieldMap,
    criteria: Iterable[Criterion] = (),
    paging: Paging | None = None,
    list_all: bool = True,
    count: bool = True,
    where: Sequence[ColumnElement[bool]] = (),
    newest_first: bool = False,
) -> ListResult:
    """Rows of ``model`` (which has ``uuid``, ``account_uuid``, ``created_at``)
    that the principal may see, matching ``criteria`` and ``where``, one page
    (oldest first unless ``newest_first``).

    The page token is bound to the model, the caller's account and the query.
    """
    crit = tuple(criteria)
    stmt = select(model).where(
        owner_scope(model.account_uuid, principal, list_all=list_all), *where)
    stmt = apply_criteria(stmt, fields, crit, uuid_column=model.uuid, kind=kind)
    key = query_key(model.__tablename__, principal.account_uuid, crit, list_all)
    return paginate(session, stmt, created_column=model.created_at, uuid_column=model.uuid,
                    paging=paging or Paging(), query_key=key, count=count,
                    newest_first=newest_first)


def rows_by_uuid(session: Session, model: type[T], uuids: Iterable[str | None]) -> dict[str, T]:
    """Rows of ``model`` with these uuids (None entries ignored), keyed by uuid: one query."""
    wanted = {u for u in uuids if u}
    if not wanted:
        return {}
    column: Any = model.uuid  # type: ignore[attr-defined]
    return {row.uuid: row for row in session.scalars(select(model).where(column.in_(wanted)))}  # type: ignore[attr-defined]


class Record(tuple):  # type: ignore[type-arg]
    """A read-only snapshot of one row of a model: its mapped columns as
    attributes of the same names (see :func:`record_type`).

    Much cheaper to load than an ORM object (no identity map, no change
    tracking, no lazy loads), for listings that only read. Two records are
    equal when their values are.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[Column[Any], ...]] = ()

    def __repr__(self) -> str:
        values = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=True))
        return f"{type(self).__name__}({values})"

    @classmethod
    def column(cls, name: str) -> Column[Any]:
        """The table column behind attribute ``name`` (for WHERE/ORDER BY of
        record queries: Core columns keep the statement off the ORM path)."""
        return cls._columns[cls._fields.index(name)]


def _property_field(index: int, doc: str) -> Any:
    return property(itemgetter(index), doc=doc)


try:  # the C descriptor behind namedtuple's fields: about twice as fast to read
    from _collections import _tuplegetter as _field  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - other interpreters
    _field = _property_field

_RECORD_TYPES: dict[type, type[Record]] = {}
_RECORD_LOCK = threading.Lock()


def record_type(model: type) -> type[Record]:
    """The :class:`Record` class of ``model`` (made once per model): one
    read-only attribute per mapped column, named as the ORM attribute."""
    found = _RECORD_TYPES.get(model)
    if found is not None:
        return found
    with _RECORD_LOCK:
        if model not in _RECORD_TYPES:
            attrs = [a for a in inspect(model).column_attrs if len(a.columns) == 1]
            namespace: dict[str, Any] = {
                "__slots__": (),
                "__doc__": f"A read-only snapshot of a {model.__name__} row.",
                "_fields": tuple(a.key for a in attrs),
                "_columns": tuple(a.columns[0] for a in attrs),
            }
            for index, a in enumerate(attrs):
                namespace[a.key] = _field(index, f"The {a.key} column.")
            _RECORD_TYPES[model] = type(f"{model.__name__}Record", (Record,), namespace)
    return _RECORD_TYPES[model]


_NARROW_TYPES: dict[tuple[Any, ...], type[Record]] = {}


def narrow_record_type(model: type, names: Sequence[str],
                       joined: Mapping[str, ColumnElement[Any]] | None = None) -> type[Record]:
    """A :class:`Record` class of some columns of ``model`` (``names``, mapped
    attribute names, in that order), then the ``joined`` columns of other
    tables (attributes named by their keys; the caller's statement joins
    those tables): for listings that show a few columns of wide rows. Made
    once per distinct arguments."""
    key = (model, tuple(names), tuple((joined or {}).items()))
    found = _NARROW_TYPES.get(key)
    if found is not None:
        return found
    full = record_type(model)
    columns: list[Any] = [full.column(n) for n in names] + list((joined or {}).values())
    fields = (*names, *(joined or {}))
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__doc__": f"A read-only snapshot of some columns of a {model.__name__} row.",
        "_fields": fields,
        "_columns": tuple(columns),
    }
    for index, name in enumerate(fields):
        namespace[name] = _field(index, f"The {name} column.")
    with _RECORD_LOCK:
        return _NARROW_TYPES.setdefault(
            key, type(f"{model.__name__}NarrowRecord", (Record,), namespace))


def record_columns(record: type[Record]) -> tuple[Column[Any], ...]:
    """The table columns to select for ``record`` (Core columns: the rows skip
    the ORM's result machinery; the caller flushes pending changes first)."""
    return record._columns


def records(session: Session, record: type[Record], *where: ColumnElement[bool],
            order_by: Sequence[Any] = (),
            scope: Callable[[Select[Any]], Select[Any]] | None = None) -> list[Any]:
    """The rows matching ``where`` as ``record`` snapshots, in ``order_by`` order
    (the session's pending changes are flushed first, as an ORM query would).
    ``scope``, if given, further narrows the statement (joins, conditions)."""
    if session.autoflush:
        session.flush()
    stmt = select(*record._columns).where(*where)
    if scope is not None:
        stmt = scope(stmt)
    if order_by:
        stmt = stmt.order_by(*order_by)
    return list(map(record, session.execute(stmt).all()))
