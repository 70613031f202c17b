"""SnapshotService, and volumes made from snapshots, through a Runtime with the
jobs run against the simulator, on SQLite or MariaDB (see tests/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import IncorrectState, InUse, InvalidParameter, NotFound
from engine.models import Snapshot, Volume
from engine.querying import Criterion
from engine.services.volumes import VolumeRequest
from engine.states import JobStatus, SnapshotState, VolumeKind, VolumeState
from tests.integration.engine.worlds import GIB, Cloud, disk_of


def snapshot(c: Cloud, volume_uuid: str, name: str | None = None, **kw: object) -> Snapshot:
    with c.runtime.unit() as sv:
        snap, job = sv.snapshots.create(c.admin, volume_uuid, name, **kw)  # type: ignore[arg-type]
        assert snap.state == SnapshotState.CREATING
    c.drain()
    assert c.job(job.uuid).status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    return row(c, snap.uuid)


def row(c: Cloud, uuid: str) -> Snapshot:
    with c.runtime.unit(readonly=True) as sv:
        snap = sv.session.get(Snapshot, uuid)
        assert snap is not None
        return snap


def test_snapshot_of_an_attached_volume_and_a_volume_from_it(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(3, name="data")
    cloud.attach(v.uuid, inst)
    with cloud.runtime.unit() as sv:
        snap, job = sv.snapshots.create(cloud.admin, v.sid, "nightly", "before upgrade",
                                        tags=(("k", "v"),))
    assert cloud.volume(v.uuid).state == VolumeState.SNAPSHOTTING
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    got = row(cloud, snap.uuid)
    assert (got.state, got.size_bytes, got.volume_kind) == (
        SnapshotState.BACKED_UP, 3 * GIB, VolumeKind.DATADISK)
    assert (got.name, got.description, got.volume_uuid) == ("nightly", "before upgrade", v.uuid)
    assert cloud.volume(v.uuid).state == VolumeState.READY
    assert cloud.events("SNAPSHOT.CREATE", snap.uuid) == ["INFO"]

    # A new volume cloned from it: sized from the snapshot, or larger.
    with pytest.raises(InvalidParameter):
        cloud.create(2, snapshot_uuid=snap.uuid)
    before = cloud.allocated()
    with cloud.runtime.unit() as sv:
        clone, create_job = sv.volumes.create(cloud.admin, VolumeRequest(snapshot_uuid=snap.sid))
        assert clone.state == VolumeState.CREATING and create_job is not None
        assert clone.zone_uuid == cloud.zone_uuid and clone.size_bytes == 3 * GIB
    assert cloud.allocated() == before + 3 * GIB
    cloud.drain()
    assert cloud.job(create_job.uuid).status == JobStatus.SUCCEEDED
    made = cloud.volume(clone.uuid)
    assert (made.state, made.path, made.snapshot_uuid) == (VolumeState.READY, made.sid, snap.uuid)
    assert disk_of(cloud, made).size_bytes == 3 * GIB
    bigger = cloud.create(5, snapshot_uuid=snap.uuid)
    assert disk_of(cloud, cloud.volume(bigger.uuid)).size_bytes == 5 * GIB
    # The clone attaches like any volume.
    assert cloud.attach(clone.uuid, inst).status == JobStatus.SUCCEEDED

    with cloud.runtime.unit(readonly=True) as sv:
        detail = sv.snapshots.get(cloud.admin, snap.sid)
        assert detail.volume.uuid == v.uuid and detail.size_gib == 3
        assert [(t.key, t.value) for t in detail.tags] == [("k", "v")]
        assert sv.volumes.get(cloud.admin, clone.uuid).snapshot is not None


def test_snapshot_of_a_volume_never_attached_makes_its_disk(cloud: Cloud) -> None:
    v = cloud.create(2)
    assert cloud.volume(v.uuid).path == ""
    snap = snapshot(cloud, v.uuid)
    assert snap.state == SnapshotState.BACKED_UP and snap.name.startswith(f"{v.name}_")
    got = cloud.volume(v.uuid)
    assert (got.state, got.path) == (VolumeState.READY, got.sid)
    assert disk_of(cloud, got).attached_to is None
    # Deleting the volume now deletes its disk; the snapshot outlives it.
    with cloud.runtime.unit() as sv:
        assert sv.volumes.delete(cloud.admin, v.uuid) is not None
    cloud.drain()
    with pytest.raises(NotFound):
        disk_of(cloud, got)
    clone = cloud.create(None, snapshot_uuid=snap.uuid)
    assert cloud.volume(clone.uuid).state == VolumeState.READY
    with cloud.runtime.unit(readonly=True) as sv:
        assert sv.snapshots.get(cloud.admin, snap.uuid).volume.removed_at is not None


def test_snapshot_of_root_volumes(cloud: Cloud) -> None:
    inst = cloud.launch()
    never_started = cloud.launch(start=False, name="cold")
    with cloud.runtime.unit(readonly=True) as sv:
        roots = {vol.instance_uuid: vol.uuid for vol in sv.session.scalars(
            select(Volume).where(Volume.kind == VolumeKind.ROOT))}
    snap = snapshot(cloud, roots[inst])
    assert (snap.state, snap.volume_kind, snap.size_bytes) == (
        SnapshotState.BACKED_UP, VolumeKind.ROOT, 8 * GIB)
    with pytest.raises(IncorrectState), cloud.runtime.unit() as sv:
        sv.snapshots.create(cloud.admin, roots[never_started])


def test_busy_volume_and_failed_snapshot(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(1)
    cloud.attach(v.uuid, inst)
    cloud.fault("snapshot_disk")
    with cloud.runtime.unit() as sv:
        snap, job = sv.snapshots.create(cloud.admin, v.uuid)
    # (A second snapshot queues: test_snapshot_queue.py.)
    for op in ("detach", "resize"):
        with pytest.raises(IncorrectState), cloud.runtime.unit() as sv:
            if op == "detach":
                sv.volumes.detach(cloud.admin, v.uuid)
            else:
                sv.volumes.resize(cloud.admin, v.uuid, 2)
    # Not deletable while it is being taken.
    with pytest.raises(IncorrectState), cloud.runtime.unit() as sv:
        sv.snapshots.delete(cloud.admin, snap.uuid)
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.FAILED
    assert row(cloud, snap.uuid).state == SnapshotState.ERROR
    assert cloud.volume(v.uuid).state == VolumeState.READY
    assert cloud.events("SNAPSHOT.CREATE", snap.uuid) == ["ERROR"]
    with pytest.raises(IncorrectState):
        cloud.create(None, snapshot_uuid=snap.uuid)
    with cloud.runtime.unit() as sv:
        sv.snapshots.delete(cloud.admin, snap.uuid)
    cloud.drain()
    cloud.fault("snapshot_disk", on=False)
    assert snapshot(cloud, v.uuid).state == SnapshotState.BACKED_UP


def test_failed_clone_releases_its_capacity(cloud: Cloud) -> None:
    v = cloud.create(2)
    snap = snapshot(cloud, v.uuid)
    before = cloud.allocated()
    cloud.fault("create_disk")
    with cloud.runtime.unit() as sv:
        clone, job = sv.volumes.create(cloud.admin, VolumeRequest(
            zone_uuid=cloud.zone_uuid, snapshot_uuid=snap.uuid))
        assert job is not None
        # The snapshot cannot go while the clone is pending.
        with pytest.raises(InUse):
            sv.snapshots.delete(cloud.admin, snap.uuid)
    assert cloud.allocated() == before + 2 * GIB
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.FAILED
    failed = cloud.volume(clone.uuid)
    assert (failed.state, failed.pool_uuid) == (VolumeState.ERROR, None)
    assert cloud.allocated() == before
    # With no clone pending any more, the snapshot can go; the failed volume too.
    with cloud.runtime.unit() as sv:
        sv.snapshots.delete(cloud.admin, snap.uuid)
        assert sv.volumes.delete(cloud.admin, clone.uuid) is None
    assert cloud.allocated() == before


def test_delete_and_list(cloud: Cloud) -> None:
    a, b = cloud.create(1, name="a"), cloud.create(1, name="b")
    sa, sb = snapshot(cloud, a.uuid, "snap-a"), snapshot(cloud, b.uuid, "snap-b")
    mine = cloud.create(1, who=cloud.alice)
    with cloud.runtime.unit() as sv:
        sv.snapshots.create(cloud.alice, mine.uuid, "alices")
        with pytest.raises(NotFound):
            sv.snapshots.create(cloud.alice, a.uuid)
    cloud.drain()
    with cloud.runtime.unit(readonly=True) as sv:
        def names(who=cloud.admin, *criteria: Criterion) -> set[str]:  # type: ignore[no-untyped-def]
            return {d.snapshot.name for d in sv.snapshots.list(who, criteria).items}

        assert names() == {"snap-a", "snap-b", "alices"}
        assert names(cloud.alice) == {"alices"}
        assert names(cloud.admin, Criterion("volume_sid", (a.sid,))) == {"snap-a"}
        assert names(cloud.admin, Criterion("name", ("snap-*",)),
                     Criterion("state", ("BackedUp",))) == {"snap-a", "snap-b"}
        with pytest.raises(InvalidParameter):
            sv.snapshots.list(cloud.admin, (Criterion("size", ("1",)),))
        with pytest.raises(NotFound):
            sv.snapshots.get(cloud.alice, sa.uuid)
    with pytest.raises(NotFound), cloud.runtime.unit() as sv:
        sv.snapshots.delete(cloud.alice, sa.uuid)
    with cloud.runtime.unit() as sv:
        job = sv.snapshots.delete(cloud.admin, sa.sid)
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    gone = row(cloud, sa.uuid)
    assert gone.state == SnapshotState.DESTROYED and gone.removed_at is not None
    assert cloud.events("SNAPSHOT.DELETE", sa.uuid) == ["INFO"]
    with cloud.runtime.unit(readonly=True) as sv:
        assert {d.snapshot.uuid for d in sv.snapshots.list(cloud.admin).items} == {
            sb.uuid} | {s.uuid for s in sv.session.scalars(
                select(Snapshot).where(Snapshot.name == "alices"))}
    with pytest.raises(NotFound):
        cloud.create(None, snapshot_uuid=sa.uuid)
    with pytest.raises(NotFound), cloud.runtime.unit() as sv:
        sv.snapshots.delete(cloud.admin, sa.uuid)
    # The hypervisor no longer has it: a clone of it cannot be made there.
    with pytest.raises(NotFound):
        from engine.hypervisors.base import DiskSpec

        cloud.drivers()[0].create_disk(DiskSpec(disk_sid="probe", device_id=0,
                                                size_bytes=GIB, source_snapshot=sa.sid))
