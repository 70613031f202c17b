"""Big summary pages read their related rows with the page's uuids bound
(engine/services/instance_listing.py, SQLite) or through the page's
conditions (other databases): either way a page's summaries equal the
summaries of the instances' details, at every padded size and with the
related rows of instances that are not on the page left out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from engine.querying import Criterion, Paging
from engine.services.instance_details import SCOPED_PAGE, InstanceQuery
from engine.services.instance_listing import _BOUND_SIZES
from engine.services.instance_summary import summarize
from tests.integration.engine.worlds import World


def test_big_pages_at_each_padded_size_equal_the_details(world: World) -> None:
    assert SCOPED_PAGE < _BOUND_SIZES[0]
    first = world.launch_stopped(40, (("fleet", "pad"), ("z", "1")))
    world.launch_stopped(4, (("fleet", "other"),))  # between the pages' bounds, filtered out
    second = world.launch_stopped(30, (("fleet", "pad"),))
    uuids = first + second
    with world.runtime.unit(readonly=True) as sv:
        details = {u: summarize(sv.instances.get(world.alice, uuid=u)) for u in uuids}
    criteria = (Criterion("tag:fleet", ("pad",)),)
    # 70 (padded to 128), 65 then 5, 33 (padded to 64) then 33 then 4.
    for limit in (70, 65, SCOPED_PAGE + 1):
        listed = []
        token = None
        with world.runtime.unit(readonly=True) as sv:
            while True:
                page = sv.instances.list(world.alice, InstanceQuery(
                    criteria=criteria, summaries=True, paging=Paging(limit=limit, token=token)))
                listed.extend(page.items)
                token = page.next_token
                if not token:
                    break
        assert [s.uuid for s in listed] == uuids
        for s in listed:
            assert s == details[s.uuid]
        assert listed[0].tags == [("fleet", "pad"), ("z", "1")]
        assert listed[-1].tags == [("fleet", "pad")]


def test_on_sqlite_a_big_page_binds_its_uuids(world: World) -> None:
    world.launch_stopped(SCOPED_PAGE + 2, (("fleet", "bind"),))
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    engine = world.runtime.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        with world.runtime.unit(readonly=True) as sv:
            page = sv.instances.list(world.alice, InstanceQuery(
                criteria=(Criterion("tag:fleet", ("bind",)),), summaries=True,
                paging=Paging(limit=SCOPED_PAGE + 2)))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(page.items) == SCOPED_PAGE + 2
    related = [s for s in seen if "FROM tags" in s and "resource_uuid IN" in s]
    assert len(related) == 1
    subquery = "IN (SELECT instances.uuid" in related[0]
    assert subquery == (engine.dialect.name != "sqlite")
