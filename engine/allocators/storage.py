"""Primary storage allocator: pick a pool with room, reserve the bytes.

A pool is usable up to ``capacity x overprovisioning factor x threshold``
(CloudStack's ``storage.overprovisioning.factor`` and
``pool.storage.allocated.capacity.disablethreshold``). Reservation is a
conditional UPDATE, safe under concurrent requests.
"""

from __future__ import annotations

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select, update
from sqlalchemy.orm import Session

from engine.errors import InsufficientCapacity, ResourceKind
from engine.models import Host, StoragePool
from engine.settings import Settings
from engine.states import PoolState, StorageScope


class StorageAllocator:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings

    def _limit(self) -> object:
        factor = func.coalesce(
            StoragePool.overprovision_factor,
            self._settings.float("storage.overprovisioning.factor"),
        )
        threshold = self._settings.float("pool.storage.allocated.capacity.disablethreshold")
        return cast(StoragePool.capacity_bytes, Float) * factor * threshold

    def reserve(
        self, zone_uuid: str, size_bytes: int, *, host_uuid: str | None = None, tags: str = "",
        hypervisor: str | None = None,
    ) -> str:
        """Reserve ``size_bytes`` on a pool reachable from ``host_uuid`` (or any
        pool of the zone that serves ``hypervisor``, when given) carrying every tag
        in ``tags``; return the pool uuid."""
        stmt = select(StoragePool.uuid).where(
            StoragePool.zone_uuid == zone_uuid,
            StoragePool.state == PoolState.UP,
            StoragePool.removed_at.is_(None),
            StoragePool.allocated_bytes + size_bytes <= self._limit(),
        )
        if host_uuid is not None:
            cluster = select(Host.cluster_uuid).where(Host.uuid == host_uuid).scalar_subquery()
            hypervisor = select(Host.hypervisor).where(Host.uuid == host_uuid).scalar_subquery()
            stmt = stmt.where(
                or_(
                    and_(
                        StoragePool.scope == StorageScope.ZONE,
                        or_(StoragePool.hypervisor.is_(None), StoragePool.hypervisor == "",
                            StoragePool.hypervisor == hypervisor),
                    ),
                    StoragePool.cluster_uuid == cluster,
                )
            )
        elif hypervisor:
            stmt = stmt.where(or_(StoragePool.hypervisor.is_(None), StoragePool.hypervisor == "",
                                  StoragePool.hypervisor == hypervisor))
        for tag in filter(None, (t.strip() for t in tags.split(","))):
            # The concatenation operator renders as || on SQLite (which has no
            # concat() before 3.44) and as concat() on MySQL.
            padded = literal(",").concat(StoragePool.tags).concat(",")
            literal_tag = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(padded.like(f"%,{literal_tag},%", escape="\\"))
        stmt = stmt.order_by(StoragePool.allocated_bytes * 1.0 / StoragePool.capacity_bytes)
        for pool_uuid in self._session.scalars(stmt):
            if self.try_reserve(pool_uuid, size_bytes):
                return pool_uuid
        raise InsufficientCapacity(ResourceKind.STORAGE_POOL, f"no pool has {size_bytes} bytes free")

    def try_reserve(self, pool_uuid: str, size_bytes: int) -> bool:
        result = self._session.execute(
            update(StoragePool)
            .where(
                StoragePool.uuid == pool_uuid,
                StoragePool.allocated_bytes + size_bytes <= self._limit(),
            )
            .values(allocated_bytes=StoragePool.allocated_bytes + size_bytes)
            .execution_options(synchronize_session=False)
        )
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
