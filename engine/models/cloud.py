"""The cloud as a whole: its regions and zones, and the management plane's own
tables (global settings, management servers, named counters). What a
server's first call needs of the infrastructure; the physical resources
inside zones are in :mod:`engine.models.infrastructure`."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, uuid_pk
from engine.states import AllocationState


class Region(Base):
    __tablename__ = "regions"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str64] = mapped_column(unique=True)
    endpoint: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]


class Zone(Base):
    __tablename__ = "zones"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    region_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("regions.uuid"))
    name: Mapped[str64] = mapped_column(unique=True)
    description: Mapped[str255] = mapped_column(default="")
    network_type: Mapped[str32] = mapped_column(default="Advanced")
    allocation_state: Mapped[AllocationState] = mapped_column(default=AllocationState.ENABLED)
    dns1: Mapped[str64] = mapped_column(default="8.8.8.8")
    internal_dns1: Mapped[str64] = mapped_column(default="10.0.0.2")
    guest_cidr: Mapped[str64] = mapped_column(default="10.1.0.0/16")
    security_groups_enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class Setting(Base):
    """A global setting shared by every management server (name -> value)."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str255]
    category: Mapped[str64] = mapped_column(default="Advanced")
    description: Mapped[str255] = mapped_column(default="")


class ManagementServer(Base):
    """A running ``nimbostack serve`` process (heartbeats into the shared DB)."""

    __tablename__ = "management_servers"
    __table_args__ = (UniqueConstraint("name", "pid", "started_at"),)
    uuid: Mapped[uuid_pk]
    name: Mapped[str255]
    address: Mapped[str255] = mapped_column(default="")
    pid: Mapped[int]
    version: Mapped[str32] = mapped_column(default="")
    state: Mapped[str32] = mapped_column(default="Up")
    started_at: Mapped[created_at]
    heartbeat_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]


class Sequence(Base):
    """Named counters (e.g. instance numbers for hypervisor domain names)."""

    __tablename__ = "sequences"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)
