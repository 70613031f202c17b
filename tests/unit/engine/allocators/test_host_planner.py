"""HostPlanner: SQL filters, overcommit factors, weighing and conditional reservation."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tiny_cloud import GIB, Cloud

from engine.allocators.hosts import MIB, HostPlanner, PlacementRequest
from engine.errors import InsufficientCapacity
from engine.models import Host, Instance
from engine.states import AllocationState, HostState, ResourceState, VmState


def _req(cloud: Cloud, cpus: int = 1, mhz: int = 1000, mib: int = 1024,
         **kw: object) -> PlacementRequest:
    return PlacementRequest(zone_uuid=cloud.zone.uuid, cpus=cpus, cpu_mhz=mhz, memory_mib=mib,
                            account_uuid=cloud.account.uuid, **kw)  # type: ignore[arg-type]


def _names(cloud: Cloud, uuids: list[str]) -> list[str]:
    by_uuid = {h.uuid: name for name, h in cloud.hosts.items()}
    return [by_uuid[u] for u in uuids]


@pytest.fixture
def planner(cloud: Cloud) -> HostPlanner:
    cloud.setting("vm.allocation.algorithm", "firstfit")
    return HostPlanner(cloud.session, cloud.settings)


def _fresh(cloud: Cloud, name: str) -> Host:
    host = cloud.session.get(Host, cloud.hosts[name].uuid, populate_existing=True)
    assert host is not None
    return host


def test_firstfit_lists_every_usable_host_oldest_first(cloud: Cloud, planner: HostPlanner) -> None:
    assert _names(cloud, planner.candidates(_req(cloud))) == ["h1", "h2", "h3", "h4"]


@pytest.mark.parametrize("change", [
    ("state", HostState.DOWN), ("state", HostState.DISCONNECTED),
    ("state", HostState.MAINTENANCE), ("resource_state", ResourceState.DISABLED),
    ("resource_state", ResourceState.MAINTENANCE),
])
def test_hosts_not_up_and_enabled_are_filtered_out(cloud: Cloud, planner: HostPlanner,
                                                   change: tuple[str, object]) -> None:
    setattr(cloud.hosts["h2"], *change)
    cloud.session.flush()
    assert _names(cloud, planner.candidates(_req(cloud))) == ["h1", "h3", "h4"]


def test_removed_hosts_and_disabled_clusters_are_filtered_out(cloud: Cloud,
                                                              planner: HostPlanner) -> None:
    from engine.db import utcnow

    cloud.hosts["h1"].removed_at = utcnow()
    cloud.c2.allocation_state = AllocationState.DISABLED
    cloud.session.flush()
    assert _names(cloud, planner.candidates(_req(cloud))) == ["h2", "h3"]


def test_hosts_too_small_for_one_vcpu_or_the_vcpu_count_are_filtered_out(
        cloud: Cloud, planner: HostPlanner) -> None:
    cloud.hosts["h1"].cpu_mhz = 2000
    cloud.hosts["h2"].cpu_cores = 8
    cloud.session.flush()
    assert _names(cloud, planner.candidates(_req(cloud, mhz=1500))) == ["h1"]
    assert _names(cloud, planner.candidates(_req(cloud, cpus=6, mhz=500))) == ["h2"]


def test_pinning_and_avoiding_hosts(cloud: Cloud, planner: HostPlanner) -> None:
    h3 = cloud.hosts["h3"].uuid
    assert planner.candidates(_req(cloud, host_uuid=h3)) == [h3]
    avoid = frozenset({cloud.hosts["h1"].uuid, h3})
    assert _names(cloud, planner.candidates(_req(cloud, avoid=avoid))) == ["h2", "h4"]
    assert _names(cloud, planner.candidates(_req(cloud, cluster_uuid=cloud.c2.uuid))) == ["h4"]


def test_reserve_fills_hosts_to_exactly_their_capacity(cloud: Cloud, planner: HostPlanner) -> None:
    placed = [planner.reserve(_req(cloud, mib=1024)) for _ in range(16)]
    assert _names(cloud, placed) == ["h1"] * 4 + ["h2"] * 4 + ["h3"] * 4 + ["h4"] * 4
    with pytest.raises(InsufficientCapacity):
        planner.reserve(_req(cloud, mib=1024))
    for name in cloud.hosts:
        host = _fresh(cloud, name)
        assert host.memory_allocated_bytes == 4 * GIB
        assert host.cpu_allocated_mhz == 4000


def test_memory_overcommit_factor_is_honoured(cloud: Cloud, planner: HostPlanner) -> None:
    cloud.setting("mem.overprovisioning.factor", "1.5")
    h1 = cloud.hosts["h1"].uuid
    assert all(planner.try_reserve(h1, 100, 1024 * MIB) for _ in range(6))
    assert not planner.try_reserve(h1, 100, 1024 * MIB)
    assert _fresh(cloud, "h1").memory_allocated_bytes == 6 * GIB


def test_cpu_overcommit_factor_is_honoured(cloud: Cloud, planner: HostPlanner) -> None:
    h1 = cloud.hosts["h1"].uuid
    assert planner.try_reserve(h1, 4000, 0)
    assert not planner.try_reserve(h1, 1, 0)
    cloud.setting("cpu.overprovisioning.factor", "2")
    assert planner.try_reserve(h1, 4000, 0)
    assert not planner.try_reserve(h1, 1, 0)
    assert _names(cloud, planner.candidates(_req(cloud, cpus=4))) == ["h2", "h3", "h4"]


def test_a_cluster_factor_overrides_the_global_setting(cloud: Cloud,
                                                      planner: HostPlanner) -> None:
    cloud.setting("mem.overprovisioning.factor", "3")
    cloud.c1.memory_overcommit = 1.0
    cloud.session.flush()
    h1, h4 = cloud.hosts["h1"].uuid, cloud.hosts["h4"].uuid
    assert planner.try_reserve(h1, 0, 4 * GIB)
    assert not planner.try_reserve(h1, 0, 1)
    assert planner.try_reserve(h4, 0, 12 * GIB)
    assert not planner.try_reserve(h4, 0, 1)
    # h1 (cluster factor 1) and h4 (global factor 3) are full; h2 and h3 have room.
    assert _names(cloud, planner.candidates(_req(cloud, mib=2048))) == ["h2", "h3"]


def test_release_gives_back_and_never_goes_below_zero(cloud: Cloud, planner: HostPlanner) -> None:
    h1 = cloud.hosts["h1"].uuid
    assert planner.try_reserve(h1, 3000, 3 * GIB)
    planner.release(h1, 1000, GIB)
    host = _fresh(cloud, "h1")
    assert (host.cpu_allocated_mhz, host.memory_allocated_bytes) == (2000, 2 * GIB)
    planner.release(h1, 5000, 5 * GIB)
    host = _fresh(cloud, "h1")
    assert (host.cpu_allocated_mhz, host.memory_allocated_bytes) == (0, 0)


def test_least_consumed_prefers_the_emptiest_host(cloud: Cloud, planner: HostPlanner) -> None:
    cloud.setting("vm.allocation.algorithm", "firstfitleastconsumed")
    for name, gib in (("h1", 3), ("h2", 1), ("h3", 2), ("h4", 0)):
        cloud.hosts[name].memory_allocated_bytes = gib * GIB
    cloud.session.flush()
    assert _names(cloud, planner.candidates(_req(cloud))) == ["h4", "h2", "h3", "h1"]


def test_user_dispersing_prefers_hosts_with_fewer_of_the_accounts_vms(
        cloud: Cloud, planner: HostPlanner) -> None:
    cloud.setting("vm.allocation.algorithm", "userdispersing")
    counts = {"h1": (2, VmState.RUNNING), "h2": (1, VmState.STARTING),
              "h3": (3, VmState.STOPPED), "h4": (0, VmState.RUNNING)}
    number = 0
    for name, (count, state) in counts.items():
        for _ in range(count):
            number += 1
            cloud.session.add(_instance(cloud, cloud.hosts[name].uuid, number, state))
    # Another account's VMs do not count.
    cloud.session.add(_instance(cloud, cloud.hosts["h4"].uuid, 99, VmState.RUNNING,
                                account_uuid=cloud.other_account.uuid))
    cloud.session.flush()
    # h3's VMs are Stopped, so they do not count either.
    assert _names(cloud, planner.candidates(_req(cloud))) == ["h3", "h4", "h2", "h1"]


def test_random_algorithm_still_only_offers_fitting_hosts(cloud: Cloud) -> None:
    cloud.setting("vm.allocation.algorithm", "random")
    cloud.hosts["h2"].memory_allocated_bytes = 4 * GIB
    cloud.session.flush()
    planner = HostPlanner(cloud.session, cloud.settings)
    assert sorted(_names(cloud, planner.candidates(_req(cloud)))) == ["h1", "h3", "h4"]


def test_reserve_skips_a_candidate_that_filled_up_meanwhile(cloud: Cloud,
                                                          planner: HostPlanner) -> None:
    """The conditional UPDATE re-checks capacity: a stale candidate list is harmless."""
    req = _req(cloud, mib=4096)
    stale = planner.candidates(req)
    assert _names(cloud, stale) == ["h1", "h2", "h3", "h4"]
    assert planner.try_reserve(stale[0], 0, 1)  # someone else takes a byte of h1
    assert not planner.try_reserve(stale[0], req.cpu_total_mhz, req.memory_bytes)
    assert _names(cloud, [planner.reserve(req)]) == ["h2"]


def _instance(cloud: Cloud, host_uuid: str, number: int, state: VmState,
              account_uuid: str | None = None) -> Instance:
    from engine.models import ServiceOffering, Template

    s = cloud.session
    offering = s.scalar(select(ServiceOffering))
    if offering is None:
        offering = ServiceOffering(name="o", cpus=1, cpu_mhz=1000, memory_mib=1024)
        s.add(offering)
        s.flush()
    template = s.scalar(select(Template))
    if template is None:
        from engine.models import OsType

        os_type = OsType(name="linux")
        s.add(os_type)
        s.flush()
        template = Template(name="t", account_uuid=cloud.account.uuid, os_type_uuid=os_type.uuid)
        s.add(template)
        s.flush()
    return Instance(number=number, name=f"vm{number}", display_name=f"vm{number}",
                    instance_name=f"i-{number}", account_uuid=account_uuid or cloud.account.uuid,
                    zone_uuid=cloud.zone.uuid, host_uuid=host_uuid,
                    service_offering_uuid=offering.uuid, template_uuid=template.uuid,
                    hypervisor="Simulator", state=state, cpus=1, cpu_mhz=1000, memory_mib=1024,
                    reservation_sid=f"r-{number}")
