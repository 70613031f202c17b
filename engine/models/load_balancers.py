"""Load balancer rules, their members, and IP forwarding (one-to-one NAT) rules.

A :class:`LoadBalancerRule` spreads one public port of an allocated address
over the members' private port with an algorithm. A
:class:`LoadBalancerMember` is one (instance, guest IP) pair of a rule. An
:class:`IpForwardingRule` lets a port range of an address with static NAT
through to the instance the address is associated with (the instance is
always the address's current one, so the rule stores none).

Rules move through ``Add`` -> ``Active`` -> ``Revoke`` like the other network
rules; a revoked rule is deleted within its transaction.
"""

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, text, uuid_pk


class LoadBalancerRule(Base):
    """Public port ``public_port`` of an address balanced over the members'
    ``private_port``. ``protocol`` is what the balancer speaks (tcp, udp,
    tcp-proxy); ``cidr_list`` (comma-separated, empty: any) the allowed sources."""

    __tablename__ = "load_balancer_rules"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    public_ip_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("public_ips.uuid"),
                                                index=True)
    network_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("networks.uuid"), index=True)
    name: Mapped[str255]
    description: Mapped[text] = mapped_column(default="")
    algorithm: Mapped[str32]  # roundrobin | leastconn | source
    protocol: Mapped[str32] = mapped_column(default="tcp")
    public_port: Mapped[int] = mapped_column(Integer)
    private_port: Mapped[int] = mapped_column(Integer)
    cidr_list: Mapped[str255] = mapped_column(default="")
    state: Mapped[str32] = mapped_column(default="Active")  # Add | Active | Revoke
    for_display: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]


class LoadBalancerMember(Base):
    """Traffic of ``rule_uuid`` goes to ``instance_ip`` (a guest IP of the
    instance's NIC on the rule's network)."""

    __tablename__ = "load_balancer_members"
    __table_args__ = (UniqueConstraint("rule_uuid", "instance_uuid", "instance_ip"),)
    uuid: Mapped[uuid_pk]
    rule_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("load_balancer_rules.uuid"),
                                           index=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("instances.uuid"),
                                               index=True)
    instance_ip: Mapped[str64]
    created_at: Mapped[created_at]


class IpForwardingRule(Base):
    """Ports ``start_port``..``end_port`` of an address with static NAT let
    through (same ports) to the address's associated instance."""

    __tablename__ = "ip_forwarding_rules"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    public_ip_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("public_ips.uuid"),
                                                index=True)
    network_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("networks.uuid"))
    protocol: Mapped[str32]  # tcp | udp
    start_port: Mapped[int] = mapped_column(Integer)
    end_port: Mapped[int] = mapped_column(Integer)
    state: Mapped[str32] = mapped_column(default="Active")
    for_display: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
