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

import builtins
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from fnmatch import fnmatchcase
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import (
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.ids import new_uuid
from engine.jobs.queue import JobKind, enqueue
from engine.models import (
    Account,
    DiskOffering,
    Domain,
    Instance,
    Job,
    Snapshot,
    StoragePool,
    Tag,
    Volume,
    Zone,
)
from engine.principal import Principal
from engine.querying import (
    ColumnLike,
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    apply_criteria,
    decode_token,
    encode_token,
    match_values,
    owner_scope,
    paginate,
    query_key,
)
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.settings import Settings
from engine.services.tags import apply_tags, remove_tags
from engine.states import (
    JobStatus,
    SnapshotState,
    VmState,
    VolumeKind,
    VolumeState,
    require,
)

T = TypeVar("T")
GIB = 1024**3
MAX_SIZE_GIB = 16 * 1024
MAX_DEVICE_ID = 25  # vda..vdz
RESERVED_DEVICE_IDS = frozenset({0, 3})  # 0: the root disk; 3: the CD-ROM drive

ATTACHABLE_VMS = frozenset({VmState.RUNNING, VmState.STOPPED})
FORCE_DETACHABLE_VMS = ATTACHABLE_VMS | {VmState.DESTROYED, VmState.ERROR}
CHANGEABLE = frozenset({VolumeState.ALLOCATED, VolumeState.READY})
DELETABLE = CHANGEABLE | {VolumeState.ERROR}
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)

_BUSY_LABELS = {
    JobKind.ATTACH_VOLUME.value: "Attaching",
    JobKind.DETACH_VOLUME.value: "Detaching",
    JobKind.RESIZE_VOLUME.value: "Resizing",
    JobKind.CREATE_VOLUME.value: "Creating",
}


class AttachmentState(str, Enum):
    """Where a volume is in its attach/detach cycle."""

    DETACHED = "detached"
    ATTACHING = "attaching"
    ATTACHED = "attached"
    DETACHING = "detaching"


class ZoneMismatch(InvalidParameter):
    """The volume and the instance it should be attached to are in different zones."""

    def __init__(self, volume: str, instance: str) -> None:
        super().__init__("instance", instance, "the instance is in another zone")
        self.volume, self.instance = volume, instance


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


@dataclass
class VolumeDetail:
    """A volume and the related facts both front ends render."""

    volume: Volume
    zone: Zone
    account: Account
    domain: Domain
    instance: Instance | None = None
    pool: StoragePool | None = None
    disk_offering: DiskOffering | None = None
    snapshot: Snapshot | None = None
    tags: list[Tag] = field(default_factory=list)
    pending: str | None = None  # kind of the unfinished job on the volume, if any

    @property
    def size_gib(self) -> int:
        return -(-self.volume.size_bytes // GIB)

    @property
    def attachment(self) -> AttachmentState:
        v = self.volume
        if self.pending == JobKind.ATTACH_VOLUME.value:
            return AttachmentState.ATTACHING
        if self.pending == JobKind.DETACH_VOLUME.value:
            return AttachmentState.DETACHING
        if v.instance_uuid is None:
            return AttachmentState.DETACHED
        return AttachmentState.ATTACHED


@dataclass(frozen=True)
class VolumeModification:
    """One change of a volume's size and/or type (one resize job) and how far it got."""

    volume_uuid: str
    volume_sid: str
    old_size_bytes: int
    new_size_bytes: int
    old_volume_type: str
    new_volume_type: str
    status: JobStatus
    started_at: datetime
    completed_at: datetime | None = None
    message: str = ""

    @property
    def old_size_gib(self) -> int:
        return -(-self.old_size_bytes // GIB)

    @property
    def new_size_gib(self) -> int:
        return -(-self.new_size_bytes // GIB)


def _modification(job: Job, v: Volume) -> VolumeModification:
    p = json.loads(job.payload or "{}")
    return VolumeModification(
        volume_uuid=v.uuid, volume_sid=v.sid,
        old_size_bytes=int(p.get("old_size_bytes", v.size_bytes)),
        new_size_bytes=int(p.get("new_size_bytes", v.size_bytes)),
        old_volume_type=str(p.get("old_volume_type", v.volume_type)),
        new_volume_type=str(p.get("new_volume_type", v.volume_type)),
        status=job.status, started_at=job.created_at, completed_at=job.completed_at,
        message=job.error_message or "")


# Modification fields matched in Python (they live in the job's payload).
_MODIFICATION_VALUES = {
    "status": lambda m: m.status.value,
    "old_size_gib": lambda m: str(m.old_size_gib),
    "new_size_gib": lambda m: str(m.new_size_gib),
    "old_volume_type": lambda m: m.old_volume_type,
    "new_volume_type": lambda m: m.new_volume_type,
}


def _modification_matches(m: VolumeModification, crit: Criterion) -> bool:
    value = _MODIFICATION_VALUES[crit.field](m)
    if crit.wildcards:
        return any(fnmatchcase(value, pattern) for pattern in crit.values)
    return value in crit.values


# ------------------------------------------------------------------ list fields
def _ints(name: str, values: Sequence[str], scale: int = 1) -> list[int]:
    try:
        return [int(v) * scale for v in values]
    except ValueError as exc:
        raise InvalidParameter("Filter", name, "expects whole numbers") from exc


def _instance_sid(values: Sequence[str]) -> ColumnElement[bool]:
    return Volume.instance_uuid.in_(select(Instance.uuid).where(Instance.sid.in_(values)))


def _snapshot_sid(values: Sequence[str]) -> ColumnElement[bool]:
    return Volume.snapshot_uuid.in_(select(Snapshot.uuid).where(Snapshot.sid.in_(values)))


def _zone_name(values: Sequence[str]) -> ColumnElement[bool]:
    return Volume.zone_uuid.in_(select(Zone.uuid).where(Zone.name.in_(values)))


def _attached(values: Sequence[str]) -> ColumnElement[bool]:
    conds = []
    for v in values:
        if v.lower() in ("true", "1", "yes"):
            conds.append(Volume.instance_uuid.is_not(None))
        elif v.lower() in ("false", "0", "no"):
            conds.append(Volume.instance_uuid.is_(None))
        else:
            raise InvalidParameter("Filter", "attached", "expects true or false")
    return or_(*conds) if conds else false()


def _unfinished(kind: JobKind) -> ColumnElement[bool]:
    return Volume.uuid.in_(select(Job.resource_uuid).where(
        Job.kind == kind.value, Job.status.in_(UNFINISHED)))


def _attachment(values: Sequence[str]) -> ColumnElement[bool]:
    """Volumes in any of the given :class:`AttachmentState` values."""
    attaching, detaching = _unfinished(JobKind.ATTACH_VOLUME), _unfinished(JobKind.DETACH_VOLUME)
    conds = []
    for v in values:
        if v == AttachmentState.ATTACHING.value:
            conds.append(attaching)
        elif v == AttachmentState.DETACHING.value:
            conds.append(detaching)
        elif v == AttachmentState.ATTACHED.value:
            conds.append(and_(Volume.instance_uuid.is_not(None), ~attaching, ~detaching))
        elif v == AttachmentState.DETACHED.value:
            conds.append(Volume.instance_uuid.is_(None))
        else:
            raise InvalidParameter("Filter", v, "not an attachment state")
    return or_(*conds) if conds else false()


def _state_attachment(values: Sequence[str]) -> ColumnElement[bool]:
    """``<VolumeState>/attached`` or ``<VolumeState>/detached`` pairs."""
    conds = []
    for v in values:
        state, _, attached = v.partition("/")
        try:
            wanted = VolumeState(state)
        except ValueError as exc:
            raise InvalidParameter("Filter", v, "not a volume state") from exc
        if attached not in ("attached", "detached"):
            raise InvalidParameter("Filter", v, "expects <state>/attached or <state>/detached")
        holder = (Volume.instance_uuid.is_not(None) if attached == "attached"
                  else Volume.instance_uuid.is_(None))
        conds.append(and_(Volume.state == wanted, holder))
    return or_(*conds) if conds else false()


def _delete_on_termination(values: Sequence[str]) -> ColumnElement[bool]:
    """Attached volumes whose flag is any of ``values`` (true/false)."""
    conds = []
    for v in values:
        if v.lower() not in ("true", "false"):
            raise InvalidParameter("Filter", v, "expects true or false")
        conds.append(Volume.delete_on_termination.is_(v.lower() == "true"))
    return and_(Volume.instance_uuid.is_not(None), or_(*conds)) if conds else false()


def timestamp_match(column: ColumnLike, name: str):  # type: ignore[no-untyped-def]
    """A field matching ISO 8601 timestamps at the precision they are written
    in: ``2026-01-02T03:04:05Z`` matches that whole second, ``...05.250Z``
    that millisecond. Raises InvalidParameter for text that is no timestamp."""

    def cond(values: Sequence[str]) -> ColumnElement[bool]:
        conds = []
        for v in values:
            text = v.strip().replace("Z", "+00:00").replace("z", "+00:00")
            try:
                when = datetime.fromisoformat(text)
            except ValueError as exc:
                raise InvalidParameter("Filter", v, f"{name} expects an ISO 8601 time") from exc
            if when.tzinfo is not None:
                when = when.replace(tzinfo=None) - (when.utcoffset() or timedelta())
            step = timedelta(milliseconds=1) if "." in text else timedelta(seconds=1)
            conds.append(and_(column >= when, column < when + step))
        return or_(*conds) if conds else false()

    return cond


VOLUME_FIELDS: FieldMap = {
    "uuid": Volume.uuid,
    "sid": Volume.sid,
    "name": Volume.name,
    "state": Volume.state,
    "kind": Volume.kind,
    "zone_uuid": Volume.zone_uuid,
    "zone_name": _zone_name,
    "instance_uuid": Volume.instance_uuid,
    "instance_sid": _instance_sid,
    "attached": _attached,
    "device_id": lambda vs: Volume.device_id.in_(_ints("device_id", vs)),
    "account_uuid": Volume.account_uuid,
    "pool_uuid": Volume.pool_uuid,
    "disk_offering_uuid": Volume.disk_offering_uuid,
    "snapshot_uuid": Volume.snapshot_uuid,
    "snapshot_sid": _snapshot_sid,
    "volume_type": Volume.volume_type,
    "size_bytes": lambda vs: Volume.size_bytes.in_(_ints("size_bytes", vs)),
    "size_gib": lambda vs: Volume.size_bytes.in_(_ints("size_gib", vs, GIB)),
    "attachment": _attachment,
    "state_attachment": _state_attachment,
    "delete_on_termination": _delete_on_termination,
    "created_at": timestamp_match(Volume.created_at, "created_at"),
    "attached_at": timestamp_match(Volume.attached_at, "attached_at"),
}


# ------------------------------------------------------------ shared helpers
def by_ident(column_uuid: ColumnLike, column_sid: ColumnLike, ident: str) -> ColumnElement[bool]:
    """Match a row by its uuid or its sid."""
    return or_(column_uuid == ident, column_sid == ident)


def owned_volume(session: Session, principal: Principal, ident: str, *,
                 lock: bool = True) -> Volume:
    """The live volume ``ident`` (uuid or sid) the principal may act on, locked."""
    stmt = select(Volume).where(by_ident(Volume.uuid, Volume.sid, ident))
    v = session.scalar(stmt.with_for_update() if lock else stmt)
    if v is None or v.removed_at is not None or not may_act(session, principal, v.account_uuid):
        raise NotFound(ResourceKind.VOLUME, ident)
    return v


def pending_jobs(session: Session, uuids: Sequence[str]) -> dict[str, str]:
    """Kind of the oldest unfinished job on each of ``uuids`` (those that have one)."""
    if not uuids:
        return {}
    out: dict[str, str] = {}
    for resource_uuid, kind in session.execute(
        select(Job.resource_uuid, Job.kind)
        .where(Job.resource_uuid.in_(uuids), Job.status.in_(UNFINISHED))
        .order_by(Job.created_at)
    ).all():
        out.setdefault(str(resource_uuid), kind)
    return out


def require_idle(session: Session, v: Volume, allowed: frozenset[VolumeState] = CHANGEABLE) -> None:
    """IncorrectState unless ``v`` is in ``allowed`` with no unfinished job on it."""
    require(v.state, allowed, ResourceKind.VOLUME, v.uuid)
    kind = pending_jobs(session, [v.uuid]).get(v.uuid)
    if kind is not None:
        raise IncorrectState(ResourceKind.VOLUME, v.uuid, _BUSY_LABELS.get(kind, "Busy"), allowed)


def settled_state(v: Volume) -> VolumeState:
    """The stable state of a volume: Ready once its disk exists, else Allocated."""
    return VolumeState.READY if v.path else VolumeState.ALLOCATED


# -------------------------------------------------------------------- service
class VolumeService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._settings = settings
        self._storage = StorageAllocator(session, settings)

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging | None = None, *, list_all: bool = True,
             count: bool = True) -> ListResult:
        """Live volumes the principal may see, as :class:`VolumeDetail` items."""
        stmt = select(Volume).where(
            owner_scope(Volume.account_uuid, principal, list_all=list_all),
            Volume.removed_at.is_(None))
        stmt = apply_criteria(stmt, VOLUME_FIELDS, criteria, uuid_column=Volume.uuid,
                              kind=ResourceKind.VOLUME)
        key = query_key("volumes", principal.account_uuid, criteria, list_all)
        page = paginate(self._s, stmt, created_column=Volume.created_at,
                        uuid_column=Volume.uuid, paging=paging or Paging(), query_key=key,
                        count=count)
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, ident: str) -> VolumeDetail:
        """One live volume (by uuid or sid) the principal may see, or NotFound."""
        v = self._s.scalar(select(Volume).where(by_ident(Volume.uuid, Volume.sid, ident)))
        if v is None or v.removed_at is not None or not may_act(self._s, principal,
                                                                v.account_uuid):
            raise NotFound(ResourceKind.VOLUME, ident)
        return self.details([v])[0]

    def details(self, volumes: Sequence[Volume]) -> builtins.list[VolumeDetail]:
        """Load the related rows of ``volumes`` with one query per relation."""
        if not volumes:
            return []
        s = self._s
        uuids = [v.uuid for v in volumes]
        zones = _by_uuid(s, Zone, {v.zone_uuid for v in volumes})
        accounts = _by_uuid(s, Account, {v.account_uuid for v in volumes})
        domains = _by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        instances = _by_uuid(s, Instance, {v.instance_uuid for v in volumes if v.instance_uuid})
        pools = _by_uuid(s, StoragePool, {v.pool_uuid for v in volumes if v.pool_uuid})
        offerings = _by_uuid(s, DiskOffering,
                             {v.disk_offering_uuid for v in volumes if v.disk_offering_uuid})
        snapshots = _by_uuid(s, Snapshot, {v.snapshot_uuid for v in volumes if v.snapshot_uuid})
        tags: dict[str, list[Tag]] = defaultdict(list)
        for t in s.scalars(select(Tag).where(Tag.resource_uuid.in_(uuids),
                                             Tag.resource_kind == ResourceKind.VOLUME)
                           .order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        pending = pending_jobs(s, uuids)
        out = []
        for v in volumes:
            account = accounts[v.account_uuid]
            out.append(VolumeDetail(
                volume=v, zone=zones[v.zone_uuid], account=account,
                domain=domains[account.domain_uuid],
                instance=instances.get(v.instance_uuid) if v.instance_uuid else None,
                pool=pools.get(v.pool_uuid) if v.pool_uuid else None,
                disk_offering=offerings.get(v.disk_offering_uuid) if v.disk_offering_uuid
                else None,
                snapshot=snapshots.get(v.snapshot_uuid) if v.snapshot_uuid else None,
                tags=tags.get(v.uuid, []), pending=pending.get(v.uuid)))
        return out

    # ----------------------------------------------------------------- create
    def create(self, principal: Principal, req: VolumeRequest, *,
               command: str = "") -> tuple[Volume, Job | None]:
        """Reserve pool capacity for a new data volume owned by the caller's account.

        Without a snapshot the volume is Allocated and no job is queued (the
        disk is made when first attached). From a snapshot it is Creating and
        the returned job clones the disk. Raises MissingParameter,
        InvalidParameter, NotFound (zone, offering, snapshot), IncorrectState
        (snapshot not backed up) and InsufficientCapacity (no pool has room).
        """
        offering = self._offering(req.disk_offering_uuid)
        snapshot = self._snapshot(principal, req.snapshot_uuid)
        zone = self._zone(req.zone_uuid or (snapshot.zone_uuid if snapshot else None))
        if snapshot is not None and snapshot.zone_uuid != zone.uuid:
            raise InvalidParameter("zone", zone.uuid, "the snapshot is in another zone")
        size_bytes = self._size(req, offering, snapshot)
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
        )
        volume_type = req.volume_type or (offering.volume_type if offering else None)
        if volume_type:
            v.volume_type = volume_type
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
        snap = self._s.scalar(select(Snapshot).where(by_ident(Snapshot.uuid, Snapshot.sid, uuid)))
        if snap is None or snap.removed_at is not None or not may_act(
                self._s, principal, snap.account_uuid):
            raise NotFound(ResourceKind.SNAPSHOT, uuid)
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
        job = enqueue(self._s, JobKind.ATTACH_VOLUME, principal,
                      resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                      payload={"instance_uuid": inst.uuid, "device_id": v.device_id},
                      command=command)
        self._s.flush()
        return job

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
               volume_type: str | None = None,
               command: str = "") -> tuple[VolumeModification, Job]:
        """Grow a volume and/or relabel its type, as one resize job.

        Like :meth:`resize`, extra capacity is reserved on the volume's pool
        now and the job grows the disk (giving the extra back if that fails).
        The type is only a label to the engine and changes at once; a
        type-only change runs the same job, a no-op on the hypervisor. The
        job payload records old and new size and type for
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
        if new_bytes == v.size_bytes and new_type == v.volume_type:
            raise InvalidParameter("size", size_gib,
                                   "the new size or type must differ from the current one")
        delta = new_bytes - v.size_bytes
        if delta and (v.pool_uuid is None or not self._storage.try_reserve(v.pool_uuid, delta)):
            raise InsufficientCapacity(ResourceKind.STORAGE_POOL,
                                       f"pool {v.pool_uuid} cannot take {delta} more bytes")
        payload = {"old_size_bytes": v.size_bytes, "new_size_bytes": new_bytes,
                   "old_volume_type": v.volume_type, "new_volume_type": new_type}
        v.size_bytes, v.volume_type, v.state = new_bytes, new_type, VolumeState.RESIZING
        job = enqueue(self._s, JobKind.RESIZE_VOLUME, principal,
                      resource_kind=ResourceKind.VOLUME, resource_uuid=v.uuid,
                      payload=payload, command=command)
        self._s.flush()
        return _modification(job, v), job

    def modifications(self, principal: Principal, criteria: Sequence[Criterion] = (),
                      paging: Paging | None = None) -> ListResult:
        """Size/type changes (resize jobs) of live volumes the principal may
        see, oldest first, as :class:`VolumeModification` items.

        Criterion fields: ``volume_sid``, ``volume_uuid``, ``started_at``
        (ISO times, see :func:`timestamp_match`), ``status`` (job status
        values), ``old_size_gib``, ``new_size_gib``, ``old_volume_type``,
        ``new_volume_type``. Paging tokens are keyset tokens as elsewhere.
        """
        paging = paging or Paging()
        stmt = select(Job, Volume).join(Volume, Volume.uuid == Job.resource_uuid).where(
            Job.kind == JobKind.RESIZE_VOLUME.value, Volume.removed_at.is_(None),
            owner_scope(Volume.account_uuid, principal)).order_by(Job.created_at, Job.uuid)
        in_python = []
        for c in criteria:
            if c.field in ("volume_sid", "volume_uuid"):
                column = Volume.sid if c.field == "volume_sid" else Volume.uuid
                stmt = stmt.where(match_values(column, c.values, c.wildcards))
            elif c.field == "started_at":
                stmt = stmt.where(timestamp_match(Job.created_at, "started_at")(c.values))
            elif c.field in _MODIFICATION_VALUES:
                in_python.append(c)
            else:
                raise InvalidParameter("Filter", c.field, f"The filter '{c.field}' is invalid")
        key = query_key("volume-modifications", principal.account_uuid, tuple(criteria))
        after = decode_token(paging.token, key) if paging.token else None
        rows: builtins.list[tuple[Job, VolumeModification]] = []
        for job, v in self._s.execute(stmt).all():
            if after is not None and (job.created_at, job.uuid) <= after:
                continue
            m = _modification(job, v)
            if all(_modification_matches(m, c) for c in in_python):
                rows.append((job, m))
        next_token = None
        if paging.limit is not None and len(rows) > paging.limit:
            rows = rows[:paging.limit]
            next_token = encode_token(rows[-1][0].created_at, rows[-1][0].uuid, key)
        return ListResult(items=[m for _, m in rows], next_token=next_token)

    def delete(self, principal: Principal, volume_uuid: str, *,
               command: str = "") -> Job | None:
        """Remove a detached volume at once: its capacity is released, its tags
        dropped and it becomes Expunged. If its disk was ever created, the
        returned job deletes it from the hypervisor.

        Raises NotFound, InUse (attached) and IncorrectState (busy).
        """
        v = owned_volume(self._s, principal, volume_uuid)
        if v.instance_uuid is not None:
            raise InUse(ResourceKind.VOLUME, volume_uuid, by=self._instance_name(v.instance_uuid))
        require_idle(self._s, v, DELETABLE)
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


def _by_uuid(session: Session, model: type[T], uuids: set[str]) -> dict[str, T]:
    if not uuids:
        return {}
    rows: Sequence[T] = session.scalars(
        select(model).where(model.uuid.in_(uuids))).all()  # type: ignore[attr-defined]
    return {row.uuid: row for row in rows}  # type: ignore[attr-defined]
