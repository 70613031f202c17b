"""Moving volume content: upload a volume from a URL, and migrate a volume to
another primary storage pool.

Upload: :meth:`VolumeTransferService.upload` makes a data volume in state
Creating with a :class:`~engine.models.VolumeFile` row (Downloading), and a job
(``engine/jobs/transfer_handlers.py``) fetches the file into the zone's image
store. When the file is in, the volume's size is known: capacity is reserved
on a pool of the zone and the volume becomes Allocated (its file Uploaded), so
it attaches like any other data volume (the attach job makes its disk).

Migrate: a volume moves between pools only while nothing uses its disk (it is
detached, or its instance is Stopped) and never live. The reservation moves
from the old pool to the new one in the request. A volume whose disk does not
exist yet needs nothing more; one whose disk exists moves only when every host
reaching the two pools is a simulator (which keeps disks independently of
pools); anything else is refused as Unsupported, since no driver operation
copies a disk between pools yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import (
    InsufficientCapacity,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
    Unsupported,
)
from engine.ids import new_uuid
from engine.jobs.drivers import hosts_reaching, reachable_pool_uuids
from engine.jobs.image_files import check_url, parse_checksum
from engine.jobs.queue import JobKind, enqueue
from engine.models import ImageStore, Instance, Job, StoragePool, Volume, VolumeFile, Zone
from engine.principal import Principal
from engine.services.events import record_event
from engine.services.settings import Settings
from engine.services.volume_queries import by_ident
from engine.services.volumes import owned_volume, require_idle
from engine.states import PoolState, VmState, VolumeKind, VolumeState

UPLOAD_FORMATS = ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "VMDK", "TAR")
SIMULATOR = "Simulator"


@dataclass(frozen=True)
class UploadRequest:
    name: str
    url: str
    format: str
    zone_uuid: str
    checksum: str = ""
    disk_offering_uuid: str | None = None


class VolumeTransferService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._storage = StorageAllocator(session, settings)

    # -------------------------------------------------------------- upload
    def upload(self, principal: Principal, req: UploadRequest,
               *, command: str = "") -> tuple[Volume, Job]:
        """A new data volume filled from ``req.url`` by a job. Raises
        MissingParameter, InvalidParameter (url, checksum, format, name) and
        NotFound (zone; no image store in the zone)."""
        if not req.name.strip():
            raise MissingParameter("name")
        fmt = (req.format or "").upper()
        if fmt not in UPLOAD_FORMATS:
            raise InvalidParameter("format", req.format,
                                   f"must be one of {', '.join(UPLOAD_FORMATS)}")
        try:
            check_url(req.url)
        except ValueError as exc:
            raise InvalidParameter("url", req.url, str(exc)) from None
        try:
            parse_checksum(req.checksum)
        except ValueError as exc:
            raise InvalidParameter("checksum", req.checksum, str(exc)) from None
        zone = self._s.scalar(select(Zone).where(by_ident(Zone.uuid, Zone.sid, req.zone_uuid)))
        if zone is None or zone.removed_at is not None:
            raise NotFound(ResourceKind.ZONE, req.zone_uuid)
        store = self._s.scalar(select(ImageStore.uuid).where(
            ImageStore.zone_uuid == zone.uuid, ImageStore.removed_at.is_(None))
            .order_by(ImageStore.created_at).limit(1))
        if store is None:
            raise NotFound(ResourceKind.IMAGE_STORE, zone.uuid)
        uuid = new_uuid()
        v = Volume(uuid=uuid, name=req.name[:255], account_uuid=principal.account_uuid,
                   zone_uuid=zone.uuid, pool_uuid=None, kind=VolumeKind.DATADISK,
                   size_bytes=0, state=VolumeState.CREATING,
                   disk_offering_uuid=req.disk_offering_uuid, delete_on_termination=False,
                   created_at=utcnow())
        self._s.add(v)
        self._s.flush()
        self._s.add(VolumeFile(volume_uuid=v.uuid, image_store_uuid=store, url=req.url[:255],
                               format=fmt, checksum=req.checksum[:255]))
        record_event(self._s, principal, "VOLUME.UPLOAD", f"Uploading volume {v.name}",
                     ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
        job = enqueue(self._s, JobKind.UPLOAD_VOLUME, principal,
                      resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                      command=command)
        self._s.flush()
        return v, job

    def file(self, principal: Principal, volume_ident: str) -> VolumeFile | None:
        """The volume's file on secondary storage (uploaded volumes), if any."""
        v = owned_volume(self._s, principal, volume_ident, lock=False)
        return self._s.get(VolumeFile, v.uuid)

    # ------------------------------------------------------------- migrate
    def migrate(self, principal: Principal, volume_ident: str, pool_ident: str, *,
                live: bool = False) -> Volume:
        """Move the volume (and its reservation) to pool ``pool_ident``.

        Raises NotFound (volume, pool), InvalidParameter (live; attached to an
        instance that is not Stopped; same pool; pool in another zone, not Up
        or out of reach of the instance's host), IncorrectState (busy),
        InsufficientCapacity (the pool is full) and Unsupported (the disk
        exists on a hypervisor that cannot move it)."""
        v = owned_volume(self._s, principal, volume_ident)
        require_idle(self._s, v)
        pool = self._s.scalar(select(StoragePool).where(
            by_ident(StoragePool.uuid, StoragePool.sid, pool_ident)))
        if pool is None or pool.removed_at is not None:
            raise NotFound(ResourceKind.STORAGE_POOL, pool_ident)
        inst = self._s.get(Instance, v.instance_uuid) if v.instance_uuid else None
        if live:
            raise InvalidParameter("livemigrate", "true", "live volume migration is not supported")
        if inst is not None and inst.state != VmState.STOPPED:
            raise InvalidParameter("volumeid", volume_ident,
                                   "the volume needs to be detached or its VM stopped")
        if pool.uuid == v.pool_uuid:
            raise InvalidParameter("storageid", pool_ident, "the volume is already on that pool")
        if pool.zone_uuid != v.zone_uuid:
            raise InvalidParameter("storageid", pool_ident, "the pool is in another zone")
        if pool.state != PoolState.UP:
            raise InvalidParameter("storageid", pool_ident, "the pool is not Up")
        host_uuid = inst.host_uuid or inst.last_host_uuid if inst is not None else None
        if host_uuid and pool.uuid not in reachable_pool_uuids(self._s, host_uuid):
            raise InvalidParameter("storageid", pool_ident,
                                   "the pool is not reachable from the VM's host")
        if v.path:
            self._check_disk_movable(v, pool)
        if not self._storage.try_reserve(pool.uuid, v.size_bytes):
            raise InsufficientCapacity(ResourceKind.STORAGE_POOL,
                                       f"pool {pool.uuid} cannot take {v.size_bytes} bytes")
        if v.pool_uuid:
            self._storage.release(v.pool_uuid, v.size_bytes)
        v.pool_uuid = pool.uuid
        record_event(self._s, principal, "VOLUME.MIGRATE", f"Migrated volume {v.name} to "
                     f"{pool.name}", ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
        self._s.flush()
        return v

    def _check_disk_movable(self, v: Volume, target: StoragePool) -> None:
        pools = [target] + ([p] if v.pool_uuid and (p := self._s.get(
            StoragePool, v.pool_uuid)) is not None else [])
        hypervisors = {h.hypervisor for p in pools
                       for h in self._s.scalars(hosts_reaching(self._s, p))}
        others = sorted(hypervisors - {SIMULATOR})
        if others:
            raise Unsupported("migrating a volume's disk between storage pools", others[0])
        if v.kind == VolumeKind.ROOT and v.instance_uuid is None:
            raise InvalidParameter("volumeid", v.uuid, "a root volume needs its VM")
