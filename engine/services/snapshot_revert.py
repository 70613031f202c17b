"""Whether volume snapshots can be reverted to, from the hypervisor drivers'
declared capabilities (no host is contacted).

A volume's hypervisor is its attached instance's, else its storage pool's
(the pool's own type, else its cluster's); a volume on a pool that names
neither (zone-wide storage) reverts on any host of its zone, so every
hypervisor type there must be able to. An unknown type, or a driver whose
library is missing, cannot revert.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import DriverError, Unsupported
from engine.hypervisors.base import Capability
from engine.hypervisors.registry import driver_class
from engine.models import Cluster, Host, Instance, StoragePool, Volume


@functools.cache
def can_revert(hypervisor: str) -> bool:
    """Whether the driver of hypervisor type ``hypervisor`` declares REVERT_SNAPSHOT."""
    try:
        return Capability.REVERT_SNAPSHOT in driver_class(hypervisor).capabilities
    except (Unsupported, DriverError):
        return False


def revertable_volumes(session: Session, volume_uuids: Sequence[str]) -> set[str]:
    """The uuids among ``volume_uuids`` whose snapshots can be reverted to (one
    query, plus one for volumes whose hypervisor only their zone tells)."""
    if not volume_uuids:
        return set()
    rows = session.execute(
        select(Volume.uuid, Volume.zone_uuid, Instance.hypervisor, StoragePool.hypervisor,
               Cluster.hypervisor)
        .outerjoin(Instance, Instance.uuid == Volume.instance_uuid)
        .outerjoin(StoragePool, StoragePool.uuid == Volume.pool_uuid)
        .outerjoin(Cluster, Cluster.uuid == StoragePool.cluster_uuid)
        .where(Volume.uuid.in_(set(volume_uuids)))).all()
    out: set[str] = set()
    by_zone: dict[str, list[str]] = {}
    for uuid, zone_uuid, on_instance, on_pool, on_cluster in rows:
        hypervisor = on_instance or on_pool or on_cluster
        if hypervisor:
            if can_revert(hypervisor):
                out.add(uuid)
        else:
            by_zone.setdefault(zone_uuid, []).append(uuid)
    if by_zone:
        types: dict[str, set[str]] = {}
        for zone_uuid, hypervisor in session.execute(
                select(Host.zone_uuid, Host.hypervisor).distinct().where(
                    Host.zone_uuid.in_(by_zone), Host.removed_at.is_(None))):
            types.setdefault(zone_uuid, set()).add(hypervisor)
        for zone_uuid, uuids in by_zone.items():
            found = types.get(zone_uuid)
            if found and all(can_revert(h) for h in found):
                out.update(uuids)
    return out
