"""Affinity groups: rules about which hosts an account's VMs may share."""

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str255, uuid_pk


class AffinityGroup(Base):
    """A named placement rule of one account.

    ``policy`` is ``host anti-affinity`` (members on distinct hosts) or ``host
    affinity`` (members on one host). The planner locks the group row while it
    places a member, so concurrent launches into one group see each other.
    """

    __tablename__ = "affinity_groups"
    __table_args__ = (UniqueConstraint("account_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    name: Mapped[str255]
    description: Mapped[str255] = mapped_column(default="")
    policy: Mapped[str32]
    created_at: Mapped[created_at]


class InstanceAffinityGroup(Base):
    __tablename__ = "instance_affinity_groups"
    __table_args__ = (UniqueConstraint("instance_uuid", "group_uuid"),)
    uuid: Mapped[uuid_pk]
    instance_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("instances.uuid"), index=True)
    group_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("affinity_groups.uuid"),
                                            index=True)
