"""What one management-server process shares: config, database, drivers, and
the background work (heartbeat, job runner, host reconciler).

Front ends open a unit of work with :meth:`Runtime.unit`, which yields the
engine's :class:`~engine.services.Services` inside one transaction and wakes
the job runner after a successful commit.

Several servers share one database. Each ``nimbostack serve`` process has one
row in ``management_servers`` (see :mod:`engine.services.management_servers`):
either this runtime registers it (:meth:`Runtime.register_server`; it then also
marks it Down on :meth:`Runtime.shutdown`), or the serving process registered
it before forking its workers and each worker's runtime attaches to it
(:meth:`Runtime.attach_server`). Every runtime heartbeats its row from a
:class:`ServerMonitor` thread, which also declares silent peers Down and cuts
the leases they still hold.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import text

from engine import bootstrap_mark, schema
from engine.config import Config
from engine.db import Database, connect
from engine.errors import Conflict
from engine.jobs.drivers import DriverPool
from engine.jobs.queue import enqueued
from engine.services import Services
from engine.services.management_servers import (
    INTERVAL_SETTING,
    THRESHOLD_SETTING,
    ManagementServerService,
)
from engine.settings import Settings
from engine.sqlite_writers import mark_background
from engine.uow import read_unit_of_work, unit_of_work

if TYPE_CHECKING:  # imported where used: neither is on a server's first-request path
    from engine.bootstrap import BootstrapOptions
    from engine.jobs.runner import JobRunner

log = logging.getLogger("nimbostack.runtime")
T = TypeVar("T")


class Runtime:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.db: Database = connect(config.db_url)
        self.drivers = DriverPool(config.simulator_dir)
        self.runner: JobRunner | None = None
        self.monitor: ServerMonitor | None = None
        # The host reconciler (engine.reconciler.Reconciler) of this process:
        # started in start(), stopped first in shutdown().
        self.reconciler: Any = None
        self.server_uuid: str | None = None
        self._owns_server_row = False
        # A start postponed by start(delay=...) until its timer fires; shutdown() cancels it.
        self._start_lock = threading.Lock()
        self._start_timer: threading.Timer | None = None
        # Units in flight and when the last one ended (see busy()).
        self._calls_lock = threading.Lock()
        self._in_flight = 0
        self._last_call_end = 0.0

    # ------------------------------------------------------------------ setup
    def prepare(self, *, init: bool = True, options: BootstrapOptions | None = None) -> None:
        """Migrate the schema and (by default) bootstrap the embedded default.

        Without explicit ``options``, a database that already holds this
        code's embedded default (:func:`engine.bootstrap_mark.is_current`: one
        query) is left as it is, and the bootstrap is not even imported."""
        if self.db.engine.url.get_backend_name() == "sqlite":
            path = self.db.engine.url.database
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.config.simulator_dir.mkdir(parents=True, exist_ok=True)
        schema.upgrade(self.db)
        if init and options is None:
            with self.db.engine.connect() as conn:
                if bootstrap_mark.is_current(conn):
                    return
        if init:
            from engine.bootstrap import BootstrapOptions, bootstrap

            opts = options or BootstrapOptions.from_env(
                region=self.config.region, simulator_dir=str(self.config.simulator_dir))
            with self._named_lock("nimbostack_bootstrap"), unit_of_work(self.db.session) as s:
                bootstrap(s, opts)

    @contextmanager
    def _named_lock(self, name: str) -> Iterator[None]:
        """Serialize a step across servers starting together (MySQL named lock;
        on SQLite the database's write lock already does)."""
        if not self.db.is_mysql:
            yield
            return
        with self.db.engine.connect() as conn:
            if conn.execute(text("SELECT GET_LOCK(:n, 300)"), {"n": name}).scalar() != 1:
                raise RuntimeError(f"timed out waiting for the lock {name}")
            try:
                yield
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})

    # ---------------------------------------------------------- registration
    def register_server(self, name: str | None = None, address: str = "",
                        version: str | None = None) -> str:
        """Register this process as a management server (state Up); this
        runtime then owns the row and marks it Down on :meth:`shutdown`."""
        with unit_of_work(self.db.session) as s:
            row = ManagementServerService(s).register(name=name, address=address,
                                                      version=version or engine_version())
            uuid = row.uuid
        self.server_uuid, self._owns_server_row = uuid, True
        return uuid

    def attach_server(self, uuid: str) -> None:
        """Heartbeat (and own jobs) as the server ``uuid`` registered by the
        serving process; that process, not this runtime, marks it Down."""
        self.server_uuid, self._owns_server_row = uuid, False

    @property
    def owner(self) -> str:
        """This process's owner string on jobs: ``"<server uuid>/<pid>"``."""
        return f"{self.server_uuid or socket.gethostname()}/{os.getpid()}"

    # ----------------------------------------------------- background work
    def start(self, *, delay: float = 0.0) -> None:
        """Start the background work: heartbeat (when registered), job runner
        and the host reconciler.

        With ``delay`` > 0 it starts that many seconds from now, from a timer
        thread, and this returns at once: a server worker then answers its
        first requests without the first round of background work (about 0.1 s
        of CPU) competing with them. Jobs submitted meanwhile wait for the
        runner's first poll; :meth:`shutdown` before then cancels the start.
        """
        if delay > 0:
            with self._start_lock:
                if self._start_timer is None:
                    self._start_timer = threading.Timer(delay, self._start_pending)
                    self._start_timer.daemon = True
                    self._start_timer.start()
            return
        self._start_now()

    def _start_pending(self) -> None:
        with self._start_lock:
            if self._start_timer is not threading.current_thread():
                return  # cancelled by shutdown()
            self._start_timer = None
            self._start_now()  # under the lock: a shutdown meanwhile waits, then stops it all

    def _start_now(self) -> None:
        if self.runner is None:
            from engine.jobs.runner import JobRunner
            from engine.models import load_all

            # Jobs write rows in foreign-key order over the whole schema
            # (engine.services.launch_rows); the rest of the models load now.
            load_all()
            self.runner = JobRunner(self.db, self.drivers, self.owner,
                                    workers=self.config.job_workers,
                                    poll_seconds=self.config.job_poll_seconds,
                                    lease_seconds=self.config.job_lease_seconds,
                                    busy=self.busy if self.config.job_yield_seconds > 0 else None,
                                    yield_seconds=self.config.job_yield_seconds)
            self.runner.start()
        if self.monitor is None and self.server_uuid is not None:
            self.monitor = ServerMonitor(self)
            self.monitor.start()
        self._start_reconciler()

    def start_jobs(self) -> JobRunner:
        """:meth:`start`, returning the job runner."""
        self.start()
        assert self.runner is not None
        return self.runner

    def _start_reconciler(self) -> None:
        """Start the host reconciler when configured and registered. Host leases
        are held by the server row's uuid; of several worker processes of one
        server, the one holding a file lock under the state directory runs the
        passes (another takes over if it dies)."""
        if self.reconciler is not None or not self.config.reconcile or not self.server_uuid:
            return
        from engine.reconciler import Reconciler

        lock_path = self.config.simulator_dir.parent / f"reconciler-{self.server_uuid}.lock"
        self.reconciler = Reconciler(self.db, self.drivers, self.server_uuid,
                                     gate=_FileGate(lock_path))
        self.reconciler.start()

    def shutdown(self, *, job_timeout: float = 30.0) -> None:
        """Stop the background work: running jobs get ``job_timeout`` seconds to
        finish and are then handed back for another server to take at once.
        A runtime that registered its server row marks it Down."""
        with self._start_lock:
            pending, self._start_timer = self._start_timer, None
        if pending is not None:
            pending.cancel()
        if self.reconciler is not None:
            self.reconciler.stop()
            self.reconciler = None
        if self.runner is not None:
            self.runner.stop(timeout=job_timeout)
            self.runner = None
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        if self._owns_server_row and self.server_uuid is not None:
            self.mark_server_stopped(self.server_uuid)
            self._owns_server_row = False
        self.db.dispose()

    def mark_server_stopped(self, uuid: str) -> None:
        """Record a graceful stop of server ``uuid`` (Down, ``stopped_at``); if
        the database cannot be reached, peers notice the silence instead."""
        try:
            with unit_of_work(self.db.session) as s:
                ManagementServerService(s).mark_stopped(uuid)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not mark server %s Down: %s", uuid, exc)

    # ------------------------------------------------------------------ units
    def call(self, fn: Callable[[Services], T], *, readonly: bool = False,
             attempts: int = 3) -> T:
        """Run ``fn`` in a unit of work; run it again (up to ``attempts`` times)
        when the database reports a transient conflict such as a deadlock."""
        for attempt in range(1, attempts + 1):
            try:
                with self.unit(readonly=readonly) as services:
                    return fn(services)
            except Conflict:
                if attempt == attempts:
                    raise
                time.sleep(random.uniform(0.005, 0.03) * attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def unit(self, *, readonly: bool = False) -> Iterator[Services]:
        """One transaction's worth of engine services. A read-only unit begins
        its transaction with its first statement (see :func:`read_unit_of_work`)."""
        with self._calls_lock:
            self._in_flight += 1
        try:
            if readonly:
                with read_unit_of_work(self.db.read_session) as session:
                    yield Services(session, self)
                return
            with unit_of_work(self.db.session) as session:
                yield Services(session, self)
        finally:
            with self._calls_lock:
                self._in_flight -= 1
                self._last_call_end = time.monotonic()
        if self.runner is not None:
            self.runner.wake(queued=enqueued(session))

    def busy(self, quiet: float = 0.01) -> bool:
        """Whether this process is serving calls: a unit is in flight, or one
        ended less than ``quiet`` seconds ago (the gap between the units of a
        request, or between back-to-back requests)."""
        return self._in_flight > 0 or time.monotonic() - self._last_call_end < quiet


def engine_version() -> str:
    """The installed nimbostack's version (``0.0.0+local`` for a checkout)."""
    from importlib.metadata import PackageNotFoundError, version  # off the start-up path

    try:
        return version("nimbostack")
    except PackageNotFoundError:
        return "0.0.0+local"


class ServerMonitor:
    """Heartbeats the runtime's server row every
    ``management.server.heartbeat.interval`` seconds, and once this server has
    itself been beating for ``threshold`` intervals, declares peers silent for
    that long Down and cuts the leases they hold (so jobs move at once).

    Waiting for its own beats first keeps a server that just regained the
    database (as every server does after a database outage) from condemning
    peers that were cut off just as it was.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._healthy_since: float | None = None
        self.interval = 5.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        mark_background()
        while not self._stopping.is_set():
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - the database may be down; keep trying
                self._healthy_since = None
                log.warning("heartbeat failed: %s", exc)
            self._stopping.wait(self.interval)

    def beat(self) -> list[str]:
        """One heartbeat; returns the peers it declared Down."""
        uuid = self._rt.server_uuid
        assert uuid is not None
        with unit_of_work(self._rt.db.session) as s:
            settings = Settings(s)
            self.interval = max(settings.float(INTERVAL_SETTING), 0.1)
            threshold = max(settings.int(THRESHOLD_SETTING), 1)
            ManagementServerService(s).heartbeat(uuid)
        now = time.monotonic()
        if self._healthy_since is None:
            self._healthy_since = now
        if now - self._healthy_since < self.interval * threshold:
            return []
        with unit_of_work(self._rt.db.session) as s:
            registry = ManagementServerService(s)
            down = registry.mark_stale_down(interval=self.interval, threshold=threshold,
                                            exclude=uuid)
            cut = registry.expire_leases_of_down()
        if down:
            log.warning("management servers %s missed %d heartbeats: Down",
                        ", ".join(down), threshold)
        runner = self._rt.runner
        if cut and runner is not None:
            runner.reap_expired()
        return down


class _FileGate:
    """True while this process holds an exclusive lock on ``path`` (taken on the
    first successful try and kept until the process exits)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def __call__(self) -> bool:
        if self._fd is not None:
            return True
        import fcntl

        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True
