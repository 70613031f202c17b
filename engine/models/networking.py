"""Routed network containers (VPCs), their tiers, gateways and route tables.

A :class:`Vpc` is an address space (one IPv4 CIDR) owned by an account; guest
networks become its tiers through a :class:`VpcTier` row (the guest network
keeps its own zone and CIDR, which lies inside the container's). A guest
network without a tier row stands alone, as before containers existed.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, uuid_pk


class Vpc(Base):
    """A network container: a CIDR that its tiers' CIDRs are carved from.

    A region's default container (``is_default``) belongs to no account; its
    tiers are the zones' default shared networks. ``zone_uuid`` is the zone a
    container was made for, when one was named (None: any zone of its region).
    """

    __tablename__ = "vpcs"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("accounts.uuid"), index=True)
    region_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("regions.uuid"))
    zone_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("zones.uuid"))
    is_default: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str255] = mapped_column(default="")
    display_text: Mapped[str255] = mapped_column(default="")
    cidr: Mapped[str64]
    tenancy: Mapped[str32] = mapped_column(default="default")
    dns_support: Mapped[bool] = mapped_column(default=True)
    dns_hostnames: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class VpcTier(Base):
    """Membership of a guest network in a container, with tier-level settings."""

    __tablename__ = "vpc_tiers"
    network_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("networks.uuid"), primary_key=True)
    vpc_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("vpcs.uuid"), index=True)
    map_public_ip: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]


class Gateway(Base):
    """An internet gateway; attached to at most one container (``vpc_uuid``).
    A default container's gateway belongs to no account."""

    __tablename__ = "gateways"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("accounts.uuid"), index=True)
    vpc_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("vpcs.uuid"), index=True)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class RouteTable(Base):
    """A container's route table; exactly one per container is the main one.
    A default container's tables belong to no account."""

    __tablename__ = "route_tables"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("accounts.uuid"), index=True)
    vpc_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("vpcs.uuid"), index=True)
    is_main: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class Route(Base):
    """One destination of a route table: ``local`` (the container's own CIDR)
    or through a gateway."""

    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("route_table_uuid", "destination"),)
    uuid: Mapped[uuid_pk]
    route_table_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("route_tables.uuid"))
    destination: Mapped[str64]
    target: Mapped[str32] = mapped_column(default="local")  # "local" | "gateway"
    gateway_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("gateways.uuid"))
    created_at: Mapped[created_at]


class RouteTableLink(Base):
    """A route table's association: with a tier (``network_uuid``), or the main
    association of its container (``network_uuid`` None)."""

    __tablename__ = "route_table_links"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    route_table_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("route_tables.uuid"), index=True)
    network_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("networks.uuid"), unique=True)
    created_at: Mapped[created_at]
