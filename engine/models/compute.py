"""Virtual machines, their guest networks and NICs."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, text, uuid_pk
from engine.states import VmState


class Network(Base):
    """A guest network. ``next_ip_offset`` is the private-IP allocator's cursor."""

    __tablename__ = "networks"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"), index=True)
    account_uuid: Mapped[str | None] = mapped_column(String(36), index=True)  # None: shared
    name: Mapped[str255]
    display_text: Mapped[str255] = mapped_column(default="")
    network_type: Mapped[str32] = mapped_column(default="Shared")
    cidr: Mapped[str64]
    gateway: Mapped[str64]
    vlan: Mapped[str64] = mapped_column(default="")
    state: Mapped[str32] = mapped_column(default="Implemented")
    is_default: Mapped[bool] = mapped_column(default=False)
    next_ip_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    network_offering_uuid: Mapped[str | None] = mapped_column(String(36))  # None: by type
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class Instance(Base):
    """A virtual machine. The CPU/memory it reserved on its host are copied
    here (``cpus``...``memory_mib``) so capacity is released exactly as taken."""

    __tablename__ = "instances"
    __table_args__ = (
        UniqueConstraint("account_uuid", "client_token"),
        Index("ix_instances_account_created", "account_uuid", "created_at", "uuid"),
    )
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    number: Mapped[int] = mapped_column(BigInteger, unique=True)  # for i-<acct>-<n>-VM
    name: Mapped[str255]
    display_name: Mapped[str255]
    instance_name: Mapped[str64] = mapped_column(unique=True)  # the hypervisor's domain name
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    user_uuid: Mapped[str | None] = mapped_column(String(36))
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"))
    host_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("hosts.uuid"), index=True)
    last_host_uuid: Mapped[str | None] = mapped_column(String(36))
    service_offering_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("service_offerings.uuid")
    )
    template_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("templates.uuid"))
    hypervisor: Mapped[str32]
    domain_ref: Mapped[str255 | None]  # the driver's handle once the domain is defined
    state: Mapped[VmState] = mapped_column(index=True)
    power_state: Mapped[str32] = mapped_column(default="PowerUnknown")
    power_state_at: Mapped[datetime | None]  # when a host last reported power_state
    state_reason: Mapped[str255] = mapped_column(default="")
    cpus: Mapped[int]
    cpu_mhz: Mapped[int]
    memory_mib: Mapped[int]
    key_pair_name: Mapped[str255 | None]
    user_data: Mapped[text | None]  # base64 text
    password: Mapped[str64 | None]
    reservation_sid: Mapped[str] = mapped_column(String(17), index=True)
    launch_index: Mapped[int] = mapped_column(default=0)
    client_token: Mapped[str | None] = mapped_column(String(64))
    # Digest of the launch request that used ``client_token`` (LaunchRequest.fingerprint).
    launch_fingerprint: Mapped[str | None] = mapped_column(String(64))
    disable_api_termination: Mapped[bool] = mapped_column(default=False)
    # Launched wanting a public address mapped (engine.services.public_ip_launch).
    public_ip_mapped: Mapped[bool] = mapped_column(default=False)
    # What a shutdown from inside the guest does: "stop" or "destroy".
    guest_shutdown_action: Mapped[str] = mapped_column(String(16), default="stop")
    # Launched with hibernation (saving memory to the root disk on stop) enabled.
    hibernation_enabled: Mapped[bool] = mapped_column(default=False)
    group_name: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime | None]
    state_changed_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]


class Nic(Base):
    """A VM's interface. The unique (network, ip) pair makes a double
    assignment impossible even if two allocators raced."""

    __tablename__ = "nics"
    __table_args__ = (UniqueConstraint("network_uuid", "ip_address"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    instance_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("instances.uuid"), index=True
    )
    network_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("networks.uuid"))
    ip_address: Mapped[str64]
    mac_address: Mapped[str32]
    device_id: Mapped[int] = mapped_column(default=0)
    is_default: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    # Interfaces made on their own (no instance) name their owner; attachment
    # bookkeeping: ``status`` is available/attaching/in-use/detaching.
    account_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    attachment_sid: Mapped[str | None] = mapped_column(String(17), index=True, unique=True)
    status: Mapped[str32] = mapped_column(default="in-use")
    description: Mapped[str255] = mapped_column(default="")
    delete_on_termination: Mapped[bool] = mapped_column(default=True)
    # Whether traffic not addressed to/from the interface is dropped (off for NAT/routers).
    source_dest_check: Mapped[bool] = mapped_column(default=True)
    attached_at: Mapped[datetime | None]
