"""Host planner: filter candidate hosts in SQL, weigh them, reserve capacity.

Reservation is a conditional UPDATE (``allocated + request <= total x factor``)
in the caller's transaction, so two concurrent placements can never push a
host past its capacity: the database re-checks the condition under the row
lock, and a loser simply moves on to the next candidate.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    case,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from engine.errors import InsufficientCapacity, ResourceKind
from engine.models import Cluster, Host, Instance
from engine.settings import Settings
from engine.statements import Prepared
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


# The placement statements are built once per shape, with bound parameters
# (named p_*), on the tables rather than the mapped classes: a placement then
# pays neither for building the expression nor for the ORM's statement setup.
_hosts: Table = Host.__table__  # type: ignore[assignment]
_clusters: Table = Cluster.__table__  # type: ignore[assignment]
_instances: Table = Instance.__table__  # type: ignore[assignment]


def _capacity_fits(cpu_factor: Any, mem_factor: Any) -> list[Any]:
    """The host still has room for ``p_cpu_total`` MHz and ``p_memory`` bytes."""
    h = _hosts.c
    return [h.cpu_allocated_mhz + bindparam("p_cpu_total", type_=Integer)
            <= cast(h.cpu_cores * h.cpu_mhz, Float) * cpu_factor,
            h.memory_allocated_bytes + bindparam("p_memory", type_=BigInteger)
            <= cast(h.memory_bytes, Float) * mem_factor]


def _factor(column: Any, param: str) -> Any:
    return func.coalesce(column, bindparam(param, type_=Float))


@functools.lru_cache(maxsize=128)
def _candidates(algorithm: str, hypervisor: bool, pod: bool, cluster: bool, host: bool,
                avoid: bool) -> Prepared:
    """:func:`_candidates_stmt`, prepared (see :mod:`engine.statements`)."""
    return Prepared(_candidates_stmt(algorithm, hypervisor, pod, cluster, host, avoid))


def _candidates_stmt(algorithm: str, hypervisor: bool, pod: bool, cluster: bool, host: bool,
                     avoid: bool) -> Select[Any]:
    h, c = _hosts.c, _clusters.c
    stmt = (
        select(h.uuid)
        .join(_clusters, c.uuid == h.cluster_uuid)
        .where(
            h.zone_uuid == bindparam("p_zone"),
            h.state == HostState.UP.value,
            h.resource_state == ResourceState.ENABLED.value,
            h.removed_at.is_(None),
            c.allocation_state == AllocationState.ENABLED.value,
            h.cpu_mhz >= bindparam("p_cpu_mhz", type_=Integer),
            h.cpu_cores >= bindparam("p_cpus", type_=Integer),
            *_capacity_fits(_factor(c.cpu_overcommit, "p_cpu_factor"),
                            _factor(c.memory_overcommit, "p_mem_factor")),
        )
    )
    for wanted, column, param in ((hypervisor, h.hypervisor, "p_hypervisor"),
                                  (pod, h.pod_uuid, "p_pod"),
                                  (cluster, h.cluster_uuid, "p_cluster"),
                                  (host, h.uuid, "p_host")):
        if wanted:
            stmt = stmt.where(column == bindparam(param))
    if avoid:
        stmt = stmt.where(h.uuid.not_in(bindparam("p_avoid", expanding=True)))
    if algorithm == "firstfitleastconsumed":
        return stmt.order_by((h.memory_allocated_bytes * 1.0 / h.memory_bytes), h.created_at)
    if algorithm == "userdispersing":
        i = _instances.c
        mine = (
            select(func.count())
            .where(
                i.host_uuid == h.uuid,
                i.account_uuid == bindparam("p_account"),
                i.state.in_((VmState.RUNNING.value, VmState.STARTING.value,
                             VmState.STOPPING.value)),
            )
            .correlate(_hosts)
            .scalar_subquery()
        )
        return stmt.order_by(mine, h.memory_allocated_bytes, h.created_at)
    return stmt.order_by(h.created_at, h.uuid)


def _reserve_stmt() -> Update:
    h, c = _hosts.c, _clusters.c
    cluster_cpu = select(_factor(c.cpu_overcommit, "p_cpu_factor")).where(
        c.uuid == h.cluster_uuid).scalar_subquery()
    cluster_mem = select(_factor(c.memory_overcommit, "p_mem_factor")).where(
        c.uuid == h.cluster_uuid).scalar_subquery()
    return (
        update(_hosts)
        .where(h.uuid == bindparam("p_host"), h.state == HostState.UP.value,
               h.resource_state == ResourceState.ENABLED.value, h.removed_at.is_(None),
               *_capacity_fits(cluster_cpu, cluster_mem))
        .values(cpu_allocated_mhz=h.cpu_allocated_mhz + bindparam("p_cpu_total", type_=Integer),
                memory_allocated_bytes=h.memory_allocated_bytes
                + bindparam("p_memory", type_=BigInteger))
    )


_RESERVE = Prepared(_reserve_stmt())


class HostPlanner:
    """Chooses and reserves a host for a VM."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings

    def _factor_params(self) -> dict[str, float]:
        """The global overcommit factors (a cluster's own factor takes precedence)."""
        return {"p_cpu_factor": self._settings.float("cpu.overprovisioning.factor"),
                "p_mem_factor": self._settings.float("mem.overprovisioning.factor")}

    def candidates(self, req: PlacementRequest) -> list[str]:
        """Host uuids that pass every filter, best first."""
        algorithm = self._settings.str("vm.allocation.algorithm")
        stmt = _candidates(algorithm, bool(req.hypervisor), bool(req.pod_uuid),
                           bool(req.cluster_uuid), bool(req.host_uuid), bool(req.avoid))
        params = {**self._factor_params(), "p_zone": req.zone_uuid, "p_cpu_mhz": req.cpu_mhz,
                  "p_cpus": req.cpus, "p_cpu_total": req.cpu_total_mhz,
                  "p_memory": req.memory_bytes, "p_hypervisor": req.hypervisor,
                  "p_pod": req.pod_uuid, "p_cluster": req.cluster_uuid, "p_host": req.host_uuid,
                  "p_avoid": sorted(req.avoid), "p_account": req.account_uuid}
        hosts = [str(h) for h in stmt.execute(self._session.connection(), params).scalars()]
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
        result = _RESERVE.execute(self._session.connection(), {
            **self._factor_params(), "p_host": host_uuid, "p_cpu_total": cpu_mhz_total,
            "p_memory": memory_bytes})
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
