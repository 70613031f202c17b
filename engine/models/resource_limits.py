"""Resource limits of accounts and domains, and projects with their members.

A limit row overrides the global default for one resource of one account (or
one domain). A project owns a hidden account (``Project.account_uuid``): what is
made in the project belongs to that account, and its limits are that account's.
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str255, uuid_pk


class ResourceLimit(Base):
    """``maximum`` of ``resource`` (a neutral resource name, see
    :class:`engine.services.resource_limits.Resource`) for exactly one of
    ``account_uuid`` or ``domain_uuid``; negative means unlimited."""

    __tablename__ = "resource_limits"
    __table_args__ = (
        UniqueConstraint("account_uuid", "resource"),
        UniqueConstraint("domain_uuid", "resource"),
    )
    uuid: Mapped[uuid_pk]
    account_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    domain_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("domains.uuid"))
    resource: Mapped[str32]
    maximum: Mapped[int] = mapped_column(BigInteger)


class Project(Base):
    """A project of ``domain_uuid``; its resources belong to ``account_uuid``,
    an account made for the project alone. ``state``: Active or Suspended."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("domain_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255]
    display_text: Mapped[str255] = mapped_column(default="")
    domain_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("domains.uuid"), index=True)
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"),
                                              unique=True)
    state: Mapped[str32] = mapped_column(default="Active")
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class ProjectMember(Base):
    """An account's membership of a project; ``role`` is Admin or Regular."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_uuid", "account_uuid"),)
    uuid: Mapped[uuid_pk]
    project_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("projects.uuid"))
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"),
                                              index=True)
    role: Mapped[str32] = mapped_column(default="Regular")
    created_at: Mapped[created_at]
