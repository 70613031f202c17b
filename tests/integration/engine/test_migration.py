"""Live migration, storage moves, snapshot revert, scheduled snapshots and
passwords, end to end through the engine and the simulator."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select

from engine.errors import IncorrectState, InsufficientCapacity, InvalidParameter
from engine.hypervisors.base import PowerState
from engine.models import (
    Host,
    Instance,
    ServiceOffering,
    Snapshot,
    SnapshotPolicy,
    StoragePool,
    Template,
)
from engine.services.instance_operations import LiveScaleRefused
from engine.services.passwords import TemplateNotPasswordEnabled
from engine.services.snapshot_policies import Interval, PolicyRequest, next_run
from engine.states import JobStatus, SnapshotState, VmState
from tests.integration.engine.worlds import Cloud


def _hosts(cloud: Cloud) -> dict[str, Host]:
    with cloud.runtime.unit(readonly=True) as sv:
        hosts = list(sv.session.scalars(select(Host)))
        for h in hosts:
            sv.session.expunge(h)
        return {h.uuid: h for h in hosts}


def _other_host(cloud: Cloud, inst: Instance) -> Host:
    return next(h for h in _hosts(cloud).values() if h.uuid != inst.host_uuid)


def test_live_migration_moves_domain_and_capacity(cloud: Cloud) -> None:
    vm = cloud.launch()
    inst = cloud.instance(vm)
    source, target = _hosts(cloud)[inst.host_uuid or ""], _other_host(cloud, inst)
    with cloud.runtime.unit() as sv:
        _, job = sv.instance_operations.migrate(cloud.admin, vm, host_uuid=target.uuid)
        assert sv.session.get(Instance, vm).state == VmState.MIGRATING  # type: ignore[union-attr]
    after = _hosts(cloud)
    assert after[target.uuid].memory_allocated_bytes > target.memory_allocated_bytes
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    moved = cloud.instance(vm)
    assert (moved.state, moved.host_uuid, moved.last_host_uuid) == (
        VmState.RUNNING, target.uuid, target.uuid)
    final = _hosts(cloud)
    assert final[source.uuid].memory_allocated_bytes == (
        source.memory_allocated_bytes - inst.memory_mib * 1024 * 1024)
    drivers = {d.conn.url: d for d in cloud.drivers()}
    assert drivers[target.url].list_domains()[inst.instance_name] is PowerState.RUNNING
    assert inst.instance_name not in drivers[source.url].list_domains()


def test_failed_migration_gives_target_capacity_back(cloud: Cloud) -> None:
    vm = cloud.launch()
    inst = cloud.instance(vm)
    target = _other_host(cloud, inst)
    cloud.fault("migrate")
    with cloud.runtime.unit() as sv:
        _, job = sv.instance_operations.migrate(cloud.admin, vm, host_uuid=target.uuid)
    cloud.drain()
    cloud.fault("migrate", on=False)
    assert cloud.job(job.uuid).status == JobStatus.FAILED
    back = cloud.instance(vm)
    assert (back.state, back.host_uuid) == (VmState.RUNNING, inst.host_uuid)
    assert _hosts(cloud)[target.uuid].memory_allocated_bytes == target.memory_allocated_bytes


def test_migration_refusals(cloud: Cloud) -> None:
    vm = cloud.launch()
    inst = cloud.instance(vm)
    with cloud.runtime.unit() as sv, pytest.raises(InvalidParameter):
        sv.instance_operations.migrate(cloud.admin, vm, host_uuid=inst.host_uuid)
    stopped = cloud.launch(start=False, name="stopped")
    with cloud.runtime.unit() as sv, pytest.raises(IncorrectState):
        sv.instance_operations.migrate(cloud.admin, stopped, host_uuid=inst.host_uuid)
    with cloud.runtime.unit() as sv:
        target = _other_host(cloud, inst)
        sv.session.execute(Host.__table__.update().where(Host.uuid == target.uuid).values(
            memory_allocated_bytes=Host.memory_bytes * 100))
    with cloud.runtime.unit() as sv, pytest.raises(InsufficientCapacity):
        sv.instance_operations.migrate(cloud.admin, vm, host_uuid=target.uuid)


def test_stopped_vm_moves_its_volume_reservations(cloud: Cloud) -> None:
    vm = cloud.launch(start=False, name="mover")
    with cloud.runtime.unit() as sv:
        first = sv.session.get(StoragePool, cloud.pool_uuid)
        assert first is not None
        other = StoragePool(name="second", zone_uuid=first.zone_uuid, url="nfs://sim/second",
                            capacity_bytes=first.capacity_bytes, scope=first.scope,
                            hypervisor=first.hypervisor, state=first.state,
                            pod_uuid=first.pod_uuid, cluster_uuid=first.cluster_uuid)
        sv.session.add(other)
        sv.session.flush()
        other_uuid = other.uuid
    before = cloud.allocated()
    with cloud.runtime.unit() as sv:
        detail, job = sv.instance_operations.migrate(cloud.admin, vm, pool_uuid=other_uuid)
        assert {v.pool_uuid for v in detail.volumes} == {other_uuid}
        assert job.status == JobStatus.SUCCEEDED
    assert cloud.allocated() < before


def test_scale_running_needs_scalable_template_and_growth(cloud: Cloud) -> None:
    vm = cloud.launch()
    with cloud.runtime.unit() as sv:
        offs = {o.name: o.uuid for o in sv.session.scalars(select(ServiceOffering))}
    with cloud.runtime.unit() as sv, pytest.raises(LiveScaleRefused) as refused:
        sv.instance_operations.scale(cloud.admin, vm, offs["t2.small"])
    assert refused.value.resize is None
    with cloud.runtime.unit() as sv:
        inst = sv.session.get(Instance, vm)
        t = sv.session.get(Template, inst.template_uuid)  # type: ignore[union-attr]
        t.details = json.dumps({"isdynamicallyscalable": "true"})  # type: ignore[union-attr]
    host_before = _hosts(cloud)[cloud.instance(vm).host_uuid or ""].memory_allocated_bytes
    with cloud.runtime.unit() as sv:
        detail, _ = sv.instance_operations.scale(cloud.admin, vm, offs["t2.small"])
        assert detail.offering.name == "t2.small"
    inst = cloud.instance(vm)
    grown = _hosts(cloud)[inst.host_uuid or ""].memory_allocated_bytes
    assert grown - host_before == (2048 - 1024) * 1024 * 1024
    with cloud.runtime.unit() as sv, pytest.raises(LiveScaleRefused) as refused:
        sv.instance_operations.scale(cloud.admin, vm, offs["t2.micro"])
    assert refused.value.resize is not None


def test_revert_snapshot_of_stopped_vm(cloud: Cloud) -> None:
    vm = cloud.launch()
    with cloud.runtime.unit(readonly=True) as sv:
        root = sv.instances.get(cloud.admin, uuid=vm).volumes[0].uuid
    with cloud.runtime.unit() as sv:
        snap, _ = sv.snapshots.create(cloud.admin, root)
    cloud.drain()
    with cloud.runtime.unit() as sv, pytest.raises(IncorrectState):
        sv.instance_operations.revert_snapshot(cloud.admin, snap.uuid)
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.admin, vm)
    cloud.drain()
    vol = cloud.volume(root)
    disk = cloud.drivers()[0]
    disk.resize_disk(None, vol.sid, vol.size_bytes * 2)
    with cloud.runtime.unit() as sv:
        _, job = sv.instance_operations.revert_snapshot(cloud.admin, snap.uuid)
    cloud.drain()
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED
    assert disk.disk_info(vol.sid).size_bytes == vol.size_bytes
    assert cloud.volume(root).state.value == "Ready"


def test_next_run_follows_schedule_and_timezone() -> None:
    at = datetime(2024, 1, 3, 10, 30)  # a Wednesday, UTC
    assert next_run(Interval.HOURLY, "15", "UTC", at) == datetime(2024, 1, 3, 11, 15)
    assert next_run(Interval.DAILY, "00:12", "UTC", at) == datetime(2024, 1, 3, 12, 0)
    assert next_run(Interval.DAILY, "00:09", "UTC", at) == datetime(2024, 1, 4, 9, 0)
    assert next_run(Interval.DAILY, "00:12", "Europe/Paris", at) == datetime(2024, 1, 3, 11, 0)
    assert next_run(Interval.WEEKLY, "00:00:1", "UTC", at) == datetime(2024, 1, 7)  # Sunday
    assert next_run(Interval.MONTHLY, "30:01:2", "UTC", at) == datetime(2024, 2, 2, 1, 30)
    for bad in ("61", "aa", "10:25"):
        with pytest.raises(InvalidParameter):
            next_run(Interval.HOURLY if ":" not in bad else Interval.DAILY, bad, "UTC", at)


def test_policy_runs_once_across_servers_and_keeps_max(cloud: Cloud) -> None:
    vm = cloud.launch()
    with cloud.runtime.unit(readonly=True) as sv:
        root = sv.instances.get(cloud.admin, uuid=vm).volumes[0].uuid
    with cloud.runtime.unit() as sv:
        policy = sv.snapshot_policies.create(cloud.admin, PolicyRequest(
            root, "hourly", "5", "UTC", 2)).policy.uuid
    for hour in range(4):
        with cloud.runtime.unit() as sv:
            p = sv.session.get(SnapshotPolicy, policy)
            due = p.next_run_at  # type: ignore[union-attr]
        # Two "servers" see the same due run; exactly one takes it.
        with cloud.runtime.unit() as a, cloud.runtime.unit() as b:
            ran = a.snapshot_policies.run_due(now=due + timedelta(seconds=1))
            a.session.commit()
            ran += b.snapshot_policies.run_due(now=due + timedelta(seconds=1))
        assert ran == 1, hour
        cloud.drain()
    with cloud.runtime.unit(readonly=True) as sv:
        live = list(sv.session.scalars(select(Snapshot).where(
            Snapshot.volume_uuid == root, Snapshot.removed_at.is_(None))))
    assert len(live) == 2 and all(s.state == SnapshotState.BACKED_UP for s in live)


def test_password_encrypted_with_key_pair(cloud: Cloud) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    with cloud.runtime.unit() as sv:
        sv.key_pairs.import_key(cloud.admin, "pwkey", public)
    vm = cloud.launch(start=False, name="pw")
    with cloud.runtime.unit() as sv:
        with pytest.raises(TemplateNotPasswordEnabled):
            sv.passwords.reset(cloud.admin, vm)
        inst = sv.session.get(Instance, vm)
        sv.session.get(Template, inst.template_uuid).password_enabled = True  # type: ignore[union-attr]
        inst.key_pair_name = "pwkey"  # type: ignore[union-attr]
    with cloud.runtime.unit() as sv:
        reset = sv.passwords.reset(cloud.admin, vm)
        assert json.loads(reset.job.result or "{}")["password"] == reset.password
    with cloud.runtime.unit() as sv:
        data = sv.passwords.data(cloud.admin, uuid=vm)
        assert data.encrypted
        plain = private.decrypt(base64.b64decode(data.encrypted), padding.PKCS1v15()).decode()
        assert plain == reset.password
        assert sv.passwords.take_for_guest(vm) == reset.password
        assert sv.passwords.take_for_guest(vm) is None
