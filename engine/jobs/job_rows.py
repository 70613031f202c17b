"""Row steps every job handler module shares: the ownership fence, row locks
and instance state changes (each runs inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.models import Instance, Job
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
