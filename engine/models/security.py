"""Security groups with their rules, and SSH key pairs."""

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, text, uuid_pk
from engine.states import RuleDirection


class SecurityGroup(Base):
    """A group of rules. ``vpc_uuid`` is the container (VPC) the group belongs
    to, ``""`` for none: such a group applies on the default containers'
    networks (CloudStack's account-wide groups). Names are unique per account
    and container; each container and each account has one default group."""

    __tablename__ = "security_groups"
    __table_args__ = (UniqueConstraint("account_uuid", "vpc_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    vpc_uuid: Mapped[str] = mapped_column(String(36), default="", server_default="")
    name: Mapped[str255]
    description: Mapped[str255] = mapped_column(default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]


class SecurityRule(Base):
    __tablename__ = "security_rules"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    group_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("security_groups.uuid", ondelete="CASCADE"), index=True
    )
    direction: Mapped[RuleDirection]
    protocol: Mapped[str32]  # "tcp", "udp", "icmp", "all"
    start_port: Mapped[int | None]
    end_port: Mapped[int | None]
    cidr: Mapped[str64 | None]
    source_group_uuid: Mapped[str | None] = mapped_column(String(36))
    description: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]


class InstanceSecurityGroup(Base):
    __tablename__ = "instance_security_groups"
    instance_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("instances.uuid"), primary_key=True
    )
    group_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("security_groups.uuid"), primary_key=True, index=True
    )


class KeyPair(Base):
    __tablename__ = "key_pairs"
    __table_args__ = (UniqueConstraint("account_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    name: Mapped[str255]
    key_type: Mapped[str32] = mapped_column(default="rsa")
    public_key: Mapped[text]
    # fingerprint as the EC2 API shows it (depends on created vs imported) and CloudStack's MD5.
    fingerprint: Mapped[str255]
    fingerprint_md5: Mapped[str64]
    created_by_engine: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
