"""The physical layer of a zone's networking: physical networks, the kinds of
traffic they carry, and the service providers (and their elements) on them.

These rows are the operator's description of the wiring; nimbostack keeps them
as bookkeeping (no device is driven by them), validated and listed as an
operator set them. A physical network belongs to one zone; its traffic types,
providers and provider elements are removed with it.
"""

from datetime import datetime
from enum import Enum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, uuid_pk
from engine.states import AllocationState


class ProviderState(str, Enum):
    """Lifecycle of a network service provider on a physical network."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"
    SHUTDOWN = "Shutdown"


class PhysicalNetwork(Base):
    """A zone's physical network. ``isolation_methods`` and ``tags`` are
    comma-separated; ``vlan_ranges`` is the normalized guest VLAN (or VNI/key)
    set, e.g. ``"100-200,300-310"``."""

    __tablename__ = "physical_networks"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"), index=True)
    name: Mapped[str255]
    isolation_methods: Mapped[str64] = mapped_column(default="")
    vlan_ranges: Mapped[str255] = mapped_column(default="")
    broadcast_domain_range: Mapped[str32] = mapped_column(default="ZONE")
    network_speed: Mapped[str32 | None]
    domain_uuid: Mapped[str | None] = mapped_column(String(36))
    tags: Mapped[str255] = mapped_column(default="")
    state: Mapped[AllocationState] = mapped_column(default=AllocationState.DISABLED)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class TrafficType(Base):
    """One kind of traffic a physical network carries, with the name of the
    host-side network each hypervisor maps it to (its label)."""

    __tablename__ = "physical_network_traffic_types"
    __table_args__ = (UniqueConstraint("physical_network_uuid", "traffic_type"),)
    uuid: Mapped[uuid_pk]
    physical_network_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("physical_networks.uuid"), index=True)
    traffic_type: Mapped[str32]
    kvm_label: Mapped[str255 | None]
    xen_label: Mapped[str255 | None]
    vmware_label: Mapped[str255 | None]
    hyperv_label: Mapped[str255 | None]
    ovm3_label: Mapped[str255 | None]
    simulator_label: Mapped[str255 | None]
    vlan: Mapped[str64 | None]
    created_at: Mapped[created_at]


class NetworkServiceProvider(Base):
    """A provider (virtual router, security groups, ...) available on a physical
    network; ``services`` is the comma-separated list it is enabled for."""

    __tablename__ = "network_service_providers"
    __table_args__ = (UniqueConstraint("physical_network_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    physical_network_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("physical_networks.uuid"), index=True)
    name: Mapped[str64]
    destination_physical_network_uuid: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[ProviderState] = mapped_column(default=ProviderState.DISABLED)
    services: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]


class ProviderElement(Base):
    """The configurable element behind a provider (a virtual router or an
    internal load balancer appliance); a provider is ready once it is enabled."""

    __tablename__ = "network_provider_elements"
    uuid: Mapped[uuid_pk]
    provider_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("network_service_providers.uuid"), unique=True)
    kind: Mapped[str32]
    enabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]


__all__ = ["NetworkServiceProvider", "PhysicalNetwork", "ProviderElement", "ProviderState",
           "TrafficType"]
