"""Row steps every job handler module shares: the ownership fence, row locks
and instance state changes (each runs inside the caller's transaction).

The hottest path, a spawn, reads and changes its instance without the ORM
(:func:`instance_record`, :func:`mark_running`): a record and one compiled
UPDATE cost a fraction of loading an object and flushing its changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.models import Instance, Job
from engine.querying import record_type
from engine.statements import Prepared, loaded, select_rows
from engine.states import VmState, check_vm_transition

_JOB_OWNER = Prepared(select(Job.owner).where(Job.uuid == bindparam("p_job")).with_for_update())
_INSTANCE = Prepared(select_rows(Instance).where(Instance.uuid == bindparam("p_uuid"))
                     .with_for_update())


def still_owned(session: Session, job: Job) -> bool:
    """Fence: lock the job row and check this runner still owns it. A runner
    whose lease was taken over must not settle or compensate anything."""
    owner = _JOB_OWNER.execute(session, {"p_job": job.uuid}).scalar()
    return owner is not None and owner == job.owner


def locked_instance(session: Session, uuid: str | None) -> Instance | None:
    """The instance with this uuid, its row locked for update, as the session's
    object (the one it holds already, else loaded); None if no uuid or no row."""
    if uuid is None:
        return None
    row = _INSTANCE.execute(session, {"p_uuid": uuid}).first()
    return loaded(session, Instance, row) if row is not None else None


_INSTANCE_RECORD = record_type(Instance)
assert _INSTANCE_RECORD._fields == tuple(c.key for c in select_rows(Instance).selected_columns)
_instances: Table = Instance.__table__  # type: ignore[assignment]
_RUNNING = Prepared(update(_instances).where(_instances.c.uuid == bindparam("p_uuid")).values(
    state=VmState.RUNNING, power_state="PowerOn", domain_ref=bindparam("p_ref"),
    updated_at=bindparam("p_now"), state_changed_at=bindparam("p_now")))


def instance_record(session: Session, uuid: str | None) -> Any:
    """The instance with this uuid, its row locked for update, as a read-only
    record (an ``Instance`` record: whatever the session holds is not
    consulted, the caller has not changed the row through the ORM); None if
    no uuid or no row."""
    if uuid is None:
        return None
    row = _INSTANCE.execute(session, {"p_uuid": uuid}).first()
    return _INSTANCE_RECORD(row) if row is not None else None


def mark_running(session: Session, inst: Any, domain_ref: str) -> Any:
    """Move the instance (its record, read locked) to Running and powered on
    with its domain ``domain_ref`` (a legal transition, else the states
    module raises), stamping the change as :func:`set_vm_state` does; return
    its record as it is now."""
    check_vm_transition(inst.state, VmState.RUNNING, inst.uuid)
    now = utcnow()
    _RUNNING.execute(session, {"p_uuid": inst.uuid, "p_ref": domain_ref, "p_now": now})
    changed = {"state": VmState.RUNNING, "power_state": "PowerOn", "domain_ref": domain_ref,
               "updated_at": now, "state_changed_at": now}
    return _INSTANCE_RECORD(changed.get(f, v) for f, v in zip(
        _INSTANCE_RECORD._fields, inst, strict=True))


def locked_row(session: Session, model: type, uuid: str | None) -> Any:
    """The row of ``model`` with this uuid, locked for update (None if no uuid or no row)."""
    if uuid is None:
        return None
    return session.scalar(select(model).where(model.uuid == uuid)  # type: ignore[attr-defined]
                          .with_for_update())


def set_vm_state(inst: Instance, state: VmState, reason: str = "") -> None:
    """Move the instance to ``state`` (a legal transition, else the states module
    raises), stamping the change and keeping ``reason`` (up to 255 chars) if given."""
    check_vm_transition(inst.state, state, inst.uuid)
    inst.state = state
    inst.state_changed_at = inst.updated_at = utcnow()
    if reason:
        inst.state_reason = reason[:255]
