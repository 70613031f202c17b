"""The job runner inside each management-server process.

A dispatcher thread claims queued jobs (``FOR UPDATE SKIP LOCKED`` on MySQL, a
compare-and-set UPDATE everywhere) and hands them to a pool of worker threads.
A process that is serving requests leaves queued jobs for a short, bounded
time to runners that are not (so jobs run on another core than requests),
then runs them itself. A claimed job carries a lease that its runner renews;
a lease that runs out means the runner died, and any runner puts the job back
in the queue (or, past ``job.max.attempts``, fails it through its
compensation) so nothing is lost and nothing stays half-made.
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from engine.db import Database, utcnow
from engine.errors import EngineError
from engine.jobs.drivers import DriverPool
from engine.jobs.handlers import HANDLERS, JobContext, record_job_end
from engine.models import Job, ManagementServer
from engine.services.management_servers import process_alive
from engine.settings import Settings
from engine.sqlite_writers import mark_background
from engine.statements import Prepared, loaded, select_rows
from engine.states import JobStatus
from engine.uow import unit_of_work

log = logging.getLogger("nimbostack.jobs")
_ANY_QUEUED = Prepared(select(Job.uuid).where(Job.status == JobStatus.QUEUED).limit(1))


@functools.cache
def _next_runnable(mysql: bool) -> Prepared:
    """The row (:func:`select_rows` of Job) of the oldest queued job no earlier
    unfinished job of its queue (``queue_key``, else its resource) blocks
    (built once per backend)."""
    earlier = aliased(Job)
    blocked = exists().where(and_(
        func.coalesce(earlier.queue_key, earlier.resource_uuid)
        == func.coalesce(Job.queue_key, Job.resource_uuid),
        # Two comparisons, not IN (a literal IN list is expanded per call:
        # the statement could not be prepared).
        or_(earlier.status == JobStatus.QUEUED, earlier.status == JobStatus.RUNNING),
        earlier.created_at <= Job.created_at,
        earlier.uuid != Job.uuid,
        # An earlier-queued job, or one already running.
        (earlier.created_at < Job.created_at) | (earlier.status == JobStatus.RUNNING),
    ))
    stmt = (select(Job).where(Job.status == JobStatus.QUEUED, ~blocked)
            .order_by(Job.created_at).limit(1))
    stmt = stmt.with_for_update(skip_locked=True, of=Job) if mysql else stmt
    return Prepared(select_rows(Job, stmt))


_jobs: Table = Job.__table__  # type: ignore[assignment]
# Compare-and-set: only a still queued job is claimed.
_CLAIM = Prepared(update(_jobs).where(
    _jobs.c.uuid == bindparam("p_job"), _jobs.c.status == JobStatus.QUEUED.value).values(
    status=JobStatus.RUNNING.value, owner=bindparam("p_owner"), started_at=bindparam("p_now"),
    lease_expires_at=bindparam("p_lease"), attempts=_jobs.c.attempts + 1))


class JobRunner:
    """Runs jobs from the shared queue until :meth:`stop`."""

    def __init__(self, db: Database, drivers: DriverPool, owner: str, *, workers: int = 4,
                 poll_seconds: float = 0.05, lease_seconds: float = 30.0,
                 busy: Callable[[], bool] | None = None, yield_seconds: float = 0.3) -> None:
        """``busy`` says whether this process is serving requests: while it
        is, queued jobs are left up to ``yield_seconds`` for an idle runner
        (another worker or server, on another core) before this one takes them."""
        self._db = db
        self._busy = busy
        self._yield = yield_seconds
        self._ctx = JobContext(db.session, drivers, db.read_session)
        self.owner = owner
        self._workers = workers
        self._poll = poll_seconds
        self._lease = lease_seconds
        self._wake = threading.Event()
        # Set by wake(queued=True): a job was just committed, so the next claim
        # skips its read-only "anything queued?" check.
        self._queued = threading.Event()
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(workers)
        self._pool: ThreadPoolExecutor | None = None
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="job",
                                        initializer=mark_background)
        for target, name in ((self._dispatch_loop, "job-dispatch"),
                             (self._maintenance_loop, "job-lease")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self, *, queued: bool = False) -> None:
        """Tell the dispatcher to look for work now; ``queued`` says a job was
        just committed (by this process), so the look needs no preliminary check."""
        if queued:
            self._queued.set()
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; let running jobs finish (up to ``timeout``), then
        hand back any that did not so another server takes them at once."""
        self._stopping.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=2)
        if self._pool is not None:
            deadline = time.monotonic() + timeout
            while self._running and time.monotonic() < deadline:
                time.sleep(0.05)
            self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            leftover = list(self._running)
        if leftover:
            self._hand_back(leftover)

    # ------------------------------------------------------------- claiming
    def _dispatch_loop(self) -> None:
        mark_background()
        idle = self._poll
        yielding_since: float | None = None  # since when this runner leaves jobs to others
        while not self._stopping.is_set():
            if self._busy is not None and self._busy():
                now = time.monotonic()
                yielding_since = yielding_since or now
                if now - yielding_since < self._yield:
                    self._stopping.wait(0.01)
                    continue
            else:
                yielding_since = None
            if not self._slots.acquire(timeout=0.5):
                continue
            queued = self._queued.is_set()
            self._queued.clear()
            try:
                job = self.claim_job(check=not queued)
            except Exception:
                log.exception("job claim failed")
                job = None
                time.sleep(1)
            if job is None:
                self._slots.release()
                yielding_since = None  # the queue is empty: yield afresh next time
                self._wake.wait(idle)
                self._wake.clear()
                idle = min(idle * 2, 0.25)
                continue
            idle = self._poll
            with self._lock:
                self._running.add(job.uuid)
            assert self._pool is not None
            self._pool.submit(self._run_claimed, job)

    def claim(self) -> str | None:
        """Claim the oldest runnable job; its uuid, None when there is none."""
        job = self.claim_job()
        return job.uuid if job is not None else None

    def claim_job(self, *, check: bool = True) -> Job | None:
        """Claim the oldest runnable job and return it (detached, as claimed:
        running, owned by this runner, leased); None when there is none.

        A job is runnable when no earlier unfinished job targets the same
        resource, so the jobs of one VM run in the order they were queued.
        With ``check`` (the default) a read-only look comes first: most
        wake-ups find nothing, and saying so needs no write transaction (on
        SQLite the database's write lock).
        """
        if check:
            with unit_of_work(self._db.read_session) as s:
                if _ANY_QUEUED.execute(s).first() is None:
                    return None
        select_next = _next_runnable(self._db.is_mysql)
        for _ in range(5):
            with unit_of_work(self._db.session) as s:
                row = select_next.execute(s).first()
                if row is None:
                    return None
                job = loaded(s, Job, row)
                now = utcnow()
                lease = now + timedelta(seconds=self._lease)
                result = _CLAIM.execute(s, {
                    "p_job": job.uuid, "p_owner": self.owner, "p_now": now, "p_lease": lease})
                s.expunge(job)
                if result.rowcount == 1:
                    # What the compare-and-set wrote, without reading the row again.
                    for key, value in (("status", JobStatus.RUNNING), ("owner", self.owner),
                                       ("started_at", now), ("lease_expires_at", lease),
                                       ("attempts", (job.attempts or 0) + 1)):
                        set_committed_value(job, key, value)
                    return job
        return None

    # -------------------------------------------------------------- running
    def _run_claimed(self, job: Job) -> None:
        try:
            self.run(job.uuid, claimed=job)
        finally:
            with self._lock:
                self._running.discard(job.uuid)
            self._slots.release()
            self._wake.set()

    def run(self, uuid: str, *, claimed: Job | None = None) -> None:
        """Run a job this runner has claimed, and record how it ended.
        ``claimed`` is the job as :meth:`claim_job` returned it (else it is read)."""
        job = claimed
        if job is None:
            with unit_of_work(self._db.read_session) as s:
                job = s.get(Job, uuid)
                if job is None or job.status != JobStatus.RUNNING or job.owner != self.owner:
                    return
                s.expunge(job)
        handler, failure = HANDLERS.get(job.kind, (None, None))
        if handler is None or failure is None:
            self._finish(uuid, JobStatus.FAILED, error=("Unsupported", f"unknown job {job.kind}"))
            return
        try:
            result = handler(self._ctx, job)
        except Exception as exc:
            kind = type(exc).__name__
            message = exc.message if isinstance(exc, EngineError) else str(exc)
            if not isinstance(exc, EngineError):
                log.exception("job %s (%s) failed", uuid, job.kind)
            else:
                log.warning("job %s (%s) failed: %s", uuid, job.kind, kind)
            try:
                failure(self._ctx, job, message)
            except Exception:
                log.exception("compensation of job %s failed", uuid)
                return
            self._finish(uuid, JobStatus.FAILED, error=(kind, message))
            return
        if job.status != JobStatus.SUCCEEDED:  # else the handler settled it (handlers.settle)
            self._finish(uuid, JobStatus.SUCCEEDED, result=result)

    def _finish(self, uuid: str, status: JobStatus, *, result: dict | None = None,  # type: ignore[type-arg]
                error: tuple[str, str] | None = None) -> None:
        with unit_of_work(self._db.session) as s:
            record_job_end(s, uuid, self.owner, status, result=result, error=error)

    # ---------------------------------------------------------- maintenance
    def _maintenance_loop(self) -> None:
        mark_background()
        next_sweep = time.monotonic()
        while True:  # first pass at once: jobs of a dead predecessor are retaken on start-up
            try:
                self.renew_leases()
                self.reap_expired()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + 30
                    self.sweep()
            except Exception:
                log.exception("job lease maintenance failed")
            if self._stopping.wait(max(self._lease / 3, 0.2)):
                return

    def sweep(self) -> None:
        """Periodic housekeeping: expunge VMs whose recovery window has passed; take
        the scheduled snapshots that are due."""
        from engine.services.instances import InstanceService

        with unit_of_work(self._db.session) as s:
            if InstanceService(s, Settings(s)).expunge_due():
                self._wake.set()
        from engine.services.snapshot_policies import SnapshotPolicyService

        with unit_of_work(self._db.session) as s:
            if SnapshotPolicyService(s, Settings(s)).run_due():
                self._wake.set()

    def renew_leases(self) -> None:
        with self._lock:
            mine = list(self._running)
        if not mine:
            return
        with unit_of_work(self._db.session) as s:
            s.execute(update(Job).where(Job.uuid.in_(mine), Job.owner == self.owner,
                                        Job.status == JobStatus.RUNNING)
                      .values(lease_expires_at=utcnow() + timedelta(seconds=self._lease))
                      .execution_options(synchronize_session=False))

    def reap_expired(self) -> int:
        """Requeue (or fail for good) jobs whose runner stopped renewing them."""
        with unit_of_work(self._db.session) as s:
            max_attempts = Settings(s).int("job.max.attempts")
            expired = list(s.scalars(select(Job).where(
                Job.status == JobStatus.RUNNING, Job.lease_expires_at < utcnow()).limit(50)))
            expired += self._orphaned_on_this_host(s, exclude={j.uuid for j in expired})
            to_fail = []
            for job in expired:
                if job.attempts < max_attempts:
                    job.status, job.owner, job.lease_expires_at = JobStatus.QUEUED, None, None
                else:
                    job.owner = self.owner
                    job.lease_expires_at = utcnow() + timedelta(seconds=self._lease)
                    to_fail.append(job.uuid)
        for uuid in to_fail:
            with unit_of_work(self._db.session) as s:
                job = s.get(Job, uuid)
                assert job is not None
                s.expunge(job)
            _, failure = HANDLERS.get(job.kind, (None, None))
            if failure is not None:
                failure(self._ctx, job, "The operation was interrupted")
            self._finish(uuid, JobStatus.FAILED,
                         error=("Interrupted", "The operation was interrupted"))
        if expired:
            self._wake.set()
        return len(expired)

    def _orphaned_on_this_host(self, s: Session, exclude: set[str]) -> list[Job]:
        """Running jobs whose owner was a process on this machine that no longer
        exists: no need to wait for their lease to run out."""
        host = socket.gethostname()
        live_here = {srv.uuid: srv.pid for srv in s.scalars(
            select(ManagementServer).where(ManagementServer.name == host))}
        out = []
        for job in s.scalars(select(Job).where(Job.status == JobStatus.RUNNING,
                                               Job.owner.is_not(None)).limit(200)):
            server_uuid, _, pid_text = (job.owner or "").partition("/")
            if job.uuid in exclude or server_uuid not in live_here or not pid_text.isdigit():
                continue
            if not process_alive(int(pid_text)):
                out.append(job)
        return out

    def _hand_back(self, uuids: list[str]) -> None:
        with unit_of_work(self._db.session) as s:
            s.execute(update(Job).where(Job.uuid.in_(uuids), Job.owner == self.owner,
                                        Job.status == JobStatus.RUNNING)
                      .values(status=JobStatus.QUEUED, owner=None, lease_expires_at=None)
                      .execution_options(synchronize_session=False))

    def drain(self, timeout: float = 30.0) -> bool:
        """Run jobs in this thread until none is runnable (for tools and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.claim_job()
            if job is None:
                return True
            self.run(job.uuid, claimed=job)
        return False
