"""Host planner: filter candidate hosts in SQL, weigh them, reserve capacity.

Reservation is a conditional UPDATE (``allocated + request <= total x factor``)
in the caller's transaction, so two concurrent placements can never push a
host past its capacity: the database re-checks the condition under the row
lock, and a loser simply moves on to the next candidate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import Float, case, cast, func, select, update
from sqlalchemy.orm import Session

from engine.errors import InsufficientCapacity, ResourceKind
from engine.models import Cluster, Host, Instance
from engine.settings import Settings
from engine.states import AllocationState, HostState, ResourceState, VmState

MIB = 1024 * 1024


@dataclass(frozen=True)
class PlacementRequest:
    zone_uuid: str
    cpus: int
    cpu_mhz: int
    memory_mib: int
    account_uuid: str
    hypervisor: str | None = None
    pod_uuid: str | None = None
    cluster_uuid: str | None = None
    host_uuid: str | None = None
    avoid: frozenset[str] = field(default_factory=frozenset)

    @property
    def cpu_total_mhz(self) -> int:
        return self.cpus * self.cpu_mhz

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * MIB


class HostPlanner:
    """Chooses and reserves a host for a VM."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings

    def _factors(self) -> tuple[object, object]:
        cpu = func.coalesce(Cluster.cpu_overcommit, self._settings.float("cpu.overprovisioning.factor"))
        mem = func.coalesce(
            Cluster.memory_overcommit, self._settings.float("mem.overprovisioning.factor")
        )
        return cpu, mem

    def candidates(self, req: PlacementRequest) -> list[str]:
        """Host uuids that pass every filter, best first."""
        cpu_factor, mem_factor = self._factors()
        cpu_total = cast(Host.cpu_cores * Host.cpu_mhz, Float) * cpu_factor
        mem_total = cast(Host.memory_bytes, Float) * mem_factor
        stmt = (
            select(Host.uuid)
            .join(Cluster, Cluster.uuid == Host.cluster_uuid)
            .where(
                Host.zone_uuid == req.zone_uuid,
                Host.state == HostState.UP,
                Host.resource_state == ResourceState.ENABLED,
                Host.removed_at.is_(None),
                Cluster.allocation_state == AllocationState.ENABLED,
                Host.cpu_mhz >= req.cpu_mhz,
                Host.cpu_cores >= req.cpus,
                Host.cpu_allocated_mhz + req.cpu_total_mhz <= cpu_total,
                Host.memory_allocated_bytes + req.memory_bytes <= mem_total,
            )
        )
        if req.hypervisor:
            stmt = stmt.where(Host.hypervisor == req.hypervisor)
        if req.pod_uuid:
            stmt = stmt.where(Host.pod_uuid == req.pod_uuid)
        if req.cluster_uuid:
            stmt = stmt.where(Host.cluster_uuid == req.cluster_uuid)
        if req.host_uuid:
            stmt = stmt.where(Host.uuid == req.host_uuid)
        if req.avoid:
            stmt = stmt.where(Host.uuid.not_in(req.avoid))
        algorithm = self._settings.str("vm.allocation.algorithm")
        if algorithm == "firstfitleastconsumed":
            stmt = stmt.order_by((Host.memory_allocated_bytes * 1.0 / Host.memory_bytes), Host.created_at)
        elif algorithm == "userdispersing":
            mine = (
                select(func.count())
                .where(
                    Instance.host_uuid == Host.uuid,
                    Instance.account_uuid == req.account_uuid,
                    Instance.state.in_((VmState.RUNNING, VmState.STARTING, VmState.STOPPING)),
                )
                .correlate(Host)
                .scalar_subquery()
            )
            stmt = stmt.order_by(mine, Host.memory_allocated_bytes, Host.created_at)
        else:
            stmt = stmt.order_by(Host.created_at, Host.uuid)
        hosts = list(self._session.scalars(stmt))
        if algorithm == "random":
            random.shuffle(hosts)
        return hosts

    def reserve(self, req: PlacementRequest) -> str:
        """Reserve capacity on the best host and return its uuid.

        Raises :class:`InsufficientCapacity` when no host can take the VM.
        """
        for host_uuid in self.candidates(req):
            if self.try_reserve(host_uuid, req.cpu_total_mhz, req.memory_bytes):
                return host_uuid
        raise InsufficientCapacity(
            ResourceKind.HOST,
            f"no host in the zone has {req.cpus}x{req.cpu_mhz} MHz and {req.memory_mib} MiB free",
        )

    def try_reserve(self, host_uuid: str, cpu_mhz_total: int, memory_bytes: int) -> bool:
        """Atomically add the reservation if the host is Up, enabled and the VM
        still fits; True on success."""
        cpu_factor, mem_factor = self._factors()
        cluster_cpu = (
            select(cpu_factor).where(Cluster.uuid == Host.cluster_uuid).scalar_subquery()
        )
        cluster_mem = (
            select(mem_factor).where(Cluster.uuid == Host.cluster_uuid).scalar_subquery()
        )
        result = self._session.execute(
            update(Host)
            .where(
                Host.uuid == host_uuid,
                Host.state == HostState.UP,
                Host.resource_state == ResourceState.ENABLED,
                Host.removed_at.is_(None),
                Host.cpu_allocated_mhz + cpu_mhz_total
                <= cast(Host.cpu_cores * Host.cpu_mhz, Float) * cluster_cpu,
                Host.memory_allocated_bytes + memory_bytes
                <= cast(Host.memory_bytes, Float) * cluster_mem,
            )
            .values(
                cpu_allocated_mhz=Host.cpu_allocated_mhz + cpu_mhz_total,
                memory_allocated_bytes=Host.memory_allocated_bytes + memory_bytes,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def release(self, host_uuid: str, cpu_mhz_total: int, memory_bytes: int) -> None:
        """Give back a reservation (never below zero)."""
        self._session.execute(
            update(Host)
            .where(Host.uuid == host_uuid)
            .values(
                cpu_allocated_mhz=case(
                    (Host.cpu_allocated_mhz > cpu_mhz_total, Host.cpu_allocated_mhz - cpu_mhz_total),
                    else_=0,
                ),
                memory_allocated_bytes=case(
                    (
                        Host.memory_allocated_bytes > memory_bytes,
                        Host.memory_allocated_bytes - memory_bytes,
                    ),
                    else_=0,
                ),
            )
            .execution_options(synchronize_session=False)
        )
