"""Volumes: create, list, attach, detach, resize and delete disks.

A data volume's disk is made lazily: :meth:`VolumeService.create` only
reserves pool capacity (state Allocated), and the attach job creates the disk
on the hypervisor. A volume made from a snapshot is the exception: its disk is
cloned at once by a job (state Creating), so the snapshot may be deleted
afterwards. ``Volume.path`` is non-empty once the disk exists on a hypervisor.

Every operation commits its intent in the caller's transaction and, where the
hypervisor is involved, queues a job keyed by the volume's uuid (so the jobs of
one volume run in order). While such a job is unfinished, or the volume is in
a transitional state (Creating, Resizing, Snapshotting), other changes to the
volume are refused with IncorrectState. Capacity is held exactly while a live
volume row has a ``pool_uuid``: a pool's ``allocated_bytes`` always equals the
sum of ``size_bytes`` of its volumes that are not removed.

Identifiers: wherever a ``*_uuid`` names a volume, instance or snapshot, its
sid is accepted too.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import (
    ConflictingParameters,
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.ids import new_uuid
from engine.jobs.drivers import reachable_pool_uuids
from engine.jobs.queue import JobKind, enqueue
from engine.models import DiskOffering, Instance, Job, Snapshot, Volume, VolumeFile, Zone
from engine.principal import Principal
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.resource_limits import Resource, enforce
from engine.services.settings import Settings
from engine.services.snapshot_permissions import usable_snapshot
from engine.services.tags import apply_tags, remove_tags
from engine.services.volume_queries import (  # re-exported: callers import them from here
    GIB,
    UNFINISHED,
    VOLUME_FIELDS,
    AttachmentState,
    VolumeDetail,
    VolumeModification,
    VolumeQueries,
    by_ident,
    modification_of,
    pending_jobs,
    timestamp_match,
)
from engine.states import (
    SnapshotState,
    VmState,
    VolumeKind,
    VolumeState,
    require,
)

__all__ = [
    "ATTACHABLE_VMS", "CHANGEABLE", "DELETABLE", "FORCE_DETACHABLE_VMS", "GIB",
    "MAX_DEVICE_ID", "MAX_SIZE_GIB", "RESERVED_DEVICE_IDS", "UNFINISHED", "VOLUME_FIELDS",
    "AttachmentState", "Performance", "VolumeDetail", "VolumeModification", "VolumeRequest",
    "VolumeService",
    "ZoneMismatch", "by_ident", "owned_volume", "pending_jobs", "require_idle",
    "settled_state", "timestamp_match",
]

MAX_SIZE_GIB = 16 * 1024
MAX_DEVICE_ID = 25  # vda..vdz
RESERVED_DEVICE_IDS = frozenset({0, 3})  # 0: the root disk; 3: the CD-ROM drive

ATTACHABLE_VMS = frozenset({VmState.RUNNING, VmState.STOPPED})
FORCE_DETACHABLE_VMS = ATTACHABLE_VMS | {VmState.DESTROYED, VmState.ERROR}
CHANGEABLE = frozenset({VolumeState.ALLOCATED, VolumeState.READY})
DELETABLE = CHANGEABLE | {VolumeState.ERROR}

_BUSY_LABELS = {
    JobKind.ATTACH_VOLUME.value: "Attaching",
    JobKind.DETACH_VOLUME.value: "Detaching",
    JobKind.RESIZE_VOLUME.value: "Resizing",
    JobKind.CREATE_VOLUME.value: "Creating",
}


class ZoneMismatch(InvalidParameter):
    """The volume and the instance it should be attached to are in different zones."""

    def __init__(self, volume: str, instance: str) -> None:
        super().__init__("instance", instance, "the instance is in another zone")
        self.volume, self.instance = volume, instance


@dataclass(frozen=True)
class Performance:
    """Provisioned performance of a volume: I/O operations per second and
    throughput in MiB/s (None: not provisioned). The engine only records it;
    which values a volume type allows is the front end's business."""

    iops: int | None = None
    throughput: int | None = None

    def check(self) -> None:
        """InvalidParameter unless each given value is positive."""
        for name, value in (("iops", self.iops), ("throughput", self.throughput)):
            if value is not None and value <= 0:
                raise InvalidParameter(name, value, "must be positive")


@dataclass(frozen=True)
class VolumeRequest:
    """What to create: a size, a disk offering, a snapshot, or a combination.

    ``size_gib`` is required with a customizable offering or with none; with a
    snapshot it defaults to the snapshot's size and may only grow it.
    ``zone_uuid`` defaults to the snapshot's zone.
    """

    zone_uuid: str | None = None
    size_gib: int | None = None
    disk_offering_uuid: str | None = None
    snapshot_uuid: str | None = None
    name: str | None = None
    volume_type: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    performance: Performance | None = None
    client_token: str | None = None  # idempotency: a retry returns the same volume

    def fingerprint(self) -> str:
        """A digest of what is created (all but the client token), to tell a
        retried request from another one that reuses the token."""
        return hashlib.sha256(repr(dataclasses.replace(self, client_token=None))
                              .encode()).hexdigest()


# ------------------------------------------------------------ shared helpers
def owned_volume(session: Session, principal: Principal, ident: str, *,
                 lock: bool = True) -> Volume:
    """The live volume ``ident`` (uuid or sid) the principal may act on, locked."""
    stmt = select(Volume).where(by_ident(Volume.uuid, Volume.sid, ident))
    v = session.scalar(stmt.with_for_update() if lock else stmt)
    if v is None or v.removed_at is not None or not may_act(session, principal, v.account_uuid):
        raise NotFound(ResourceKind.VOLUME, ident)
    return v


def require_idle(session: Session, v: Volume, allowed: frozenset[VolumeState] = CHANGEABLE) -> None:
    """IncorrectState unless ``v`` is in ``allowed`` with no unfinished job on it."""
    require(v.state, allowed, ResourceKind.VOLUME, v.uuid)
    kind = pending_jobs(session, [v.uuid]).get(v.uuid)
    if kind is not None:
        raise IncorrectState(ResourceKind.VOLUME, v.uuid, _BUSY_LABELS.get(kind, "Busy"), allowed)


def is_idle(session: Session, v: Volume, allowed: frozenset[VolumeState] = CHANGEABLE) -> bool:
    """Whether :func:`require_idle` would let ``v`` through."""
    try:
        require_idle(session, v, allowed)
    except IncorrectState:
        return False
    return True


def settled_state(v: Volume) -> VolumeState:
    """The stable state of a volume: Ready once its disk exists, else Allocated."""
    return VolumeState.READY if v.path else VolumeState.ALLOCATED


# -------------------------------------------------------------------- service
class VolumeService(VolumeQueries):
    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._settings = settings
        self._storage = StorageAllocator(session, settings)

    # ----------------------------------------------------------------- create
    def create(self, principal: Principal, req: VolumeRequest, *,
               command: str = "") -> tuple[Volume, Job | None]:
        """Reserve pool capacity for a new data volume owned by the caller's account.

        Without a snapshot the volume is Allocated and no job is queued (the
        disk is made when first attached). From a snapshot it is Creating and
        the returned job clones the disk. Raises MissingParameter,
        InvalidParameter, NotFound (zone, offering, snapshot), IncorrectState
        (snapshot not backed up) and InsufficientCapacity (no pool has room).

        With ``req.client_token``, a request the account made before with the
        same token returns that volume again (and no job); if that request
        asked for something else, ConflictingParameters (names
        ``("client_token",)``). A deleted volume frees its token.
        """
        fingerprint = req.fingerprint() if req.client_token else None
        if req.client_token:
            assert fingerprint is not None
            previous = self._by_client_token(principal, req.client_token, fingerprint)
            if previous is not None:
                return previous, None
        offering = self._offering(req.disk_offering_uuid)
        snapshot = self._snapshot(principal, req.snapshot_uuid)
        zone = self._zone(req.zone_uuid or (snapshot.zone_uuid if snapshot else None))
        if snapshot is not None and snapshot.zone_uuid != zone.uuid:
            raise InvalidParameter("zone", zone.uuid, "the snapshot is in another zone")
        size_bytes = self._size(req, offering, snapshot)
        enforce(self._s, principal.account_uuid, {Resource.VOLUME: 1,
                Resource.PRIMARY_STORAGE: size_bytes}, self._settings)
        pool_uuid = self._storage.reserve(zone.uuid, size_bytes,
                                          tags=offering.storage_tags if offering else "")
        uuid = new_uuid()
        v = Volume(
            uuid=uuid, name=req.name or uuid, account_uuid=principal.account_uuid, zone_uuid=zone.uuid, pool_uuid=pool_uuid,
            kind=VolumeKind.DATADISK, size_bytes=size_bytes,
            state=VolumeState.CREATING if snapshot else VolumeState.ALLOCATED,
            disk_offering_uuid=offering.uuid if offering else None,
            snapshot_uuid=snapshot.uuid if snapshot else None,
            delete_on_termination=False, created_at=utcnow(),
            client_token=req.client_token or None, request_fingerprint=fingerprint,
        )
        volume_type = req.volume_type or (offering.volume_type if offering else None)
        if volume_type:
            v.volume_type = volume_type
        if req.performance is not None:
            req.performance.check()
            v.iops, v.throughput = req.performance.iops, req.performance.throughput
        self._s.add(v)
        self._s.flush()
        if req.tags:
            apply_tags(self._s, principal, ResourceKind.VOLUME, [v.uuid], req.tags)
        record_event(self._s, principal, "VOLUME.CREATE", f"Created volume {v.name}",
                     ResourceKind.VOLUME, v.uuid)
        job = None
        if snapshot is not None:
            job = enqueue(self._s, JobKind.CREATE_VOLUME, principal,
                          resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                          payload={"snapshot_sid": snapshot.sid}, command=command)
        self._s.flush()
        return v, job

    def _by_client_token(self, principal: Principal, token: str,
                         fingerprint: str) -> Volume | None:
        """The live volume the account created with ``token``, if any
        (ConflictingParameters if another request used it). A removed volume's
        token is cleared so that the token can be used again."""
        v = self._s.scalar(select(Volume).where(Volume.account_uuid == principal.account_uuid,
                                                Volume.client_token == token)
                           .with_for_update())
        if v is None:
            return None
        if v.removed_at is not None:
            v.client_token = None
            self._s.flush()
            return None
        if v.request_fingerprint != fingerprint:
            raise ConflictingParameters(("client_token",),
                                        "The client token was used by a different request")
        return v

    def _offering(self, uuid: str | None) -> DiskOffering | None:
        if uuid is None:
            return None
        o = self._s.scalar(select(DiskOffering).where(
            by_ident(DiskOffering.uuid, DiskOffering.sid, uuid)))
        if o is None or not o.active:
            raise NotFound(ResourceKind.DISK_OFFERING, uuid)
        return o

    def _snapshot(self, principal: Principal, uuid: str | None) -> Snapshot | None:
        if uuid is None:
            return None
        # Its own, or one shared with its account (snapshot_permissions).
        snap = usable_snapshot(self._s, principal, uuid)
        require(snap.state, frozenset({SnapshotState.BACKED_UP}), ResourceKind.SNAPSHOT,
                snap.uuid)
        return snap

    def _zone(self, uuid: str | None) -> Zone:
        if not uuid:
            raise MissingParameter("zone")
        zone = self._s.scalar(select(Zone).where(by_ident(Zone.uuid, Zone.sid, uuid)))
        if zone is None or zone.removed_at is not None:
            raise NotFound(ResourceKind.ZONE, uuid)
        return zone

    @staticmethod
    def _size(req: VolumeRequest, offering: DiskOffering | None,
              snapshot: Snapshot | None) -> int:
        if req.size_gib is not None and not 1 <= req.size_gib <= MAX_SIZE_GIB:
            raise InvalidParameter("size", req.size_gib, f"must be 1 to {MAX_SIZE_GIB} GiB")
        if offering is not None and not offering.customized:
            if req.size_gib is not None and req.size_gib != offering.size_gib:
                raise InvalidParameter("size", req.size_gib,
                                       "the disk offering has a fixed size")
            size = offering.size_gib * GIB
            return max(size, snapshot.size_bytes) if snapshot else size
        if snapshot is not None:
            if req.size_gib is None:
                return snapshot.size_bytes
            if req.size_gib * GIB < snapshot.size_bytes:
                raise InvalidParameter("size", req.size_gib, "smaller than the snapshot")
            return req.size_gib * GIB
        if req.size_gib is None:
            raise MissingParameter("size")
        return req.size_gib * GIB

    # ---------------------------------------------------------- attach/detach
    def attach(self, principal: Principal, volume_uuid: str, instance_uuid: str,
               device_id: int | None = None, *, command: str = "") -> Job:
        """Attach a data volume to a Running or Stopped instance of the same
        zone and account, at ``device_id`` or the lowest free slot.

        The slot is taken at once; the job puts the disk on the hypervisor
        (creating it first if needed) and gives the slot back if that fails.
        Raises NotFound, InvalidParameter (root volume, other zone or owner,
        bad or taken device id, no free slot), InUse (already attached) and
        IncorrectState (instance or volume state, volume busy).
        """
        # Rows are locked instance first, then volume, as the instance jobs do.
        inst = self._instance(principal, instance_uuid)
        v = owned_volume(self._s, principal, volume_uuid)
        if v.kind == VolumeKind.ROOT:
            raise InvalidParameter("volume", volume_uuid, "a root volume cannot be attached")
        if v.instance_uuid is not None:
            raise InUse(ResourceKind.VOLUME, volume_uuid, by=self._instance_name(v.instance_uuid))
        require_idle(self._s, v)
        require(inst.state, ATTACHABLE_VMS, ResourceKind.INSTANCE, inst.uuid)
        if inst.zone_uuid != v.zone_uuid:
            raise ZoneMismatch(volume_uuid, instance_uuid)
        if inst.account_uuid != v.account_uuid:
            raise InvalidParameter("instance", instance_uuid,
                                   "the volume and the instance belong to different accounts")
        v.device_id = self._device_id(inst, device_id)
        v.instance_uuid, v.attached_at = inst.uuid, None
        self._follow_instance(v, inst)
        job = enqueue(self._s, JobKind.ATTACH_VOLUME, principal,
                      resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                      payload={"instance_uuid": inst.uuid, "device_id": v.device_id},
                      command=command)
        self._s.flush()
        return job

    def _follow_instance(self, v: Volume, inst: Instance) -> None:
        """A volume with no disk yet moves its reservation to a pool the
        instance's host reaches (its pool may serve another hypervisor)."""
        host_uuid = inst.host_uuid or inst.last_host_uuid
        if v.path or v.state != VolumeState.ALLOCATED or host_uuid is None:
            return
        if v.pool_uuid and v.pool_uuid in reachable_pool_uuids(self._s, host_uuid):
            return
        offering = self._offering(v.disk_offering_uuid) if v.disk_offering_uuid else None
        pool_uuid = self._storage.reserve(v.zone_uuid, v.size_bytes, host_uuid=host_uuid,
                                          tags=offering.storage_tags if offering else "")
        if v.pool_uuid:
            self._storage.release(v.pool_uuid, v.size_bytes)
        v.pool_uuid = pool_uuid

    def detach(self, principal: Principal, volume_uuid: str, *, force: bool = False,
               instance_uuid: str | None = None, command: str = "") -> Job:
        """Detach a data volume; the job takes the disk off the hypervisor and
        then frees the slot. With ``force`` a hypervisor failure does not stop
        the detach, and instances in Destroyed or Error state are accepted.

        Raises NotFound, InvalidParameter (root volume; attached to another
        instance than ``instance_uuid``), IncorrectState (not attached,
        instance state, volume busy).
        """
        v = owned_volume(self._s, principal, volume_uuid, lock=False)
        if v.kind == VolumeKind.ROOT:
            raise InvalidParameter("volume", volume_uuid, "a root volume cannot be detached")
        inst = None
        if v.instance_uuid is not None:
            # Lock the instance, then the volume (the instance jobs' order), and re-check.
            inst = self._s.scalar(select(Instance).where(Instance.uuid == v.instance_uuid)
                                  .with_for_update())
            self._s.refresh(v, with_for_update=True)
        if inst is None or v.instance_uuid != inst.uuid:
            raise IncorrectState(ResourceKind.VOLUME, volume_uuid, "Detached")
        require_idle(self._s, v)
        if instance_uuid is not None and instance_uuid not in (inst.uuid, inst.sid):
            raise InvalidParameter("instance", instance_uuid,
                                   "the volume is not attached to this instance")
        require(inst.state, FORCE_DETACHABLE_VMS if force else ATTACHABLE_VMS,
                ResourceKind.INSTANCE, inst.uuid)
        job = enqueue(self._s, JobKind.DETACH_VOLUME, principal,
                      resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                      payload={"instance_uuid": inst.uuid, "force": force}, command=command)
        self._s.flush()
        return job

    def _instance(self, principal: Principal, ident: str) -> Instance:
        inst = self._s.scalar(select(Instance).where(
            by_ident(Instance.uuid, Instance.sid, ident)).with_for_update())
        if inst is None or inst.state in (VmState.EXPUNGED, VmState.EXPUNGING) or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, ident)
        return inst

    def _instance_name(self, uuid: str) -> str:
        inst = self._s.get(Instance, uuid)
        return inst.name if inst else uuid

    def _device_id(self, inst: Instance, wanted: int | None) -> int:
        """``wanted`` if valid and free, else the lowest free slot (the
        instance row is locked, so two attaches cannot take the same one)."""
        used = set(self._s.scalars(select(Volume.device_id).where(
            Volume.instance_uuid == inst.uuid, Volume.removed_at.is_(None))))
        if wanted is not None:
            if not 0 < wanted <= MAX_DEVICE_ID or wanted in RESERVED_DEVICE_IDS:
                raise InvalidParameter("device_id", wanted,
                                       f"must be 1 to {MAX_DEVICE_ID}, except 3")
            if wanted in used:
                raise InvalidParameter("device_id", wanted, "the slot is in use")
            return wanted
        for slot in range(1, MAX_DEVICE_ID + 1):
            if slot not in used and slot not in RESERVED_DEVICE_IDS:
                return slot
        raise InvalidParameter("instance", inst.uuid, "the instance has no free disk slot")

    # ------------------------------------------------------------ resize/delete
    def resize(self, principal: Principal, volume_uuid: str, new_size_gib: int, *,
               command: str = "") -> Job:
        """Grow a volume to ``new_size_gib``. The extra capacity is reserved on
        the volume's pool now (``size_bytes`` is the new size at once); the job
        grows the disk, and gives the extra back if that fails.

        Raises NotFound, InvalidParameter (not larger, too large),
        IncorrectState (busy) and InsufficientCapacity (the pool is full).
        """
        v = owned_volume(self._s, principal, volume_uuid)
        require_idle(self._s, v)
        if not 0 < new_size_gib <= MAX_SIZE_GIB:
            raise InvalidParameter("size", new_size_gib, f"must be 1 to {MAX_SIZE_GIB} GiB")
        new_bytes = new_size_gib * GIB
        if new_bytes <= v.size_bytes:
            raise InvalidParameter("size", new_size_gib, "a volume can only grow")
        delta = new_bytes - v.size_bytes
        if v.pool_uuid is None or not self._storage.try_reserve(v.pool_uuid, delta):
            raise InsufficientCapacity(ResourceKind.STORAGE_POOL,
                                       f"pool {v.pool_uuid} cannot take {delta} more bytes")
        payload = {"old_size_bytes": v.size_bytes, "new_size_bytes": new_bytes}
        v.size_bytes = new_bytes
        v.state = VolumeState.RESIZING
        job = enqueue(self._s, JobKind.RESIZE_VOLUME, principal,
                      resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                      payload=payload, command=command)
        self._s.flush()
        return job

    def modify(self, principal: Principal, volume_uuid: str, *, size_gib: int | None = None,
               volume_type: str | None = None, performance: Performance | None = None,
               command: str = "") -> tuple[VolumeModification, Job]:
        """Grow a volume and/or change its type or provisioned performance, as
        one resize job.

        Like :meth:`resize`, extra capacity is reserved on the volume's pool
        now and the job grows the disk (giving the extra back if that fails).
        The type and ``performance`` (which replaces both values; None keeps
        them) are only labels to the engine and change at once; a change of
        those alone runs the same job, a no-op on the hypervisor. The job
        payload records old and new size, type and performance for
        :meth:`modifications`. Raises NotFound, InvalidParameter (smaller,
        too large, nothing changes), IncorrectState (busy) and
        InsufficientCapacity.
        """
        v = owned_volume(self._s, principal, volume_uuid)
        require_idle(self._s, v)
        if size_gib is not None and not 0 < size_gib <= MAX_SIZE_GIB:
            raise InvalidParameter("size", size_gib, f"must be 1 to {MAX_SIZE_GIB} GiB")
        new_bytes = v.size_bytes if size_gib is None else size_gib * GIB
        if new_bytes < v.size_bytes:
            raise InvalidParameter("size", size_gib, "a volume can only grow")
        new_type = volume_type or v.volume_type
        new = performance or Performance(v.iops, v.throughput)
        new.check()
        if new_bytes == v.size_bytes and new_type == v.volume_type and (
                new == Performance(v.iops, v.throughput)):
            raise InvalidParameter("size", size_gib, "the new size, type or performance "
                                   "must differ from the current one")
        delta = new_bytes - v.size_bytes
        if delta and (v.pool_uuid is None or not self._storage.try_reserve(v.pool_uuid, delta)):
            raise InsufficientCapacity(ResourceKind.STORAGE_POOL,
                                       f"pool {v.pool_uuid} cannot take {delta} more bytes")
        payload = {"old_size_bytes": v.size_bytes, "new_size_bytes": new_bytes,
                   "old_volume_type": v.volume_type, "new_volume_type": new_type,
                   "old_iops": v.iops, "new_iops": new.iops,
                   "old_throughput": v.throughput, "new_throughput": new.throughput}
        v.size_bytes, v.volume_type, v.state = new_bytes, new_type, VolumeState.RESIZING
        v.iops, v.throughput = new.iops, new.throughput
        job = enqueue(self._s, JobKind.RESIZE_VOLUME, principal,
                      resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                      payload=payload, command=command)
        self._s.flush()
        return modification_of(job, v), job

    def delete(self, principal: Principal, volume_uuid: str, *,
               command: str = "") -> Job | None:
        """Remove a detached volume at once (also one still waiting for a direct
        upload): its capacity is released, its tags dropped and it becomes Expunged. If its disk was ever created, the
        returned job deletes it from the hypervisor.

        Raises NotFound, InUse (attached) and IncorrectState (busy).
        """
        v = owned_volume(self._s, principal, volume_uuid)
        if v.instance_uuid is not None:
            raise InUse(ResourceKind.VOLUME, volume_uuid, by=self._instance_name(v.instance_uuid))
        waiting = self._s.get(VolumeFile, v.uuid)  # a direct upload never made
        require_idle(self._s, v, DELETABLE | ({VolumeState.CREATING} if waiting is not None
                                              and waiting.state == "NotUploaded" else set()))
        if v.pool_uuid is not None:
            self._storage.release(v.pool_uuid, v.size_bytes)
        v.state, v.removed_at = VolumeState.EXPUNGED, utcnow()
        remove_tags(self._s, [v.uuid], [])
        record_event(self._s, principal, "VOLUME.DELETE", f"Deleted volume {v.name}",
                     ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
        job = None
        if v.path:
            job = enqueue(self._s, JobKind.DELETE_VOLUME, principal,
                          resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                          command=command)
        self._s.flush()
        return job
