"""A launch answers with the details it already holds: equal, field for field,
to what a fresh read of the same instances gives; and its statement count is
small and does not grow with the fleet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from engine.querying import Criterion
from engine.services.affinity import ANTI_AFFINITY
from engine.services.instance_details import InstanceDetail, InstanceQuery
from engine.services.instance_summary import summarize
from engine.services.instances import LaunchRequest
from engine.services.public_ip_launch import PublicIpChoice
from engine.settings import forget_cached_settings
from tests.integration.engine.worlds import Cloud


def _facts(d: InstanceDetail) -> dict[str, Any]:
    """What the views read of a detail, as plain values."""
    return {
        "instance": (d.instance.uuid, d.instance.state, d.instance.host_uuid,
                     d.instance.public_ip_mapped, d.instance.name),
        "zone": d.zone.uuid, "offering": d.offering.uuid, "template": d.template.uuid,
        "account": d.account.uuid, "domain": d.domain.uuid,
        "host": (d.host.uuid, d.host.name) if d.host else None,
        "nics": [(n.nic.uuid, n.nic.ip_address, n.network.uuid, n.vpc_sid,
                  n.public_ip.address if n.public_ip else None) for n in d.nics],
        "volumes": [(v.uuid, v.name, v.state, v.size_bytes) for v in d.volumes],
        "groups": [g.uuid for g in d.security_groups],
        "tags": [(t.key, t.value) for t in d.tags],
        "affinity": [g.uuid for g in d.affinity_groups],
    }


def _request(cloud: Cloud, **kw: Any) -> LaunchRequest:
    return LaunchRequest(template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid,
                         **kw)


def test_launch_details_equal_a_fresh_read(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        group = sv.affinity.create(cloud.alice, "spread", ANTI_AFFINITY).uuid
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.alice, _request(
            cloud, min_count=2, max_count=3, name="web",
            tags=(("role", "web"), ("env", "test"), ("role", "front")),
            volume_tags=(("disk", "root"),), affinity_group_uuids=(group,),
            public_ip=PublicIpChoice.NETWORK))
        held = [_facts(d) for d in launch.instances]
    with cloud.runtime.unit(readonly=True) as sv:
        fresh = [_facts(sv.instances.get(cloud.alice, uuid=f["instance"][0])) for f in held]
    assert len(held) == 3
    assert held == fresh
    assert held[0]["tags"] == [("env", "test"), ("role", "front")]
    assert all(f["nics"][0][4] for f in held)  # the default VPC maps public addresses
    assert len({f["host"] for f in held}) == 3  # anti-affinity honoured


def test_launch_summaries_equal_the_listing_summaries(cloud: Cloud) -> None:
    """What RunInstances renders (the summary of the launch's details) is what
    a listing reads with its narrow queries, value for value."""
    with cloud.runtime.unit() as sv:
        group = sv.affinity.create(cloud.alice, "pack", ANTI_AFFINITY).uuid
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.alice, _request(
            cloud, min_count=3, max_count=3, tags=(("b", "2"), ("a", "1")),
            affinity_group_uuids=(group,), public_ip=PublicIpChoice.NETWORK))
        held = [summarize(d) for d in launch.instances]
    with cloud.runtime.unit(readonly=True) as sv:
        page = sv.instances.list(cloud.alice, InstanceQuery(
            criteria=(Criterion("reservation_sid", (held[0].reservation_sid,), False),),
            summaries=True))
    listed = {s.uuid: s for s in page.items}
    assert len(listed) == 3
    for s in held:
        assert listed[s.uuid] == s
    assert held[0].tags == [("a", "1"), ("b", "2")]
    assert held[0].placement_group is not None and held[0].placement_group[0] == "pack"
    assert all(s.nics[0].public_address for s in held)
    assert held[0].metadata_access is None  # the defaults


def test_launch_without_start_or_public_address(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.admin, _request(cloud, start=False))
        held = _facts(launch.instances[0])
        assert launch.jobs == []
    with cloud.runtime.unit(readonly=True) as sv:
        assert _facts(sv.instances.get(cloud.admin, uuid=held["instance"][0])) == held
    assert held["host"] is None and held["nics"][0][4] is None


def _statements(cloud: Cloud) -> int:
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    forget_cached_settings()  # the same start every time: settings read once (cached 2 s)
    event.listen(cloud.runtime.db.engine, "before_cursor_execute", count)
    try:
        with cloud.runtime.unit() as sv:
            sv.instances.launch(cloud.admin, _request(
                cloud, tags=(("probe", "x"),), public_ip=PublicIpChoice.NETWORK))
    finally:
        event.remove(cloud.runtime.db.engine, "before_cursor_execute", count)
    return len(seen)


def test_one_instance_launch_takes_few_statements_flat_with_the_fleet(cloud: Cloud) -> None:
    _statements(cloud)  # the first launch also makes the account's default group
    first = _statements(cloud)
    with cloud.runtime.unit() as sv:
        sv.instances.launch(cloud.admin, _request(cloud, min_count=40, max_count=40))
    cloud.drain()
    assert _statements(cloud) == first
    # SQLite 24, MariaDB 25 (dedicated ranges are tried first there); 45 before trimming.
    assert first <= 25
