"""Primary storage allocator: pick a pool with room, reserve the bytes.

A pool is usable up to ``capacity x overprovisioning factor x threshold``
(CloudStack's ``storage.overprovisioning.factor`` and
``pool.storage.allocated.capacity.disablethreshold``). Reservation is a
conditional UPDATE, safe under concurrent requests.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from engine.errors import InsufficientCapacity, ResourceKind
from engine.models import Host, StoragePool
from engine.settings import Settings
from engine.statements import Prepared
from engine.states import PoolState, StorageScope

# The reservation statements are built once per shape, with bound parameters
# (named p_*), on the tables rather than the mapped classes (see hosts.py).
_pools: Table = StoragePool.__table__  # type: ignore[assignment]
_hosts: Table = Host.__table__  # type: ignore[assignment]


def _limit() -> Any:
    """What a pool may hold: capacity x overprovisioning factor x threshold."""
    p = _pools.c
    factor = func.coalesce(p.overprovision_factor, bindparam("p_factor", type_=Float))
    return cast(p.capacity_bytes, Float) * factor * bindparam("p_threshold", type_=Float)


def _fits() -> Any:
    return _pools.c.allocated_bytes + bindparam("p_size", type_=BigInteger) <= _limit()


def _serves(hypervisor: Any) -> Any:
    """Pools for any hypervisor, or for ``hypervisor``."""
    p = _pools.c
    return or_(p.hypervisor.is_(None), p.hypervisor == "", p.hypervisor == hypervisor)


@functools.lru_cache(maxsize=64)
def _candidates(by_host: bool, by_hypervisor: bool, tags: int) -> Prepared:
    """:func:`_candidates_stmt`, prepared (see :mod:`engine.statements`)."""
    return Prepared(_candidates_stmt(by_host, by_hypervisor, tags))


def _candidates_stmt(by_host: bool, by_hypervisor: bool, tags: int) -> Select[Any]:
    """Pools with room, least used first: reachable from the host ``p_host``,
    else serving ``p_hypervisor`` (when asked), carrying the tags ``p_tag<n>``."""
    p, h = _pools.c, _hosts.c
    stmt = select(p.uuid).where(p.zone_uuid == bindparam("p_zone"),
                                p.state == PoolState.UP.value, p.removed_at.is_(None), _fits())
    if by_host:
        cluster = select(h.cluster_uuid).where(h.uuid == bindparam("p_host")).scalar_subquery()
        hypervisor = select(h.hypervisor).where(h.uuid == bindparam("p_host")).scalar_subquery()
        stmt = stmt.where(or_(and_(p.scope == StorageScope.ZONE.value, _serves(hypervisor)),
                              p.cluster_uuid == cluster))
    elif by_hypervisor:
        stmt = stmt.where(_serves(bindparam("p_hypervisor")))
    for n in range(tags):
        # The concatenation operator renders as || on SQLite (which has no
        # concat() before 3.44) and as concat() on MySQL.
        padded = literal(",").concat(p.tags).concat(",")
        stmt = stmt.where(padded.like(bindparam(f"p_tag{n}"), escape="\\"))
    return stmt.order_by(p.allocated_bytes * 1.0 / p.capacity_bytes)


_RESERVE = Prepared(update(_pools).where(_pools.c.uuid == bindparam("p_pool"), _fits())
                    .values(allocated_bytes=_pools.c.allocated_bytes
                            + bindparam("p_size", type_=BigInteger)))


class StorageAllocator:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings

    def _limit_params(self) -> dict[str, float]:
        return {"p_factor": self._settings.float("storage.overprovisioning.factor"),
                "p_threshold": self._settings.float(
                    "pool.storage.allocated.capacity.disablethreshold")}

    def reserve(
        self, zone_uuid: str, size_bytes: int, *, host_uuid: str | None = None, tags: str = "",
        hypervisor: str | None = None,
    ) -> str:
        """Reserve ``size_bytes`` on a pool reachable from ``host_uuid`` (or any
        pool of the zone that serves ``hypervisor``, when given) carrying every tag
        in ``tags``; return the pool uuid."""
        wanted = [t for t in (t.strip() for t in tags.split(",")) if t]
        stmt = _candidates(host_uuid is not None, bool(hypervisor), len(wanted))
        params: dict[str, Any] = {**self._limit_params(), "p_zone": zone_uuid,
                                  "p_size": size_bytes, "p_host": host_uuid,
                                  "p_hypervisor": hypervisor}
        for n, tag in enumerate(wanted):
            literal_tag = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params[f"p_tag{n}"] = f"%,{literal_tag},%"
        for pool_uuid in stmt.execute(self._session.connection(), params).scalars():
            if self.try_reserve(pool_uuid, size_bytes):
                return str(pool_uuid)
        raise InsufficientCapacity(ResourceKind.STORAGE_POOL, f"no pool has {size_bytes} bytes free")

    def try_reserve(self, pool_uuid: str, size_bytes: int) -> bool:
        result = _RESERVE.execute(self._session.connection(), {
            **self._limit_params(), "p_pool": pool_uuid, "p_size": size_bytes})
        return result.rowcount == 1

    def release(self, pool_uuid: str, size_bytes: int) -> None:
        self._session.execute(
            update(StoragePool)
            .where(StoragePool.uuid == pool_uuid)
            .values(
                allocated_bytes=case(
                    (StoragePool.allocated_bytes > size_bytes,
                     StoragePool.allocated_bytes - size_bytes),
                    else_=0,
                )
            )
            .execution_options(synchronize_session=False)
        )
