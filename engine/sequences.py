"""Database-backed counters, safe across processes."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.models import Sequence


def take(session: Session, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive values of sequence ``name``; return the first.

    The row stays locked until the caller's transaction ends.
    """
    for _ in range(2):
        result = session.execute(
            update(Sequence)
            .where(Sequence.name == name)
            .values(next_value=Sequence.next_value + count)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            value = session.scalar(select(Sequence.next_value).where(Sequence.name == name))
            assert value is not None
            return int(value) - count
        try:
            with session.begin_nested():
                session.add(Sequence(name=name, next_value=1))
        except IntegrityError:
            pass
    raise RuntimeError(f"sequence {name} could not be advanced")
