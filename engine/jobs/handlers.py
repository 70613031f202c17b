"""What each job kind does: read in one transaction, call the driver outside any
transaction, settle the result in another.

Every handler is safe to run again after a crash (drivers are idempotent and
each step re-checks the rows), and each has a ``fail`` compensation that
leaves the resource in a clean final state with nothing reserved.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.allocators.addresses import PublicIpAllocator
from engine.allocators.hosts import MIB, HostPlanner
from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import ResourceKind
from engine.hypervisors.base import DomainRef
from engine.jobs.domain_specs import domain_spec, host_access_of
from engine.jobs.drivers import DriverPool
from engine.jobs.job_rows import (
    instance_record,
    locked_instance,
    mark_running,
    set_vm_state,
    still_owned,
)
from engine.jobs.queue import JobKind
from engine.models import (
    Event,
    Instance,
    InstanceSecurityGroup,
    Job,
    Nic,
    PublicIp,
    Volume,
)
from engine.services.events import event_values, record_event
from engine.services.launch_rows import insert_rows
from engine.services.public_ip_launch import map_again_for, release_mapped
from engine.services.rules import revoke_instance_rules
from engine.settings import Settings
from engine.statements import Prepared
from engine.states import JobStatus, VmState, VolumeState
from engine.uow import unit_of_work


@dataclass
class JobContext:
    sessions: sessionmaker[Session]
    drivers: DriverPool
    # Sessions for steps that only read (on SQLite they do not take the
    # database's write lock, so requests do not queue behind them).
    read_sessions: sessionmaker[Session] | None = None

    def tx(self):  # type: ignore[no-untyped-def]
        return unit_of_work(self.sessions)

    def read_tx(self):  # type: ignore[no-untyped-def]
        """A transaction for a step that writes nothing."""
        return unit_of_work(self.read_sessions or self.sessions)


Handler = Callable[[JobContext, Job], dict[str, Any]]
Failure = Callable[[JobContext, Job, str], None]


_jobs: Table = Job.__table__  # type: ignore[assignment]
# The usual end of a job: a status and a result, nothing else changed.
_JOB_END = Prepared(update(_jobs)
                    .where(_jobs.c.uuid == bindparam("p_uuid"),
                           _jobs.c.owner == bindparam("p_owner"))
                    .values(status=bindparam("p_status"), completed_at=bindparam("p_at"),
                            lease_expires_at=None, result=bindparam("p_result")))


def record_job_end(session: Session, uuid: str, owner: str | None, status: JobStatus, *,
                   result: dict[str, Any] | None = None,
                   error: tuple[str, str] | None = None) -> None:
    """Mark the job ``status`` (a final one) in the caller's transaction, if
    ``owner`` still owns it."""
    if result is not None and error is None and owner is not None:
        _JOB_END.execute(session, {"p_uuid": uuid, "p_owner": owner, "p_status": status,
                                   "p_at": utcnow(), "p_result": json.dumps(result)})
        return
    values: dict[str, object] = {"status": status, "completed_at": utcnow(),
                                 "lease_expires_at": None}
    if result is not None:
        values["result"] = json.dumps(result)
    if error is not None:
        values["error_kind"], values["error_message"] = error[0], error[1][:2000]
    session.execute(update(Job).where(Job.uuid == uuid, Job.owner == owner)
                    .values(**values).execution_options(synchronize_session=False))


def settle(session: Session, job: Job, result: dict[str, Any]) -> dict[str, Any]:
    """Record in the handler's last transaction (after its ``still_owned``
    fence) that the job succeeded with ``result``, so the runner needs no
    transaction of its own to finish it: the outcome and the job's end commit
    together or not at all. Returns ``result``; the runner sees ``job.status``
    SUCCEEDED and does not finish the job again."""
    record_job_end(session, job.uuid, job.owner, JobStatus.SUCCEEDED, result=result)
    session.info.setdefault(_SETTLED, []).append(job)
    return result


_SETTLED = "nimbostack.settled_jobs"


@event.listens_for(Session, "after_commit")
def _mark_settled(session: Session) -> None:
    for job in session.info.pop(_SETTLED, ()):
        job.status = JobStatus.SUCCEEDED  # the runner's (detached) copy


@event.listens_for(Session, "after_rollback")
def _forget_settled(session: Session) -> None:
    session.info.pop(_SETTLED, None)


def _release_capacity(session: Session, inst: Instance) -> None:
    """Give back what only a running instance holds: its host's CPU and
    memory, and the public addresses mapped with it (every stop path calls this)."""
    release_mapped(session, None, inst)
    if inst.host_uuid:
        HostPlanner(session, Settings(session)).release(
            inst.host_uuid, inst.cpus * inst.cpu_mhz, inst.memory_mib * MIB)
        inst.host_uuid = None


def _expunge_resources(session: Session, inst: Instance, *, every_volume: bool = False) -> None:
    """Free what the instance holds: disks (those not deleted on termination are
    detached and kept, unless ``every_volume``: a launch that failed), NICs
    (private IPs), public IPs."""
    from engine.services.vm_snapshots import drop_instance_snapshots

    drop_instance_snapshots(session, inst.uuid)  # their disk snapshots go by jobs
    storage = StorageAllocator(session, Settings(session))
    now = utcnow()
    for v in session.scalars(select(Volume).where(Volume.instance_uuid == inst.uuid,
                                                  Volume.removed_at.is_(None))):
        if v.delete_on_termination or every_volume:
            if v.pool_uuid:
                storage.release(v.pool_uuid, v.size_bytes)
            v.state, v.removed_at = VolumeState.EXPUNGED, now
        else:
            v.instance_uuid, v.device_id, v.attached_at = None, None, None
            v.state = VolumeState.READY if v.path else VolumeState.ALLOCATED
    revoke_instance_rules(session, inst.uuid)
    from engine.jobs.nic_handlers import free_nic  # interfaces made on their own

    for n in session.scalars(select(Nic).where(Nic.instance_uuid == inst.uuid,
                                               Nic.delete_on_termination.is_(False))):
        free_nic(n)  # detached and kept, like a volume that is not deleted on termination
    session.flush()
    session.execute(delete(Nic).where(Nic.instance_uuid == inst.uuid))
    session.execute(delete(InstanceSecurityGroup).where(
        InstanceSecurityGroup.instance_uuid == inst.uuid))
    allocator = PublicIpAllocator(session)
    for ip in session.scalars(select(PublicIp).where(PublicIp.instance_uuid == inst.uuid)):
        if ip.association_sid is None and not ip.is_source_nat:
            allocator.release(ip)  # auto-assigned with the instance
        else:
            ip.instance_uuid, ip.association_sid = None, None


# The disks of a started instance exist: Ready, each at its path (the disk's
# sid unless the driver recorded another).
_volumes: Table = Volume.__table__  # type: ignore[assignment]
_DISKS_READY = Prepared(update(_volumes)
                        .where(_volumes.c.instance_uuid == bindparam("p_instance"),
                               _volumes.c.removed_at.is_(None))
                        .values(state=VolumeState.READY.value,
                                path=func.coalesce(func.nullif(_volumes.c.path, ""),
                                                   _volumes.c.sid)))
# A defined domain's reference, recorded while the instance is still Starting.
_instances: Table = Instance.__table__  # type: ignore[assignment]
_RECORD_REF = Prepared(update(_instances)
                       .where(_instances.c.uuid == bindparam("p_uuid"),
                              _instances.c.state == VmState.STARTING)
                       .values(domain_ref=bindparam("p_ref")))


# ----------------------------------------------------------------- spawn/start
def run_start(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Define (idempotent) and start the domain; Starting -> Running in the
    transaction that also ends the job.

    The domain's reference is recorded as soon as it is defined, before the
    start: should the start, or the database at the end, fail, the job's
    compensation (:func:`fail_start`) finds the domain and destroys it, so no
    running domain outlives a failed spawn (a job whose runner died runs
    again: define returns the same domain)."""
    with ctx.read_tx() as s:  # each later step re-checks the state under its lock
        inst = instance_record(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STARTING:
            return {"skipped": True}
        access = host_access_of(s, inst.host_uuid)
        spec = domain_spec(s, inst)
        restart = bool(inst.domain_ref)  # its NICs may have changed while it was stopped
    assert access is not None
    driver = ctx.drivers.get(access)
    ref = driver.define(spec)
    try:
        with ctx.tx() as s:
            _RECORD_REF.execute(s, {"p_uuid": job.resource_uuid, "p_ref": ref.ref})
    except Exception:
        # Unrecorded, the compensation could not find it: a new domain goes now
        # (a stopped instance's own domain, restart, keeps its disks).
        if not restart and job.kind == JobKind.SPAWN.value:
            with contextlib.suppress(Exception):
                driver.destroy(ref)
        raise
    if restart:
        from engine.jobs.nic_handlers import apply_nics

        apply_nics(driver, ref, spec)
    driver.start(ref)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return {"skipped": True}
        inst = instance_record(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STARTING:
            # Destroyed while we were starting it: do not leave the domain behind.
            driver.destroy(ref)
            return {"skipped": True}
        inst = mark_running(s, inst, ref.ref)
        map_again_for(s, None, inst)  # a mapped public address is the running instance's
        _DISKS_READY.execute(s, {"p_instance": inst.uuid})
        insert_rows(s, [(Event, event_values(None, "VM.START", f"Started {inst.name}",
                                             ResourceKind.INSTANCE, inst.uuid,
                                             account_uuid=inst.account_uuid))])
        return settle(s, job, {"instance_uuid": job.resource_uuid})


def fail_start(ctx: JobContext, job: Job, reason: str) -> None:
    """A spawn that failed: the VM goes to Error and gives back everything.
    A plain start that failed: the VM goes back to Stopped."""
    ref = None
    with ctx.tx() as s:
        if not still_owned(s, job):
            return
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STARTING:
            return
        access = host_access_of(s, inst.host_uuid)
        ref = inst.domain_ref
    if access is not None and ref:
        driver = ctx.drivers.get(access)
        try:
            if job.kind == JobKind.SPAWN.value:
                driver.destroy(DomainRef(ref))
            else:
                driver.stop(DomainRef(ref), timeout=0, force=True)
        except Exception:  # noqa: BLE001 - best effort; the reconciler finds leftovers
            pass
    with ctx.tx() as s:
        if not still_owned(s, job):
            return
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STARTING:
            return
        _release_capacity(s, inst)
        if job.kind == JobKind.SPAWN.value:
            _expunge_resources(s, inst, every_volume=True)
            inst.domain_ref = None
            set_vm_state(inst, VmState.ERROR, reason)
            inst.removed_at = utcnow()
        else:
            set_vm_state(inst, VmState.STOPPED, reason)
        inst.power_state = "PowerOff"
        record_event(s, None, "VM.START", f"Failed to start {inst.name}",
                     ResourceKind.INSTANCE, inst.uuid, level="ERROR", account_uuid=inst.account_uuid)


# ------------------------------------------------------------------ stop/reboot
def run_stop(ctx: JobContext, job: Job) -> dict[str, Any]:
    force = bool(json.loads(job.payload or "{}").get("force"))
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STOPPING:
            return {"skipped": True}
        access, ref = host_access_of(s, inst.host_uuid), inst.domain_ref
        timeout = Settings(s).float("host.stop.timeout")
    if access is not None and ref:
        ctx.drivers.get(access).stop(DomainRef(ref), timeout=timeout, force=force)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return {"skipped": True}
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state != VmState.STOPPING:
            return {"skipped": True}
        _release_capacity(s, inst)
        set_vm_state(inst, VmState.STOPPED, "User initiated")
        inst.power_state = "PowerOff"
        record_event(s, None, "VM.STOP", f"Stopped {inst.name}", ResourceKind.INSTANCE,
                     inst.uuid, account_uuid=inst.account_uuid)
    return {"instance_uuid": job.resource_uuid}


def fail_stop(ctx: JobContext, job: Job, reason: str) -> None:
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is not None and inst.state == VmState.STOPPING:
            set_vm_state(inst, VmState.RUNNING, reason)


def run_reboot(ctx: JobContext, job: Job) -> dict[str, Any]:
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state != VmState.RUNNING:
            return {"skipped": True}
        access, ref = host_access_of(s, inst.host_uuid), inst.domain_ref
    if access is not None and ref:
        ctx.drivers.get(access).reboot(DomainRef(ref))
    with ctx.tx() as s:
        record_event(s, None, "VM.REBOOT", "Rebooted", ResourceKind.INSTANCE, job.resource_uuid,
                     account_uuid=job.account_uuid)
    return {"instance_uuid": job.resource_uuid}


def fail_nothing(ctx: JobContext, job: Job, reason: str) -> None:
    """Nothing to undo."""


# ---------------------------------------------------------------- destroy
def run_destroy(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Destroy the domain; Destroyed, or with ``expunge`` Expunged and freed."""
    expunge = bool(json.loads(job.payload or "{}").get("expunge"))
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is None or inst.state not in (VmState.DESTROYED, VmState.EXPUNGING):
            return {"skipped": True}
        access = host_access_of(s, inst.host_uuid or inst.last_host_uuid)
        ref = inst.domain_ref
    if access is not None and ref:
        ctx.drivers.get(access).destroy(DomainRef(ref))
    with ctx.tx() as s:
        if not still_owned(s, job):
            return {"skipped": True}
        inst = locked_instance(s, job.resource_uuid)
        if inst is None:
            return {"skipped": True}
        _release_capacity(s, inst)
        inst.domain_ref = None
        inst.power_state = "PowerOff"
        if expunge and inst.state == VmState.EXPUNGING:
            _expunge_resources(s, inst)
            set_vm_state(inst, VmState.EXPUNGED)
            inst.removed_at = utcnow()
            record_event(s, None, "VM.EXPUNGE", f"Expunged {inst.name}", ResourceKind.INSTANCE,
                         inst.uuid, account_uuid=inst.account_uuid)
        else:
            record_event(s, None, "VM.DESTROY", f"Destroyed {inst.name}", ResourceKind.INSTANCE,
                         inst.uuid, account_uuid=inst.account_uuid)
    return {"instance_uuid": job.resource_uuid}


def fail_destroy(ctx: JobContext, job: Job, reason: str) -> None:
    """The domain could not be removed: keep the VM in Error with its
    resources, so an operator can expunge it again; nothing is leaked."""
    with ctx.tx() as s:
        inst = locked_instance(s, job.resource_uuid)
        if inst is not None and inst.state == VmState.EXPUNGING:
            set_vm_state(inst, VmState.ERROR, reason)


HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.SPAWN.value: (run_start, fail_start),
    JobKind.START.value: (run_start, fail_start),
    JobKind.STOP.value: (run_stop, fail_stop),
    JobKind.REBOOT.value: (run_reboot, fail_nothing),
    JobKind.DESTROY.value: (run_destroy, fail_destroy),
    JobKind.EXPUNGE.value: (run_destroy, fail_destroy),
}


def _merge_volume_handlers() -> None:
    from engine.jobs.volume_handlers import VOLUME_HANDLERS  # volume and snapshot jobs

    HANDLERS.update(VOLUME_HANDLERS)
    from engine.jobs.template_handlers import TEMPLATE_HANDLERS  # template jobs

    HANDLERS.update(TEMPLATE_HANDLERS)
    from engine.jobs.migrate_handlers import MIGRATE_HANDLERS  # migration, snapshot revert

    HANDLERS.update(MIGRATE_HANDLERS)
    from engine.jobs.transfer_handlers import TRANSFER_HANDLERS  # volume upload

    HANDLERS.update(TRANSFER_HANDLERS)
    from engine.jobs.vm_snapshot_handlers import VM_SNAPSHOT_HANDLERS  # VM snapshots, restore

    HANDLERS.update(VM_SNAPSHOT_HANDLERS)
    from engine.jobs.nic_handlers import NIC_HANDLERS  # NIC attach/detach

    HANDLERS.update(NIC_HANDLERS)
    from engine.jobs.snapshot_copy_handlers import SNAPSHOT_COPY_HANDLERS  # snapshot copy

    HANDLERS.update(SNAPSHOT_COPY_HANDLERS)


_merge_volume_handlers()
