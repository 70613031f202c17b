"""A short-lived, per-process copy of the regions table.

Regions almost never change, yet ``DescribeRegions`` is a favourite health
probe; reading them from this cache spares the request a database round trip.

Contract:

- Entries live :data:`TTL_SECONDS` per database (keyed by its engine).
- A write to a region through the ORM in *this* process (insert, update,
  delete, or a bulk ``update(Region)``/``delete(Region)``) empties the cache at
  once and again when that transaction commits.
- Another management server's change is seen here after at most
  :data:`TTL_SECONDS`.
- Callers get transient ``Region`` objects (attached to no session) shared by
  every caller until the next refill: they are read-only; changing one would
  change what this process lists (never the database) until the entry expires.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, object_session

from engine.models import Region

TTL_SECONDS = 5.0

_lock = threading.Lock()
_entries: weakref.WeakKeyDictionary[Any, tuple[float, list[Region]]] = \
    weakref.WeakKeyDictionary()
_DIRTY = "nimbostack.regions_dirty"


def regions(session: Session) -> list[Region]:
    """Every region, ordered by name, as shared read-only transient objects (see
    the module contract)."""
    bind = session.get_bind()
    key = bind.engine if not isinstance(bind, Engine) else bind
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
    if entry is None or now - entry[0] > TTL_SECONDS:
        table = Region.__table__
        rows = [Region(**r) for r in session.execute(
            select(table).order_by(table.c.name)).mappings()]
        entry = (now, rows)
        if not session.info.get(_DIRTY):  # never cache what this transaction changed
            with _lock:
                _entries[key] = entry
    return list(entry[1])


def invalidate() -> None:
    with _lock:
        _entries.clear()


def _on_region_write(_mapper: Any, _connection: Any, target: Region) -> None:
    invalidate()
    session = object_session(target)
    if session is not None:
        session.info[_DIRTY] = True


def _on_bulk(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ is Region:
        invalidate()
        state.session.info[_DIRTY] = True


def _on_end(session: Session, *_: Any) -> None:
    if session.info.pop(_DIRTY, False):
        invalidate()


for _name in ("after_insert", "after_update", "after_delete"):
    event.listen(Region, _name, _on_region_write)
event.listen(Session, "do_orm_execute", _on_bulk)
event.listen(Session, "after_commit", _on_end)
event.listen(Session, "after_rollback", _on_end)
