"""Applying the reconciler's corrections, each in a short transaction.

Every function re-reads and locks what it changes and re-checks the condition
the correction was decided on: the instance is still in the expected state,
no job is queued or running for it, its state did not change after the host
was asked (``observed_at``), and this server still holds the host's lease.
Rows are locked in the engine's usual order (instance, then host), so a
correction never deadlocks with a job settling the same VM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.db import utcnow
from engine.errors import ResourceKind
from engine.hypervisors.base import PowerState
from engine.jobs.handlers import _release_capacity  # the stop path's own steps
from engine.jobs.job_rows import set_vm_state
from engine.jobs.queue import JobKind, enqueue
from engine.models import Host, Instance
from engine.principal import SYSTEM
from engine.reconciler.compare import (
    NO_DOMAIN,
    POWER_OFF,
    SetPower,
    StopOutOfBand,
    Stray,
    host_state_after,
)
from engine.reconciler.ownership import HostLeases
from engine.reconciler.records import busy_instances, instances_named, locked_instance
from engine.services.events import record_event
from engine.states import HostState, VmState
from engine.uow import unit_of_work

HOST_EVENTS: dict[HostState, tuple[str, str]] = {
    HostState.UP: ("HOST.UP", "INFO"),
    HostState.DISCONNECTED: ("HOST.DISCONNECTED", "WARN"),
    HostState.DOWN: ("HOST.DOWN", "ERROR"),
}
STRAY_EVENT = "HOST.DOMAIN.STRAY"
POWER_EVENT = "VM.POWERSTATE"


@dataclass(frozen=True)
class StrayVerdict:
    """What the database says about a stray: may it be destroyed, and the
    handles (domain refs) worth trying, best first."""

    destroyable: bool
    candidate_refs: tuple[str, ...]
    known_as: str  # the instance it is named after, if any ("" when none)


def _destroy_after_guest_shutdown(s: Session, inst: Instance) -> None:
    """Stopped -> Expunging with a destroy job, as for a destroy asked by the system."""
    set_vm_state(inst, VmState.EXPUNGING, "Destroyed: the guest shut itself down")
    enqueue(s, JobKind.DESTROY, SYSTEM, resource_kind=ResourceKind.INSTANCE,
            resource_uuid=inst.uuid, payload={"expunge": True}, command="guestShutdown")


class Corrections:
    """The write side of the reconciler for one owner."""

    def __init__(self, sessions: sessionmaker[Session], leases: HostLeases) -> None:
        self._sessions = sessions
        self._leases = leases

    def _tx(self):  # type: ignore[no-untyped-def]
        return unit_of_work(self._sessions)

    # ------------------------------------------------------------------ hosts
    def settle_host(self, host_uuid: str, *, reachable: bool,
                    down_after: float) -> HostState | None:
        """Record a check's outcome on the host row; returns its state after, or
        None when the host is gone or held by another server."""
        with self._tx() as s:
            host = s.scalar(select(Host).where(Host.uuid == host_uuid).with_for_update())
            if host is None or host.owner_server_uuid != self._leases.owner:
                return None
            now = utcnow()
            if reachable:
                host.last_seen_at = now
            new = host_state_after(host.state, reachable=reachable,
                                   silent_since=host.last_seen_at or host.created_at,
                                   now=now, down_after=down_after)
            if new != host.state:
                event_type, level = HOST_EVENTS.get(new, (f"HOST.{new.value.upper()}", "INFO"))
                record_event(s, None, event_type,
                             f"Host {host.name} is {new.value} (was {host.state.value})",
                             ResourceKind.HOST, host.uuid, level=level)
                host.state = new
            return host.state

    # -------------------------------------------------------------- instances
    def _fresh(self, s: Session, inst: Instance | None, state: VmState,
               observed_at: datetime) -> bool:
        return (inst is not None and inst.state == state and inst.removed_at is None
                and (inst.state_changed_at is None or inst.state_changed_at <= observed_at)
                and not busy_instances(s, [inst.uuid]))

    def stop_out_of_band(self, host_uuid: str, host_name: str, c: StopOutOfBand,
                         observed_at: datetime) -> bool:
        """Running -> Stopped, giving back what the stop path gives back (the
        host's CPU and memory; volumes, NICs and addresses stay). True if done.

        A guest that shut itself down (its domain is stopped, not missing)
        whose ``guest_shutdown_action`` is ``destroy`` is then destroyed and
        expunged, as destroying a stopped instance does (Expunging and a
        destroy job)."""
        with self._tx() as s:
            inst = locked_instance(s, c.instance_uuid)
            if (not self._fresh(s, inst, VmState.RUNNING, observed_at) or inst is None
                    or inst.host_uuid != host_uuid or not self._leases.holds(s, host_uuid)):
                return False
            gone = "missing" if c.reported == PowerState.MISSING else "stopped"
            _release_capacity(s, inst)
            set_vm_state(inst, VmState.STOPPED, f"Stopped out of band (domain {gone} on {host_name})")
            inst.power_state, inst.power_state_at = POWER_OFF, utcnow()
            record_event(s, None, "VM.STOP",
                         f"{inst.name} stopped out of band: its domain is {gone} on host "
                         f"{host_name}", ResourceKind.INSTANCE, inst.uuid, level="WARN",
                         account_uuid=inst.account_uuid)
            if c.reported != PowerState.MISSING and inst.guest_shutdown_action == "destroy":
                _destroy_after_guest_shutdown(s, inst)
            return True

    def record_power(self, host_uuid: str, host_name: str, corrections: Sequence[SetPower],
                     observed_at: datetime, *, refresh: bool = True) -> list[str]:
        """Record reported power states; returns the instances whose power changed.

        Only changes are written: ``power_state_at`` says when a host's report
        last changed an instance's power state (the host row's ``last_seen_at``
        is the heartbeat), so a pass over an unchanged fleet writes nothing.
        ``refresh`` False means nothing was reported (the power is unknown):
        ``power_state_at`` is then left as it was."""
        changed = []
        for c in corrections:
            if c.changed and self._set_power(host_uuid, host_name, c, observed_at, refresh):
                changed.append(c.instance_uuid)
        return changed

    def _set_power(self, host_uuid: str, host_name: str, c: SetPower,
                   observed_at: datetime, reported: bool) -> bool:
        with self._tx() as s:
            inst = locked_instance(s, c.instance_uuid)
            if (inst is None or not self._fresh(s, inst, c.expected_state, observed_at)
                    or not self._leases.holds(s, host_uuid)):
                return False
            before, inst.power_state = inst.power_state, c.power_state
            if reported:
                inst.power_state_at = utcnow()
            if c.contradicts or not reported:
                why = ("reported by" if reported else "unknown: no answer from")
                record_event(s, None, POWER_EVENT,
                             f"{inst.name} ({inst.state.value}) is {c.power_state} (was "
                             f"{before}), {why} host {host_name}", ResourceKind.INSTANCE,
                             inst.uuid, level="WARN", account_uuid=inst.account_uuid)
            return True

    # ------------------------------------------------------------------ strays
    def judge_stray(self, host_uuid: str, host_name: str, stray: Stray, *, destroy: bool,
                    report: bool) -> StrayVerdict:
        """Look the stray's name up; record an event when ``report``. It may be
        destroyed only when ``destroy`` is set and no live instance (nor an
        active job) claims the name."""
        with self._tx() as s:
            if not self._leases.holds(s, host_uuid):
                return StrayVerdict(False, (), "")
            insts = instances_named(s, stray.name)
            live = [i for i in insts if i.removed_at is None and i.state not in NO_DOMAIN]
            busy = busy_instances(s, [i.uuid for i in insts])
            refs = [i.domain_ref for i in insts if i.domain_ref] + [i.uuid for i in insts]
            refs.append(stray.name)
            known = live[0].name if live else (insts[0].name if insts else "")
            if report:
                whose = f" (named after instance {known})" if known else ""
                detail = "" if destroy else "; left in place (reconcile.destroy.strays is off)"
                record_event(s, None, STRAY_EVENT,
                             f"Domain {stray.name}{whose} on host {host_name} is "
                             f"{stray.reported.value} but matches no instance of the host"
                             f"{detail}", ResourceKind.HOST, host_uuid, level="WARN")
            return StrayVerdict(destroy and not live and not busy,
                                tuple(dict.fromkeys(refs)), known)

    def stray_destroyed(self, host_uuid: str, host_name: str, name: str) -> None:
        with self._tx() as s:
            record_event(s, None, STRAY_EVENT,
                         f"Destroyed stray domain {name} on host {host_name}",
                         ResourceKind.HOST, host_uuid, level="WARN")
