"""Affinity groups steer the planner: anti-affinity spreads members over hosts,
affinity keeps them on one; groups are per account and cannot be deleted while
they have live members."""

from __future__ import annotations

import pytest

from engine.errors import Duplicate, InsufficientCapacity, InUse, InvalidParameter, NotFound
from engine.services.affinity import AFFINITY, ANTI_AFFINITY
from engine.services.instances import LaunchRequest
from tests.integration.engine.worlds import Cloud


def _group(cloud: Cloud, name: str, policy: str, who=None) -> str:  # type: ignore[no-untyped-def]
    with cloud.runtime.unit() as sv:
        return sv.affinity.create(who or cloud.alice, name, policy).uuid


def _launch(cloud: Cloud, groups: tuple[str, ...], count: int = 1,
            min_count: int | None = None) -> list[str]:
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.alice, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid,
            min_count=min_count or count, max_count=count, affinity_group_uuids=groups))
        uuids = [d.instance.uuid for d in launch.instances]
    cloud.drain()
    return uuids


def _hosts(cloud: Cloud, uuids: list[str]) -> list[str]:
    with cloud.runtime.unit(readonly=True) as sv:
        return [sv.instances.get(cloud.alice, uuid=u).instance.host_uuid for u in uuids]


def test_anti_affinity_spreads_members_over_distinct_hosts(cloud: Cloud) -> None:
    group = _group(cloud, "spread", ANTI_AFFINITY)
    first = _launch(cloud, (group,), count=3)
    second = _launch(cloud, (group,))
    hosts = _hosts(cloud, first + second)
    assert None not in hosts and len(set(hosts)) == 4  # the embedded default has 4 hosts
    with pytest.raises(InsufficientCapacity):
        _launch(cloud, (group,))
    with cloud.runtime.unit(readonly=True) as sv:
        detail = sv.affinity.get(cloud.alice, uuid=group)
    assert sorted(detail.instance_uuids) == sorted(first + second)


def test_a_restarted_member_keeps_away_from_the_others(cloud: Cloud) -> None:
    group = _group(cloud, "spread2", ANTI_AFFINITY)
    a, b = _launch(cloud, (group,), count=2)
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.alice, b)
    cloud.drain()
    with cloud.runtime.unit() as sv:
        sv.instances.start(cloud.alice, b)
    cloud.drain()
    host_a, host_b = _hosts(cloud, [a, b])
    assert host_a and host_b and host_a != host_b


def test_affinity_keeps_members_on_one_host(cloud: Cloud) -> None:
    group = _group(cloud, "together", AFFINITY)
    uuids = _launch(cloud, (group,), count=3) + _launch(cloud, (group,))
    assert len(set(_hosts(cloud, uuids))) == 1


def test_groups_are_checked_and_kept_per_account(cloud: Cloud) -> None:
    group = _group(cloud, "mine", ANTI_AFFINITY)
    with pytest.raises(Duplicate):
        _group(cloud, "mine", AFFINITY)
    with pytest.raises(InvalidParameter):
        _group(cloud, "odd", "host sometimes-affinity")
    admin_group = _group(cloud, "mine", ANTI_AFFINITY, who=cloud.admin)  # another account
    assert admin_group != group
    with cloud.runtime.unit() as sv, pytest.raises(NotFound):
        sv.instances.launch(cloud.alice, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid,
            affinity_group_uuids=(admin_group,)))


def test_a_group_with_live_members_cannot_be_deleted(cloud: Cloud) -> None:
    group = _group(cloud, "busy", ANTI_AFFINITY)
    [vm] = _launch(cloud, (group,))
    with cloud.runtime.unit() as sv, pytest.raises(InUse):
        sv.affinity.delete(cloud.alice, group)
    with cloud.runtime.unit() as sv:
        sv.instances.destroy(cloud.alice, vm, expunge=True)
    cloud.drain()
    with cloud.runtime.unit() as sv:
        sv.affinity.delete(cloud.alice, group)
    with cloud.runtime.unit(readonly=True) as sv, pytest.raises(NotFound):
        sv.affinity.get(cloud.alice, uuid=group)
