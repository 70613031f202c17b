"""What one management-server process shares: config, database, drivers, job runner.

Front ends open a unit of work with :meth:`Runtime.unit`, which yields the
engine's :class:`~engine.services.Services` inside one transaction and wakes
the job runner after a successful commit.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from engine import schema
from engine.bootstrap import BootstrapOptions, bootstrap
from engine.config import Config
from engine.db import Database, connect, utcnow
from engine.errors import Conflict
from engine.jobs.drivers import DriverPool
from engine.jobs.runner import JobRunner
from engine.models import ManagementServer
from engine.services import Services
from engine.uow import unit_of_work

log = logging.getLogger("nimbostack.runtime")
T = TypeVar("T")


class Runtime:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.db: Database = connect(config.db_url)
        self.drivers = DriverPool(config.simulator_dir)
        self.runner: JobRunner | None = None
        self.server_uuid: str | None = None

    # ------------------------------------------------------------------ setup
    def prepare(self, *, init: bool = True, options: BootstrapOptions | None = None) -> None:
        """Migrate the schema and (by default) bootstrap the embedded default."""
        if self.db.engine.url.get_backend_name() == "sqlite":
            path = self.db.engine.url.database
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.config.simulator_dir.mkdir(parents=True, exist_ok=True)
        schema.upgrade(self.db)
        if init:
            opts = options or BootstrapOptions.from_env(
                region=self.config.region, simulator_dir=str(self.config.simulator_dir))
            with unit_of_work(self.db.session) as s:
                bootstrap(s, opts)

    def register_server(self, name: str | None = None, address: str = "") -> str:
        with unit_of_work(self.db.session) as s:
            row = ManagementServer(name=name or socket.gethostname(), address=address,
                                   pid=os.getpid(), heartbeat_at=utcnow())
            s.add(row)
            s.flush()
            self.server_uuid = row.uuid
        return row.uuid

    def start_jobs(self) -> JobRunner:
        owner = f"{self.server_uuid or socket.gethostname()}/{os.getpid()}"
        self.runner = JobRunner(self.db, self.drivers, owner, workers=self.config.job_workers,
                                poll_seconds=self.config.job_poll_seconds,
                                lease_seconds=self.config.job_lease_seconds)
        self.runner.start()
        return self.runner

    def shutdown(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        self.db.dispose()

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
        """One transaction's worth of engine services."""
        factory = self.db.read_session if readonly else self.db.session
        with unit_of_work(factory) as session:
            yield Services(session, self)
        if not readonly and self.runner is not None:
            self.runner.wake()
