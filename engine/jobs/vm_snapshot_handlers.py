"""What the VM snapshot jobs and the instance restore job do: read in one
transaction, call the driver outside any transaction, settle in another.

VM snapshot jobs carry ``vm_snapshot_uuid`` in their payload and run under the
instance's id. Create: Allocated -> Creating -> Ready (current; the volumes
back to Ready); its compensation deletes the disk snapshots already taken and
leaves the snapshot in Error. Revert: Reverting -> Ready (current), each
volume's size back to the snapshot's; the compensation releases the capacity
the request reserved (disks already reverted stay reverted). Delete:
Expunging -> removed, children handed to the parent; the compensation leaves
it in Error (deletable again).
The restore job (``run_restore``) is described at its section below.

Every handler re-checks the rows before acting and before settling; driver
snapshot calls are idempotent, so a rerun after a crash is harmless.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import IncorrectState, NotFound, ResourceKind
from engine.hypervisors.base import Capability, DomainRef, HypervisorDriver, PowerState
from engine.jobs.domain_specs import domain_spec, host_access_of
from engine.jobs.job_rows import locked_instance, locked_row, set_vm_state, still_owned
from engine.jobs.queue import JobKind
from engine.jobs.volume_handlers import _driver, _need, _spec, _Target, _target, _zone_host
from engine.models import Job, VmSnapshot, VmSnapshotDisk, Volume
from engine.models.vm_snapshots import VmSnapshotState
from engine.services.events import record_event
from engine.services.vm_snapshots import forget_tags, record
from engine.settings import Settings
from engine.states import VmState, VolumeKind, VolumeState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.jobs.handlers import Failure, Handler, JobContext

log = logging.getLogger("nimbostack.jobs")


def _payload(job: Job) -> dict[str, Any]:
    return dict(json.loads(job.payload or "{}"))


def _members(session: Session, vs_uuid: str) -> list[VmSnapshotDisk]:
    return list(session.scalars(select(VmSnapshotDisk).where(
        VmSnapshotDisk.vm_snapshot_uuid == vs_uuid).order_by(VmSnapshotDisk.device_id)))


def _member_target(session: Session, vs: VmSnapshot, m: VmSnapshotDisk) -> _Target:
    """Where the member's disk is reached: through its volume, else any zone host."""
    v = session.get(Volume, m.volume_uuid)
    if v is not None and v.removed_at is None:
        return _target(session, v)
    return _Target(_zone_host(session, vs.zone_uuid, m.pool_uuid))


def _volumes_back(session: Session, uuids: list[str]) -> None:
    """Busy volumes back to Ready."""
    for uuid in uuids:
        v = locked_row(session, Volume, uuid)
        if v is not None and v.state == VolumeState.SNAPSHOTTING:
            v.state = VolumeState.READY if v.path else VolumeState.ALLOCATED


def _make_current(session: Session, vs: VmSnapshot) -> None:
    for other in session.scalars(select(VmSnapshot).where(
            VmSnapshot.instance_uuid == vs.instance_uuid, VmSnapshot.current.is_(True),
            VmSnapshot.uuid != vs.uuid)):
        other.current = False
    vs.current = True


def _driver_for(ctx: JobContext, target: _Target, capability: Capability,
                op: str) -> HypervisorDriver:
    driver = _driver(ctx, target)
    _need(driver, capability, op)
    return driver


# ------------------------------------------------------------------- create
def run_create(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Snapshot every member disk; Allocated/Creating -> Ready and current."""
    vs_uuid = _payload(job)["vm_snapshot_uuid"]
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, vs_uuid)
        if vs is None or vs.state not in (VmSnapshotState.ALLOCATED.value,
                                          VmSnapshotState.CREATING.value):
            return {"skipped": True}
        vs.state = VmSnapshotState.CREATING.value
        steps = [(_member_target(s, vs, m), m.disk_sid, m.snapshot_sid, m.pool_uuid)
                 for m in _members(s, vs_uuid)]
    for target, disk_sid, snap_sid, pool in steps:
        driver = _driver_for(ctx, target, Capability.DISK_SNAPSHOT, "snapshot_disk")
        driver.snapshot_disk(target.domain, disk_sid, snap_sid, pool_ref=pool)
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, vs_uuid)
        members = _members(s, vs_uuid)
        _volumes_back(s, [m.volume_uuid for m in members])
        if vs is None or vs.state != VmSnapshotState.CREATING.value:
            return {"skipped": True}
        vs.state = VmSnapshotState.READY.value
        _make_current(s, vs)
        record(s, None, "VMSNAPSHOT.CREATE", f"Took VM snapshot {vs.display_name}", vs)
    return {"vm_snapshot_uuid": vs_uuid, "instance_uuid": job.resource_uuid}


def fail_create(ctx: JobContext, job: Job, reason: str) -> None:
    """Delete what was taken (best effort), Error, and the volumes back to Ready."""
    vs_uuid = _payload(job).get("vm_snapshot_uuid")
    with ctx.tx() as s:
        vs = s.get(VmSnapshot, vs_uuid) if vs_uuid else None
        if vs is None:
            return
        steps = [(_member_target(s, vs, m), m.disk_sid, m.snapshot_sid, m.pool_uuid)
                 for m in _members(s, vs.uuid)]
    _delete_disk_snapshots(ctx, steps, strict=False)
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, vs_uuid)
        if vs is None:
            return
        _volumes_back(s, [m.volume_uuid for m in _members(s, vs.uuid)])
        if vs.state in (VmSnapshotState.ALLOCATED.value, VmSnapshotState.CREATING.value):
            vs.state = VmSnapshotState.ERROR.value
        record(s, None, "VMSNAPSHOT.CREATE", f"Failed to take VM snapshot: {reason}", vs,
               level="ERROR")


def _delete_disk_snapshots(ctx: JobContext, steps: list[tuple[_Target, str, str, str | None]],
                           *, strict: bool) -> None:
    for target, disk_sid, snap_sid, pool in steps:
        try:
            driver = _driver(ctx, target)
            if driver.supports(Capability.DISK_SNAPSHOT):
                driver.delete_disk_snapshot(disk_sid, snap_sid, pool_ref=pool)
        except Exception:
            if strict:
                raise
            log.info("deleting disk snapshot %s did not work", snap_sid, exc_info=True)


# ------------------------------------------------------------------- revert
def run_revert(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Revert every member disk; Reverting -> Ready and current, sizes restored."""
    p = _payload(job)
    vs_uuid = p["vm_snapshot_uuid"]
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, vs_uuid)
        if vs is None or vs.state != VmSnapshotState.REVERTING.value:
            return {"skipped": True}
        steps = [(_member_target(s, vs, m), m.disk_sid, m.snapshot_sid, m.pool_uuid)
                 for m in _members(s, vs_uuid)]
    for target, disk_sid, snap_sid, pool in steps:
        driver = _driver_for(ctx, target, Capability.REVERT_SNAPSHOT, "revert_disk_snapshot")
        driver.revert_disk_snapshot(target.domain, disk_sid, snap_sid, pool_ref=pool)
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, vs_uuid)
        if vs is None or vs.state != VmSnapshotState.REVERTING.value:
            return {"skipped": True}
        storage = StorageAllocator(s, Settings(s))
        for m in _members(s, vs_uuid):
            v = locked_row(s, Volume, m.volume_uuid)
            if v is None:
                continue
            if v.size_bytes > m.size_bytes and v.pool_uuid:
                storage.release(v.pool_uuid, v.size_bytes - m.size_bytes)
            v.size_bytes = m.size_bytes
            if v.state == VolumeState.SNAPSHOTTING:
                v.state = VolumeState.READY
        vs.state = VmSnapshotState.READY.value
        _make_current(s, vs)
        record(s, None, "VMSNAPSHOT.REVERTTO", f"Reverted to VM snapshot {vs.display_name}", vs)
    return {"vm_snapshot_uuid": vs_uuid, "instance_uuid": job.resource_uuid}


def fail_revert(ctx: JobContext, job: Job, reason: str) -> None:
    """Release the reserved growth; volumes back to Ready, the snapshot Ready."""
    p = _payload(job)
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, p.get("vm_snapshot_uuid"))
        if vs is None or vs.state != VmSnapshotState.REVERTING.value:
            return
        storage = StorageAllocator(s, Settings(s))
        for volume_uuid, delta in (p.get("grown") or {}).items():
            v = s.get(Volume, volume_uuid)
            if v is not None and v.pool_uuid:
                storage.release(v.pool_uuid, int(delta))
        _volumes_back(s, [m.volume_uuid for m in _members(s, vs.uuid)])
        vs.state = VmSnapshotState.READY.value
        record(s, None, "VMSNAPSHOT.REVERTTO", f"Failed to revert: {reason}", vs, level="ERROR")


# ------------------------------------------------------------------- delete
def run_delete(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Delete every member disk snapshot, then the snapshot from the tree."""
    vs_uuid = _payload(job)["vm_snapshot_uuid"]
    with ctx.tx() as s:
        vs = s.get(VmSnapshot, vs_uuid)
        if vs is None or vs.removed_at is not None or (
                vs.state != VmSnapshotState.EXPUNGING.value):
            return {"skipped": True}
        steps = [(_member_target(s, vs, m), m.disk_sid, m.snapshot_sid, m.pool_uuid)
                 for m in _members(s, vs_uuid)]
    _delete_disk_snapshots(ctx, steps, strict=True)
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, vs_uuid)
        if vs is None or vs.removed_at is not None:
            return {"skipped": True}
        remove_from_tree(s, vs)
        record(s, None, "VMSNAPSHOT.DELETE", f"Deleted VM snapshot {vs.display_name}", vs)
    return {"vm_snapshot_uuid": vs_uuid}


def remove_from_tree(session: Session, vs: VmSnapshot) -> None:
    """Mark ``vs`` removed; its children get its parent, which becomes current
    if ``vs`` was."""
    parent = session.get(VmSnapshot, vs.parent_uuid) if vs.parent_uuid else None
    if parent is not None and parent.removed_at is not None:
        parent = None
    for child in session.scalars(select(VmSnapshot).where(
            VmSnapshot.parent_uuid == vs.uuid, VmSnapshot.removed_at.is_(None))):
        child.parent_uuid = parent.uuid if parent is not None else None
    if vs.current and parent is not None:
        parent.current = True
    vs.current = False
    vs.removed_at = utcnow()
    forget_tags(session, vs.uuid)


def fail_delete(ctx: JobContext, job: Job, reason: str) -> None:
    """The snapshot stays, in Error (it can be deleted again)."""
    with ctx.tx() as s:
        vs = locked_row(s, VmSnapshot, _payload(job).get("vm_snapshot_uuid"))
        if vs is None or vs.removed_at is not None:
            return
        vs.state = VmSnapshotState.ERROR.value
        record(s, None, "VMSNAPSHOT.DELETE", f"Failed to delete: {reason}", vs, level="ERROR")


# ------------------------------------------------------------------ restore
# The request reserved the new root disk (payload pool_uuid/size_bytes) and
# set a running instance Stopping. The job stops and removes the domain (data
# disks detached first so they survive), deletes the old root disk, then, in
# one transaction, removes the old root volume and adds the new one (the point
# of no return), and restarts the instance if it was running. Before that
# point the compensation gives the reservation back and the instance its old
# state; after it, the instance ends Stopped with its new (not yet created)
# root disk.


def _restore_rows(s: Session, inst_uuid: str | None, p: dict[str, Any]) -> tuple[Any, ...]:
    inst = locked_instance(s, inst_uuid)
    old = s.get(Volume, p["old_root_uuid"])
    if inst is None or old is None:
        return None, None, None, None, []
    access = host_access_of(s, inst.host_uuid or inst.last_host_uuid)
    data = [v for v in s.scalars(select(Volume).where(
        Volume.instance_uuid == inst.uuid, Volume.removed_at.is_(None),
        Volume.kind != VolumeKind.ROOT))]
    return inst, old, access, inst.domain_ref, data


def run_restore(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Replace the root disk; a running instance is Running again afterwards."""
    p = _payload(job)
    with ctx.tx() as s:
        inst, old, access, ref, data = _restore_rows(s, job.resource_uuid, p)
        if inst is None:
            return {"skipped": True}
        swapped = old.removed_at is not None
        data_sids = [v.sid for v in data if v.path]
        old_sid, old_pool, old_disk = old.sid, old.pool_uuid, bool(old.path)
        timeout = Settings(s).float("host.stop.timeout")
    if not swapped:
        if access is not None:
            driver = ctx.drivers.get(access)
            if ref:
                driver.stop(DomainRef(ref), timeout=timeout, force=False)
                if driver.supports(Capability.ATTACH_DISK):
                    for sid in data_sids:
                        try:
                            driver.detach_disk(DomainRef(ref), sid)
                        except NotFound:
                            pass
                driver.destroy(DomainRef(ref))
            if old_disk and driver.supports(Capability.DATA_DISKS):
                driver.delete_disk(old_sid, pool_ref=old_pool)
        with ctx.tx() as s:
            _swap_root(s, job, p)
    if p.get("was_running"):
        _restart(ctx, job)
    return {"instance_uuid": job.resource_uuid}


def _swap_root(s: Session, job: Job, p: dict[str, Any]) -> None:
    """Old root removed (capacity released), new root attached, new template."""

    inst = locked_instance(s, job.resource_uuid)
    old = locked_row(s, Volume, p["old_root_uuid"])
    if inst is None or old is None or old.removed_at is not None:
        return
    now = utcnow()
    if old.pool_uuid:
        StorageAllocator(s, Settings(s)).release(old.pool_uuid, old.size_bytes)
    old.state, old.removed_at = VolumeState.EXPUNGED, now
    s.add(Volume(
        name=old.name, account_uuid=old.account_uuid, zone_uuid=old.zone_uuid,
        pool_uuid=p["pool_uuid"], instance_uuid=inst.uuid, kind=VolumeKind.ROOT, device_id=0,
        size_bytes=p["size_bytes"], state=VolumeState.ALLOCATED, volume_type=old.volume_type,
        disk_offering_uuid=old.disk_offering_uuid, template_uuid=p["template_uuid"],
        delete_on_termination=True, attached_at=now, created_at=now))
    inst.template_uuid = p["template_uuid"]
    inst.domain_ref = None
    inst.updated_at = now
    record_event(s, None, "VM.RESTORE", f"Restored {inst.name}", ResourceKind.INSTANCE,
                 inst.uuid, account_uuid=inst.account_uuid)


def _restart(ctx: JobContext, job: Job) -> None:
    """Define and start the instance on its host; Stopping -> Running."""
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STOPPING:
            return
        access = host_access_of(s, inst.host_uuid)
        spec = domain_spec(s, inst)
    if access is None:
        raise IncorrectState(ResourceKind.INSTANCE, job.resource_uuid, "no host")
    driver = ctx.drivers.get(access)
    ref = driver.define(spec)
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is not None:
            inst.domain_ref = ref.ref
    driver.start(ref)
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STOPPING:
            return
        set_vm_state(inst, VmState.RUNNING)
        inst.power_state = "PowerOn"
        for v in s.scalars(select(Volume).where(Volume.instance_uuid == inst.uuid,
                                                Volume.removed_at.is_(None))):
            v.state = VolumeState.READY
            v.path = v.path or v.sid


def fail_restore(ctx: JobContext, job: Job, reason: str) -> None:
    """Before the swap: release the new disk's reservation; the instance back
    to Running if its domain still runs (else Stopped), with its data disks
    attached again. After it: remove a half-started domain; Stopped."""
    from engine.jobs.handlers import _release_capacity

    p = _payload(job)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return
        inst, old, access, ref, data = _restore_rows(s, job.resource_uuid, p)
        if inst is None:
            return
        swapped = old.removed_at is not None
        specs = [_spec(s, v) for v in data if v.path]
    power = None
    if access is not None and ref:
        driver = ctx.drivers.get(access)
        try:
            if swapped:
                driver.destroy(DomainRef(ref))
            else:
                power = driver.info(DomainRef(ref)).power_state
                if power != PowerState.MISSING and driver.supports(Capability.ATTACH_DISK):
                    for spec in specs:
                        driver.attach_disk(DomainRef(ref), spec)
        except Exception:  # best effort; the reconciler finds leftovers
            log.info("cleaning up after a failed restore of %s did not work",
                     job.resource_uuid, exc_info=True)
    with ctx.tx() as s:
        inst, old, _, _, _ = _restore_rows(s, job.resource_uuid, p)
        if inst is None:
            return
        if old.removed_at is None:
            StorageAllocator(s, Settings(s)).release(p["pool_uuid"], p["size_bytes"])
        else:
            inst.domain_ref = None
        if inst.state == VmState.STOPPING:
            if power == PowerState.RUNNING and old.removed_at is None:
                set_vm_state(inst, VmState.RUNNING, reason)
            else:
                _release_capacity(s, inst)
                set_vm_state(inst, VmState.STOPPED, reason)
                inst.power_state = "PowerOff"
        record_event(s, None, "VM.RESTORE", f"Failed to restore {inst.name}: {reason}"[:255],
                     ResourceKind.INSTANCE, inst.uuid, level="ERROR",
                     account_uuid=inst.account_uuid)


VM_SNAPSHOT_HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.CREATE_VM_SNAPSHOT.value: (run_create, fail_create),
    JobKind.REVERT_VM_SNAPSHOT.value: (run_revert, fail_revert),
    JobKind.DELETE_VM_SNAPSHOT.value: (run_delete, fail_delete),
    JobKind.RESTORE_INSTANCE.value: (run_restore, fail_restore),
}
