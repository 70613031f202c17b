"""Data volumes made with an instance at launch.

A launch may ask for data volumes besides the root volume. They are checked
(:func:`plan_data_volumes`) before anything is reserved, then created in the
launch's own transaction, one set per instance (:func:`add_data_volumes`),
already in their device slots. The spawn job's domain definition creates and
attaches their disks with the root disk (a volume from a snapshot is cloned
from it), so a launch that fails leaves none of them: a refused request rolls
the transaction back, and a failed spawn expunges them with the instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.allocators.storage import StorageAllocator
from engine.errors import InvalidParameter, ResourceKind
from engine.ids import new_uuid
from engine.models import Snapshot
from engine.principal import Principal
from engine.services.snapshot_permissions import usable_snapshot
from engine.states import SnapshotState, VolumeKind, VolumeState, require

GIB = 1024**3
MAX_SIZE_GIB = 16384


@dataclass(frozen=True)
class DataVolumeSpec:
    """One data volume to create with each launched instance, in slot ``device_id``.

    ``size_gib`` is required without ``snapshot_uuid`` (uuid or sid); with one it
    defaults to the snapshot's size and may only grow it. ``volume_type``,
    ``iops`` and ``throughput`` are recorded as given (None: the defaults).
    """

    device_id: int
    size_gib: int | None = None
    snapshot_uuid: str | None = None
    volume_type: str | None = None
    iops: int | None = None
    throughput: int | None = None
    delete_on_termination: bool = True


@dataclass(frozen=True)
class PlannedVolume:
    """A checked :class:`DataVolumeSpec`: its size and resolved snapshot."""

    spec: DataVolumeSpec
    size_bytes: int
    snapshot: Snapshot | None


def plan_data_volumes(session: Session, principal: Principal, zone_uuid: str,
                      specs: Sequence[DataVolumeSpec]) -> list[PlannedVolume]:
    """Check ``specs`` for a launch in ``zone_uuid``; change nothing.

    Raises InvalidParameter (name ``block_device.device`` for a slot that is
    0 or given twice, ``block_device.size`` for a missing or out-of-range size
    or one smaller than its snapshot, ``block_device.snapshot`` for a snapshot
    of another zone), NotFound (SNAPSHOT) for a snapshot the caller neither
    owns nor has been given (``snapshot_permissions.usable_snapshot``),
    IncorrectState for one not BackedUp. The volumes belong to the instance's
    account whoever owns the snapshot.
    """
    seen: set[int] = set()
    out = []
    for spec in specs:
        if spec.device_id <= 0 or spec.device_id in seen:
            raise InvalidParameter("block_device.device", spec.device_id,
                                   "the slot is taken or used twice")
        seen.add(spec.device_id)
        snapshot = _snapshot(session, principal, spec.snapshot_uuid)
        if snapshot is not None and snapshot.zone_uuid != zone_uuid:
            raise InvalidParameter("block_device.snapshot", spec.snapshot_uuid,
                                   "the snapshot is in another zone")
        out.append(PlannedVolume(spec, _size(spec, snapshot), snapshot))
    return out


def add_data_volumes(storage: StorageAllocator, inst: Any,
                     planned: Sequence[PlannedVolume], *, storage_tags: str,
                     now: datetime) -> list[dict[str, Any]]:
    """Reserve pool capacity for the data volumes of the new ``inst`` (its
    row or record, read only) and give their rows' values by attribute name
    (attached in their slots, Allocated until its spawn makes the disks;
    columns not given take their defaults); the caller writes them in its
    transaction (``engine.services.launch_rows``). Raises
    InsufficientCapacity if a pool has no room."""
    out = []
    for index, p in enumerate(planned):
        spec = p.spec
        pool_uuid = storage.reserve(inst.zone_uuid, p.size_bytes, host_uuid=inst.host_uuid,
                                    tags=storage_tags, hypervisor=inst.hypervisor)
        suffix = f"-{index + 1}" if index else ""
        v: dict[str, Any] = {
            "uuid": new_uuid(),  # tags name it before any write
            "name": f"DATA-{inst.number}{suffix}", "account_uuid": inst.account_uuid,
            "zone_uuid": inst.zone_uuid, "pool_uuid": pool_uuid, "instance_uuid": inst.uuid,
            "kind": VolumeKind.DATADISK, "device_id": spec.device_id, "size_bytes": p.size_bytes,
            "state": VolumeState.ALLOCATED, "iops": spec.iops, "throughput": spec.throughput,
            "snapshot_uuid": p.snapshot.uuid if p.snapshot is not None else None,
            "delete_on_termination": spec.delete_on_termination, "attached_at": now,
            "created_at": now}
        if spec.volume_type:
            v["volume_type"] = spec.volume_type
        out.append(v)
    return out


def _snapshot(session: Session, principal: Principal, ident: str | None) -> Snapshot | None:
    if ident is None:
        return None
    # Its own, or one shared with its account, as for CreateVolume.
    snap = usable_snapshot(session, principal, ident)
    require(snap.state, frozenset({SnapshotState.BACKED_UP}), ResourceKind.SNAPSHOT, snap.uuid)
    return snap


def _size(spec: DataVolumeSpec, snapshot: Snapshot | None) -> int:
    if spec.size_gib is None:
        if snapshot is None:
            raise InvalidParameter("block_device.size", None, "a size or a snapshot is required")
        return snapshot.size_bytes
    if not 1 <= spec.size_gib <= MAX_SIZE_GIB:
        raise InvalidParameter("block_device.size", spec.size_gib,
                               f"must be 1 to {MAX_SIZE_GIB} GiB")
    if snapshot is not None and spec.size_gib * GIB < snapshot.size_bytes:
        raise InvalidParameter("block_device.size", spec.size_gib,
                               f"smaller than the snapshot ({-(-snapshot.size_bytes // GIB)} GiB)")
    return spec.size_gib * GIB
