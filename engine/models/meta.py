"""Tags, asynchronous jobs and events."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, text, uuid_pk
from engine.errors import ResourceKind
from engine.states import JobStatus


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("resource_uuid", "key"),
        Index("ix_tags_key_value", "key", "value"),
        Index("ix_tags_account_kind", "account_uuid", "resource_kind"),
    )
    uuid: Mapped[uuid_pk]
    resource_kind: Mapped[ResourceKind]
    resource_uuid: Mapped[str] = mapped_column(String(36))
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"))
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]


class Job(Base):
    """A persisted long operation. Claimed by one runner (``owner``) holding a
    lease; a lease that runs out means the owner died and the job is retaken."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    kind: Mapped[str64]
    status: Mapped[JobStatus] = mapped_column(default=JobStatus.QUEUED)
    account_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    user_uuid: Mapped[str | None] = mapped_column(String(36))
    resource_kind: Mapped[ResourceKind | None]
    resource_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    # Jobs of one queue run one at a time, in the order they were queued: the
    # queue is ``queue_key`` when set (e.g. a snapshot's volume), else the resource.
    queue_key: Mapped[str | None] = mapped_column(String(36))
    command: Mapped[str64] = mapped_column(default="")  # the front-end command, for display
    payload: Mapped[text] = mapped_column(default="{}")
    result: Mapped[text | None]
    error_kind: Mapped[str64 | None]
    error_message: Mapped[text | None]
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class Event(Base):
    __tablename__ = "events"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    event_type: Mapped[str64]  # e.g. VM.CREATE
    level: Mapped[str32] = mapped_column(default="INFO")
    state: Mapped[str32] = mapped_column(default="Completed")
    description: Mapped[str255]
    account_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    user_uuid: Mapped[str | None] = mapped_column(String(36))
    resource_kind: Mapped[ResourceKind | None]
    resource_uuid: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[created_at]


__all__ = ["Event", "Job", "Tag", "datetime", "str32"]
