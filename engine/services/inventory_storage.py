"""Inventory: primary storage pools and image stores."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select

from engine.db import utcnow
from engine.errors import InvalidParameter, ResourceKind
from engine.models import (
    Cluster,
    ImageStore,
    Instance,
    Pod,
    StoragePool,
    Template,
    TemplateZone,
    Volume,
    Zone,
)
from engine.services.inventory_base import LIVE_VM_STATES, InventoryBase, _filters
from engine.settings import Settings
from engine.states import PoolState, StorageScope, TemplateState, VolumeState, require

DEFAULT_POOL_BYTES = 1024**4  # a pool added without a size (the simulator cannot measure one)
# Primary storage URL scheme -> pool type.
POOL_TYPES = {"nfs": "NetworkFilesystem", "rbd": "RBD", "iscsi": "IscsiLUN",
              "sharedmountpoint": "SharedMountPoint", "file": "Filesystem",
              "presetup": "PreSetup", "gluster": "Gluster"}


@dataclass(frozen=True)
class PoolRequest:
    """Primary storage: cluster-wide with ``cluster_uuid``, else zone-wide."""

    zone_uuid: str
    name: str
    url: str
    capacity_bytes: int | None = None
    pod_uuid: str | None = None
    cluster_uuid: str | None = None
    tags: str = ""


@dataclass(frozen=True)
class PoolDetail:
    pool: StoragePool
    zone: Zone
    pod: Pod | None
    cluster: Cluster | None
    factor: float


@dataclass(frozen=True)
class StoreDetail:
    store: ImageStore
    zone: Zone | None


class StorageInventory(InventoryBase):
    """Primary storage pools and image (secondary) stores."""

    def add_storage_pool(self, zone: Zone, name: str, url: str, capacity_bytes: int, *,
                         cluster: Cluster | None = None, tags: str = "",
                         hypervisor: str | None = None) -> StoragePool:
        """Record a primary storage pool: cluster-wide when ``cluster`` is given,
        else zone-wide (for ``hypervisor`` only when that is given)."""
        pool = StoragePool(
            zone_uuid=zone.uuid, pod_uuid=cluster.pod_uuid if cluster else None,
            cluster_uuid=cluster.uuid if cluster else None,
            scope=StorageScope.CLUSTER if cluster else StorageScope.ZONE, name=name, url=url,
            hypervisor=cluster.hypervisor if cluster else hypervisor,
            capacity_bytes=capacity_bytes,
            tags=tags,
        )
        self._s.add(pool)
        self._s.flush()
        return pool

    def add_image_store(self, zone: Zone | None, name: str, url: str,
                        capacity_bytes: int = 0) -> ImageStore:
        store = ImageStore(zone_uuid=zone.uuid if zone else None, name=name, url=url,
                           protocol=url.split(":", 1)[0] if ":" in url else "nfs",
                           capacity_bytes=capacity_bytes)
        self._s.add(store)
        self._s.flush()
        return store

    # ---------------------------------------------------------- primary storage
    def register_storage_pool(self, req: PoolRequest) -> PoolDetail:
        """Primary storage; the URL's scheme gives its type (``nfs://host/path``)."""
        zone = self._live(Zone, req.zone_uuid, ResourceKind.ZONE)
        scheme, _, rest = req.url.partition("://")
        if scheme.lower() not in POOL_TYPES or not rest:
            raise InvalidParameter("url", req.url, "expected e.g. nfs://server/path")
        cluster = None
        if req.cluster_uuid:
            cluster = self._live(Cluster, req.cluster_uuid, ResourceKind.CLUSTER)
            if cluster.zone_uuid != zone.uuid or req.pod_uuid not in (None, cluster.pod_uuid):
                raise InvalidParameter("clusterid", req.cluster_uuid,
                                       "the cluster is not in that zone and pod")
        size = DEFAULT_POOL_BYTES if req.capacity_bytes is None else req.capacity_bytes
        if size <= 0:
            raise InvalidParameter("capacitybytes", size, "must be positive")
        pool = self.add_storage_pool(zone, req.name, req.url, size, cluster=cluster,
                                     tags=req.tags)
        pool.pool_type = POOL_TYPES[scheme.lower()]
        return self.storage_pools(uuid=pool.uuid)[0]

    def storage_pools(self, *, uuid: str | None = None, zone_uuid: str | None = None,
                      pod_uuid: str | None = None, cluster_uuid: str | None = None,
                      name: str | None = None, scope: StorageScope | None = None,
                      keyword: str | None = None) -> list[PoolDetail]:
        factor = Settings(self._s).float("storage.overprovisioning.factor")
        stmt = (select(StoragePool, Zone, Pod, Cluster)
                .join(Zone, Zone.uuid == StoragePool.zone_uuid)
                .outerjoin(Pod, Pod.uuid == StoragePool.pod_uuid)
                .outerjoin(Cluster, Cluster.uuid == StoragePool.cluster_uuid)
                .where(StoragePool.removed_at.is_(None))
                .order_by(StoragePool.created_at, StoragePool.uuid))
        stmt = _filters(stmt, (StoragePool.uuid, uuid), (StoragePool.zone_uuid, zone_uuid),
                        (StoragePool.pod_uuid, pod_uuid),
                        (StoragePool.cluster_uuid, cluster_uuid), (StoragePool.name, name),
                        (StoragePool.scope, scope))
        if keyword:
            stmt = stmt.where(StoragePool.name.contains(keyword, autoescape=True))
        return [PoolDetail(s, z, p, c, s.overprovision_factor or factor)
                for s, z, p, c in self._s.execute(stmt).all()]

    def set_pool_overprovisioning(self, uuid: str, factor: float) -> PoolDetail:
        pool = self._live(StoragePool, uuid, ResourceKind.STORAGE_POOL)
        if not factor > 0:
            raise InvalidParameter("storage overprovisioning", factor, "must be positive")
        pool.overprovision_factor = factor
        self._s.flush()
        return self.storage_pools(uuid=uuid)[0]

    def update_storage_pool(self, uuid: str, *, name: str | None = None,
                            tags: str | None = None, capacity_bytes: int | None = None,
                            enabled: bool | None = None) -> PoolDetail:
        """Change a pool; None leaves a field as it is. ``enabled`` moves it between
        Up and Disabled (IncorrectState while in maintenance); ``capacity_bytes``
        must be positive and not below what is allocated (InvalidParameter)."""
        pool = self._live(StoragePool, uuid, ResourceKind.STORAGE_POOL)
        if capacity_bytes is not None:
            if capacity_bytes <= 0 or capacity_bytes < pool.allocated_bytes:
                raise InvalidParameter("capacitybytes", capacity_bytes,
                                       f"must be positive and at least the "
                                       f"{pool.allocated_bytes} bytes allocated")
            pool.capacity_bytes = capacity_bytes
        if enabled is not None:
            require(pool.state, frozenset({PoolState.UP, PoolState.DISABLED}),
                    ResourceKind.STORAGE_POOL, uuid)
            pool.state = PoolState.UP if enabled else PoolState.DISABLED
        if name:
            pool.name = name
        if tags is not None:
            pool.tags = ",".join(t.strip() for t in tags.split(",") if t.strip())
        self._s.flush()
        return self.storage_pools(uuid=uuid)[0]

    def start_pool_maintenance(self, uuid: str) -> PoolDetail:
        """Put a pool in maintenance: the allocator stops placing volumes on it.
        Refused (InvalidParameter) while running VMs use volumes on it: moving
        them away is not implemented. Idempotent."""
        pool = self._live(StoragePool, uuid, ResourceKind.STORAGE_POOL)
        if pool.state != PoolState.MAINTENANCE:
            require(pool.state, frozenset({PoolState.UP, PoolState.DISABLED}),
                    ResourceKind.STORAGE_POOL, uuid)
            running = self._count(Volume, Volume.pool_uuid == uuid,
                                  Volume.removed_at.is_(None),
                                  Volume.instance_uuid.in_(select(Instance.uuid).where(
                                      Instance.state.in_(LIVE_VM_STATES))))
            if running:
                raise InvalidParameter("id", uuid, f"{running} volumes on the pool belong to "
                                       "running virtual machines; stop them first")
            pool.state = PoolState.MAINTENANCE
            self._s.flush()
        return self.storage_pools(uuid=uuid)[0]

    def end_pool_maintenance(self, uuid: str) -> PoolDetail:
        """Bring a pool in maintenance back Up (IncorrectState otherwise)."""
        pool = self._live(StoragePool, uuid, ResourceKind.STORAGE_POOL)
        require(pool.state, frozenset({PoolState.MAINTENANCE}), ResourceKind.STORAGE_POOL, uuid)
        pool.state = PoolState.UP
        self._s.flush()
        return self.storage_pools(uuid=uuid)[0]

    def delete_storage_pool(self, uuid: str) -> None:
        pool = self._live(StoragePool, uuid, ResourceKind.STORAGE_POOL)
        self._refuse_if_used(ResourceKind.STORAGE_POOL, pool.name, {"volumes": self._count(
            Volume, Volume.pool_uuid == uuid, Volume.removed_at.is_(None),
            Volume.state != VolumeState.EXPUNGED)})
        pool.removed_at = utcnow()

    # ---------------------------------------------------------- image stores
    def register_image_store(self, zone_uuid: str | None, name: str, url: str) -> StoreDetail:
        """Secondary storage. The first store of a zone makes the public templates
        available there (ready at once, as the simulator needs no copy)."""
        zone = self._live(Zone, zone_uuid, ResourceKind.ZONE) if zone_uuid else None
        if "://" not in url:
            raise InvalidParameter("url", url, "expected e.g. nfs://server/path")
        store = self.add_image_store(zone, name or url, url)
        if zone is not None and not self._count(TemplateZone,
                                                TemplateZone.zone_uuid == zone.uuid):
            public = self._s.scalars(select(Template).where(
                Template.is_public.is_(True), Template.removed_at.is_(None),
                exists().where(TemplateZone.template_uuid == Template.uuid,
                               TemplateZone.state == TemplateState.READY)))
            for t in public:
                self._s.add(TemplateZone(template_uuid=t.uuid, zone_uuid=zone.uuid,
                                         image_store_uuid=store.uuid, state=TemplateState.READY,
                                         download_percent=100,
                                         install_path=f"template/tmpl/{t.sid}"))
            self._s.flush()
        return StoreDetail(store, zone)

    def image_stores(self, *, uuid: str | None = None, zone_uuid: str | None = None,
                     name: str | None = None, protocol: str | None = None,
                     provider: str | None = None, keyword: str | None = None
                     ) -> list[StoreDetail]:
        stmt = (select(ImageStore, Zone).outerjoin(Zone, Zone.uuid == ImageStore.zone_uuid)
                .where(ImageStore.removed_at.is_(None))
                .order_by(ImageStore.created_at, ImageStore.uuid))
        stmt = _filters(stmt, (ImageStore.uuid, uuid), (ImageStore.zone_uuid, zone_uuid),
                        (ImageStore.name, name), (ImageStore.protocol, protocol),
                        (ImageStore.provider, provider))
        if keyword:
            stmt = stmt.where(ImageStore.name.contains(keyword, autoescape=True))
        return [StoreDetail(s, z) for s, z in self._s.execute(stmt).all()]

    def delete_image_store(self, uuid: str) -> None:
        store = self._live(ImageStore, uuid, ResourceKind.IMAGE_STORE)
        self._refuse_if_used(ResourceKind.IMAGE_STORE, store.name, {"templates": self._count(
            TemplateZone, TemplateZone.image_store_uuid == uuid)})
        store.removed_at = utcnow()
