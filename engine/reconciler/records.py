"""Reading what the engine believes about a host's instances (for the reconciler)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine.models import Instance, Job, Volume
from engine.reconciler.compare import InstanceRecord
from engine.states import JobStatus, VmState

ACTIVE_JOB = (JobStatus.QUEUED, JobStatus.RUNNING)


def busy_instances(session: Session, instance_uuids: Collection[str]) -> set[str]:
    """The instances among ``instance_uuids`` that a queued or running job
    targets, directly or through one of their volumes.

    Reads the active jobs (few, by the status index) with the volumes they
    target, rather than every volume of the instances."""
    if not instance_uuids:
        return set()
    ids = set(instance_uuids)
    busy: set[str] = set()
    for target, owner in session.execute(
            select(Job.resource_uuid, Volume.instance_uuid)
            .outerjoin(Volume, and_(Volume.uuid == Job.resource_uuid,
                                    Volume.removed_at.is_(None)))
            .where(Job.status.in_(ACTIVE_JOB), Job.resource_uuid.is_not(None))):
        if target in ids:
            busy.add(target)
        elif owner in ids:
            busy.add(owner)
    return busy


def host_records(session: Session, host_uuid: str) -> list[InstanceRecord]:
    """Every live instance placed on the host, or stopped after last running there.

    Reads only the columns a record has, with two index-friendly selects (the
    host's placed instances; the unplaced ones it ran last)."""
    columns = (Instance.uuid, Instance.instance_name, Instance.state, Instance.power_state)
    live = (Instance.removed_at.is_(None), Instance.state != VmState.EXPUNGED)
    rows = list(session.execute(select(*columns).where(
        Instance.host_uuid == host_uuid, *live)))
    rows += session.execute(select(*columns).where(
        Instance.host_uuid.is_(None), Instance.last_host_uuid == host_uuid, *live))
    rows.sort(key=lambda r: r[0])
    busy = busy_instances(session, [r[0] for r in rows])
    return [InstanceRecord(uuid, name, state, power, uuid in busy)
            for uuid, name, state, power in rows]


def locked_instance(session: Session, uuid: str) -> Instance | None:
    return session.scalar(select(Instance).where(Instance.uuid == uuid).with_for_update())


def instances_named(session: Session, name: str) -> list[Instance]:
    """Instances (live or not) whose hypervisor domain is called ``name``."""
    return list(session.scalars(select(Instance).where(Instance.instance_name == name)))
