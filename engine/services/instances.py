"""Instance lifecycle: launch, start, stop, reboot, destroy, recover, expunge.

Each operation commits its intent in the caller's transaction (rows in a
transitional state, capacity reserved, a queued job) and returns at once; the
job runner does the hypervisor work and settles the final state. If the
transaction fails, nothing of the operation remains: reservations are rows
and conditional UPDATEs in that same transaction.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.allocators.hosts import HostPlanner, PlacementRequest
from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import (
    DriverError,
    InvalidParameter,
    NotFound,
    Protected,
    ResourceKind,
)
from engine.hypervisors.base import Capability, DomainRef
from engine.jobs.drivers import host_access
from engine.jobs.queue import JobKind, enqueue
from engine.models import (
    Host,
    Instance,
    InstanceSecurityGroup,
    Job,
    KeyPair,
    SecurityGroup,
    ServiceOffering,
)
from engine.principal import SYSTEM, Principal
from engine.services.access import may_act as _may_act
from engine.services.affinity import member_groups, placement_rules
from engine.services.events import record_event
from engine.services.instance_details import InstanceDetail, InstanceQuery, InstanceReader
from engine.services.instance_launch import Launch, Launcher, LaunchRequest
from engine.services.instance_launch_checks import (
    LaunchChecks,
    check_user_data,
    one_host,
)
from engine.services.settings import Settings
from engine.states import (
    DESTROYABLE,
    EXPUNGEABLE,
    GONE,
    REBOOTABLE,
    RECOVERABLE,
    STARTABLE,
    STOPPABLE,
    VmState,
    check_vm_transition,
    require,
)

if TYPE_CHECKING:
    from engine.jobs.drivers import DriverPool

log = logging.getLogger("nimbostack.instances")

# States in which an instance's attributes may be changed at all.
_MODIFIABLE = frozenset({VmState.RUNNING, VmState.STOPPED, VmState.STARTING, VmState.STOPPING,
                         VmState.MIGRATING})
_STOPPED = frozenset({VmState.STOPPED})


@dataclass(frozen=True)
class InstanceChange:
    """Attribute changes for :meth:`InstanceService.modify`; None leaves one as it is.

    ``offering_uuid`` (a new size) and ``user_data_b64`` ("" clears it) need a
    stopped instance; the new size is reserved by the next start, nothing before.
    ``security_group_uuids`` replaces the instance's groups (at least one).
    ``display_name`` ("" resets it to the name) and ``group`` ("" clears it) are labels.
    """

    offering_uuid: str | None = None
    user_data_b64: str | None = None
    disable_api_termination: bool | None = None
    security_group_uuids: tuple[str, ...] | None = None
    display_name: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class ConsoleOutput:
    """The tail of the guest's serial console, read at ``taken_at``; ``text`` is
    None when there is none (never started, gone, or the driver cannot tell)."""

    text: bytes | None
    taken_at: datetime


class InstanceService(LaunchChecks):
    def __init__(self, session: Session, settings: Settings,
                 drivers: DriverPool | None = None) -> None:
        self._s = session
        self._settings = settings
        self._drivers = drivers
        self.reader = InstanceReader(session, settings)
        self._planner = HostPlanner(session, settings)
        self._storage = StorageAllocator(session, settings)

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, query: InstanceQuery):  # type: ignore[no-untyped-def]
        return self.reader.list(principal, query)

    def get(self, principal: Principal, *, uuid: str | None = None, sid: str | None = None,
            include_expunged: bool = True) -> InstanceDetail:
        return self.reader.get(principal, uuid=uuid, sid=sid, include_expunged=include_expunged)

    # ----------------------------------------------------------------- launch
    def launch(self, principal: Principal, req: LaunchRequest, *, template: Any = None,
               offering: Any = None) -> Launch:
        """Create ``min_count``..``max_count`` instances and queue their spawn
        jobs: see :meth:`engine.services.instance_launch.Launcher.launch`
        (``template``/``offering``: their rows if the caller read them)."""
        return Launcher(self._s, self._settings, self.reader, self._planner,
                        self._storage).launch(principal, req, template=template,
                                              offering=offering)

    # -------------------------------------------------------------- lifecycle
    def start(self, principal: Principal, uuid: str, *, command: str = "",
              host_uuid: str | None = None) -> tuple[Instance, Job | None]:
        """Stopped -> Starting (capacity reserved, preferring the last host)."""
        inst = self._owned(principal, uuid)
        if inst.state in (VmState.RUNNING, VmState.STARTING):
            return inst, None
        require(inst.state, STARTABLE, ResourceKind.INSTANCE, inst.uuid)
        rules = placement_rules(self._s, inst.uuid, member_groups(self._s, inst.uuid))
        req = PlacementRequest(zone_uuid=inst.zone_uuid, cpus=inst.cpus, cpu_mhz=inst.cpu_mhz,
                               memory_mib=inst.memory_mib, account_uuid=inst.account_uuid,
                               hypervisor=inst.hypervisor, avoid=rules.avoid,
                               host_uuid=one_host(host_uuid, rules.host_uuid))
        host = None
        last = inst.last_host_uuid
        if (req.host_uuid in (None, last) and last and last not in rules.avoid
                and self._planner.try_reserve(last, req.cpu_total_mhz, req.memory_bytes)):
            host = last
        inst.host_uuid = host or self._planner.reserve(req)
        inst.last_host_uuid = inst.host_uuid
        self._set_state(inst, VmState.STARTING)
        job = enqueue(self._s, JobKind.START, principal, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid=inst.uuid, command=command)
        return inst, job

    def stop(self, principal: Principal, uuid: str, *, force: bool = False,
             command: str = "") -> tuple[Instance, Job | None]:
        """Running -> Stopping; the job stops the domain and releases capacity."""
        inst = self._owned(principal, uuid)
        if inst.state in (VmState.STOPPED, VmState.STOPPING):
            return inst, None
        require(inst.state, STOPPABLE, ResourceKind.INSTANCE, inst.uuid)
        self._set_state(inst, VmState.STOPPING)
        job = enqueue(self._s, JobKind.STOP, principal, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid=inst.uuid, payload={"force": force}, command=command)
        return inst, job

    def reboot(self, principal: Principal, uuid: str, *, command: str = "") -> tuple[Instance, Job]:
        inst = self._owned(principal, uuid)
        require(inst.state, REBOOTABLE, ResourceKind.INSTANCE, inst.uuid)
        job = enqueue(self._s, JobKind.REBOOT, principal, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid=inst.uuid, command=command)
        return inst, job

    def destroy(self, principal: Principal, uuid: str, *, expunge: bool,
                command: str = "", honour_protection: bool = False) -> tuple[Instance, Job | None]:
        """Tear the domain down; with ``expunge`` also free disks, NICs and IPs.

        Without ``expunge`` the instance becomes Destroyed and stays
        recoverable until the expunge delay passes.
        """
        inst = self._owned(principal, uuid, allow_gone=True)
        if inst.state in GONE or (inst.state == VmState.DESTROYED and not expunge):
            return inst, None
        if honour_protection and inst.disable_api_termination:
            raise Protected(ResourceKind.INSTANCE, uuid, "terminate")
        if inst.state == VmState.DESTROYED:
            require(inst.state, EXPUNGEABLE, ResourceKind.INSTANCE, inst.uuid)
        else:
            require(inst.state, DESTROYABLE, ResourceKind.INSTANCE, inst.uuid)
        self._set_state(inst, VmState.EXPUNGING if expunge else VmState.DESTROYED)
        job = enqueue(self._s, JobKind.DESTROY, principal, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid=inst.uuid, payload={"expunge": expunge}, command=command)
        return inst, job

    def recover(self, principal: Principal, uuid: str) -> Instance:
        """Destroyed -> Stopped (synchronous, as in CloudStack)."""
        inst = self._owned(principal, uuid)
        require(inst.state, RECOVERABLE, ResourceKind.INSTANCE, inst.uuid)
        self._set_state(inst, VmState.STOPPED)
        return inst

    def expunge(self, principal: Principal, uuid: str, *, command: str = "") -> tuple[Instance, Job | None]:
        inst = self._owned(principal, uuid)
        require(inst.state, EXPUNGEABLE | {VmState.EXPUNGING}, ResourceKind.INSTANCE, inst.uuid)
        return self.destroy(principal, uuid, expunge=True, command=command)

    def expunge_due(self, limit: int = 50) -> int:
        """Queue the expunge of Destroyed VMs older than ``expunge.delay``; return how many."""
        horizon = utcnow() - timedelta(seconds=self._settings.int("expunge.delay"))
        due = list(self._s.scalars(
            select(Instance).where(Instance.state == VmState.DESTROYED,
                                   Instance.state_changed_at < horizon)
            .limit(limit).with_for_update(skip_locked=True)))
        for inst in due:
            self._set_state(inst, VmState.EXPUNGING)
            enqueue(self._s, JobKind.DESTROY, SYSTEM, resource_kind=ResourceKind.INSTANCE,
                    resource_uuid=inst.uuid, payload={"expunge": True}, command="expunge")
        return len(due)

    # ------------------------------------------------------------- attributes
    def modify(self, principal: Principal, uuid: str, change: InstanceChange, *,
               command: str = "") -> InstanceDetail:
        """Apply ``change`` at once (no job) and return the instance.

        Raises IncorrectState when the instance is destroyed or gone, or when the
        size or user data change while it is not stopped; NotFound for an unknown
        offering or a security group of another account; InvalidParameter for bad
        user data or an empty group list. Nothing changes unless everything can.
        """
        inst = self._owned(principal, uuid)
        require(inst.state, _MODIFIABLE, ResourceKind.INSTANCE, inst.uuid)
        if change.offering_uuid is not None or change.user_data_b64 is not None:
            require(inst.state, _STOPPED, ResourceKind.INSTANCE, inst.uuid)
        groups: builtins.list[SecurityGroup] | None = None
        if change.security_group_uuids is not None:
            groups = self._groups_of(inst, change.security_group_uuids)
        if change.offering_uuid is not None and change.offering_uuid != inst.service_offering_uuid:
            offering = self._s.get(ServiceOffering, change.offering_uuid)
            if offering is None or not offering.active or offering.is_system:
                raise NotFound(ResourceKind.SERVICE_OFFERING, change.offering_uuid)
            inst.service_offering_uuid = offering.uuid
            inst.cpus, inst.cpu_mhz = offering.cpus, offering.cpu_mhz
            inst.memory_mib = offering.memory_mib
            record_event(self._s, principal, "VM.UPGRADE",
                         f"Changed {inst.name} to {offering.name}", ResourceKind.INSTANCE,
                         inst.uuid)
        if change.user_data_b64 is not None:
            inst.user_data = check_user_data(change.user_data_b64)
        if change.disable_api_termination is not None:
            inst.disable_api_termination = change.disable_api_termination
        if change.display_name is not None:
            inst.display_name = change.display_name or inst.name
        if change.group is not None:
            inst.group_name = change.group
        if groups is not None:
            self._s.execute(delete(InstanceSecurityGroup).where(
                InstanceSecurityGroup.instance_uuid == inst.uuid))
            for g in groups:
                self._s.add(InstanceSecurityGroup(instance_uuid=inst.uuid, group_uuid=g.uuid))
        inst.updated_at = utcnow()
        self._s.flush()
        return self.reader.get(principal, uuid=inst.uuid)

    def set_key_pair(self, principal: Principal, uuid: str, key_name: str) -> InstanceDetail:
        """Give the stopped instance the key pair ``key_name`` of its owner's account.

        Raises IncorrectState unless the instance is stopped; NotFound (kind
        KEY_PAIR, ident ``key_name``) when the owner has no such key pair. The
        guest receives the key at its next start (through its metadata).
        """
        inst = self._owned(principal, uuid)
        require(inst.state, _STOPPED, ResourceKind.INSTANCE, inst.uuid)
        kp = self._s.scalar(select(KeyPair).where(KeyPair.account_uuid == inst.account_uuid,
                                                  KeyPair.name == key_name))
        if kp is None:
            raise NotFound(ResourceKind.KEY_PAIR, key_name)
        inst.key_pair_name = kp.name
        inst.updated_at = utcnow()
        record_event(self._s, principal, "VM.RESETSSHKEY", f"Set key pair of {inst.name}",
                     ResourceKind.INSTANCE, inst.uuid)
        self._s.flush()
        return self.reader.get(principal, uuid=inst.uuid)

    def console_output(self, principal: Principal, *, uuid: str | None = None,
                       sid: str | None = None) -> ConsoleOutput:
        """What the guest last wrote to its serial console, read from its host now.

        Raises NotFound if the principal may not see the instance (by ``uuid`` or
        ``sid``). No driver pool (a service built without one), a driver without the capability, a domain that
        is not defined, or a driver failure (logged) give ``text=None``; this
        never changes any state.
        """
        inst = self.reader.get(principal, uuid=uuid, sid=sid).instance
        now = utcnow()
        drivers = self._drivers
        host = self._s.get(Host, inst.host_uuid or inst.last_host_uuid or "")
        if drivers is None or host is None or not inst.domain_ref or inst.state in GONE:
            return ConsoleOutput(None, now)
        access = host_access(self._s, host)
        try:
            driver = drivers.get(access)
            if not driver.supports(Capability.CONSOLE_OUTPUT):
                return ConsoleOutput(None, now)
            text = driver.console_output(DomainRef(inst.domain_ref))
        except DriverError as exc:
            log.warning("console output of %s failed: %s", inst.uuid, exc.message)
            return ConsoleOutput(None, now)
        return ConsoleOutput(text, now)

    # ---------------------------------------------------------------- helpers
    def _set_state(self, inst: Instance, state: VmState) -> None:
        check_vm_transition(inst.state, state, inst.uuid)
        inst.state = state
        inst.state_changed_at = inst.updated_at = utcnow()

    def _owned(self, principal: Principal, uuid: str, *, allow_gone: bool = False) -> Instance:
        """The instance row, locked, if the principal may act on it."""
        inst = self._s.scalar(select(Instance).where(Instance.uuid == uuid).with_for_update())
        if inst is None or (inst.state == VmState.EXPUNGED and not allow_gone) or not _may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, uuid)
        return inst

    def _groups_of(self, inst: Instance,
                   uuids: tuple[str, ...]) -> builtins.list[SecurityGroup]:
        """The groups ``uuids`` (deduplicated), all of which must be the instance owner's."""
        wanted = list(dict.fromkeys(uuids))
        if not wanted:
            raise InvalidParameter("security groups", "", "at least one group is required")
        groups = {g.uuid: g for g in self._s.scalars(
            select(SecurityGroup).where(SecurityGroup.uuid.in_(wanted)))}
        for u in wanted:
            g = groups.get(u)
            if g is None or g.account_uuid != inst.account_uuid:
                raise NotFound(ResourceKind.SECURITY_GROUP, u)
        return [groups[u] for u in wanted]
