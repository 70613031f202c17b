"""Volumes and snapshots."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str255, uuid_pk
from engine.states import SnapshotState, VolumeKind, VolumeState


class Volume(Base):
    """A disk. ``size_bytes`` is reserved on ``pool_uuid`` while the volume lives."""

    __tablename__ = "volumes"
    __table_args__ = (
        Index("ix_volumes_account_created", "account_uuid", "created_at", "uuid"),
        Index("ux_volumes_account_client_token", "account_uuid", "client_token", unique=True),
    )
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"))
    pool_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("storage_pools.uuid"))
    instance_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("instances.uuid"), index=True
    )
    kind: Mapped[VolumeKind]
    device_id: Mapped[int | None]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[VolumeState]
    volume_type: Mapped[str32] = mapped_column(default="gp3")
    iops: Mapped[int | None]  # provisioned I/O operations per second, if any
    throughput: Mapped[int | None]  # provisioned throughput in MiB/s, if any
    disk_offering_uuid: Mapped[str | None] = mapped_column(String(36))
    template_uuid: Mapped[str | None] = mapped_column(String(36))
    snapshot_uuid: Mapped[str | None] = mapped_column(String(36))
    delete_on_termination: Mapped[bool] = mapped_column(default=True)
    path: Mapped[str255] = mapped_column(default="")
    attached_at: Mapped[datetime | None]
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]
    client_token: Mapped[str | None] = mapped_column(String(64))  # the creator's idempotency token
    # Digest of the create request that used ``client_token`` (VolumeRequest.fingerprint).
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))


class Snapshot(Base):
    __tablename__ = "snapshots"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255]
    description: Mapped[str255] = mapped_column(default="")
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"))
    volume_uuid: Mapped[str] = mapped_column(String(36))
    volume_kind: Mapped[VolumeKind]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[SnapshotState]
    # The snapshot this one is a copy of (None: taken from ``volume_uuid`` itself).
    copied_from_uuid: Mapped[str | None] = mapped_column(String(36))
    # Every account may make volumes from it (see :class:`SnapshotPermission`).
    is_public: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class SnapshotPermission(Base):
    """An account other than the owner that may make volumes from a snapshot."""

    __tablename__ = "snapshot_permissions"
    __table_args__ = (UniqueConstraint("snapshot_uuid", "account_uuid"),)
    uuid: Mapped[uuid_pk]
    snapshot_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("snapshots.uuid"),
                                               index=True)
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    created_at: Mapped[created_at]
