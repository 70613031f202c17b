"""Reading what the engine believes about a host's instances (for the reconciler)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.models import Instance, Job, Volume
from engine.reconciler.compare import InstanceRecord
from engine.states import JobStatus, VmState

ACTIVE_JOB = (JobStatus.QUEUED, JobStatus.RUNNING)


def busy_instances(session: Session, instance_uuids: Collection[str]) -> set[str]:
    """The instances among ``instance_uuids`` that a queued or running job
    targets, directly or through one of their volumes."""
    if not instance_uuids:
        return set()
    owner_of = {uuid: uuid for uuid in instance_uuids}
    for vol_uuid, inst_uuid in session.execute(select(Volume.uuid, Volume.instance_uuid).where(
            Volume.instance_uuid.in_(instance_uuids), Volume.removed_at.is_(None))):
        if inst_uuid is not None:
            owner_of[vol_uuid] = inst_uuid
    targets = session.scalars(select(Job.resource_uuid).where(
        Job.status.in_(ACTIVE_JOB), Job.resource_uuid.in_(list(owner_of))).distinct())
    return {owner_of[t] for t in targets if t in owner_of}


def host_records(session: Session, host_uuid: str) -> list[InstanceRecord]:
    """Every live instance placed on the host, or stopped after last running there."""
    rows = list(session.scalars(select(Instance).where(
        Instance.removed_at.is_(None),
        Instance.state != VmState.EXPUNGED,
        or_(Instance.host_uuid == host_uuid,
            and_(Instance.host_uuid.is_(None), Instance.last_host_uuid == host_uuid)))
        .order_by(Instance.uuid)))
    busy = busy_instances(session, [i.uuid for i in rows])
    return [InstanceRecord(i.uuid, i.instance_name, i.state, i.power_state, i.uuid in busy)
            for i in rows]


def locked_instance(session: Session, uuid: str) -> Instance | None:
    return session.scalar(select(Instance).where(Instance.uuid == uuid).with_for_update())


def instances_named(session: Session, name: str) -> list[Instance]:
    """Instances (live or not) whose hypervisor domain is called ``name``."""
    return list(session.scalars(select(Instance).where(Instance.instance_name == name)))
