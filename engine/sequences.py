"""Database-backed counters, safe across processes.

On MySQL/MariaDB a counter is advanced in its own short transaction on a
separate connection (as CloudStack's sequence table is), so the caller's
long transaction does not hold the counter row locked and concurrent launches
do not queue on it; a rolled-back caller leaves a gap, never a duplicate. On
SQLite, where the caller already holds the database's write lock, the counter
is advanced inside the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update
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


def _advance(conn: Connection, name: str, count: int) -> int:
    for _ in range(2):
        result = conn.execute(
            update(Sequence).where(Sequence.name == name)
            .values(next_value=Sequence.next_value + count)
        )
        if result.rowcount == 1:
            value = conn.scalar(select(Sequence.next_value).where(Sequence.name == name))
            assert value is not None
            return int(value) - count
        try:
            with conn.begin_nested():
                conn.execute(Sequence.__table__.insert().values(name=name, next_value=1))
        except IntegrityError:
            pass
    raise RuntimeError(f"sequence {name} could not be advanced")
