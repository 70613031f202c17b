"""VM extras: secondary IPs of NICs, stored instance groups, user data objects and
their links to templates."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, str32, str64, str255, text, uuid_pk


class NicSecondaryIp(Base):
    """An extra address of a NIC. Unique per network, like a NIC's own address."""

    __tablename__ = "nic_secondary_ips"
    __table_args__ = (UniqueConstraint("network_uuid", "ip_address"),)
    uuid: Mapped[uuid_pk]
    nic_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("nics.uuid", ondelete="CASCADE"),
                                          index=True)
    network_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("networks.uuid"))
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    account_uuid: Mapped[str] = mapped_column(String(36))
    ip_address: Mapped[str64]
    created_at: Mapped[created_at]


class InstanceGroup(Base):
    """A named group of an account's VMs (the VMs carry the name in ``group_name``)."""

    __tablename__ = "instance_groups"
    __table_args__ = (UniqueConstraint("account_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    name: Mapped[str255]
    created_at: Mapped[created_at]


class UserData(Base):
    """A stored, named user data object of an account (base64 text)."""

    __tablename__ = "user_data"
    __table_args__ = (UniqueConstraint("account_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    name: Mapped[str255]
    content: Mapped[text]
    params: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class TemplateUserData(Base):
    """The user data object linked to a template, and how a launch's own user
    data combines with it (``policy``: allow-override, append, deny-override)."""

    __tablename__ = "template_user_data"
    template_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("templates.uuid"), primary_key=True)
    user_data_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("user_data.uuid"),
                                                index=True)
    policy: Mapped[str32]
    created_at: Mapped[created_at]
