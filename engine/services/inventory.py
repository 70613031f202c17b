"""Infrastructure administration: zones, pods, clusters, hosts, storage, IP ranges, networks.

:class:`InventoryService` is composed from one mixin per family; the request and
detail types live next to their methods and are re-exported here, so callers
import everything from this module.
"""

from __future__ import annotations

from engine.services.inventory_base import (
    HYPERVISOR_DISPLAY,
    LIVE_VM_STATES,
    InventoryBase,
    display_hypervisor,
)
from engine.services.inventory_compute import (
    ClusterDetail,
    ComputeInventory,
    PodDetail,
    ZoneChanges,
    ZoneRequest,
)
from engine.services.inventory_hosts import HostDetail, HostInventory, HostQuery, HostRequest
from engine.services.inventory_network import (
    CapacityKind,
    CapacityRow,
    NetworkDetail,
    NetworkInventory,
    NetworkRequest,
    VlanRangeDetail,
    VlanRangeRequest,
)
from engine.services.inventory_storage import (
    DEFAULT_POOL_BYTES,
    POOL_TYPES,
    PoolDetail,
    PoolRequest,
    StorageInventory,
    StoreDetail,
)

__all__ = [
    "DEFAULT_POOL_BYTES",
    "HYPERVISOR_DISPLAY",
    "LIVE_VM_STATES",
    "POOL_TYPES",
    "CapacityKind",
    "CapacityRow",
    "ClusterDetail",
    "ComputeInventory",
    "HostDetail",
    "HostInventory",
    "HostQuery",
    "HostRequest",
    "InventoryBase",
    "InventoryService",
    "NetworkDetail",
    "NetworkInventory",
    "NetworkRequest",
    "PodDetail",
    "PoolDetail",
    "PoolRequest",
    "StorageInventory",
    "StoreDetail",
    "VlanRangeDetail",
    "VlanRangeRequest",
    "ZoneChanges",
    "ZoneRequest",
    "display_hypervisor",
]


class InventoryService(HostInventory, StorageInventory, NetworkInventory):
    """Everything an operator (and the bootstrap) builds a data center with.

    ``InventoryService(session, simulator_dir=...)``; ``simulator_dir`` is where
    the simulator driver keeps the state of the hosts it fakes.
    """
