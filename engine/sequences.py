"""Database-backed counters, safe across processes.

On MySQL/MariaDB a counter is advanced in its own short transaction on a
separate connection (as CloudStack's sequence table is), so the caller's
long transaction does not hold the counter row locked and concurrent launches
do not queue on it; a rolled-back caller leaves a gap, never a duplicate. On
SQLite, where the caller already holds the database's write lock, the counter
is advanced inside the caller's transaction.

Where the database can return the updated row (``UPDATE ... RETURNING``:
SQLite >= 3.35; MySQL and MariaDB, up to 11.x at least, return rows only from
INSERT and DELETE), advancing is one statement; elsewhere the UPDATE is
followed by a SELECT of the new value.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Connection, Dialect, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.models import Sequence

# Counters created at bootstrap, so their first use never races an insert.
KNOWN = ("instance",)


def ensure(session: Session, name: str) -> None:
    """Create the counter row if it is missing (idempotent)."""
    if session.get(Sequence, name) is None:
        session.add(Sequence(name=name, next_value=1))
        session.flush()


def take(session: Session, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive values of counter ``name``; return the first."""
    bind = session.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):
        with bind.engine.connect() as conn, conn.begin():
            return _advance(conn, name, count)
    return _advance(session.connection(), name, count)


def returning_supported(dialect: Dialect) -> bool:
    """Whether ``dialect``'s server answers ``UPDATE ... RETURNING`` (as
    SQLAlchemy detects it from the server version)."""
    return bool(dialect.update_returning)


# Built once, with bound parameters: the counter ``p_name`` moves by ``p_count``.
_table: Table = Sequence.__table__  # type: ignore[assignment]
_ADVANCE = update(_table).where(_table.c.name == bindparam("p_name")).values(
    next_value=_table.c.next_value + bindparam("p_count", type_=BigInteger))
_ADVANCE_RETURNING = _ADVANCE.returning(_table.c.next_value)
_VALUE = select(_table.c.next_value).where(_table.c.name == bindparam("p_name"))


def _advance(conn: Connection, name: str, count: int) -> int:
    params = {"p_name": name, "p_count": count}
    returning = returning_supported(conn.dialect)
    for _ in range(2):
        if returning:
            value = conn.execute(_ADVANCE_RETURNING, params).scalar()
            if value is not None:
                return int(value) - count
        else:
            result = conn.execute(_ADVANCE, params)
            if result.rowcount == 1:
                value = conn.execute(_VALUE, params).scalar()
                assert value is not None
                return int(value) - count
        try:
            with conn.begin_nested():
                conn.execute(_table.insert().values(name=name, next_value=1))
        except IntegrityError:
            pass
    raise RuntimeError(f"sequence {name} could not be advanced")
