"""VM snapshots: take, list, revert to and delete a snapshot of all of an
instance's volumes at once.

A VM snapshot is one disk snapshot per volume of the instance, taken through
the driver's DISK_SNAPSHOT capability and reverted through REVERT_SNAPSHOT.
Only disk snapshots exist (no guest memory). The snapshots of an instance
form a tree: a new snapshot's parent is the instance's ``current`` snapshot,
and it becomes current once taken; reverting makes the target current;
deleting one hands its children to its parent (which becomes current if the
deleted one was).

Each operation commits its intent here (rows in a transitional state, the
volumes busy, a queued job); the jobs in :mod:`engine.jobs.vm_snapshot_handlers`
call the hypervisor and settle. Jobs run under the instance's id, so they run
in order with the instance's other jobs. Expunging an instance deletes its VM
snapshots (:func:`drop_instance_snapshots`).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, aliased

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import (
    IncorrectState,
    InsufficientCapacity,
    InvalidParameter,
    LimitExceeded,
    NotFound,
    ResourceKind,
)
from engine.hypervisors.base import Capability
from engine.jobs.drivers import host_access
from engine.jobs.queue import JobKind, enqueue
from engine.models import (
    Account,
    Domain,
    Host,
    Instance,
    Job,
    Tag,
    VmSnapshot,
    VmSnapshotDisk,
    Volume,
    Zone,
)
from engine.models.vm_snapshots import VmSnapshotKind, VmSnapshotState
from engine.principal import SYSTEM, Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    like_pattern,
    list_owned,
    rows_by_uuid,
)
from engine.services.access import may_act, owned_instance
from engine.services.events import record_event
from engine.services.settings import Settings
from engine.services.tags import remove_tags
from engine.services.volumes import by_ident
from engine.states import VmState, VolumeState

if TYPE_CHECKING:
    from engine.jobs.drivers import DriverPool

MAX_PER_INSTANCE = 10  # CloudStack's vmsnapshot.max default
BUSY = frozenset({VmSnapshotState.ALLOCATED.value, VmSnapshotState.CREATING.value,
                  VmSnapshotState.REVERTING.value, VmSnapshotState.EXPUNGING.value})
DELETABLE = frozenset({VmSnapshotState.READY.value, VmSnapshotState.ERROR.value,
                       VmSnapshotState.EXPUNGING.value})
_SNAPSHOTTABLE = frozenset({VmState.RUNNING, VmState.STOPPED})


@dataclass
class VmSnapshotDetail:
    """A VM snapshot and the related rows both front ends may render."""

    snapshot: VmSnapshot
    instance: Instance
    zone: Zone
    account: Account
    domain: Domain
    parent: VmSnapshot | None = None
    tags: list[Tag] = field(default_factory=list)


def _keyword(values: Sequence[str]) -> ColumnElement[bool]:
    conds: list[ColumnElement[bool]] = []
    for v in values:
        pattern = f"%{like_pattern(v)}%"
        conds.extend(c.like(pattern, escape="\\") for c in (
            VmSnapshot.name, VmSnapshot.display_name, VmSnapshot.description))
    return or_(*conds)


def _domain(values: Sequence[str]) -> ColumnElement[bool]:
    return VmSnapshot.account_uuid.in_(select(Account.uuid).where(Account.domain_uuid.in_(values)))


def _domain_tree(values: Sequence[str]) -> ColumnElement[bool]:
    top = aliased(Domain)
    return VmSnapshot.account_uuid.in_(
        select(Account.uuid).join(Domain, Domain.uuid == Account.domain_uuid)
        .join(top, top.uuid.in_(values)).where(Domain.path.startswith(top.path)))


FIELDS: FieldMap = {
    "uuid": VmSnapshot.uuid,
    "sid": VmSnapshot.sid,
    "name": VmSnapshot.display_name,
    "internal_name": VmSnapshot.name,
    "state": VmSnapshot.state,
    "instance_uuid": VmSnapshot.instance_uuid,
    "account_uuid": VmSnapshot.account_uuid,
    "zone_uuid": VmSnapshot.zone_uuid,
    "keyword": _keyword,
    "domain_uuid": _domain,
    "domain_tree": _domain_tree,
}


def live_volumes(session: Session, instance_uuid: str, *, lock: bool = False) -> list[Volume]:
    """The instance's attached, not removed volumes by device id."""
    stmt = select(Volume).where(Volume.instance_uuid == instance_uuid,
                                Volume.removed_at.is_(None)).order_by(Volume.device_id)
    return list(session.scalars(stmt.with_for_update() if lock else stmt))


def live_snapshots(session: Session, instance_uuid: str) -> list[VmSnapshot]:
    """The instance's VM snapshots that are not removed, oldest first."""
    return list(session.scalars(select(VmSnapshot).where(
        VmSnapshot.instance_uuid == instance_uuid, VmSnapshot.removed_at.is_(None))
        .order_by(VmSnapshot.created_at, VmSnapshot.uuid).with_for_update()))


def drop_instance_snapshots(session: Session, instance_uuid: str) -> int:
    """For an instance being expunged: every live VM snapshot goes Expunging
    and a job deletes its disk snapshots from the hypervisor and removes it.
    Returns how many were queued. Runs in the caller's transaction."""
    count = 0
    for vs in live_snapshots(session, instance_uuid):
        vs.state = VmSnapshotState.EXPUNGING.value
        enqueue(session, JobKind.DELETE_VM_SNAPSHOT, SYSTEM, resource_kind=ResourceKind.INSTANCE,
                resource_uuid=instance_uuid, payload={"vm_snapshot_uuid": vs.uuid},
                command="expunge")
        count += 1
    return count


class VmSnapshotService:
    def __init__(self, session: Session, settings: Settings,
                 drivers: DriverPool | None = None) -> None:
        self._s = session
        self._settings = settings
        self._drivers = drivers

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging | None = None, *, list_all: bool = True,
             count: bool = True) -> ListResult:
        """Live VM snapshots the principal may see, as :class:`VmSnapshotDetail`
        items. Fields: uuid, sid, name (the display name), internal_name,
        state, instance_uuid, account_uuid, zone_uuid, keyword, tag:<key>."""
        page = list_owned(self._s, VmSnapshot, principal, kind=ResourceKind.VM_SNAPSHOT,
                          fields=FIELDS, criteria=criteria, paging=paging,
                          list_all=list_all, count=count,
                          where=(VmSnapshot.removed_at.is_(None),))
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, ident: str) -> VmSnapshotDetail:
        """One live VM snapshot (by uuid or sid) the principal may see, or NotFound."""
        return self.details([self._visible(principal, ident)])[0]

    def details(self, rows: Sequence[VmSnapshot]) -> builtins.list[VmSnapshotDetail]:
        """Load the related rows of ``rows`` with one query per relation."""
        if not rows:
            return []
        s = self._s
        instances = rows_by_uuid(s, Instance, {x.instance_uuid for x in rows})
        zones = rows_by_uuid(s, Zone, {x.zone_uuid for x in rows})
        accounts = rows_by_uuid(s, Account, {x.account_uuid for x in rows})
        domains = rows_by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        parents = rows_by_uuid(s, VmSnapshot, {x.parent_uuid for x in rows})
        tags: dict[str, list[Tag]] = defaultdict(list)
        for t in s.scalars(select(Tag).where(Tag.resource_uuid.in_([x.uuid for x in rows]),
                                             Tag.resource_kind == ResourceKind.VM_SNAPSHOT)
                           .order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        out = []
        for x in rows:
            account = accounts[x.account_uuid]
            out.append(VmSnapshotDetail(
                snapshot=x, instance=instances[x.instance_uuid], zone=zones[x.zone_uuid],
                account=account, domain=domains[account.domain_uuid],
                parent=parents.get(x.parent_uuid or ""), tags=tags.get(x.uuid, [])))
        return out

    # ---------------------------------------------------------------- create
    def create(self, principal: Principal, instance_uuid: str, *, name: str | None = None,
               description: str | None = None, memory: bool = False, quiesce: bool = False,
               command: str = "") -> tuple[VmSnapshot, Job]:
        """Queue a snapshot of every volume of a Running or Stopped instance.

        Raises NotFound (instance); InvalidParameter when the hypervisor cannot
        snapshot disks, the name or description is longer than 255, the name is
        taken on this instance, the instance is in another state, memory is
        asked for (not supported; on a stopped instance CloudStack's own
        refusal), or a volume's disk was never created; IncorrectState when
        another VM snapshot operation or a volume operation is under way;
        LimitExceeded past ten snapshots of one instance.
        """
        inst = owned_instance(self._s, principal, instance_uuid)
        self._require_capability(inst, Capability.DISK_SNAPSHOT, "VM snapshots are")
        for param, value in (("name", name), ("description", description)):
            if value is not None and len(value) > 255:
                raise InvalidParameter(param, value[:20] + "...", "must not exceed 255 characters")
        now = utcnow()
        internal = f"{inst.instance_name}_VS_{now:%Y%m%d%H%M%S}"
        display = name or internal
        existing = live_snapshots(self._s, inst.uuid)
        if any(x.display_name == display for x in existing):
            raise InvalidParameter("name", display,
                                   "a VM snapshot with this name already exists for the VM")
        if inst.state not in _SNAPSHOTTABLE:
            raise InvalidParameter("virtualmachineid", inst.uuid,
                                   "the VM is not in Running or Stopped state")
        if memory and inst.state != VmState.RUNNING:
            raise InvalidParameter("snapshotmemory", "true",
                                   "memory cannot be snapshotted when the VM is not Running")
        if memory:
            raise InvalidParameter("snapshotmemory", "true",
                                   "snapshots with memory are not supported; "
                                   "take a disk-only snapshot (snapshotmemory=false)")
        if len(existing) >= MAX_PER_INSTANCE:
            raise LimitExceeded(ResourceKind.VM_SNAPSHOT, MAX_PER_INSTANCE)
        self._require_idle(existing)
        volumes = live_volumes(self._s, inst.uuid, lock=True)
        for v in volumes:
            if not v.path:
                raise InvalidParameter("virtualmachineid", inst.uuid,
                                       f"the disk of volume {v.name} has not been created yet")
            if v.state != VolumeState.READY:
                raise IncorrectState(ResourceKind.VOLUME, v.uuid, v.state, (VolumeState.READY,))
        current = next((x for x in existing if x.current), None)
        vs = VmSnapshot(
            name=internal, display_name=display, description=description or "",
            account_uuid=inst.account_uuid, zone_uuid=inst.zone_uuid, instance_uuid=inst.uuid,
            parent_uuid=current.uuid if current else None, current=False,
            kind=VmSnapshotKind.DISK.value, state=VmSnapshotState.ALLOCATED.value,
            quiesce=quiesce, created_at=now)
        self._s.add(vs)
        self._s.flush()
        for v in volumes:
            self._s.add(VmSnapshotDisk(
                vm_snapshot_uuid=vs.uuid, volume_uuid=v.uuid, disk_sid=v.sid,
                snapshot_sid=f"{vs.sid}-{v.sid}", pool_uuid=v.pool_uuid,
                device_id=v.device_id or 0, size_bytes=v.size_bytes, created_at=now))
            v.state = VolumeState.SNAPSHOTTING
        job = enqueue(self._s, JobKind.CREATE_VM_SNAPSHOT, principal,
                      resource_kind=ResourceKind.INSTANCE, resource_uuid=inst.uuid,
                      payload={"vm_snapshot_uuid": vs.uuid}, command=command)
        self._s.flush()
        return vs, job

    # ---------------------------------------------------------------- revert
    def revert(self, principal: Principal, ident: str, *,
               command: str = "") -> tuple[VmSnapshot, Job]:
        """Queue putting every volume of the instance back to the snapshot.

        Raises NotFound (snapshot, or its instance is gone); InvalidParameter
        when another VM snapshot operation is under way, the instance is not
        Running or Stopped, it is Running (a disk-only snapshot needs it
        Stopped), the snapshot is not Ready, or the instance's set of volumes
        changed since the snapshot; IncorrectState when a volume is busy;
        InsufficientCapacity when a volume that shrank since cannot get its
        old size back on its pool.
        """
        vs = self._visible(principal, ident, lock=True)
        inst = owned_instance(self._s, principal, vs.instance_uuid)
        self._require_capability(inst, Capability.REVERT_SNAPSHOT, "reverting VM snapshots is")
        if any(x.state in BUSY for x in live_snapshots(self._s, inst.uuid)):
            raise InvalidParameter("vmsnapshotid", vs.uuid, "there are other active VM "
                                   "snapshot tasks on the VM; try again later")
        if inst.state not in _SNAPSHOTTABLE:
            raise InvalidParameter("vmsnapshotid", vs.uuid, "the VM is not in Running or "
                                   "Stopped state")
        if inst.state == VmState.RUNNING and vs.kind == VmSnapshotKind.DISK.value:
            raise InvalidParameter("vmsnapshotid", vs.uuid, "a running VM can only be reverted "
                                   "to a snapshot with memory; stop the VM first")
        if vs.state != VmSnapshotState.READY.value:
            raise InvalidParameter("vmsnapshotid", vs.uuid, "the VM snapshot is not Ready")
        members = self._members(vs.uuid)
        volumes = live_volumes(self._s, inst.uuid, lock=True)
        if {m.volume_uuid for m in members} != {v.uuid for v in volumes}:
            raise InvalidParameter("vmsnapshotid", vs.uuid, "the VM's volumes changed since "
                                   "the snapshot was taken (a volume was attached or "
                                   "detached), so it cannot be reverted")
        for v in volumes:
            if v.state != VolumeState.READY:
                raise IncorrectState(ResourceKind.VOLUME, v.uuid, v.state, (VolumeState.READY,))
        grown = self._reserve_growth(members, {v.uuid: v for v in volumes})
        for v in volumes:
            v.state = VolumeState.SNAPSHOTTING
        vs.state = VmSnapshotState.REVERTING.value
        job = enqueue(self._s, JobKind.REVERT_VM_SNAPSHOT, principal,
                      resource_kind=ResourceKind.INSTANCE, resource_uuid=inst.uuid,
                      payload={"vm_snapshot_uuid": vs.uuid, "grown": grown}, command=command)
        self._s.flush()
        return vs, job

    def _reserve_growth(self, members: Sequence[VmSnapshotDisk],
                        volumes: dict[str, Volume]) -> dict[str, int]:
        """Reserve, per volume smaller now than in the snapshot, the difference
        on its pool; volume uuid -> bytes reserved."""
        storage = StorageAllocator(self._s, self._settings)
        grown: dict[str, int] = {}
        for m in members:
            v = volumes[m.volume_uuid]
            delta = m.size_bytes - v.size_bytes
            if delta > 0 and v.pool_uuid:
                if not storage.try_reserve(v.pool_uuid, delta):
                    raise InsufficientCapacity(ResourceKind.STORAGE_POOL,
                                               f"no room to give volume {v.name} its old size")
                grown[v.uuid] = delta
        return grown

    # ---------------------------------------------------------------- delete
    def delete(self, principal: Principal, ident: str, *, command: str = "") -> Job:
        """Queue deleting a Ready, Error or Expunging snapshot (Expunging at
        once). Raises NotFound; InvalidParameter in another state or while
        another VM snapshot operation of the instance is under way."""
        vs = self._visible(principal, ident, lock=True)
        if vs.state not in DELETABLE:
            raise InvalidParameter("vmsnapshotid", vs.uuid, "the VM snapshot is not in Ready, "
                                   "Error or Expunging state")
        others = [x for x in live_snapshots(self._s, vs.instance_uuid)
                  if x.uuid != vs.uuid and x.state in BUSY]
        if others:
            raise InvalidParameter("vmsnapshotid", vs.uuid, "there are other active VM "
                                   "snapshot tasks on the VM; try again later")
        vs.state = VmSnapshotState.EXPUNGING.value
        job = enqueue(self._s, JobKind.DELETE_VM_SNAPSHOT, principal,
                      resource_kind=ResourceKind.INSTANCE, resource_uuid=vs.instance_uuid,
                      payload={"vm_snapshot_uuid": vs.uuid}, command=command)
        self._s.flush()
        return job

    # ---------------------------------------------------------------- helpers
    def _members(self, vm_snapshot_uuid: str) -> builtins.list[VmSnapshotDisk]:
        return list(self._s.scalars(select(VmSnapshotDisk).where(
            VmSnapshotDisk.vm_snapshot_uuid == vm_snapshot_uuid)
            .order_by(VmSnapshotDisk.device_id)))

    def _require_idle(self, existing: Sequence[VmSnapshot]) -> None:
        busy = next((x for x in existing if x.state in BUSY), None)
        if busy is not None:
            raise IncorrectState(ResourceKind.VM_SNAPSHOT, busy.uuid, busy.state,
                                 (VmSnapshotState.READY.value,))

    def _require_capability(self, inst: Instance, capability: Capability, what: str) -> None:
        """InvalidParameter unless the driver of the instance's host has ``capability``
        (not checked without a driver pool or a host)."""
        host_uuid = inst.host_uuid or inst.last_host_uuid
        host = self._s.get(Host, host_uuid) if host_uuid else None
        if self._drivers is None or host is None:
            return
        driver = self._drivers.get(host_access(self._s, host))
        if not driver.supports(capability):
            raise InvalidParameter("virtualmachineid", inst.uuid,
                                   f"{what} not supported by the {driver.name} hypervisor")

    def _visible(self, principal: Principal, ident: str, *, lock: bool = False) -> VmSnapshot:
        stmt = select(VmSnapshot).where(by_ident(VmSnapshot.uuid, VmSnapshot.sid, ident))
        vs = self._s.scalar(stmt.with_for_update() if lock else stmt)
        if vs is None or vs.removed_at is not None or not may_act(
                self._s, principal, vs.account_uuid):
            raise NotFound(ResourceKind.VM_SNAPSHOT, ident)
        return vs


def forget_tags(session: Session, vm_snapshot_uuid: str) -> None:
    """Remove the tags of a removed VM snapshot."""
    remove_tags(session, [vm_snapshot_uuid], [])


def record(session: Session, principal: Principal | None, event: str, text: str,
           vs: VmSnapshot, *, level: str = "INFO") -> None:
    """An event about ``vs`` on its owner's account."""
    record_event(session, principal, event, text, ResourceKind.VM_SNAPSHOT, vs.uuid,
                 level=level, account_uuid=vs.account_uuid)
