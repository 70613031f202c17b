"""VolumeService through a Runtime: create, list, attach, detach, resize and
delete, with the jobs run against the simulator, on SQLite or MariaDB (see
tests/conftest.py). Pool accounting is checked after every step that moves it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import (
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    MissingParameter,
    NotFound,
)
from engine.hypervisors.base import DomainRef
from engine.models import DiskOffering, StoragePool, Volume
from engine.principal import Principal
from engine.querying import Criterion, Paging
from engine.services.volumes import AttachmentState
from engine.states import JobStatus, VmState, VolumeKind, VolumeState
from tests.integration.engine.worlds import GIB, Cloud, disk_of


# ------------------------------------------------------------------ create
def test_create_reserves_capacity_and_lists(cloud: Cloud) -> None:
    before = cloud.allocated()
    v = cloud.create(10, name="data1", tags=(("env", "test"),))
    assert cloud.allocated() == before + 10 * GIB
    assert (v.state, v.kind, v.size_bytes, v.instance_uuid) == (
        VolumeState.ALLOCATED, VolumeKind.DATADISK, 10 * GIB, None)
    assert v.pool_uuid == cloud.pool_uuid and v.path == "" and not v.delete_on_termination
    assert cloud.events("VOLUME.CREATE", v.uuid) == ["INFO"]
    unnamed = cloud.create(1)
    assert unnamed.name == unnamed.uuid

    with cloud.runtime.unit(readonly=True) as sv:
        detail = sv.volumes.get(cloud.admin, v.sid)
        assert detail.volume.uuid == v.uuid and detail.size_gib == 10
        assert detail.attachment is AttachmentState.DETACHED and detail.pending is None
        assert [(t.key, t.value) for t in detail.tags] == [("env", "test")]
        assert detail.zone.uuid == cloud.zone_uuid and detail.account.name == "admin"

        def names(*criteria: Criterion) -> set[str]:
            page = sv.volumes.list(cloud.admin, criteria)
            return {d.volume.name for d in page.items}

        assert names(Criterion("tag:env", ("test",))) == {"data1"}
        assert names(Criterion("size_gib", ("10",)), Criterion("kind", ("DATADISK",))) == {"data1"}
        assert names(Criterion("name", ("dat*",))) == {"data1"}
        assert names(Criterion("attached", ("false",))) == {"data1", unnamed.name}
        with pytest.raises(InvalidParameter):
            sv.volumes.list(cloud.admin, (Criterion("colour", ("red",)),))
        page = sv.volumes.list(cloud.admin, paging=Paging(limit=1))
        assert len(page.items) == 1 and page.next_token and page.total == 2
        # Other accounts see nothing of it.
        assert sv.volumes.list(cloud.alice).items == []
        with pytest.raises(NotFound):
            sv.volumes.get(cloud.alice, v.uuid)


def test_create_from_disk_offerings(cloud: Cloud) -> None:
    with cloud.runtime.unit(readonly=True) as sv:
        offerings = {o.name: o.uuid for o in sv.session.scalars(select(DiskOffering))}
    small = cloud.create(None, disk_offering_uuid=offerings["Small"])
    assert small.size_bytes == 5 * GIB and small.disk_offering_uuid == offerings["Small"]
    custom = cloud.create(7, disk_offering_uuid=offerings["Custom"])
    assert custom.size_bytes == 7 * GIB
    with pytest.raises(InvalidParameter):
        cloud.create(6, disk_offering_uuid=offerings["Small"])
    with pytest.raises(MissingParameter):
        cloud.create(None, disk_offering_uuid=offerings["Custom"])
    with pytest.raises(NotFound):
        cloud.create(None, disk_offering_uuid="no-such-offering")


@pytest.mark.parametrize(("kw", "error"), [
    ({"size_gib": None}, MissingParameter),
    ({"size_gib": 0}, InvalidParameter),
    ({"size_gib": 16 * 1024 + 1}, InvalidParameter),
    ({"zone_uuid": None}, MissingParameter),
    ({"zone_uuid": "no-such-zone"}, NotFound),
    ({"snapshot_uuid": "no-such-snapshot"}, NotFound),
])
def test_create_rejects_bad_requests(cloud: Cloud, kw: dict[str, object],
                                     error: type[Exception]) -> None:
    before = cloud.allocated()
    size = kw.pop("size_gib", 10)
    with pytest.raises(error):
        cloud.create(size, **kw)  # type: ignore[arg-type]
    assert cloud.allocated() == before


def test_create_fails_cleanly_when_the_pool_is_full(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        pool = sv.session.get(StoragePool, cloud.pool_uuid)
        assert pool is not None
        pool.capacity_bytes = 100 * GIB  # usable: 100 x 2 x 0.85 = 170 GiB
    cloud.create(100)
    before = cloud.allocated()
    with pytest.raises(InsufficientCapacity):
        cloud.create(100)
    assert cloud.allocated() == before
    with cloud.runtime.unit(readonly=True) as sv:
        assert sv.volumes.list(cloud.admin).total == 1


# ------------------------------------------------------------------ attach
def test_attach_to_running_instance_picks_free_slots(cloud: Cloud) -> None:
    inst = cloud.launch()
    vols = [cloud.create(1 + i, name=f"d{i}") for i in range(3)]
    with cloud.runtime.unit() as sv:
        job = sv.volumes.attach(cloud.admin, vols[0].uuid, inst)
        pending = sv.volumes.get(cloud.admin, vols[0].uuid)
        assert pending.attachment is AttachmentState.ATTACHING and pending.volume.device_id == 1
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    assert cloud.attach(vols[1].sid, cloud.instance(inst).sid).status == JobStatus.SUCCEEDED
    assert cloud.attach(vols[2].uuid, inst).status == JobStatus.SUCCEEDED
    got = [cloud.volume(v.uuid) for v in vols]
    assert [v.device_id for v in got] == [1, 2, 4]  # 3 is the CD-ROM drive's
    assert all(v.state == VolumeState.READY and v.path == v.sid for v in got)
    assert all(v.instance_uuid == inst and v.attached_at is not None for v in got)

    domain = cloud.instance(inst).domain_ref
    assert domain
    info = disk_of(cloud, got[0])
    assert info.attached_to == DomainRef(domain) and info.size_bytes == 1 * GIB
    owner = next(d for d in cloud.drivers() if d.domain_record(cloud.instance(inst).instance_name))
    assert set(owner.info(DomainRef(domain)).disk_sids) >= {v.sid for v in got}
    assert cloud.events("VOLUME.ATTACH", got[0].uuid) == ["INFO"]

    with cloud.runtime.unit(readonly=True) as sv:
        detail = sv.volumes.get(cloud.admin, got[0].uuid)
        assert detail.attachment is AttachmentState.ATTACHED
        assert detail.instance is not None and detail.instance.uuid == inst
        names = {d.volume.name for d in sv.volumes.list(
            cloud.admin, (Criterion("instance_sid", (cloud.instance(inst).sid,)),)).items}
        assert names == {"ROOT-1", "d0", "d1", "d2"}


def test_attach_with_explicit_device_id(cloud: Cloud) -> None:
    inst = cloud.launch()
    a, b = cloud.create(1), cloud.create(1)
    with cloud.runtime.unit() as sv:
        for bad in (0, 3, 26):
            with pytest.raises(InvalidParameter):
                sv.volumes.attach(cloud.admin, a.uuid, inst, bad)
    assert cloud.attach(a.uuid, inst, 5).status == JobStatus.SUCCEEDED
    assert cloud.volume(a.uuid).device_id == 5
    with pytest.raises(InvalidParameter), cloud.runtime.unit() as sv:
        sv.volumes.attach(cloud.admin, b.uuid, inst, 5)
    assert cloud.volume(b.uuid).instance_uuid is None


def test_attach_refusals(cloud: Cloud) -> None:
    inst = cloud.launch()
    other = cloud.launch(cloud.alice, name="alices")
    v, w = cloud.create(1), cloud.create(1)
    mine_alice = cloud.create(1, who=cloud.alice)
    root = cloud.instance(inst)
    with cloud.runtime.unit(readonly=True) as sv:
        root_uuid = sv.session.scalar(select(Volume.uuid).where(
            Volume.instance_uuid == root.uuid, Volume.kind == VolumeKind.ROOT))
    assert root_uuid
    cases: list[tuple[Principal, str, str, type[Exception]]] = [
        (cloud.admin, root_uuid, inst, InvalidParameter),        # a root volume
        (cloud.admin, v.uuid, other, InvalidParameter),          # another account's VM
        (cloud.alice, v.uuid, other, NotFound),                  # not her volume
        (cloud.alice, mine_alice.uuid, inst, NotFound),          # not her VM
        (cloud.admin, "no-such-volume", inst, NotFound),
        (cloud.admin, v.uuid, "no-such-instance", NotFound),
    ]
    for who, vol, vm, error in cases:
        with pytest.raises(error), cloud.runtime.unit() as sv:
            sv.volumes.attach(who, vol, vm)
    assert cloud.attach(v.uuid, inst).status == JobStatus.SUCCEEDED
    with pytest.raises(InUse), cloud.runtime.unit() as sv:
        sv.volumes.attach(cloud.admin, v.uuid, inst)
    # An instance in transition cannot take a volume.
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.admin, inst)
    with pytest.raises(IncorrectState), cloud.runtime.unit() as sv:
        sv.volumes.attach(cloud.admin, w.uuid, inst)
    cloud.drain()
    # Nor can a volume with an operation pending.
    with cloud.runtime.unit() as sv:
        sv.volumes.attach(cloud.admin, w.uuid, inst)
    for op in ("detach", "resize"):
        with pytest.raises(IncorrectState), cloud.runtime.unit() as sv:
            if op == "detach":
                sv.volumes.detach(cloud.admin, w.uuid)
            else:
                sv.volumes.resize(cloud.admin, w.uuid, 5)
    with pytest.raises(InUse), cloud.runtime.unit() as sv:
        sv.volumes.delete(cloud.admin, w.uuid)
    cloud.drain()
    assert cloud.volume(w.uuid).attached_at is not None


def test_attach_other_zone_is_refused(cloud: Cloud) -> None:
    from engine.services.inventory import InventoryService

    with cloud.runtime.unit() as sv:
        inv = InventoryService(sv.session)
        zone = inv.create_zone(inv.region("us-east-1"), "us-east-1b")
        inv.add_storage_pool(zone, "b-primary", "nfs://sim/b", 1024 * GIB)
        zone_b = zone.uuid
    inst = cloud.launch()
    v = cloud.create(1, zone_uuid=zone_b)
    assert v.zone_uuid == zone_b and v.pool_uuid != cloud.pool_uuid
    with pytest.raises(InvalidParameter), cloud.runtime.unit() as sv:
        sv.volumes.attach(cloud.admin, v.uuid, inst)


def test_attach_to_never_started_instance_then_start(cloud: Cloud) -> None:
    inst = cloud.launch(start=False)
    assert cloud.instance(inst).state == VmState.STOPPED
    v = cloud.create(2)
    assert cloud.attach(v.uuid, inst).status == JobStatus.SUCCEEDED
    got = cloud.volume(v.uuid)
    assert (got.instance_uuid, got.device_id, got.state) == (inst, 1, VolumeState.READY)
    assert disk_of(cloud, got).attached_to is None  # made; the first start attaches it
    with cloud.runtime.unit() as sv:
        sv.instances.start(cloud.admin, inst)
    cloud.drain()
    running = cloud.instance(inst)
    assert running.state == VmState.RUNNING and running.domain_ref
    assert disk_of(cloud, got).attached_to == DomainRef(running.domain_ref)


def test_attach_to_stopped_instance_with_domain(cloud: Cloud) -> None:
    inst = cloud.launch()
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.admin, inst)
    cloud.drain()
    stopped = cloud.instance(inst)
    assert stopped.state == VmState.STOPPED and stopped.domain_ref
    v = cloud.create(1)
    assert cloud.attach(v.uuid, inst).status == JobStatus.SUCCEEDED
    assert disk_of(cloud, cloud.volume(v.uuid)).attached_to == DomainRef(stopped.domain_ref)


def test_failed_attach_gives_the_slot_back(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(1)
    cloud.fault("attach_disk")
    job = cloud.attach(v.uuid, inst)
    assert job.status == JobStatus.FAILED and job.error_kind == "DriverError"
    got = cloud.volume(v.uuid)
    assert (got.instance_uuid, got.device_id, got.attached_at) == (None, None, None)
    assert disk_of(cloud, got).attached_to is None
    assert cloud.events("VOLUME.ATTACH", v.uuid) == ["ERROR"]
    cloud.fault("attach_disk", on=False)
    assert cloud.attach(v.uuid, inst).status == JobStatus.SUCCEEDED
    assert cloud.volume(v.uuid).device_id == 1


# ------------------------------------------------------------------ detach
def test_detach(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(1)
    with pytest.raises(IncorrectState), cloud.runtime.unit() as sv:
        sv.volumes.detach(cloud.admin, v.uuid)
    cloud.attach(v.uuid, inst)
    with cloud.runtime.unit(readonly=True) as sv:
        root = sv.session.scalar(select(Volume.uuid).where(
            Volume.instance_uuid == inst, Volume.kind == VolumeKind.ROOT))
    assert root
    with pytest.raises(InvalidParameter), cloud.runtime.unit() as sv:
        sv.volumes.detach(cloud.admin, root)
    with pytest.raises(InvalidParameter), cloud.runtime.unit() as sv:
        sv.volumes.detach(cloud.admin, v.uuid, instance_uuid="some-other-vm")
    with cloud.runtime.unit() as sv:
        job = sv.volumes.detach(cloud.admin, v.sid, instance_uuid=cloud.instance(inst).sid)
        assert sv.volumes.get(cloud.admin, v.uuid).attachment is AttachmentState.DETACHING
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    got = cloud.volume(v.uuid)
    assert (got.instance_uuid, got.device_id, got.state) == (None, None, VolumeState.READY)
    assert disk_of(cloud, got).attached_to is None
    assert cloud.events("VOLUME.DETACH", v.uuid) == ["INFO"]
    # It can go to another instance.
    second = cloud.launch(name="second")
    assert cloud.attach(v.uuid, second).status == JobStatus.SUCCEEDED
    assert disk_of(cloud, got).attached_to == DomainRef(cloud.instance(second).domain_ref or "")


def test_detach_failure_and_force(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(1)
    cloud.attach(v.uuid, inst)
    cloud.fault("detach_disk")
    with cloud.runtime.unit() as sv:
        job = sv.volumes.detach(cloud.admin, v.uuid)
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.FAILED
    assert cloud.volume(v.uuid).instance_uuid == inst
    with cloud.runtime.unit() as sv:
        job = sv.volumes.detach(cloud.admin, v.uuid, force=True)
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    assert cloud.volume(v.uuid).instance_uuid is None


def test_expunging_the_instance_keeps_the_data_volume(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(3)
    cloud.attach(v.uuid, inst)
    before = cloud.allocated()
    with cloud.runtime.unit() as sv:
        sv.instances.destroy(cloud.admin, inst, expunge=True)
    cloud.drain()
    got = cloud.volume(v.uuid)
    assert got.instance_uuid is None and got.removed_at is None
    assert cloud.allocated() == before - 8 * GIB  # only the root disk went
    assert disk_of(cloud, got).attached_to is None


# ------------------------------------------------------------------ resize
def test_resize_grows_disk_and_reservation(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(2)
    cloud.attach(v.uuid, inst)
    before = cloud.allocated()
    with cloud.runtime.unit() as sv:
        for bad in (1, 2):
            with pytest.raises(InvalidParameter):
                sv.volumes.resize(cloud.admin, v.uuid, bad)
    with cloud.runtime.unit() as sv:
        job = sv.volumes.resize(cloud.admin, v.uuid, 5)
    assert cloud.allocated() == before + 3 * GIB
    assert cloud.volume(v.uuid).state == VolumeState.RESIZING
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    got = cloud.volume(v.uuid)
    assert (got.state, got.size_bytes) == (VolumeState.READY, 5 * GIB)
    assert disk_of(cloud, got).size_bytes == 5 * GIB
    assert cloud.events("VOLUME.RESIZE", v.uuid) == ["INFO"]


def test_resize_of_a_volume_without_disk_and_failures(cloud: Cloud) -> None:
    lazy = cloud.create(1)
    with cloud.runtime.unit() as sv:
        sv.volumes.resize(cloud.admin, lazy.uuid, 4)
    cloud.drain()
    got = cloud.volume(lazy.uuid)
    assert (got.state, got.size_bytes) == (VolumeState.ALLOCATED, 4 * GIB)

    inst = cloud.launch()
    v = cloud.create(2)
    cloud.attach(v.uuid, inst)
    before = cloud.allocated()
    cloud.fault("resize_disk")
    with cloud.runtime.unit() as sv:
        job = sv.volumes.resize(cloud.admin, v.uuid, 6)
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.FAILED
    got = cloud.volume(v.uuid)
    assert (got.state, got.size_bytes) == (VolumeState.READY, 2 * GIB)
    assert cloud.allocated() == before
    assert disk_of(cloud, got).size_bytes == 2 * GIB

    with cloud.runtime.unit() as sv:
        pool = sv.session.get(StoragePool, cloud.pool_uuid)
        assert pool is not None
        pool.capacity_bytes = 20 * GIB  # usable: 34 GiB
    with pytest.raises(InsufficientCapacity), cloud.runtime.unit() as sv:
        sv.volumes.resize(cloud.admin, v.uuid, 100)
    assert cloud.allocated() == before and cloud.volume(v.uuid).size_bytes == 2 * GIB


# ------------------------------------------------------------------ delete
def test_delete(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(4, tags=(("k", "v"),))
    cloud.attach(v.uuid, inst)
    with pytest.raises(InUse), cloud.runtime.unit() as sv:
        sv.volumes.delete(cloud.admin, v.uuid)
    with cloud.runtime.unit() as sv:
        sv.volumes.detach(cloud.admin, v.uuid)
    cloud.drain()
    before = cloud.allocated()
    with pytest.raises(NotFound), cloud.runtime.unit() as sv:
        sv.volumes.delete(cloud.alice, v.uuid)
    with cloud.runtime.unit() as sv:
        job = sv.volumes.delete(cloud.admin, v.uuid)
    assert job is not None
    assert cloud.allocated() == before - 4 * GIB
    got = cloud.volume(v.uuid)
    assert got.state == VolumeState.EXPUNGED and got.removed_at is not None
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    with pytest.raises(NotFound):
        disk_of(cloud, got)
    with cloud.runtime.unit(readonly=True) as sv:
        with pytest.raises(NotFound):
            sv.volumes.get(cloud.admin, v.uuid)
        assert v.uuid not in {d.volume.uuid for d in sv.volumes.list(cloud.admin).items}
        assert sv.tags.list(cloud.admin).items == []
    with pytest.raises(NotFound), cloud.runtime.unit() as sv:
        sv.volumes.delete(cloud.admin, v.uuid)
    assert cloud.events("VOLUME.DELETE", v.uuid) == ["INFO"]


def test_delete_of_a_volume_never_made_needs_no_job(cloud: Cloud) -> None:
    v = cloud.create(3)
    before = cloud.allocated()
    with cloud.runtime.unit() as sv:
        assert sv.volumes.delete(cloud.admin, v.uuid) is None
    assert cloud.allocated() == before - 3 * GIB
