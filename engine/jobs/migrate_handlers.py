"""What the live-migration and snapshot-revert jobs do: read in one transaction,
call the driver outside any transaction, settle the result in another.

Migration: the request reserved the instance's capacity on the target host
and set it Migrating. Success moves the instance there and releases the
source's capacity; failure (the ``fail`` compensation) releases the target's
and puts the instance back to Running on the source. Revert: the request set
the volume Snapshotting; success or failure puts it back to its stable state.
Both re-check the rows before acting and before settling, so a rerun after a
crash is harmless (the drivers' migrate and revert are idempotent).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine.allocators.hosts import MIB, HostPlanner
from engine.errors import NotFound, ResourceKind, Unsupported
from engine.hypervisors.base import Capability, DomainRef
from engine.jobs.drivers import host_access
from engine.jobs.job_rows import locked_row, set_vm_state, still_owned
from engine.jobs.queue import JobKind
from engine.jobs.volume_handlers import _driver, _target
from engine.models import Host, Instance, Job, Snapshot, Volume
from engine.services.events import record_event
from engine.settings import Settings
from engine.states import VmState, VolumeState

if TYPE_CHECKING:

    from engine.jobs.handlers import Failure, Handler, JobContext


def _payload(job: Job) -> dict[str, Any]:
    return dict(json.loads(job.payload or "{}"))


# ------------------------------------------------------------------ migrate
def run_migrate(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Move the domain to the target host; Migrating -> Running there."""
    p = _payload(job)
    with ctx.tx() as s:
        inst = locked_row(s, Instance, job.resource_uuid)
        if inst is None or inst.state != VmState.MIGRATING:
            return {"skipped": True}
        source, target = s.get(Host, p["source_host"]), s.get(Host, p["target_host"])
        if source is None or target is None:
            raise NotFound(ResourceKind.HOST, p["target_host"] if source else p["source_host"])
        src_access, dst_access = host_access(s, source), host_access(s, target)
        ref = inst.domain_ref
    new_ref = ref
    if ref:
        driver = ctx.drivers.get(src_access)
        if not driver.supports(Capability.MIGRATE):
            raise Unsupported("migrate", driver.name)
        new_ref = driver.migrate(DomainRef(ref), ctx.drivers.connection(dst_access)).ref
    with ctx.tx() as s:
        if not still_owned(s, job):
            return {"skipped": True}
        inst = locked_row(s, Instance, job.resource_uuid)
        if inst is None or inst.state != VmState.MIGRATING:
            return {"skipped": True}
        HostPlanner(s, Settings(s)).release(p["source_host"], inst.cpus * inst.cpu_mhz,
                                            inst.memory_mib * MIB)
        inst.host_uuid = inst.last_host_uuid = p["target_host"]
        inst.domain_ref = new_ref
        set_vm_state(inst, VmState.RUNNING)
        record_event(s, None, "VM.MIGRATE", f"Migrated {inst.name}", ResourceKind.INSTANCE,
                     inst.uuid, account_uuid=inst.account_uuid)
    return {"instance_uuid": job.resource_uuid, "host_uuid": p["target_host"]}


def fail_migrate(ctx: JobContext, job: Job, reason: str) -> None:
    """Give the target's reservation back; the instance stays Running on the source."""
    p = _payload(job)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return
        inst = locked_row(s, Instance, job.resource_uuid)
        if inst is None or inst.state != VmState.MIGRATING:
            return
        HostPlanner(s, Settings(s)).release(p["target_host"], inst.cpus * inst.cpu_mhz,
                                            inst.memory_mib * MIB)
        set_vm_state(inst, VmState.RUNNING, reason)
        record_event(s, None, "VM.MIGRATE", f"Failed to migrate {inst.name}",
                     ResourceKind.INSTANCE, inst.uuid, level="ERROR",
                     account_uuid=inst.account_uuid)


# ------------------------------------------------------------------- revert
def run_revert(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Put the volume's disk back to the snapshot; Snapshotting -> its stable state."""
    p = _payload(job)
    with ctx.tx() as s:
        snap = s.get(Snapshot, job.resource_uuid)
        v = locked_row(s, Volume, p["volume_uuid"])
        if snap is None or v is None or v.state != VolumeState.SNAPSHOTTING:
            return {"skipped": True}
        target, disk_sid, snap_sid, pool, has_disk = (
            _target(s, v), v.sid, snap.sid, v.pool_uuid, bool(v.path))
        size = snap.size_bytes
    if has_disk:
        driver = _driver(ctx, target)
        if not driver.supports(Capability.REVERT_SNAPSHOT):
            raise Unsupported("revert_disk_snapshot", driver.name)
        driver.revert_disk_snapshot(target.domain, disk_sid, snap_sid, pool_ref=pool)
    with ctx.tx() as s:
        v = locked_row(s, Volume, p["volume_uuid"])
        if v is not None and v.state == VolumeState.SNAPSHOTTING:
            v.state = VolumeState.READY if v.path else VolumeState.ALLOCATED
        record_event(s, None, "SNAPSHOT.REVERT", f"Reverted to snapshot {snap_sid}",
                     ResourceKind.SNAPSHOT, job.resource_uuid, account_uuid=job.account_uuid)
    return {"snapshot_uuid": job.resource_uuid, "volume_uuid": p["volume_uuid"],
            "size_bytes": size}


def fail_revert(ctx: JobContext, job: Job, reason: str) -> None:
    """The volume back to its stable state, unchanged."""
    p = _payload(job)
    with ctx.tx() as s:
        v = locked_row(s, Volume, p.get("volume_uuid"))
        if v is not None and v.state == VolumeState.SNAPSHOTTING:
            v.state = VolumeState.READY if v.path else VolumeState.ALLOCATED
        record_event(s, None, "SNAPSHOT.REVERT", f"Failed to revert: {reason}"[:255],
                     ResourceKind.SNAPSHOT, job.resource_uuid, level="ERROR",
                     account_uuid=job.account_uuid)


MIGRATE_HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.MIGRATE.value: (run_migrate, fail_migrate),
    JobKind.REVERT_SNAPSHOT.value: (run_revert, fail_revert),
}
