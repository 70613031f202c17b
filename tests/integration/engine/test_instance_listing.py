"""InstanceReader listings: records instead of ORM rows, and big pages that read
their related rows through the page's own query (engine/services/instance_details.py).

A big page (more than ``_SCOPED_PAGE`` instances) must carry exactly what the
same instances carry when read one by one (the uuid-list path), under filters
and across page tokens. Summaries (``InstanceQuery(summaries=True)``, read by
engine/services/instance_listing.py) must equal the summaries of the full
details, on big and small pages alike.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from engine.models import Instance
from engine.querying import Criterion, Paging, Record, record_type
from engine.services.instance_details import _SCOPED_PAGE, InstanceDetail, InstanceQuery
from engine.services.instance_metadata import AccessChange, AccessOptions, for_unit
from engine.services.instance_summary import InstanceSummary, summarize
from tests.integration.engine.worlds import World

FLEET = _SCOPED_PAGE + 8  # enough for one scoped page and a remainder


def _flat(d: InstanceDetail) -> dict[str, Any]:
    """Every value a view can read from a detail, by attribute path."""
    out: dict[str, Any] = {}

    def row(prefix: str, value: Any) -> None:
        if value is None:
            out[prefix] = None
        elif isinstance(value, Record):
            out.update({f"{prefix}.{n}": getattr(value, n) for n in value._fields})
        else:  # an ORM row: its uuid stands for it
            out[prefix] = value.uuid

    for f in fields(d):
        value = getattr(d, f.name)
        if isinstance(value, list):
            out[f"{f.name}#"] = len(value)
            for n, item in enumerate(value):
                if hasattr(item, "nic"):  # a NicDetail
                    row(f"{f.name}[{n}].nic", item.nic)
                    row(f"{f.name}[{n}].network", item.network)
                    row(f"{f.name}[{n}].public_ip", item.public_ip)
                    out[f"{f.name}[{n}].vpc_sid"] = item.vpc_sid
                else:
                    row(f"{f.name}[{n}]", item)
        else:
            row(f.name, value)
    return out


def _one_by_one(world: World, uuids: list[str]) -> dict[str, dict[str, Any]]:
    with world.runtime.unit(readonly=True) as sv:
        return {u: _flat(sv.instances.get(world.alice, uuid=u)) for u in uuids}


def test_records_read_like_the_orm_rows(world: World) -> None:
    [uuid] = world.launch_stopped(1, (("k", "v"),))
    with world.runtime.unit(readonly=True) as sv:
        d = sv.instances.get(world.alice, uuid=uuid)
        orm = sv.session.get(Instance, uuid)
        assert orm is not None
        assert type(d.instance) is record_type(Instance)
        for name in record_type(Instance)._fields:
            assert getattr(d.instance, name) == getattr(orm, name), name
        assert [(t.key, t.value) for t in d.tags] == [("k", "v")]
        assert d.nics and d.volumes
        with pytest.raises(AttributeError):
            d.instance.state = "Running"  # type: ignore[misc]
        assert "InstanceRecord(uuid=" in repr(d.instance)


def test_a_big_page_carries_what_each_instance_carries(world: World) -> None:
    uuids = world.launch_stopped(FLEET, (("fleet", "a"), ("b", "x")))
    expected = _one_by_one(world, uuids)
    with world.runtime.unit(readonly=True) as sv:
        page = sv.instances.list(world.alice, InstanceQuery(paging=Paging(limit=FLEET)))
    assert len(page.items) == FLEET
    for d in page.items:
        assert _flat(d) == expected[d.instance.uuid]
        assert [t.key for t in d.tags] == ["b", "fleet"]  # by key


def test_scoped_pages_follow_filters_and_tokens(world: World) -> None:
    # A second tag the filter does not name: it must still be listed.
    tagged = world.launch_stopped(FLEET, (("role", "web"), ("tier", "1")))
    world.launch_stopped(5, (("role", "db"),))  # interleaved rows the filter must drop
    more = world.launch_stopped(3, (("role", "web"), ("tier", "2")))
    expected = _one_by_one(world, tagged + more)
    query = InstanceQuery(criteria=(Criterion("tag:role", ("web",)),),
                          paging=Paging(limit=_SCOPED_PAGE + 1))
    seen: list[str] = []
    with world.runtime.unit(readonly=True) as sv:
        page = sv.instances.list(world.alice, query)
        while True:
            for d in page.items:
                assert _flat(d) == expected[d.instance.uuid]
                assert [t.key for t in d.tags] == ["role", "tier"]
                seen.append(d.instance.uuid)
            if not page.next_token:
                break
            page = sv.instances.list(world.alice, InstanceQuery(
                criteria=query.criteria,
                paging=Paging(limit=_SCOPED_PAGE + 1, token=page.next_token)))
    assert sorted(seen) == sorted(tagged + more)


def test_details_of_orm_rows_still_work(world: World) -> None:
    uuids = world.launch_stopped(2, ())
    with world.runtime.unit(readonly=True) as sv:
        rows = [sv.session.get(Instance, u) for u in uuids]
        details = sv.instances.reader.details([r for r in rows if r is not None])
        assert [d.instance.uuid for d in details] == uuids
        assert all(d.nics and d.volumes for d in details)


def _summaries(world: World, query: InstanceQuery) -> list[InstanceSummary]:
    out: list[InstanceSummary] = []
    with world.runtime.unit(readonly=True) as sv:
        while True:
            page = sv.instances.list(world.alice, query)
            out.extend(page.items)
            if not page.next_token:
                return out
            query = InstanceQuery(criteria=query.criteria, summaries=True, paging=Paging(
                limit=query.paging.limit, token=page.next_token))


def test_summaries_equal_the_summaries_of_the_details(world: World) -> None:
    uuids = world.launch_stopped(FLEET, (("fleet", "s"), ("b", "x")))
    world.launch_stopped(3, (("fleet", "other"),))  # rows the filter must drop
    with world.runtime.unit() as sv:
        sid = sv.instances.get(world.alice, uuid=uuids[5]).instance.sid
        for_unit(sv).change_access(world.alice, sid, AccessChange(
            require_token=True, token_hop_limit=4))
    with world.runtime.unit(readonly=True) as sv:
        details = {u: summarize(sv.instances.get(world.alice, uuid=u)) for u in uuids}
    criteria = (Criterion("tag:fleet", ("s",)),)
    for limit in (FLEET, _SCOPED_PAGE + 1, 5):  # scoped pages, and uuid lists
        listed = _summaries(world, InstanceQuery(criteria=criteria, summaries=True,
                                                 paging=Paging(limit=limit)))
        assert [s.uuid for s in listed] == uuids
        for s in listed:
            access = s.metadata_access
            assert s._replace(metadata_access=None) == details[s.uuid]
            if s.uuid == uuids[5]:
                assert access == AccessOptions(require_token=True, token_hop_limit=4)
            else:
                assert access is None
        assert listed[0].tags == [("b", "x"), ("fleet", "s")]
        assert listed[0].nics and listed[0].volumes and listed[0].security_groups


def test_a_summary_page_takes_a_fixed_number_of_statements(world: World) -> None:
    from sqlalchemy import event

    world.launch_stopped(FLEET, (("fleet", "n"),))
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    counts = []
    for limit in (FLEET, 3):
        seen.clear()
        event.listen(world.runtime.db.engine, "before_cursor_execute", count)
        try:
            with world.runtime.unit(readonly=True) as sv:
                sv.instances.list(world.alice, InstanceQuery(
                    criteria=(Criterion("tag:fleet", ("n",)),), summaries=True,
                    paging=Paging(limit=limit)))
        finally:
            event.remove(world.runtime.db.engine, "before_cursor_execute", count)
        counts.append(len([s for s in seen if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1] <= 13
