"""VM snapshot and restore jobs at the engine level: the failure paths leave
nothing behind (no disk snapshot, no reservation, no stuck state), and a
driver without the capability is refused up front."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from engine.errors import InvalidParameter
from engine.hypervisors.base import Capability, DomainRef, PowerState
from engine.hypervisors.simulator.driver import SimulatorDriver
from engine.models import Host, VmSnapshot, VmSnapshotDisk, Volume
from engine.models.vm_snapshots import VmSnapshotState
from engine.states import JobStatus, VmState, VolumeKind, VolumeState
from tests.integration.engine.worlds import Cloud

GIB = 1024 ** 3


def _held(cloud: Cloud, vs_uuid: str) -> list[str]:
    """Member disk snapshots the simulator still holds."""
    with cloud.runtime.unit(readonly=True) as sv:
        sids = list(sv.session.scalars(select(VmSnapshotDisk.snapshot_sid).where(
            VmSnapshotDisk.vm_snapshot_uuid == vs_uuid)))
    with sqlite3.connect(cloud.runtime.drivers.simulator_dir / "simulator.sqlite3") as conn:
        return [s for s in sids if conn.execute("SELECT 1 FROM snapshots WHERE sid=?",
                                                 (s,)).fetchone()]


def _vs(cloud: Cloud, uuid: str) -> VmSnapshot:
    with cloud.runtime.unit(readonly=True) as sv:
        vs = sv.session.get(VmSnapshot, uuid)
        assert vs is not None
        return vs


def _volumes(cloud: Cloud, inst: str) -> list[Volume]:
    with cloud.runtime.unit(readonly=True) as sv:
        return list(sv.session.scalars(select(Volume).where(
            Volume.instance_uuid == inst, Volume.removed_at.is_(None))
            .order_by(Volume.device_id)))


def _host_load(cloud: Cloud) -> tuple[int, int]:
    with cloud.runtime.unit(readonly=True) as sv:
        row = sv.session.execute(select(func.sum(Host.cpu_allocated_mhz),
                                        func.sum(Host.memory_allocated_bytes))).one()
        return int(row[0] or 0), int(row[1] or 0)


def _snapshot(cloud: Cloud, inst: str, name: str = "s") -> tuple[str, str]:
    with cloud.runtime.unit() as sv:
        vs, job = sv.vm_snapshots.create(cloud.admin, inst, name=name)
        ids = vs.uuid, job.uuid
    cloud.drain()
    return ids


def _with_data_volume(cloud: Cloud) -> tuple[str, Volume]:
    inst = cloud.launch()
    data = cloud.create(2)
    cloud.attach(data.uuid, inst)
    return inst, cloud.volume(data.uuid)


def test_failed_create_deletes_what_was_taken(cloud: Cloud) -> None:
    inst, data = _with_data_volume(cloud)
    for d in cloud.drivers():
        d.configure(**{"fail.snapshot_disk": 1, "fail.snapshot_disk.match": data.sid})
    vs_uuid, job_uuid = _snapshot(cloud, inst)
    for d in cloud.drivers():
        d.clear_settings()
    assert cloud.job(job_uuid).status == JobStatus.FAILED
    vs = _vs(cloud, vs_uuid)
    assert vs.state == VmSnapshotState.ERROR.value and not vs.current
    assert _held(cloud, vs_uuid) == []  # the root disk's snapshot was taken, then deleted
    assert all(v.state == VolumeState.READY for v in _volumes(cloud, inst))
    with cloud.runtime.unit() as sv:
        sv.vm_snapshots.delete(cloud.admin, vs_uuid)
    cloud.drain()
    assert _vs(cloud, vs_uuid).removed_at is not None
    ok, _ = _snapshot(cloud, inst, "after")
    assert _vs(cloud, ok).state == VmSnapshotState.READY.value and len(_held(cloud, ok)) == 2


def test_driver_without_capability_is_refused(cloud: Cloud,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    inst = cloud.launch()
    vs_uuid, _ = _snapshot(cloud, inst)
    monkeypatch.setattr(SimulatorDriver, "capabilities",
                        SimulatorDriver.capabilities - {Capability.DISK_SNAPSHOT,
                                                        Capability.REVERT_SNAPSHOT})
    with pytest.raises(InvalidParameter, match="not supported by the"), \
            cloud.runtime.unit() as sv:
        sv.vm_snapshots.create(cloud.admin, inst, name="no")
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.admin, inst)
    cloud.drain()
    with pytest.raises(InvalidParameter, match="not supported by the"), \
            cloud.runtime.unit() as sv:
        sv.vm_snapshots.revert(cloud.admin, vs_uuid)


def test_failed_revert_gives_back_the_reservation(cloud: Cloud) -> None:
    inst = cloud.launch()
    root = next(v for v in _volumes(cloud, inst) if v.kind == VolumeKind.ROOT)
    with cloud.runtime.unit() as sv:
        sv.volumes.resize(cloud.admin, root.uuid, root.size_bytes // GIB + 1)
    cloud.drain()
    big, _ = _snapshot(cloud, inst, "big")
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.admin, inst)
    cloud.drain()
    before = cloud.allocated()
    cloud.fault("revert_disk_snapshot")
    with cloud.runtime.unit() as sv:
        _, job = sv.vm_snapshots.revert(cloud.admin, big)
        job_uuid = job.uuid
    cloud.drain()
    cloud.fault("revert_disk_snapshot", on=False)
    assert cloud.job(job_uuid).status == JobStatus.FAILED
    assert cloud.allocated() == before
    assert _vs(cloud, big).state == VmSnapshotState.READY.value
    assert all(v.state == VolumeState.READY for v in _volumes(cloud, inst))


def test_restore_failing_at_restart_ends_stopped_without_leaks(cloud: Cloud) -> None:
    idle = _host_load(cloud)
    inst = cloud.launch()
    old_root = next(v for v in _volumes(cloud, inst) if v.kind == VolumeKind.ROOT)
    cloud.fault("define")
    with cloud.runtime.unit() as sv:
        _, job = sv.instance_restore.restore(cloud.admin, inst)
        job_uuid = job.uuid
    cloud.drain()
    cloud.fault("define", on=False)
    assert cloud.job(job_uuid).status == JobStatus.FAILED
    assert cloud.instance(inst).state == VmState.STOPPED
    assert _host_load(cloud) == idle
    cloud.allocated()  # the pool holds exactly the live volumes
    roots = [v for v in _volumes(cloud, inst) if v.kind == VolumeKind.ROOT]
    assert len(roots) == 1 and roots[0].uuid != old_root.uuid
    assert cloud.volume(old_root.uuid).removed_at is not None
    with cloud.runtime.unit() as sv:
        sv.instances.start(cloud.admin, inst)
    cloud.drain()
    assert cloud.instance(inst).state == VmState.RUNNING


def test_restore_failing_before_the_swap_keeps_the_old_root(cloud: Cloud) -> None:
    inst, data = _with_data_volume(cloud)
    old_root = next(v for v in _volumes(cloud, inst) if v.kind == VolumeKind.ROOT)
    before = cloud.allocated()
    cloud.fault("destroy")
    with cloud.runtime.unit() as sv:
        _, job = sv.instance_restore.restore(cloud.admin, inst)
        job_uuid = job.uuid
    cloud.drain()
    cloud.fault("destroy", on=False)
    assert cloud.job(job_uuid).status == JobStatus.FAILED
    assert cloud.allocated() == before
    assert [v.uuid for v in _volumes(cloud, inst)] == [old_root.uuid, data.uuid]
    inst_row = cloud.instance(inst)
    assert inst_row.state == VmState.STOPPED  # the domain was stopped before destroy failed
    with cloud.runtime.unit() as sv:
        sv.instances.start(cloud.admin, inst)
    cloud.drain()
    assert cloud.instance(inst).state == VmState.RUNNING
    ref = DomainRef(cloud.instance(inst).domain_ref or "")
    infos = [d.info(ref) for d in cloud.drivers()]
    disks = next(i.disk_sids for i in infos if i.power_state != PowerState.MISSING)
    assert data.sid in disks and old_root.sid in disks  # data disk attached again
