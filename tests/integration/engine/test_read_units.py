"""Read-only units of work: the transaction begins with the first statement."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError, OperationalError

from engine.errors import Conflict, Unavailable
from engine.models import Region
from engine.uow import read_unit_of_work
from tests.integration.engine.worlds import World


def _begins(world: World) -> list[int]:
    seen: list[int] = []
    event.listen(world.runtime.db.engine, "begin", lambda conn: seen.append(1))
    return seen


def test_a_unit_served_from_caches_opens_no_transaction(world: World) -> None:
    with world.runtime.unit(readonly=True) as sv:
        sv.catalog.regions()  # fills the region cache
    begins = _begins(world)
    with world.runtime.unit(readonly=True) as sv:
        assert sv.catalog.regions()
        assert not sv.session.in_transaction()
    assert begins == []


def test_a_unit_that_reads_begins_and_ends_its_transaction(world: World) -> None:
    begins = _begins(world)
    with world.runtime.unit(readonly=True) as sv:
        assert sv.session.scalar(select(Region.name).limit(1))
        assert sv.session.in_transaction()
        session = sv.session
    assert begins == [1]
    assert not session.in_transaction()  # committed and closed


def test_writes_in_a_read_unit_still_commit(world: World) -> None:
    with world.runtime.unit(readonly=True) as sv:
        sv.inventory.region("rd-test-1")
    with world.runtime.unit(readonly=True) as sv:
        assert sv.session.scalar(select(Region.uuid).where(Region.name == "rd-test-1"))


def test_an_exception_rolls_the_unit_back(world: World) -> None:
    with pytest.raises(RuntimeError), world.runtime.unit(readonly=True) as sv:
        sv.inventory.region("rd-test-2")
        sv.session.flush()
        raise RuntimeError("boom")
    with world.runtime.unit(readonly=True) as sv:
        assert sv.session.scalar(select(Region.uuid).where(Region.name == "rd-test-2")) is None


def test_database_errors_map_as_in_any_unit(world: World) -> None:
    factory = world.runtime.db.read_session
    with pytest.raises(Conflict), read_unit_of_work(factory):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))
    lost = DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    with pytest.raises(Unavailable), read_unit_of_work(factory):
        raise lost
    with pytest.raises(OperationalError), read_unit_of_work(factory):
        raise OperationalError("SELECT 1", {}, Exception("no such table"))
