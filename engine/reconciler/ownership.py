"""Which management server checks which host: a lease on the host row.

``Host.owner_server_uuid`` names the owner and ``Host.owner_lease_until`` says
until when its claim holds. Claiming and renewing are conditional UPDATEs, so
two servers racing for a host can never both win: the database re-evaluates
the condition under the row lock and the loser's UPDATE matches nothing. An
owner that dies stops renewing; once its lease lapses any server takes over.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.db import utcnow
from engine.models import Host
from engine.uow import unit_of_work


class HostLeases:
    """The host leases of one owner (a management server's uuid, <= 36 chars)."""

    def __init__(self, sessions: sessionmaker[Session], owner: str) -> None:
        if not owner or len(owner) > 36:
            raise ValueError("owner must be 1..36 characters (a server uuid)")
        self._sessions = sessions
        self.owner = owner

    def claim(self, lease_seconds: float) -> list[str]:
        """Renew this owner's leases, take every live host whose lease lapsed
        (or that has no owner), and return the uuids of the hosts now held."""
        now = utcnow()
        with unit_of_work(self._sessions) as s:
            s.execute(
                update(Host)
                .where(Host.removed_at.is_(None),
                       or_(Host.owner_server_uuid == self.owner,
                           Host.owner_server_uuid.is_(None),
                           Host.owner_lease_until.is_(None),
                           Host.owner_lease_until < now))
                .values(owner_server_uuid=self.owner,
                        owner_lease_until=now + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False))
        with unit_of_work(self._sessions) as s:
            return list(s.scalars(select(Host.uuid).where(
                Host.owner_server_uuid == self.owner, Host.removed_at.is_(None))
                .order_by(Host.created_at, Host.uuid)))

    def renew(self, host_uuid: str, lease_seconds: float) -> bool:
        """Extend the lease on one host; False if another owner holds it now."""
        with unit_of_work(self._sessions) as s:
            result = cast(CursorResult[Any], s.execute(
                update(Host)
                .where(Host.uuid == host_uuid, Host.owner_server_uuid == self.owner,
                       Host.removed_at.is_(None))
                .values(owner_lease_until=utcnow() + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False)))
            return result.rowcount == 1

    def holds(self, session: Session, host_uuid: str) -> bool:
        """Whether this owner holds ``host_uuid`` (read in the caller's transaction)."""
        owner = session.scalar(select(Host.owner_server_uuid).where(Host.uuid == host_uuid))
        return owner == self.owner

    def release(self) -> int:
        """Give up every host of this owner so another server takes them at once."""
        with unit_of_work(self._sessions) as s:
            result = cast(CursorResult[Any], s.execute(
                update(Host).where(Host.owner_server_uuid == self.owner)
                .values(owner_server_uuid=None, owner_lease_until=None)
                .execution_options(synchronize_session=False)))
            return result.rowcount
