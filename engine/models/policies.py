"""Snapshot schedules and the state of instance passwords.

Kept apart from ``compute``/``storage`` so those aggregates stay unchanged:
an instance's password and a volume's policies are 0..1 / 0..n side rows.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, text, uuid_pk


class SnapshotPolicy(Base):
    """A recurring snapshot of one volume: at most one per (volume, interval).

    ``schedule`` is "MM" (hourly), "MM:HH" (daily) or "MM:HH:DD" (weekly: day
    1-7 from Sunday; monthly: day 1-28), read in ``timezone``. ``next_run_at``
    (UTC) is the claim token: a server takes a run by moving it forward with a
    conditional UPDATE, so each run happens once across servers.
    """

    __tablename__ = "snapshot_policies"
    __table_args__ = (UniqueConstraint("volume_uuid", "interval_type"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    volume_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("volumes.uuid"))
    interval_type: Mapped[str32]  # HOURLY / DAILY / WEEKLY / MONTHLY
    schedule: Mapped[str32]
    timezone: Mapped[str64]
    max_snaps: Mapped[int]
    for_display: Mapped[bool] = mapped_column(default=True)
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    last_run_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class PolicySnapshot(Base):
    """A snapshot a policy took (for keeping only its newest ``max_snaps``)."""

    __tablename__ = "policy_snapshots"
    __table_args__ = (Index("ix_policy_snapshots_policy", "policy_uuid", "created_at"),)
    snapshot_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    policy_uuid: Mapped[str] = mapped_column(String(36))
    interval_type: Mapped[str32]
    created_at: Mapped[created_at]


class InstancePassword(Base):
    """The last password set for an instance, only in the forms that are needed.

    ``encrypted``: base64 of RSA PKCS#1 v1.5 encryption with the public key of
    the instance's key pair (what its owner may read back); None without an RSA
    key. ``guest_pending``: the password until the guest has fetched it once
    (then cleared), as a virtual router's password server keeps it.
    """

    __tablename__ = "instance_passwords"
    instance_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("instances.uuid"), primary_key=True)
    encrypted: Mapped[text | None]
    guest_pending: Mapped[text | None]
    key_pair_name: Mapped[str | None] = mapped_column(String(255))
    set_at: Mapped[datetime]


__all__ = ["InstancePassword", "PolicySnapshot", "SnapshotPolicy"]
