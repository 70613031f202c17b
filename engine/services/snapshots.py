"""Volume snapshots: take (one volume, or all of an instance's), copy, list, get
and delete.

Taking a snapshot marks the volume Snapshotting and queues a job that asks
the hypervisor for a crash-consistent copy; the snapshot goes Creating ->
BackedUp (or Error, and the volume back to its stable state). A snapshot
outlives its volume. A copy is another snapshot of the same volume whose data
a job copies from the source's (``engine/jobs/snapshot_copy_handlers.py``). Deleting one hides it at once; a job removes it from the
hypervisor. A snapshot cannot be deleted while a volume is still to be cloned
from it.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import IncorrectState, InUse, InvalidParameter, NotFound, ResourceKind
from engine.jobs.queue import JobKind, enqueue
from engine.models import Account, Domain, Instance, Job, Snapshot, Tag, Template, Volume, Zone
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    apply_criteria,
    list_owned,
    match_values,
    owner_scope,
    paginate,
    query_key,
    rows_by_uuid,
)
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.resource_limits import Resource, enforce
from engine.services.settings import Settings
from engine.services.snapshot_permissions import (
    SnapshotPermissionService,
    restore_permission,
    usable_by,
    usable_snapshot,
)
from engine.services.snapshot_revert import revertable_volumes
from engine.services.tags import apply_tags, remove_tags
from engine.services.volume_queries import time_pattern_match
from engine.services.volumes import (
    CHANGEABLE,
    GIB,
    by_ident,
    owned_volume,
    require_idle,
)
from engine.states import JobStatus, SnapshotState, VolumeKind, VolumeState, require

T = TypeVar("T")

# Volume states a snapshot may be asked for in (Snapshotting: it queues).
SNAPSHOTTABLE = CHANGEABLE | {VolumeState.SNAPSHOTTING}
DELETABLE = frozenset({SnapshotState.BACKED_UP, SnapshotState.ERROR})


@dataclass
class SnapshotDetail:
    """A snapshot and the related facts both front ends render. ``volume``
    may be a removed row: snapshots outlive their volumes."""

    snapshot: Snapshot
    volume: Volume
    zone: Zone
    account: Account
    domain: Domain
    tags: list[Tag] = field(default_factory=list)
    revertable: bool = False  # its volume's hypervisor can revert a disk to it

    @property
    def size_gib(self) -> int:
        return -(-self.snapshot.size_bytes // GIB)


def _volume_sid(values: Sequence[str]) -> ColumnElement[bool]:
    return Snapshot.volume_uuid.in_(select(Volume.uuid).where(
        match_values(Volume.sid, values, True)))


def _owner_number(values: Sequence[str]) -> ColumnElement[bool]:
    return Snapshot.account_uuid.in_(select(Account.uuid).where(
        match_values(Account.number, values, True)))


def _size_gib(values: Sequence[str]) -> ColumnElement[bool]:
    try:
        sizes = [int(v) for v in values]
    except ValueError as exc:
        raise InvalidParameter("Filter", ",".join(values), "size_gib expects whole numbers") \
            from exc
    # Sizes are shown rounded up to whole GiB; match the same way.
    return or_(false(), *(and_(Snapshot.size_bytes > (n - 1) * GIB,
                               Snapshot.size_bytes <= n * GIB) for n in sizes))


SNAPSHOT_FIELDS: FieldMap = {
    "uuid": Snapshot.uuid,
    "sid": Snapshot.sid,
    "name": Snapshot.name,
    "description": Snapshot.description,
    "state": Snapshot.state,
    "zone_uuid": Snapshot.zone_uuid,
    "volume_uuid": Snapshot.volume_uuid,
    "volume_sid": _volume_sid,
    "volume_kind": Snapshot.volume_kind,
    "account_uuid": Snapshot.account_uuid,
    "owner_number": _owner_number,
    "size_gib": _size_gib,
    "created_at": time_pattern_match(Snapshot.created_at, "created_at"),
    # Who may make volumes from it: see snapshot_permissions.restore_permission.
    "restore_permission": restore_permission,
}


class SnapshotService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._settings = settings
        self.permissions = SnapshotPermissionService(session)

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging | None = None, *, list_all: bool = True,
             count: bool = True, shared: bool = False) -> ListResult:
        """Live snapshots the principal may see, as :class:`SnapshotDetail`
        items; with ``shared`` also those other accounts made public or
        shared with the principal's account."""
        if not shared:
            page = list_owned(self._s, Snapshot, principal, kind=ResourceKind.SNAPSHOT,
                              fields=SNAPSHOT_FIELDS, criteria=criteria, paging=paging,
                              list_all=list_all, count=count,
                              where=(Snapshot.removed_at.is_(None),))
        else:
            stmt = select(Snapshot).where(Snapshot.removed_at.is_(None), or_(
                owner_scope(Snapshot.account_uuid, principal, list_all=list_all),
                usable_by(principal)))
            stmt = apply_criteria(stmt, SNAPSHOT_FIELDS, criteria, uuid_column=Snapshot.uuid,
                                  kind=ResourceKind.SNAPSHOT)
            key = query_key("snapshots+shared", principal.account_uuid, criteria, list_all)
            page = paginate(self._s, stmt, created_column=Snapshot.created_at,
                            uuid_column=Snapshot.uuid, paging=paging or Paging(),
                            query_key=key, count=count)
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, ident: str) -> SnapshotDetail:
        """One live snapshot (by uuid or sid) the principal may see, or NotFound."""
        return self.details([self._visible(principal, ident)])[0]

    def details(self, snapshots: Sequence[Snapshot]) -> builtins.list[SnapshotDetail]:
        """Load the related rows of ``snapshots`` with one query per relation."""
        if not snapshots:
            return []
        s = self._s
        uuids = [x.uuid for x in snapshots]
        volumes = rows_by_uuid(s, Volume, {x.volume_uuid for x in snapshots})
        zones = rows_by_uuid(s, Zone, {x.zone_uuid for x in snapshots})
        accounts = rows_by_uuid(s, Account, {x.account_uuid for x in snapshots})
        domains = rows_by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        tags: dict[str, list[Tag]] = defaultdict(list)
        for t in s.scalars(select(Tag).where(Tag.resource_uuid.in_(uuids),
                                             Tag.resource_kind == ResourceKind.SNAPSHOT)
                           .order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        revertable = revertable_volumes(s, list(volumes))
        out = []
        for x in snapshots:
            account = accounts[x.account_uuid]
            out.append(SnapshotDetail(snapshot=x, volume=volumes[x.volume_uuid],
                                      zone=zones[x.zone_uuid], account=account,
                                      domain=domains[account.domain_uuid],
                                      tags=tags.get(x.uuid, []),
                                      revertable=x.volume_uuid in revertable))
        return out

    # ---------------------------------------------------------------- create
    def create(self, principal: Principal, volume_uuid: str, name: str | None = None,
               description: str = "", *, tags: tuple[tuple[str, str], ...] = (),
               command: str = "") -> tuple[Snapshot, Job]:
        """Snapshot a volume (owned by the volume's account); the job takes it.
        A volume already being snapshotted queues the new snapshot: the jobs
        take a volume's snapshots one at a time, in the order asked for.

        Raises NotFound (volume), IncorrectState (volume busy otherwise, or a
        root volume whose disk was never created).
        """
        v = owned_volume(self._s, principal, volume_uuid)
        require_idle(self._s, v, SNAPSHOTTABLE)
        if v.kind == VolumeKind.ROOT and not v.path:
            raise IncorrectState(ResourceKind.VOLUME, v.uuid, v.state, (VolumeState.READY,))
        enforce(self._s, v.account_uuid, {Resource.SNAPSHOT: 1,
                Resource.SECONDARY_STORAGE: v.size_bytes}, self._settings)
        now = utcnow()
        snap = Snapshot(
            name=(name or f"{v.name}_{_stamp(now)}")[:255], description=description[:255],
            account_uuid=v.account_uuid, zone_uuid=v.zone_uuid, volume_uuid=v.uuid,
            volume_kind=v.kind, size_bytes=v.size_bytes, state=SnapshotState.CREATING,
            created_at=now,
        )
        self._s.add(snap)
        v.state = VolumeState.SNAPSHOTTING
        self._s.flush()
        if tags:
            apply_tags(self._s, principal, ResourceKind.SNAPSHOT, [snap.uuid], tags)
        job = enqueue(self._s, JobKind.SNAPSHOT_VOLUME, principal,
                      resource_kind=ResourceKind.SNAPSHOT, resource_uuid=snap.uuid,
                      payload={"volume_uuid": v.uuid}, command=command,
                      queue_key=v.uuid)  # one at a time per volume, in order
        self._s.flush()
        return snap, job

    def create_for_instance(self, principal: Principal, instance_uuid: str,
                            description: str = "", *, exclude_root: bool = False,
                            exclude_volumes: Sequence[str] = (),
                            tags: tuple[tuple[str, str], ...] = (),
                            copy_volume_tags: bool = False,
                            command: str = "") -> builtins.list[tuple[Snapshot, Job]]:
        """Snapshot every volume attached to an instance (all or none), root
        first; ``exclude_volumes`` are volume uuids or sids. Each snapshot gets
        ``tags``, preceded by its volume's tags when ``copy_volume_tags``.
        Raises NotFound (instance; an excluded volume not attached to it),
        InvalidParameter (nothing left to snapshot) and what :meth:`create` raises.
        """
        inst = self._s.scalar(select(Instance).where(
            by_ident(Instance.uuid, Instance.sid, instance_uuid)))
        if inst is None or inst.removed_at is not None or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, instance_uuid)
        volumes = builtins.list(self._s.scalars(select(Volume).where(
            Volume.instance_uuid == inst.uuid, Volume.removed_at.is_(None))
            .order_by(Volume.device_id, Volume.created_at)))
        for ident in exclude_volumes:
            if not any(ident in (v.uuid, v.sid) for v in volumes):
                raise NotFound(ResourceKind.VOLUME, ident)
        chosen = [v for v in volumes
                  if not (exclude_root and v.kind == VolumeKind.ROOT)
                  and v.uuid not in exclude_volumes and v.sid not in exclude_volumes]
        if not chosen:
            raise InvalidParameter("instance", instance_uuid, "no volume is left to snapshot")
        out = []
        for v in chosen:
            own = tags
            if copy_volume_tags:
                copied = tuple((t.key, t.value) for t in self._s.scalars(select(Tag).where(
                    Tag.resource_uuid == v.uuid, Tag.resource_kind == ResourceKind.VOLUME)
                    .order_by(Tag.key)) if not t.key.startswith("aws:"))
                own = tuple({**dict(copied), **dict(tags)}.items())
            out.append(self.create(principal, v.uuid, description=description, tags=own,
                                   command=command))
        return out

    def copy(self, principal: Principal, snapshot_uuid: str, description: str | None = None,
             *, tags: tuple[tuple[str, str], ...] = (),
             command: str = "") -> tuple[Snapshot, Job]:
        """A new snapshot owned by the caller's account with the data of a
        BackedUp one it may see (or that is shared with it), in the same zone;
        ``description`` defaults to the source's.

        The copy starts Creating; a job copies the source's stored data through
        the driver (``copy_disk_snapshot``), so the copy equals the source as
        taken even when its volume changed or was deleted since. Tags are
        applied in this transaction. Raises NotFound (snapshot) and
        IncorrectState (source not BackedUp).
        """
        source = usable_snapshot(self._s, principal, snapshot_uuid)
        require(source.state, frozenset({SnapshotState.BACKED_UP}), ResourceKind.SNAPSHOT,
                source.sid)
        enforce(self._s, principal.account_uuid or source.account_uuid, {
                Resource.SNAPSHOT: 1, Resource.SECONDARY_STORAGE: source.size_bytes},
                self._settings)
        now = utcnow()
        text = source.description if description is None else description
        snap = Snapshot(
            name=f"{source.name}_copy_{_stamp(now)}"[:255], description=text[:255],
            account_uuid=principal.account_uuid or source.account_uuid,
            zone_uuid=source.zone_uuid, volume_uuid=source.volume_uuid,
            volume_kind=source.volume_kind, size_bytes=source.size_bytes,
            state=SnapshotState.CREATING, created_at=now, copied_from_uuid=source.uuid,
        )
        self._s.add(snap)
        self._s.flush()
        if tags:
            apply_tags(self._s, principal, ResourceKind.SNAPSHOT, [snap.uuid], tags)
        job = enqueue(self._s, JobKind.COPY_SNAPSHOT, principal,
                      resource_kind=ResourceKind.SNAPSHOT, resource_uuid=snap.uuid,
                      payload={"source_snapshot_uuid": source.uuid}, command=command)
        self._s.flush()
        return snap, job

    # ---------------------------------------------------------------- delete
    def delete(self, principal: Principal, snapshot_uuid: str, *, command: str = "",
               keep_template_sources: bool = False) -> Job:
        """Remove a BackedUp (or Error) snapshot at once; the job deletes it
        from the hypervisor. Raises NotFound, IncorrectState (still being
        taken) and InUse (a volume is still to be cloned from it, or a copy
        still to be made of it; with ``keep_template_sources``, a live
        template records it as its source snapshot: ``InUse.user`` names the
        template)."""
        snap = self._visible(principal, snapshot_uuid, lock=True)
        require(snap.state, DELETABLE, ResourceKind.SNAPSHOT, snap.uuid)
        if keep_template_sources:
            template = self._s.scalar(select(Template.sid).where(
                Template.source_snapshot_uuid == snap.uuid, Template.removed_at.is_(None))
                .order_by(Template.created_at).limit(1))
            if template is not None:
                raise InUse(ResourceKind.SNAPSHOT, snap.sid,
                            user=(ResourceKind.TEMPLATE, template))
        pending = self._s.scalar(select(Volume.name).where(
            Volume.snapshot_uuid == snap.uuid, Volume.removed_at.is_(None), Volume.path == "",
            Volume.state != VolumeState.ERROR))
        if pending is not None:
            raise InUse(ResourceKind.SNAPSHOT, snapshot_uuid, by=f"volume {pending}")
        copying = self._s.scalar(select(Job.uuid).where(
            Job.kind == JobKind.COPY_SNAPSHOT.value,
            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            Job.payload.contains(snap.uuid)).limit(1))
        if copying is not None:
            raise InUse(ResourceKind.SNAPSHOT, snapshot_uuid, by="a snapshot copy")
        snap.state, snap.removed_at = SnapshotState.DESTROYED, utcnow()
        remove_tags(self._s, [snap.uuid], [])
        self.permissions.drop_all(snap.uuid)
        record_event(self._s, principal, "SNAPSHOT.DELETE", f"Deleted snapshot {snap.name}",
                     ResourceKind.SNAPSHOT, snap.uuid, account_uuid=snap.account_uuid)
        job = enqueue(self._s, JobKind.DELETE_SNAPSHOT, principal,
                      resource_kind=ResourceKind.SNAPSHOT, resource_uuid=snap.uuid,
                      command=command)
        self._s.flush()
        return job

    def _visible(self, principal: Principal, ident: str, *, lock: bool = False) -> Snapshot:
        stmt = select(Snapshot).where(by_ident(Snapshot.uuid, Snapshot.sid, ident))
        snap = self._s.scalar(stmt.with_for_update() if lock else stmt)
        if snap is None or snap.removed_at is not None or not may_act(
                self._s, principal, snap.account_uuid):
            raise NotFound(ResourceKind.SNAPSHOT, ident)
        return snap


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%d%H%M%S")
