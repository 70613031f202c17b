"""The management-server registry: who shares this database, and who is alive.

One row per ``nimbostack serve`` process (CloudStack's one row per management
server, its ``msid``), not per gunicorn worker: the serving process registers
the row once, its workers heartbeat into it, and the jobs they claim carry the
owner ``"<server uuid>/<worker pid>"``. A restarted server on the same machine
and address takes its old row back (its previous process being gone), so the
list does not grow with every restart.

A row is ``Up`` while heartbeats arrive; a peer whose last heartbeat is older
than ``threshold`` beats is marked ``Down`` by whichever live server notices
first, and the jobs still leased to a ``Down`` server get their lease cut short
so the job runners retake them at once instead of waiting out the lease. A
server that stops gracefully marks its own row ``Down`` with ``stopped_at``.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.models import ManagementServer
from engine.states import JobStatus

UP = "Up"
DOWN = "Down"
INTERVAL_SETTING = "management.server.heartbeat.interval"
THRESHOLD_SETTING = "management.server.heartbeat.threshold"


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def owner_server(owner: str | None) -> str:
    """The server uuid of a job owner string ``"<server uuid>/<pid>"`` ('' if none)."""
    return (owner or "").partition("/")[0]


@dataclass(frozen=True)
class StatusSummary:
    """What ``nimbostack status`` prints besides the servers."""

    servers: list[ManagementServer]
    jobs: dict[str, int]  # status -> count
    hosts: dict[str, int]  # state -> count
    now: datetime


class ManagementServerService:
    """Registry rows and their liveness; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # -------------------------------------------------------------- register
    def register(self, *, name: str | None = None, address: str = "",
                 pid: int | None = None, version: str = "") -> ManagementServer:
        """Record a starting server and return its row (state Up).

        The row of an earlier server with the same name and address is reused
        when that server's process is gone from this machine; otherwise a new
        row is made.
        """
        name = name or socket.gethostname()
        pid = os.getpid() if pid is None else pid
        now = utcnow()
        row = None
        if address:
            for old in self._s.scalars(select(ManagementServer).where(
                    ManagementServer.name == name, ManagementServer.address == address)
                    .order_by(ManagementServer.started_at.desc()).with_for_update()):
                if old.state != UP or (name == socket.gethostname()
                                       and not process_alive(old.pid)):
                    row = old
                    break
        if row is None:
            row = ManagementServer(name=name, address=address, pid=pid)
            self._s.add(row)
        row.pid, row.version, row.state = pid, version, UP
        row.started_at, row.heartbeat_at, row.stopped_at = now, now, None
        self._s.flush()
        return row

    def heartbeat(self, uuid: str) -> bool:
        """Stamp the row alive (Up again if a peer had given up on it); False if
        the row is gone or was stopped."""
        result = self._s.execute(
            update(ManagementServer)
            .where(ManagementServer.uuid == uuid, ManagementServer.stopped_at.is_(None))
            .values(heartbeat_at=utcnow(), state=UP)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)

    def mark_stopped(self, uuid: str) -> None:
        """A graceful stop: Down, with ``stopped_at``."""
        now = utcnow()
        self._s.execute(update(ManagementServer).where(ManagementServer.uuid == uuid)
                        .values(state=DOWN, stopped_at=now)
                        .execution_options(synchronize_session=False))

    # -------------------------------------------------------------- liveness
    def mark_stale_down(self, *, interval: float, threshold: int,
                        exclude: str | None = None) -> list[str]:
        """Mark Down every Up server whose heartbeat is older than ``threshold``
        beats of ``interval`` seconds; return their uuids."""
        cutoff = utcnow() - timedelta(seconds=interval * threshold)
        stmt = select(ManagementServer.uuid).where(
            ManagementServer.state == UP,
            (ManagementServer.heartbeat_at < cutoff) | ManagementServer.heartbeat_at.is_(None))
        if exclude:
            stmt = stmt.where(ManagementServer.uuid != exclude)
        stale = list(self._s.scalars(stmt))
        if stale:
            self._s.execute(update(ManagementServer)
                            .where(ManagementServer.uuid.in_(stale), ManagementServer.state == UP,
                                   (ManagementServer.heartbeat_at < cutoff)
                                   | ManagementServer.heartbeat_at.is_(None))
                            .values(state=DOWN).execution_options(synchronize_session=False))
        return stale

    def expire_leases_of_down(self) -> int:
        """Cut short the leases of running jobs, and of hosts, held by Down
        servers (their runners are gone): the job runners' lease reaper and the
        host reconcilers then retake them at once. Returns the jobs affected."""
        from engine.models import Host, Job  # not needed by a server's first call

        now = utcnow()
        down = set(self._s.scalars(select(ManagementServer.uuid)
                                   .where(ManagementServer.state == DOWN)))
        if not down:
            return 0
        self._s.execute(update(Host).where(Host.owner_server_uuid.in_(down),
                                           Host.owner_lease_until > now)
                        .values(owner_lease_until=now)
                        .execution_options(synchronize_session=False))
        running = self._s.execute(select(Job.uuid, Job.owner).where(
            Job.status == JobStatus.RUNNING, Job.lease_expires_at > now).limit(1000)).all()
        doomed = [uuid for uuid, owner in running if owner_server(owner) in down]
        if doomed:
            self._s.execute(update(Job).where(Job.uuid.in_(doomed),
                                              Job.status == JobStatus.RUNNING)
                            .values(lease_expires_at=now)
                            .execution_options(synchronize_session=False))
        return len(doomed)

    # ----------------------------------------------------------------- reads
    def servers(self, *, uuid: str | None = None, name: str | None = None,
                keyword: str | None = None) -> list[ManagementServer]:
        stmt = select(ManagementServer).order_by(ManagementServer.name,
                                                 ManagementServer.address,
                                                 ManagementServer.started_at)
        if uuid:
            stmt = stmt.where(ManagementServer.uuid == uuid)
        if name:
            stmt = stmt.where(ManagementServer.name == name)
        if keyword:
            stmt = stmt.where(ManagementServer.name.contains(keyword, autoescape=True))
        return list(self._s.scalars(stmt))

    def pending_jobs(self) -> dict[str, int]:
        """Running jobs per server uuid."""
        from engine.models import Job  # not needed by a server's first call

        owners = self._s.scalars(select(Job.owner).where(Job.status == JobStatus.RUNNING))
        return dict(Counter(owner_server(o) for o in owners if o))

    def summary(self) -> StatusSummary:
        from engine.models import Host, Job  # not needed by a server's first call

        jobs = {str(getattr(k, "value", k)): int(n) for k, n in self._s.execute(
            select(Job.status, func.count()).group_by(Job.status)).all()}
        hosts = {str(getattr(k, "value", k)): int(n) for k, n in self._s.execute(
            select(Host.state, func.count()).where(Host.removed_at.is_(None))
            .group_by(Host.state)).all()}
        return StatusSummary(self.servers(), jobs, hosts, utcnow())
