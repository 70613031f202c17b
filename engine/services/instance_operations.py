"""Instance and disk operations beyond the lifecycle: scale, migrate, snapshot revert.

Like :mod:`engine.services.instances`, each operation commits its intent in
the caller's transaction (capacity reserved, state transitional, a queued
job) or does all of its work there when the hypervisor has nothing to do.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.allocators.hosts import MIB, HostPlanner, PlacementRequest
from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import (
    IncorrectState,
    InsufficientCapacity,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unsupported,
)
from engine.hypervisors.base import Capability
from engine.jobs.drivers import host_access, reachable_pool_uuids
from engine.jobs.queue import JobKind, completed, enqueue
from engine.models import (
    Host,
    Instance,
    Job,
    ServiceOffering,
    Snapshot,
    StoragePool,
    Template,
    Volume,
)
from engine.principal import Principal
from engine.services.access import may_act, owned_instance
from engine.services.events import record_event
from engine.services.instance_details import InstanceDetail, InstanceReader
from engine.services.resource_limits import Resource, enforce
from engine.services.settings import Settings
from engine.states import (
    HostState,
    PoolState,
    ResourceState,
    SnapshotState,
    VmState,
    VolumeState,
    check_vm_transition,
    require,
)

if TYPE_CHECKING:
    from engine.jobs.drivers import DriverPool

log = logging.getLogger("nimbostack.instance_operations")

_SCALABLE_KEYS = ("isdynamicallyscalable", "dynamically_scalable", "dynamicallyscalable")


@dataclass(frozen=True)
class Resize:
    """What a scale changes: the old and new (cpus, cpu_mhz, memory_mib)."""

    old: tuple[int, int, int]
    new: tuple[int, int, int]

    @property
    def grows_only(self) -> bool:
        """No value lower and at least one higher (live scaling's rule)."""
        return all(n >= o for n, o in zip(self.new, self.old)) and self.new != self.old


class LiveScaleRefused(InvalidParameter):
    """A running instance cannot take this offering (not scalable, or not larger)."""

    def __init__(self, reason: str, resize: Resize | None = None) -> None:
        super().__init__("serviceofferingid", "", reason)
        self.resize = resize


def dynamically_scalable(template: Template | None) -> bool:
    """Whether instances of ``template`` may change size while running: its free-form
    details carry ``isdynamicallyscalable``/``dynamically_scalable`` = true."""
    if template is None or not template.details:
        return False
    try:
        details = json.loads(template.details)
    except ValueError:
        return False
    low = {str(k).lower(): str(v).lower() for k, v in details.items()}
    return any(low.get(k) == "true" for k in _SCALABLE_KEYS)


class InstanceOperations:
    def __init__(self, session: Session, settings: Settings,
                 drivers: DriverPool | None = None) -> None:
        self._s = session
        self._settings = settings
        self._drivers = drivers
        self._planner = HostPlanner(session, settings)
        self._storage = StorageAllocator(session, settings)
        self.reader = InstanceReader(session, settings)

    # ------------------------------------------------------------------ scale
    def scale(self, principal: Principal, uuid: str, offering_uuid: str, *,
              command: str = "") -> tuple[InstanceDetail, Job]:
        """Give the instance the size of ``offering_uuid``; return it and a finished job.

        Stopped: the new size is taken at the next start. Running: only when
        its template is dynamically scalable (else :class:`LiveScaleRefused`)
        and the offering grows it (no value lower, one higher; else
        :class:`LiveScaleRefused` with ``resize``); the difference is reserved
        on its host now (InsufficientCapacity if it does not fit). Other states:
        IncorrectState. NotFound for an unknown or inactive offering.
        """
        inst = self._owned(principal, uuid)
        require(inst.state, frozenset({VmState.RUNNING, VmState.STOPPED}),
                ResourceKind.INSTANCE, inst.uuid)
        offering = self._s.get(ServiceOffering, offering_uuid)
        if offering is None or not offering.active or offering.is_system:
            raise NotFound(ResourceKind.SERVICE_OFFERING, offering_uuid)
        enforce(self._s, inst.account_uuid, {Resource.CPU: offering.cpus - inst.cpus,
                Resource.MEMORY: offering.memory_mib - inst.memory_mib}, self._settings)
        if inst.state == VmState.RUNNING:
            self._grow_running(inst, offering)
        inst.service_offering_uuid = offering.uuid
        inst.cpus, inst.cpu_mhz, inst.memory_mib = offering.cpus, offering.cpu_mhz, offering.memory_mib
        return self._changed(principal, inst, "VM.UPGRADE",
                             f"Scaled {inst.name} to {offering.name}", command)

    def _grow_running(self, inst: Instance, offering: ServiceOffering) -> None:
        template = self._s.get(Template, inst.template_uuid)
        if not dynamically_scalable(template):
            raise LiveScaleRefused("the instance is not dynamically scalable")
        resize = Resize((inst.cpus, inst.cpu_mhz, inst.memory_mib),
                        (offering.cpus, offering.cpu_mhz, offering.memory_mib))
        if not resize.grows_only:
            raise LiveScaleRefused("a running instance can only grow", resize)
        extra_cpu = offering.cpus * offering.cpu_mhz - inst.cpus * inst.cpu_mhz
        extra_mem = (offering.memory_mib - inst.memory_mib) * MIB
        if inst.host_uuid is None or not self._planner.try_reserve(
                inst.host_uuid, max(extra_cpu, 0), max(extra_mem, 0)):
            raise InsufficientCapacity(ResourceKind.HOST,
                                       "the instance's host cannot take the larger size")

    # ---------------------------------------------------------------- migrate
    def migrate(self, principal: Principal, uuid: str, *, host_uuid: str | None = None,
                pool_uuid: str | None = None, command: str = "") -> tuple[InstanceDetail, Job]:
        """Move a running instance to ``host_uuid`` (live, by a job), or the disks
        of a stopped one to ``pool_uuid`` (their reservation, at once).

        Running: the target must be another Up, enabled host of the same
        hypervisor (InvalidParameter otherwise), whose driver migrates
        (Unsupported otherwise); its capacity is reserved now
        (InsufficientCapacity) and the instance is Migrating until the job ends.
        Stopped: every volume's reservation moves to the pool (InsufficientCapacity
        if it does not fit). IncorrectState when the state does not fit the request.
        """
        inst = self._owned(principal, uuid)
        if host_uuid is not None:
            require(inst.state, frozenset({VmState.RUNNING}), ResourceKind.INSTANCE, inst.uuid)
            return self._migrate_live(principal, inst, host_uuid, command)
        if pool_uuid is None:
            raise InvalidParameter("hostid", "", "a host or a storage pool is required")
        require(inst.state, frozenset({VmState.STOPPED}), ResourceKind.INSTANCE, inst.uuid)
        return self._move_volumes(principal, inst, pool_uuid, command)

    def choose_host(self, principal: Principal, uuid: str) -> str:
        """A host the running instance could migrate to (InsufficientCapacity if none)."""
        inst = self._owned(principal, uuid)
        req = PlacementRequest(zone_uuid=inst.zone_uuid, cpus=inst.cpus, cpu_mhz=inst.cpu_mhz,
                               memory_mib=inst.memory_mib, account_uuid=inst.account_uuid,
                               hypervisor=inst.hypervisor,
                               avoid=frozenset({inst.host_uuid or ""}))
        for candidate in self._planner.candidates(req):
            return candidate
        raise InsufficientCapacity(ResourceKind.HOST, "no other host can take the instance")

    def _migrate_live(self, principal: Principal, inst: Instance, host_uuid: str,
                      command: str) -> tuple[InstanceDetail, Job]:
        target = self._s.get(Host, host_uuid)
        if target is None or target.removed_at is not None:
            raise NotFound(ResourceKind.HOST, host_uuid)
        source = self._s.get(Host, inst.host_uuid or "")
        if source is None:
            raise IncorrectState(ResourceKind.INSTANCE, inst.uuid, inst.state)
        if target.uuid == source.uuid:
            raise InvalidParameter("hostid", host_uuid, "the instance is already on that host")
        if target.state != HostState.UP or target.resource_state != ResourceState.ENABLED:
            raise IncorrectState(ResourceKind.HOST, host_uuid, target.state)
        if target.hypervisor != source.hypervisor:
            raise InvalidParameter("hostid", host_uuid, "the hosts run different hypervisors")
        self._require_migrate(source)
        volumes = list(self._s.scalars(select(Volume).where(
            Volume.instance_uuid == inst.uuid, Volume.removed_at.is_(None))))
        reachable = reachable_pool_uuids(self._s, target.uuid)
        if any(v.pool_uuid and v.pool_uuid not in reachable for v in volumes):
            raise InvalidParameter("hostid", host_uuid,
                                   "the host cannot reach the instance's storage")
        if not self._planner.try_reserve(target.uuid, inst.cpus * inst.cpu_mhz,
                                         inst.memory_mib * MIB):
            raise InsufficientCapacity(ResourceKind.HOST, "the target host is full")
        self._set_state(inst, VmState.MIGRATING)
        job = enqueue(self._s, JobKind.MIGRATE, principal, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid=inst.uuid, command=command,
                      payload={"source_host": source.uuid, "target_host": target.uuid})
        self._s.flush()
        return self.reader.get(principal, uuid=inst.uuid), job

    def _require_migrate(self, source: Host) -> None:
        if self._drivers is None:
            return
        driver = self._drivers.get(host_access(self._s, source))
        if not driver.supports(Capability.MIGRATE):
            raise Unsupported("migrate", driver.name)

    def _move_volumes(self, principal: Principal, inst: Instance, pool_uuid: str,
                      command: str) -> tuple[InstanceDetail, Job]:
        pool = self._s.get(StoragePool, pool_uuid)
        if pool is None or pool.removed_at is not None or pool.zone_uuid != inst.zone_uuid:
            raise NotFound(ResourceKind.STORAGE_POOL, pool_uuid)
        if pool.state != PoolState.UP:
            raise IncorrectState(ResourceKind.STORAGE_POOL, pool_uuid, pool.state)
        for v in self._s.scalars(select(Volume).where(
                Volume.instance_uuid == inst.uuid, Volume.removed_at.is_(None))
                .with_for_update()):
            if v.pool_uuid == pool.uuid:
                continue
            if not self._storage.try_reserve(pool.uuid, v.size_bytes):
                raise InsufficientCapacity(ResourceKind.STORAGE_POOL,
                                           f"the pool has no room for {v.size_bytes} bytes")
            if v.pool_uuid:
                self._storage.release(v.pool_uuid, v.size_bytes)
            v.pool_uuid = pool.uuid
        return self._changed(principal, inst, "VM.MIGRATE",
                             f"Moved the disks of {inst.name}", command)

    # --------------------------------------------------------- snapshot revert
    def revert_snapshot(self, principal: Principal, snapshot_uuid: str, *,
                        command: str = "") -> tuple[Snapshot, Job]:
        """Queue putting the snapshot's volume back to it.

        The snapshot must be BackedUp and its volume Ready and either free or
        attached to a stopped instance (IncorrectState naming the snapshot,
        volume or instance otherwise); the volume is busy (Snapshotting) until
        the job ends. NotFound if the snapshot or its volume is gone.
        """
        snap = self._s.scalar(select(Snapshot).where(Snapshot.uuid == snapshot_uuid)
                              .with_for_update())
        if snap is None or snap.removed_at is not None or not may_act(
                self._s, principal, snap.account_uuid):
            raise NotFound(ResourceKind.SNAPSHOT, snapshot_uuid)
        require(snap.state, frozenset({SnapshotState.BACKED_UP}), ResourceKind.SNAPSHOT,
                snap.uuid)
        v = self._s.scalar(select(Volume).where(Volume.uuid == snap.volume_uuid)
                           .with_for_update())
        if v is None or v.removed_at is not None:
            raise NotFound(ResourceKind.VOLUME, snap.volume_uuid)
        require(v.state, frozenset({VolumeState.READY}), ResourceKind.VOLUME, v.uuid)
        if v.instance_uuid:
            inst = self._s.get(Instance, v.instance_uuid)
            if inst is not None:
                require(inst.state, frozenset({VmState.STOPPED}), ResourceKind.INSTANCE,
                        inst.uuid)
        v.state = VolumeState.SNAPSHOTTING
        job = enqueue(self._s, JobKind.REVERT_SNAPSHOT, principal,
                      resource_kind=ResourceKind.SNAPSHOT, resource_uuid=snap.uuid,
                      payload={"volume_uuid": v.uuid}, command=command)
        self._s.flush()
        return snap, job

    # ---------------------------------------------------------------- helpers
    def _owned(self, principal: Principal, uuid: str) -> Instance:
        return owned_instance(self._s, principal, uuid)

    def _changed(self, principal: Principal, inst: Instance, event: str, message: str,
                 command: str) -> tuple[InstanceDetail, Job]:
        """Settle a change made at once: stamp the row, record ``event`` and a
        finished job; return the instance's view and the job."""
        inst.updated_at = utcnow()
        record_event(self._s, principal, event, message, ResourceKind.INSTANCE, inst.uuid)
        job = completed(self._s, principal, resource_kind=ResourceKind.INSTANCE,
                        resource_uuid=inst.uuid, command=command)
        self._s.flush()
        return self.reader.get(principal, uuid=inst.uuid), job

    @staticmethod
    def _set_state(inst: Instance, state: VmState) -> None:
        check_vm_transition(inst.state, state, inst.uuid)
        inst.state = state
        inst.state_changed_at = inst.updated_at = utcnow()
