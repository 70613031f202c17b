"""Physical infrastructure inside a zone: pod > cluster > host, storage, public
IP ranges (the regions and zones themselves are in :mod:`engine.models.cloud`)."""

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, uuid_pk
from engine.states import (
    AllocationState,
    HostState,
    IpState,
    PoolState,
    ResourceState,
    StorageScope,
)


class Pod(Base):
    __tablename__ = "pods"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"), index=True)
    name: Mapped[str64]
    gateway: Mapped[str64] = mapped_column(default="")
    netmask: Mapped[str64] = mapped_column(default="")
    start_ip: Mapped[str64] = mapped_column(default="")
    end_ip: Mapped[str64] = mapped_column(default="")
    allocation_state: Mapped[AllocationState] = mapped_column(default=AllocationState.ENABLED)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class Cluster(Base):
    __tablename__ = "clusters"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"), index=True)
    pod_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("pods.uuid"), index=True)
    name: Mapped[str64]
    hypervisor: Mapped[str32]
    allocation_state: Mapped[AllocationState] = mapped_column(default=AllocationState.ENABLED)
    cpu_overcommit: Mapped[float | None] = mapped_column(Float)
    memory_overcommit: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class Host(Base):
    """A hypervisor host. ``cpu_allocated_mhz``/``memory_allocated_bytes`` are the
    capacity reserved by VMs placed here; the planner changes them only with a
    conditional UPDATE so concurrent placements can never overcommit."""

    __tablename__ = "hosts"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"), index=True)
    pod_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("pods.uuid"))
    cluster_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("clusters.uuid"), index=True)
    name: Mapped[str255]
    url: Mapped[str255]
    username: Mapped[str64 | None]
    password: Mapped[str255 | None]
    hypervisor: Mapped[str32]
    hypervisor_version: Mapped[str64] = mapped_column(default="")
    state: Mapped[HostState] = mapped_column(default=HostState.UP)
    resource_state: Mapped[ResourceState] = mapped_column(default=ResourceState.ENABLED)
    cpu_cores: Mapped[int]
    cpu_mhz: Mapped[int]
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    local_storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    arch: Mapped[str32] = mapped_column(default="x86_64")
    cpu_allocated_mhz: Mapped[int] = mapped_column(BigInteger, default=0)
    memory_allocated_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    host_tags: Mapped[str255] = mapped_column(default="")
    owner_server_uuid: Mapped[str | None] = mapped_column(String(36))
    owner_lease_until: Mapped[datetime | None]  # the owner's claim lapses after this
    last_seen_at: Mapped[datetime | None]  # last successful contact with the host
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class StoragePool(Base):
    """Primary storage. ``allocated_bytes`` is reserved like host capacity."""

    __tablename__ = "storage_pools"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"), index=True)
    pod_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("pods.uuid"))
    cluster_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("clusters.uuid"))
    scope: Mapped[StorageScope]
    name: Mapped[str255]
    url: Mapped[str255]
    pool_type: Mapped[str32] = mapped_column(default="NetworkFilesystem")
    hypervisor: Mapped[str32 | None]
    capacity_bytes: Mapped[int] = mapped_column(BigInteger)
    allocated_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    overprovision_factor: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[str255] = mapped_column(default="")
    state: Mapped[PoolState] = mapped_column(default=PoolState.UP)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class ImageStore(Base):
    """Secondary storage where templates and snapshots live."""

    __tablename__ = "image_stores"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("zones.uuid"))
    name: Mapped[str255]
    url: Mapped[str255]
    protocol: Mapped[str32] = mapped_column(default="nfs")
    provider: Mapped[str32] = mapped_column(default="NFS")
    capacity_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class VlanRange(Base):
    """A public IP range; each of its addresses is a :class:`PublicIp` row."""

    __tablename__ = "vlan_ranges"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"), index=True)
    pod_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("pods.uuid"))
    vlan: Mapped[str64] = mapped_column(default="untagged")
    gateway: Mapped[str64]
    netmask: Mapped[str64]
    start_ip: Mapped[str64]
    end_ip: Mapped[str64]
    for_virtual_network: Mapped[bool] = mapped_column(default=True)
    account_uuid: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class PublicIp(Base):
    """One public address. Allocation flips ``state`` with a compare-and-set."""

    __tablename__ = "public_ips"
    __table_args__ = (Index("ix_public_ips_zone_state", "zone_uuid", "state"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    vlan_range_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("vlan_ranges.uuid"))
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"))
    address: Mapped[str64] = mapped_column(unique=True)
    state: Mapped[IpState] = mapped_column(default=IpState.FREE)
    account_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    allocated_at: Mapped[datetime | None]
    instance_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    association_sid: Mapped[str | None] = mapped_column(String(17), unique=True)
    network_uuid: Mapped[str | None] = mapped_column(String(36))
    is_source_nat: Mapped[bool] = mapped_column(default=False)
    # The reverse DNS (PTR) name the holder gave the address; None: the default name.
    reverse_dns_name: Mapped[str255 | None]
