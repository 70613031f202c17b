"""Which snapshots can be reverted to (``SnapshotDetail.revertable``): decided
by the driver class of the volume's hypervisor (its attached instance's, else
its pool's, else its pool's cluster's, else every host type of its zone)."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import Cluster, Host, Instance, StoragePool
from engine.services.snapshot_revert import can_revert, revertable_volumes
from tests.integration.engine.worlds import Cloud


def _set(c: Cloud, model: type, uuid: str, **values: object) -> None:
    with c.runtime.unit() as sv:
        row = sv.session.get(model, uuid)
        assert row is not None
        for k, v in values.items():
            setattr(row, k, v)


def _revertable(c: Cloud, volume_uuid: str) -> bool:
    with c.runtime.unit(readonly=True) as sv:
        return volume_uuid in revertable_volumes(sv.session, [volume_uuid])


def test_driver_classes_decide() -> None:
    assert can_revert("simulator") and can_revert("Simulator")
    assert can_revert("VMware") and can_revert("XenServer")
    assert not can_revert("KVM")  # the libvirt driver declares no revert
    assert not can_revert("hyperv")  # not a registered type


def test_the_volume_hypervisor_is_found_in_order(cloud: Cloud) -> None:
    v = cloud.create(1)
    with cloud.runtime.unit(readonly=True) as sv:
        pool = sv.session.get(StoragePool, cloud.pool_uuid)
        assert pool is not None
        pool_before, cluster_uuid = pool.hypervisor, pool.cluster_uuid
        hosts = {h.uuid: h.hypervisor for h in sv.session.scalars(
            select(Host).where(Host.zone_uuid == cloud.zone_uuid))}
    cloud.drain()
    with cloud.runtime.unit(readonly=True) as sv:
        assert sv.snapshots.details([]) == []
    # The pool says.
    _set(cloud, StoragePool, cloud.pool_uuid, hypervisor="KVM")
    assert not _revertable(cloud, v.uuid)
    _set(cloud, StoragePool, cloud.pool_uuid, hypervisor="VMware")
    assert _revertable(cloud, v.uuid)
    # Without a pool type, its cluster says; without a cluster, the zone's hosts.
    _set(cloud, StoragePool, cloud.pool_uuid, hypervisor=None)
    if cluster_uuid is not None:
        with cloud.runtime.unit(readonly=True) as sv:
            cluster = sv.session.get(Cluster, cluster_uuid)
            assert cluster is not None
            before = cluster.hypervisor
        _set(cloud, Cluster, cluster_uuid, hypervisor="KVM")
        assert not _revertable(cloud, v.uuid)
        _set(cloud, Cluster, cluster_uuid, hypervisor=before)
        assert _revertable(cloud, v.uuid)
        _set(cloud, StoragePool, cloud.pool_uuid, cluster_uuid=None)
    assert _revertable(cloud, v.uuid)  # every host of the zone is a simulator
    some_host = next(iter(hosts))
    _set(cloud, Host, some_host, hypervisor="KVM")
    assert not _revertable(cloud, v.uuid)  # one host type that cannot revert
    _set(cloud, Host, some_host, hypervisor=hosts[some_host])
    # An attached instance's type comes first.
    inst = cloud.launch()
    cloud.attach(v.uuid, inst)
    _set(cloud, StoragePool, cloud.pool_uuid, hypervisor="VMware", cluster_uuid=cluster_uuid)
    _set(cloud, Instance, inst, hypervisor="KVM")
    assert not _revertable(cloud, v.uuid)
    _set(cloud, StoragePool, cloud.pool_uuid, hypervisor=pool_before)


def test_snapshot_details_carry_it(cloud: Cloud) -> None:
    v = cloud.create(1)
    cloud.drain()
    with cloud.runtime.unit() as sv:
        snap, _ = sv.snapshots.create(cloud.admin, v.uuid)
    cloud.drain()
    with cloud.runtime.unit(readonly=True) as sv:
        assert sv.snapshots.get(cloud.admin, snap.uuid).revertable is True
    _set(cloud, StoragePool, cloud.pool_uuid, hypervisor="KVM")
    with cloud.runtime.unit(readonly=True) as sv:
        assert sv.snapshots.get(cloud.admin, snap.uuid).revertable is False
        listed = sv.snapshots.list(cloud.admin).items
        assert [d.revertable for d in listed if d.snapshot.uuid == snap.uuid] == [False]
