"""Enqueueing jobs: a row in the caller's transaction, picked up after commit."""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.errors import ResourceKind
from engine.principal import Principal
from engine.states import JobStatus

if TYPE_CHECKING:  # imported where used: the runtime imports this module, a server's first call needs no job
    from engine.models import Job


class JobKind(str, Enum):
    SPAWN = "instance.spawn"
    START = "instance.start"
    STOP = "instance.stop"
    REBOOT = "instance.reboot"
    DESTROY = "instance.destroy"
    EXPUNGE = "instance.expunge"
    ATTACH_VOLUME = "volume.attach"
    DETACH_VOLUME = "volume.detach"
    RESIZE_VOLUME = "volume.resize"
    SNAPSHOT_VOLUME = "volume.snapshot"
    CREATE_VOLUME = "volume.create"
    DELETE_VOLUME = "volume.delete"
    DELETE_SNAPSHOT = "snapshot.delete"
    DOWNLOAD_TEMPLATE = "template.download"
    CREATE_TEMPLATE = "template.create"
    COPY_TEMPLATE = "template.copy"
    DELETE_TEMPLATE = "template.delete"
    MIGRATE = "instance.migrate"
    REVERT_SNAPSHOT = "snapshot.revert"
    UPLOAD_VOLUME = "volume.upload"
    CREATE_VM_SNAPSHOT = "vm_snapshot.create"
    REVERT_VM_SNAPSHOT = "vm_snapshot.revert"
    DELETE_VM_SNAPSHOT = "vm_snapshot.delete"
    RESTORE_INSTANCE = "instance.restore"
    COPY_SNAPSHOT = "snapshot.copy"
    ATTACH_NIC = "nic.attach"
    DETACH_NIC = "nic.detach"
    GENERIC = "generic"  # completed at once; for async commands with no long work


ENQUEUED = "nimbostack.jobs_enqueued"


def enqueued(session: Session) -> bool:
    """Whether :func:`enqueue` added a job in ``session`` (since its last
    check, which clears the mark)."""
    return bool(session.info.pop(ENQUEUED, False))


def job_values(
    kind: JobKind,
    principal: Principal,
    *,
    resource_kind: ResourceKind | None,
    resource_uuid: str | None,
    payload: dict[str, Any] | None = None,
    command: str = "",
    queue_key: str | None = None,
) -> dict[str, Any]:
    """The values (by attribute name) of a new queued job's row; the columns
    not named take their defaults."""
    return {
        "kind": kind.value,
        "status": JobStatus.QUEUED,
        "account_uuid": principal.account_uuid or None,
        "user_uuid": principal.user_uuid or None,
        "resource_kind": resource_kind,
        "resource_uuid": resource_uuid,
        "payload": json.dumps(payload or {}),
        "command": command,
        "queue_key": queue_key,
    }


def enqueue(
    session: Session,
    kind: JobKind,
    principal: Principal,
    *,
    resource_kind: ResourceKind | None,
    resource_uuid: str | None,
    payload: dict[str, Any] | None = None,
    command: str = "",
    queue_key: str | None = None,
) -> Job:
    """Add a queued job to the session (it runs once the transaction commits;
    ``session.info[ENQUEUED]`` tells the committer so, see :func:`enqueued`).

    The job runs after every earlier unfinished job of its queue: the jobs of
    ``queue_key`` when given, else those of ``resource_uuid``."""
    from engine.models import Job

    session.info[ENQUEUED] = True
    job = Job(**job_values(kind, principal, resource_kind=resource_kind,
                           resource_uuid=resource_uuid, payload=payload, command=command,
                           queue_key=queue_key))
    session.add(job)
    return job


def enqueue_values(session: Session, values: dict[str, Any]) -> Any:
    """:func:`enqueue` for a job given as :func:`job_values`, which the caller
    writes itself in this transaction without the ORM (with
    :class:`~engine.services.launch_rows.NewRows`; the values are completed
    with their defaults, in place). Marks the session as :func:`enqueue` does
    and returns the job's read-only record (a ``Job`` record)."""
    from engine.models import Job
    from engine.services.launch_rows import new_row

    session.info[ENQUEUED] = True
    return new_row(Job, values)


def completed(
    session: Session,
    principal: Principal,
    *,
    resource_kind: ResourceKind | None,
    resource_uuid: str | None,
    result: dict[str, Any] | None = None,
    command: str = "",
) -> Job:
    """Record a job that finished within the request (async API, synchronous work)."""
    from engine.db import utcnow
    from engine.models import Job

    now = utcnow()
    job = Job(
        kind=JobKind.GENERIC.value,
        status=JobStatus.SUCCEEDED,
        account_uuid=principal.account_uuid or None,
        user_uuid=principal.user_uuid or None,
        resource_kind=resource_kind,
        resource_uuid=resource_uuid,
        result=json.dumps(result or {}),
        command=command,
        started_at=now,
        completed_at=now,
    )
    session.add(job)
    return job
