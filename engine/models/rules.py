"""Network rules on public addresses and guest networks, and network offerings.

A :class:`PortForwardingRule` sends a public port range of an allocated
address to the same-sized private port range of one instance's NIC. A
:class:`FirewallRule` opens a port range on a public address (ingress) or
lets traffic out of a guest network (egress). A :class:`NetworkOffering` is
the template a guest network is created from (shared or isolated, the
services it provides).

Rules move through ``Add`` -> ``Active`` -> ``Revoke``; a revoked rule is
deleted, so a row in ``Revoke`` is only ever seen inside its transaction.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, text, uuid_pk


class PortForwardingRule(Base):
    """Public ports ``public_start``..``public_end`` of an address forwarded to
    ``private_start``..``private_end`` on ``private_ip`` (a NIC of the instance)."""

    __tablename__ = "port_forwarding_rules"
    __table_args__ = (Index("ix_pf_rules_ip_protocol", "public_ip_uuid", "protocol"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    public_ip_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("public_ips.uuid"))
    network_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("networks.uuid"), index=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("instances.uuid"),
                                               index=True)
    nic_uuid: Mapped[str | None] = mapped_column(String(36))
    private_ip: Mapped[str64]
    protocol: Mapped[str32]  # "tcp" | "udp"
    public_start: Mapped[int] = mapped_column(Integer)
    public_end: Mapped[int] = mapped_column(Integer)
    private_start: Mapped[int] = mapped_column(Integer)
    private_end: Mapped[int] = mapped_column(Integer)
    cidr_list: Mapped[str255] = mapped_column(default="")  # comma-separated source CIDRs
    state: Mapped[str32] = mapped_column(default="Active")  # Add | Active | Revoke
    for_display: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]


class FirewallRule(Base):
    """An ingress rule on a public address (``public_ip_uuid`` set) or an egress
    rule of a guest network (``traffic`` "Egress", no address). Ports are None
    for icmp/all; ``icmp_type``/``icmp_code`` -1 mean any. ``related_uuid``
    names the port forwarding rule that opened this one, if any."""

    __tablename__ = "firewall_rules"
    __table_args__ = (Index("ix_fw_rules_ip_protocol", "public_ip_uuid", "protocol"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    public_ip_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("public_ips.uuid"))
    network_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("networks.uuid"),
                                                     index=True)
    traffic: Mapped[str32] = mapped_column(default="Ingress")  # Ingress | Egress
    protocol: Mapped[str32]  # tcp | udp | icmp | all
    start_port: Mapped[int | None] = mapped_column(Integer)
    end_port: Mapped[int | None] = mapped_column(Integer)
    icmp_type: Mapped[int | None] = mapped_column(Integer)
    icmp_code: Mapped[int | None] = mapped_column(Integer)
    cidr_list: Mapped[str255] = mapped_column(default="")
    dest_cidr_list: Mapped[str255] = mapped_column(default="")
    related_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    state: Mapped[str32] = mapped_column(default="Active")
    for_display: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]


class NetworkOffering(Base):
    """What a guest network is made from. ``services`` is a comma-separated list
    of ``Service:Provider`` pairs (e.g. ``SourceNat:VirtualRouter``)."""

    __tablename__ = "network_offerings"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255] = mapped_column(unique=True)
    display_text: Mapped[str255] = mapped_column(default="")
    guest_ip_type: Mapped[str32]  # Shared | Isolated
    traffic_type: Mapped[str32] = mapped_column(default="Guest")
    availability: Mapped[str32] = mapped_column(default="Optional")  # Optional | Required
    services: Mapped[text] = mapped_column(default="")
    state: Mapped[str32] = mapped_column(default="Disabled")  # Enabled | Disabled
    is_default: Mapped[bool] = mapped_column(default=False)
    specify_vlan: Mapped[bool] = mapped_column(default=False)
    specify_ip_ranges: Mapped[bool] = mapped_column(default=False)
    conserve_mode: Mapped[bool] = mapped_column(default=True)
    egress_default_allow: Mapped[bool] = mapped_column(default=True)
    is_persistent: Mapped[bool] = mapped_column(default=False)
    network_rate_mbps: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[str255] = mapped_column(default="")
    sort_key: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]
