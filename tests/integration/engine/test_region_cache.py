"""The catalog's short-lived region cache: fresh after local writes, detached rows."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import object_session

from engine.errors import NotFound
from engine.models import Region, Template
from engine.services import region_cache
from tests.integration.engine.worlds import World


def _names(world: World) -> list[str]:
    with world.runtime.unit(readonly=True) as sv:
        return [r.name for r in sv.catalog.regions()]


def test_a_region_added_here_is_listed_at_once(world: World) -> None:
    before = _names(world)
    with world.runtime.unit() as sv:
        sv.inventory.region("aa-test-1", endpoint="ec2.aa-test-1.example")
    after = _names(world)
    assert after == sorted([*before, "aa-test-1"])


def test_bulk_updates_invalidate_and_results_are_detached_copies(world: World) -> None:
    with world.runtime.unit() as sv:
        sv.inventory.region("bb-test-1")
    _names(world)  # fill the cache
    with world.runtime.unit() as sv:
        sv.session.execute(update(Region).where(Region.name == "bb-test-1")
                           .values(endpoint="changed.example"))
    with world.runtime.unit() as sv:
        listed = {r.name: r for r in sv.catalog.regions()}
        assert listed["bb-test-1"].endpoint == "changed.example"
        assert all(object_session(r) is None for r in listed.values())  # detached
        stored = sv.session.scalar(select(Region.endpoint).where(Region.name == "bb-test-1"))
    assert stored == "changed.example"


def test_changes_behind_the_orm_show_after_the_ttl(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _names(world)
    with world.runtime.db.engine.begin() as conn:  # another server's write, in effect
        conn.execute(Region.__table__.update().values(endpoint="elsewhere.example"))
    monkeypatch.setattr(region_cache, "TTL_SECONDS", 0.0)
    with world.runtime.unit(readonly=True) as sv:
        assert {r.endpoint for r in sv.catalog.regions()} == {"elsewhere.example"}


def test_template_lookup_keeps_visibility(world: World) -> None:
    with world.runtime.unit() as sv:
        t = sv.session.get(Template, world.template_uuid)
        assert t is not None
        sid = t.sid
        assert sv.catalog.template_row(world.alice, sid=sid).uuid == t.uuid
        assert sv.catalog.template(world.alice, sid=sid).template.uuid == t.uuid
        t.is_public = False
        sv.session.flush()
        try:
            sv.catalog.template_row(world.alice, sid=sid)
        except NotFound:
            pass
        else:
            raise AssertionError("a private template of another account was visible")
        assert sv.catalog.template_row(world.admin, uuid=t.uuid).sid == sid
