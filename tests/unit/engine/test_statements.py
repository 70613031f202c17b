"""Prepared statements (engine.statements) behave as Connection.execute does:
same rows, same conversions, same transaction, same events, same errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import bindparam, event, exc, select, update
from sqlalchemy.orm import Session

from engine.db import Database, connect, utcnow
from engine.errors import ResourceKind
from engine.models import Event, Network
from engine.statements import Prepared, loaded, row_keys, select_rows

_events = Event.__table__
_networks = Network.__table__
_INSERT_EVENT = Prepared(_events.insert())
_EVENT = Prepared(select(_events.c.uuid, _events.c.resource_kind, _events.c.created_at,
                         _events.c.level).where(_events.c.uuid == bindparam("p_uuid")))
_DEFAULT_NETWORKS = Prepared(select(_networks.c.uuid, _networks.c.is_default,
                                    _networks.c.created_at)
                             .where(_networks.c.is_default == bindparam("p_default"))
                             .order_by(_networks.c.uuid))
_BY_UUIDS = Prepared(select(_networks.c.uuid).where(
    _networks.c.uuid.in_(bindparam("p_uuids", expanding=True))))
_RENAME = Prepared(update(_networks).where(_networks.c.uuid == bindparam("p_uuid"),
                                           _networks.c.is_default.is_(True))
                   .values(display_text=bindparam("p_text")))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = connect(db_url)
    yield database
    database.dispose()


def _event_row(uuid: str, when: datetime) -> dict[str, object]:
    return {"uuid": uuid, "sid": uuid[:17], "event_type": "VM.CREATE", "level": "INFO",
            "state": "Completed", "description": "d", "account_uuid": None,
            "user_uuid": None, "resource_kind": ResourceKind.INSTANCE,
            "resource_uuid": None, "created_at": when}


def test_rows_written_and_read_convert_like_the_orm(db: Database) -> None:
    when = utcnow()
    with db.session() as s, s.begin():
        _INSERT_EVENT.executemany(s, [_event_row("ev-prepared-1", when),
                                      _event_row("ev-prepared-2", when)])
        orm = s.get(Event, "ev-prepared-1")
        assert orm is not None and orm.resource_kind is ResourceKind.INSTANCE
        assert orm.created_at == when
        row = _EVENT.execute(s, {"p_uuid": "ev-prepared-2"}).first()
        core = s.connection().execute(_EVENT.statement, {"p_uuid": "ev-prepared-2"}).first()
    assert row == tuple(core) == ("ev-prepared-2", ResourceKind.INSTANCE, when, "INFO")


def test_booleans_and_timestamps_match_connection_execute(db: Database) -> None:
    with db.session() as s, s.begin():
        for wanted in (True, False):
            prepared = _DEFAULT_NETWORKS.execute(s, {"p_default": wanted}).all()
            core = [tuple(r) for r in s.connection().execute(
                _DEFAULT_NETWORKS.statement, {"p_default": wanted})]
            assert prepared == core
        assert _DEFAULT_NETWORKS.execute(s, {"p_default": True}).rows  # the bootstrap's


def test_updates_count_rows_and_stay_in_the_sessions_transaction(db: Database) -> None:
    with db.session() as s:
        with s.begin():
            uuid = s.scalar(select(Network.uuid).where(Network.is_default.is_(True)))
            before = s.get(Network, uuid).display_text  # type: ignore[union-attr]
            result = _RENAME.execute(s, {"p_uuid": uuid, "p_text": "renamed"})
            assert result.rowcount == 1
            assert s.scalar(select(Network.display_text).where(Network.uuid == uuid)) == "renamed"
            assert _RENAME.execute(s, {"p_uuid": "none", "p_text": "x"}).rowcount == 0
            s.rollback()
        with s.begin():
            assert s.scalar(select(Network.display_text).where(Network.uuid == uuid)) == before


def test_an_expanding_in_runs_through_sqlalchemy(db: Database) -> None:
    with db.session() as s, s.begin():
        uuids = list(s.scalars(select(Network.uuid)))
        assert sorted(_BY_UUIDS.execute(s, {"p_uuids": uuids}).scalars()) == sorted(uuids)


def test_engine_events_see_the_statements(db: Database) -> None:
    seen: list[str] = []

    def note(_c: object, _cur: object, statement: str, *_a: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.session() as s, s.begin():
            s.connection()
            seen.clear()
            _DEFAULT_NETWORKS.execute(s, {"p_default": True})
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(seen) == 1 and seen[0].startswith("SELECT networks.uuid")


def test_database_errors_surface_as_sqlalchemy_errors(db: Database) -> None:
    with db.session() as s, s.begin():
        _INSERT_EVENT.executemany(s, [_event_row("ev-prepared-dup", utcnow())])
        with pytest.raises(exc.IntegrityError):
            _INSERT_EVENT.executemany(s, [_event_row("ev-prepared-dup", utcnow())])
        s.rollback()


def test_a_missing_parameter_is_refused(db: Database) -> None:
    with db.session() as s, s.begin(), pytest.raises(KeyError, match="p_default"):
        _DEFAULT_NETWORKS.execute(s, {})


def test_connection_and_session_are_both_accepted(db: Database) -> None:
    with db.session() as s, s.begin():
        assert isinstance(s, Session)
        via_session = _DEFAULT_NETWORKS.execute(s, {"p_default": True}).all()
        via_connection = _DEFAULT_NETWORKS.execute(s.connection(), {"p_default": True}).all()
    assert via_session == via_connection


_NETWORK_ROW = Prepared(select_rows(Network).where(_networks.c.uuid == bindparam("p_uuid")))


def test_loaded_rows_are_the_objects_a_query_returns(db: Database) -> None:
    with db.session() as s, s.begin():
        uuid = s.scalar(select(Network.uuid).where(Network.is_default.is_(True)))
        row = _NETWORK_ROW.execute(s, {"p_uuid": uuid}).first()
        assert row is not None and row_keys(Network)[0] == "uuid"
        net = loaded(s, Network, row)
        assert s.get(Network, uuid) is net and net not in s.dirty
        with db.read_session() as other:
            fresh = other.get(Network, uuid)
            assert fresh is not None
            assert {k: getattr(net, k) for k in row_keys(Network)} == \
                {k: getattr(fresh, k) for k in row_keys(Network)}
        net.display_text = "changed here"
        s.flush()
        assert s.scalar(select(Network.display_text).where(Network.uuid == uuid)) == "changed here"


def test_loaded_keeps_or_refreshes_the_object_the_session_holds(db: Database) -> None:
    with db.session() as s, s.begin():
        uuid = s.scalar(select(Network.uuid).where(Network.is_default.is_(True)))
        held = s.get(Network, uuid)
        assert held is not None
        row = list(_NETWORK_ROW.execute(s, {"p_uuid": uuid}).first() or ())
        row[row_keys(Network).index("display_text")] = "from the row"
        assert loaded(s, Network, row) is held and held.display_text != "from the row"
        assert loaded(s, Network, row, refresh=True) is held
        assert held.display_text == "from the row" and held not in s.dirty
