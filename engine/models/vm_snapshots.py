"""VM snapshots: a consistent set of per-volume disk snapshots of one instance.

``VmSnapshot`` is the set (with its place in the instance's snapshot tree:
``parent_uuid`` and the one ``current`` snapshot); ``VmSnapshotDisk`` is one
member, the hypervisor's snapshot ``snapshot_sid`` of the disk ``disk_sid``.
Members are not volume snapshots (they never appear among ``Snapshot`` rows).
"""

from datetime import datetime
from enum import Enum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str255, uuid_pk


class VmSnapshotState(str, Enum):
    """The states of a VM snapshot (stored as their text)."""

    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    REVERTING = "Reverting"
    EXPUNGING = "Expunging"
    ERROR = "Error"


class VmSnapshotKind(str, Enum):
    DISK = "Disk"
    DISK_AND_MEMORY = "DiskAndMemory"


class VmSnapshot(Base):
    """A snapshot of every volume of an instance, taken together."""

    __tablename__ = "vm_snapshots"
    __table_args__ = (Index("ix_vm_snapshots_account_created", "account_uuid", "created_at",
                            "uuid"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255]  # internal name: <instance name>_VS_<timestamp>
    display_name: Mapped[str255]  # unique among the instance's live snapshots
    description: Mapped[str255] = mapped_column(default="")
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"))
    instance_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("instances.uuid"),
                                               index=True)
    parent_uuid: Mapped[str | None] = mapped_column(String(36))
    current: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str32] = mapped_column(default=VmSnapshotKind.DISK.value)
    state: Mapped[str32]
    quiesce: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class VmSnapshotDisk(Base):
    """One member of a VM snapshot: the hypervisor's snapshot of one volume's disk."""

    __tablename__ = "vm_snapshot_disks"
    uuid: Mapped[uuid_pk]
    vm_snapshot_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("vm_snapshots.uuid", ondelete="CASCADE"), index=True)
    volume_uuid: Mapped[str] = mapped_column(String(36))
    disk_sid: Mapped[str] = mapped_column(String(17))
    snapshot_sid: Mapped[str] = mapped_column(String(40), unique=True)
    pool_uuid: Mapped[str | None] = mapped_column(String(36))
    device_id: Mapped[int] = mapped_column(default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[created_at]
