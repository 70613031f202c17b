"""The one place that begins, commits and rolls back transactions.

Services receive a ``Session`` and never commit; the caller (a request view or
the job runner) wraps each unit of work in :func:`unit_of_work`, or a read-only
one in :func:`read_unit_of_work`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import Conflict, Unavailable


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session in a transaction: commit on success, roll back on any exception.

    A lost database connection surfaces as :class:`engine.errors.Unavailable`
    (retryable), so front ends can answer with their "try again" error.
    """
    session = factory()
    try:
        with session.begin():
            yield session
    except (OperationalError, DBAPIError) as exc:
        raise _neutral(exc) from exc
    finally:
        session.close()


@contextmanager
def read_unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Like :func:`unit_of_work` for a read-only unit, whose transaction begins
    with its first statement: a unit answered from in-process caches (regions,
    credentials) never reaches the database and costs no transaction at all.
    Errors surface as :func:`unit_of_work` raises them.
    """
    session = factory()
    try:
        yield session
        if session.in_transaction():
            session.commit()
    except (OperationalError, DBAPIError) as exc:
        raise _neutral(exc) from exc
    finally:
        session.close()


def _neutral(exc: DBAPIError) -> Exception:
    """The neutral error for a database error, or ``exc`` itself."""
    if exc.connection_invalidated or _is_disconnect(exc):
        return Unavailable("the database")
    if _is_conflict(exc):
        return Conflict(type(exc.orig).__name__)
    return exc


def _is_conflict(exc: DBAPIError) -> bool:
    """MySQL deadlock / lock wait timeout, or SQLite's busy database."""
    code = getattr(getattr(exc, "orig", None), "args", (None,))[0]
    if code in (1205, 1213):
        return True
    return "database is locked" in str(getattr(exc, "orig", ""))


def _is_disconnect(exc: DBAPIError) -> bool:
    code = getattr(getattr(exc, "orig", None), "args", (None,))[0]
    # MySQL client codes for a lost or refused server connection.
    return code in (2002, 2003, 2006, 2013, 2055)
