"""The snapshot copy job: copy a stored snapshot's data into a new snapshot.

A copy is a snapshot of the same disk (``Snapshot.volume_uuid`` is the
source's volume, which may be long deleted): the driver copies the data the
hypervisor keeps for the source snapshot, so the copy equals the source as
it was taken, whatever happened to the volume since. The copy goes Creating
-> BackedUp, or Error when the source is gone or the driver cannot copy; a
failed copy holds nothing (snapshots reserve no pool capacity) and whatever
the driver made of it is deleted again.

Like the volume jobs, it reads in one transaction, calls the driver outside
any, and settles in another; the driver call is idempotent, so running the
job twice is harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind, Unavailable, Unsupported
from engine.hypervisors.base import Capability
from engine.jobs.job_rows import locked_row
from engine.jobs.queue import JobKind
from engine.jobs.volume_handlers import _zone_host
from engine.models import Job, Snapshot, Volume
from engine.services.events import record_event
from engine.states import SnapshotState

if TYPE_CHECKING:
    from engine.jobs.drivers import HostAccess
    from engine.jobs.handlers import JobContext

log = logging.getLogger("nimbostack.jobs")

Handler = Callable[["JobContext", Job], dict[str, Any]]
Failure = Callable[["JobContext", Job, str], None]


@dataclass(frozen=True)
class _Copy:
    disk_sid: str
    source_sid: str
    copy_sid: str
    pool_ref: str | None
    access: HostAccess | None


def _source_uuid(job: Job) -> str:
    return str(json.loads(job.payload or "{}")["source_snapshot_uuid"])


def _plan(ctx: JobContext, job: Job, *, for_failure: bool = False) -> _Copy | None:
    """What to copy where; None when the copy is no longer Creating."""
    with ctx.tx() as s:
        copy = s.get(Snapshot, job.resource_uuid)
        if copy is None or (copy.state != SnapshotState.CREATING and not for_failure):
            return None
        source = s.get(Snapshot, _source_uuid(job))
        volume = s.get(Volume, copy.volume_uuid)
        if volume is None:
            raise NotFound(ResourceKind.VOLUME, copy.volume_uuid)
        if source is None or (not for_failure and (
                source.removed_at is not None or source.state != SnapshotState.BACKED_UP)):
            raise NotFound(ResourceKind.SNAPSHOT, _source_uuid(job))
        return _Copy(volume.sid, source.sid, copy.sid, volume.pool_uuid,
                     _zone_host(s, volume.zone_uuid, volume.pool_uuid))


def run_copy(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Copy the source snapshot's data on a host reaching its pool; Creating -> BackedUp."""
    plan = _plan(ctx, job)
    if plan is None:
        return {"skipped": True}
    if plan.access is None:
        raise Unavailable("a host of the snapshot's zone")
    driver = ctx.drivers.get(plan.access)
    if not driver.supports(Capability.COPY_DISK_SNAPSHOT):
        raise Unsupported("copy_disk_snapshot", driver.name)
    driver.copy_disk_snapshot(plan.disk_sid, plan.source_sid, plan.copy_sid,
                              pool_ref=plan.pool_ref)
    with ctx.tx() as s:
        copy = locked_row(s, Snapshot, job.resource_uuid)
        if copy is not None and copy.state == SnapshotState.CREATING:
            copy.state = SnapshotState.BACKED_UP
            record_event(s, None, "SNAPSHOT.COPY", f"Copied snapshot {copy.name}",
                         ResourceKind.SNAPSHOT, copy.uuid, account_uuid=copy.account_uuid)
    return {"snapshot_uuid": job.resource_uuid, "source_snapshot_uuid": _source_uuid(job)}


def fail_copy(ctx: JobContext, job: Job, reason: str) -> None:
    """The copy goes to Error; any data the driver made for it is deleted."""
    with ctx.tx() as s:
        copy = locked_row(s, Snapshot, job.resource_uuid)
        if copy is None:
            return
        if copy.state == SnapshotState.CREATING:
            copy.state = SnapshotState.ERROR
        record_event(s, None, "SNAPSHOT.COPY", f"Failed to copy the snapshot: {reason}"[:255],
                     ResourceKind.SNAPSHOT, copy.uuid, level="ERROR",
                     account_uuid=copy.account_uuid)
    try:
        plan = _plan(ctx, job, for_failure=True)
        if plan is not None and plan.access is not None:
            driver = ctx.drivers.get(plan.access)
            if driver.supports(Capability.DISK_SNAPSHOT):
                driver.delete_disk_snapshot(plan.disk_sid, plan.copy_sid, pool_ref=plan.pool_ref)
    except Exception:
        log.info("cleaning up the failed copy %s did not work", job.resource_uuid, exc_info=True)


SNAPSHOT_COPY_HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.COPY_SNAPSHOT.value: (run_copy, fail_copy),
}
