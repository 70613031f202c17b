"""What the volume and snapshot jobs do: read in one transaction, call the
driver outside any transaction, settle the result in another.

Each handler re-checks the rows before it acts and again before it settles,
so running it twice (after a crash) is harmless; driver calls are idempotent.
Each has a ``fail`` compensation that gives back what the request reserved
(a device slot, extra pool capacity, the capacity of a volume that could not
be made) and puts the volume back in a stable state.

A volume's disk is reached through the domain it is attached to (on the
instance's host) or, when free, through any enabled host of its zone,
preferring the cluster of its pool.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import IncorrectState, NotFound, ResourceKind, Unavailable, Unsupported
from engine.hypervisors.base import Capability, DiskSpec, DomainRef, HypervisorDriver
from engine.jobs.drivers import HostAccess, host_access, hosts_reaching
from engine.jobs.job_rows import locked_row
from engine.jobs.queue import JobKind
from engine.models import Host, Instance, Job, Snapshot, StoragePool, Volume
from engine.services.events import record_event
from engine.settings import Settings
from engine.states import (
    HostState,
    ResourceState,
    SnapshotState,
    VmState,
    VolumeState,
)

if TYPE_CHECKING:
    from engine.jobs.handlers import JobContext

log = logging.getLogger("nimbostack.jobs")

Handler = Callable[["JobContext", Job], dict[str, Any]]
Failure = Callable[["JobContext", Job, str], None]

# Instance states in which an attach job still goes ahead (the request saw
# Running or Stopped; a start or stop may have been asked for since).
_ATTACH_OK = frozenset({VmState.RUNNING, VmState.STOPPED, VmState.STARTING, VmState.STOPPING})


# ------------------------------------------------------------------ helpers
@dataclass(frozen=True)
class _Target:
    """Where to reach a disk: a host, and the domain it is attached to (if any)."""

    access: HostAccess | None
    domain: DomainRef | None = None


def _payload(job: Job) -> dict[str, Any]:
    return json.loads(job.payload or "{}")  # type: ignore[no-any-return]


def _access(host: Host | None) -> HostAccess | None:
    if host is None:
        return None
    session = object_session(host)
    assert session is not None
    return host_access(session, host)


def _zone_host(session: Session, zone_uuid: str, pool_uuid: str | None) -> HostAccess | None:
    """An enabled, Up host that reaches the pool (without a pool: of the zone)."""
    pool = session.get(StoragePool, pool_uuid) if pool_uuid else None
    stmt = hosts_reaching(session, pool) if pool is not None else select(Host).where(
        Host.zone_uuid == zone_uuid, Host.removed_at.is_(None))
    host = session.scalars(stmt.where(
        Host.state == HostState.UP, Host.resource_state == ResourceState.ENABLED,
    ).order_by(Host.created_at, Host.uuid)).first()
    return _access(host)


def _target(session: Session, v: Volume) -> _Target:
    """The domain ``v`` is attached to (with its host), else a host of its zone."""
    inst = session.get(Instance, v.instance_uuid) if v.instance_uuid else None
    if inst is not None and inst.domain_ref:
        host_uuid = inst.host_uuid or inst.last_host_uuid
        access = _access(session.get(Host, host_uuid) if host_uuid else None)
        if access is not None:
            return _Target(access, DomainRef(inst.domain_ref))
    return _Target(_zone_host(session, v.zone_uuid, v.pool_uuid))


def _spec(session: Session, v: Volume) -> DiskSpec:
    """The disk of ``v``; a volume made from a snapshot is cloned from it."""
    source = None
    if v.snapshot_uuid and not v.path:
        snap = session.get(Snapshot, v.snapshot_uuid)
        source = snap.sid if snap is not None else None
    return DiskSpec(disk_sid=v.sid, device_id=v.device_id or 0, size_bytes=v.size_bytes,
                    source_snapshot=source, pool_ref=v.pool_uuid)


def _driver(ctx: JobContext, target: _Target) -> HypervisorDriver:
    if target.access is None:
        raise Unavailable("a host of the volume's zone")
    return ctx.drivers.get(target.access)


def _need(driver: HypervisorDriver, capability: Capability, op: str) -> None:
    if not driver.supports(capability):
        raise Unsupported(op, driver.name)


def _settled(v: Volume) -> VolumeState:
    return VolumeState.READY if v.path else VolumeState.ALLOCATED


def _failed_event(ctx: JobContext, job: Job, event_type: str, text: str, reason: str) -> None:
    with ctx.tx() as s:
        record_event(s, None, event_type, f"{text}: {reason}"[:255], job.resource_kind,
                     job.resource_uuid, level="ERROR", account_uuid=job.account_uuid)


def _mark_created(ctx: JobContext, volume_uuid: str) -> None:
    """Record at once that the disk exists, so a later failure still deletes it."""
    with ctx.tx() as s:
        v = locked_row(s, Volume, volume_uuid)
        if v is not None:
            v.path = v.path or v.sid


# ------------------------------------------------------------ create (clone)
def run_create(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Clone a new volume's disk from its snapshot; Creating -> Ready.

    Without a host able to hold free disks the volume stays Allocated and the
    attach job clones it later."""
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.state != VolumeState.CREATING:
            return {"skipped": True}
        target = _Target(_zone_host(s, v.zone_uuid, v.pool_uuid))
        spec = _spec(s, v)
    driver = _driver(ctx, target)
    if driver.supports(Capability.DATA_DISKS):
        driver.create_disk(spec)
        _mark_created(ctx, job.resource_uuid or "")
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is not None and v.state == VolumeState.CREATING:
            v.state = _settled(v)
    return {"volume_uuid": job.resource_uuid}


def fail_create(ctx: JobContext, job: Job, reason: str) -> None:
    """The clone failed: the volume goes to Error and its capacity is released."""
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.state != VolumeState.CREATING:
            return
        if v.pool_uuid is not None and v.removed_at is None:
            StorageAllocator(s, Settings(s)).release(v.pool_uuid, v.size_bytes)
            v.pool_uuid = None
        v.state = VolumeState.ERROR
    _failed_event(ctx, job, "VOLUME.CREATE", "Failed to create the volume", reason)


# ------------------------------------------------------------ attach/detach
def run_attach(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Put the disk on the instance's domain (creating it first if it was
    never made); without a domain, create it so the next start attaches it."""
    p = _payload(job)
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.removed_at is not None or v.attached_at is not None or (
                v.instance_uuid != p["instance_uuid"]):
            return {"skipped": True}
        inst = s.get(Instance, v.instance_uuid)
        if inst is None or inst.state not in _ATTACH_OK:
            raise IncorrectState(ResourceKind.INSTANCE, p["instance_uuid"],
                                 inst.state if inst else "missing", _ATTACH_OK)
        target, spec, created = _target(s, v), _spec(s, v), bool(v.path)
    if target.access is not None:
        driver = ctx.drivers.get(target.access)
        if not created and driver.supports(Capability.DATA_DISKS):
            driver.create_disk(spec)
            _mark_created(ctx, job.resource_uuid or "")
            created = True
        if target.domain is not None:
            _need(driver, Capability.ATTACH_DISK, "attach_disk")
            driver.attach_disk(target.domain, spec)
            created = True
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.instance_uuid != p["instance_uuid"] or v.attached_at is not None:
            return {"skipped": True}
        v.attached_at = utcnow()
        if created:
            v.path = v.path or v.sid
            if v.state in (VolumeState.ALLOCATED, VolumeState.READY):
                v.state = _settled(v)
        record_event(s, None, "VOLUME.ATTACH", f"Attached volume {v.name} at {v.device_id}",
                     ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
    return {"volume_uuid": job.resource_uuid, "instance_uuid": p["instance_uuid"],
            "device_id": p["device_id"]}


def fail_attach(ctx: JobContext, job: Job, reason: str) -> None:
    """Give the device slot back (and take the disk off the domain if it got there)."""
    p = _payload(job)
    target = None
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.instance_uuid != p["instance_uuid"] or v.attached_at is not None:
            return
        target, sid = _target(s, v), v.sid
        v.instance_uuid, v.device_id = None, None
    if target.access is not None and target.domain is not None:
        try:
            ctx.drivers.get(target.access).detach_disk(target.domain, sid)
        except Exception:
            log.info("detaching %s after a failed attach did not work", sid, exc_info=True)
    _failed_event(ctx, job, "VOLUME.ATTACH", "Failed to attach the volume", reason)


def run_detach(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Take the disk off the domain, then free the slot. A disk that is not
    on the domain (any more) counts as detached; with ``force`` any driver
    failure does."""
    p = _payload(job)
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.instance_uuid != p["instance_uuid"]:
            return {"skipped": True}
        target, sid = _target(s, v), v.sid
    forced = False
    if target.access is not None and target.domain is not None:
        try:
            driver = ctx.drivers.get(target.access)
            _need(driver, Capability.ATTACH_DISK, "detach_disk")
            driver.detach_disk(target.domain, sid)
        except NotFound:
            pass
        except Exception:
            if not p.get("force"):
                raise
            forced = True
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.instance_uuid != p["instance_uuid"]:
            return {"skipped": True}
        v.instance_uuid, v.device_id, v.attached_at = None, None, None
        record_event(s, None, "VOLUME.DETACH", f"Detached volume {v.name}",
                     ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
    return {"volume_uuid": job.resource_uuid, "instance_uuid": p["instance_uuid"],
            "forced": forced}


def fail_detach(ctx: JobContext, job: Job, reason: str) -> None:
    """Nothing to undo: the volume stays attached."""
    _failed_event(ctx, job, "VOLUME.DETACH", "Failed to detach the volume", reason)


# ------------------------------------------------------------------- resize
def run_resize(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Grow the disk, if it exists; Resizing -> the stable state."""
    p = _payload(job)
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None or v.removed_at is not None or v.size_bytes != p["new_size_bytes"]:
            return {"skipped": True}
        target, sid, has_disk = _target(s, v), v.sid, bool(v.path)
    if has_disk:
        driver = _driver(ctx, target)
        _need(driver, Capability.RESIZE_DISK, "resize_disk")
        driver.resize_disk(target.domain, sid, p["new_size_bytes"])
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is not None and v.state == VolumeState.RESIZING:
            v.state = _settled(v)
        if v is not None:
            record_event(s, None, "VOLUME.RESIZE", f"Resized volume {v.name}",
                         ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
    return {"volume_uuid": job.resource_uuid, "size_bytes": p["new_size_bytes"]}


def fail_resize(ctx: JobContext, job: Job, reason: str) -> None:
    """Back to the old size; the extra capacity is released."""
    p = _payload(job)
    with ctx.tx() as s:
        v = locked_row(s, Volume, job.resource_uuid)
        if v is None:
            return
        if v.removed_at is None and v.size_bytes == p["new_size_bytes"]:
            if v.pool_uuid is not None:
                StorageAllocator(s, Settings(s)).release(
                    v.pool_uuid, p["new_size_bytes"] - p["old_size_bytes"])
            v.size_bytes = p["old_size_bytes"]
        if v.state == VolumeState.RESIZING:
            v.state = _settled(v)
    _failed_event(ctx, job, "VOLUME.RESIZE", "Failed to resize the volume", reason)


# ------------------------------------------------------------------- delete
def run_delete(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Delete the disk of a removed volume from the hypervisor (idempotent)."""
    with ctx.tx() as s:
        v = s.get(Volume, job.resource_uuid)
        if v is None or v.removed_at is None or not v.path:
            return {"skipped": True}
        target = _Target(_zone_host(s, v.zone_uuid, v.pool_uuid))
        sid, pool = v.sid, v.pool_uuid
    driver = _driver(ctx, target)
    if driver.supports(Capability.DATA_DISKS):
        driver.delete_disk(sid, pool_ref=pool)
    return {"volume_uuid": job.resource_uuid}


def fail_delete(ctx: JobContext, job: Job, reason: str) -> None:
    """The row is already gone; record that the disk was left behind."""
    _failed_event(ctx, job, "VOLUME.DELETE", "Failed to delete the disk", reason)


# ---------------------------------------------------------------- snapshots
def _snapshots_left(s: Session, volume_uuid: str, but: str) -> bool:
    """Whether another snapshot of the volume is still to be taken."""
    return s.scalar(select(Snapshot.uuid).where(
        Snapshot.volume_uuid == volume_uuid, Snapshot.uuid != but,
        Snapshot.state == SnapshotState.CREATING, Snapshot.removed_at.is_(None))
        .limit(1)) is not None


def run_snapshot(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Take the snapshot (creating a never-made data disk first), after the
    earlier snapshots of its volume; Creating -> BackedUp, and the volume back
    to its stable state once no other snapshot of it is to be taken. (The
    runner takes a volume's snapshot jobs one at a time, in order: their queue
    is the volume.)"""
    with ctx.tx() as s:
        snap = locked_row(s, Snapshot, job.resource_uuid)
        if snap is None or snap.state != SnapshotState.CREATING:
            return {"skipped": True}
        v = locked_row(s, Volume, snap.volume_uuid)
        if v is None or v.removed_at is not None:
            raise NotFound(ResourceKind.VOLUME, snap.volume_uuid)
        target, spec, has_disk = _target(s, v), _spec(s, v), bool(v.path)
        snap_sid, volume_uuid = snap.sid, v.uuid
    driver = _driver(ctx, target)
    if not has_disk:
        _need(driver, Capability.DATA_DISKS, "create_disk")
        driver.create_disk(spec)
        _mark_created(ctx, volume_uuid)
    _need(driver, Capability.DISK_SNAPSHOT, "snapshot_disk")
    driver.snapshot_disk(target.domain, spec.disk_sid, snap_sid, pool_ref=spec.pool_ref)
    with ctx.tx() as s:
        snap = locked_row(s, Snapshot, job.resource_uuid)
        if snap is not None and snap.state == SnapshotState.CREATING:
            snap.state = SnapshotState.BACKED_UP
        v = locked_row(s, Volume, volume_uuid)
        if v is not None and v.state == VolumeState.SNAPSHOTTING and not _snapshots_left(
                s, v.uuid, job.resource_uuid or ""):
            v.state = _settled(v)
        record_event(s, None, "SNAPSHOT.CREATE", f"Took snapshot {snap.name if snap else ''}",
                     ResourceKind.SNAPSHOT, job.resource_uuid, account_uuid=job.account_uuid)
    return {"snapshot_uuid": job.resource_uuid, "volume_uuid": volume_uuid}


def fail_snapshot(ctx: JobContext, job: Job, reason: str) -> None:
    """The snapshot goes to Error; the volume back to its stable state unless
    another snapshot of it is still to be taken."""
    with ctx.tx() as s:
        snap = locked_row(s, Snapshot, job.resource_uuid)
        if snap is None:
            return
        if snap.state == SnapshotState.CREATING:
            snap.state = SnapshotState.ERROR
        v = locked_row(s, Volume, snap.volume_uuid)
        if v is not None and v.state == VolumeState.SNAPSHOTTING and not _snapshots_left(
                s, v.uuid, snap.uuid):
            v.state = _settled(v)
    _failed_event(ctx, job, "SNAPSHOT.CREATE", "Failed to take the snapshot", reason)


def run_delete_snapshot(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Delete a removed snapshot from the hypervisor (idempotent)."""
    with ctx.tx() as s:
        snap = s.get(Snapshot, job.resource_uuid)
        v = s.get(Volume, snap.volume_uuid) if snap is not None else None
        if snap is None or v is None or snap.removed_at is None:
            return {"skipped": True}
        target = _Target(_zone_host(s, v.zone_uuid, v.pool_uuid))
        disk_sid, snap_sid, pool = v.sid, snap.sid, v.pool_uuid
    driver = _driver(ctx, target)
    if driver.supports(Capability.DISK_SNAPSHOT):
        driver.delete_disk_snapshot(disk_sid, snap_sid, pool_ref=pool)
    return {"snapshot_uuid": job.resource_uuid}


def fail_delete_snapshot(ctx: JobContext, job: Job, reason: str) -> None:
    _failed_event(ctx, job, "SNAPSHOT.DELETE", "Failed to delete the snapshot", reason)


VOLUME_HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.CREATE_VOLUME.value: (run_create, fail_create),
    JobKind.ATTACH_VOLUME.value: (run_attach, fail_attach),
    JobKind.DETACH_VOLUME.value: (run_detach, fail_detach),
    JobKind.RESIZE_VOLUME.value: (run_resize, fail_resize),
    JobKind.DELETE_VOLUME.value: (run_delete, fail_delete),
    JobKind.SNAPSHOT_VOLUME.value: (run_snapshot, fail_snapshot),
    JobKind.DELETE_SNAPSHOT.value: (run_delete_snapshot, fail_delete_snapshot),
}
