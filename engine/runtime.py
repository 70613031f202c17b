"""What one management-server process shares: config, database, drivers, job runner.

Front ends open a unit of work with :meth:`Runtime.unit`, which yields the
engine's :class:`~engine.services.Services` inside one transaction and wakes
the job runner after a successful commit.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from engine import schema
from engine.bootstrap import BootstrapOptions, bootstrap
from engine.config import Config
from engine.db import Database, connect, utcnow
from engine.jobs.drivers import DriverPool
from engine.jobs.runner import JobRunner
from engine.models import ManagementServer
from engine.services import Services
from engine.uow import unit_of_work

log = logging.getLogger("nimbostack.runtime")


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
    @contextmanager
    def unit(self, *, readonly: bool = False) -> Iterator[Services]:
        """One transaction's worth of engine services."""
        factory = self.db.read_session if readonly else self.db.session
        with unit_of_work(factory) as session:
            yield Services(session, self)
        if not readonly and self.runner is not None:
            self.runner.wake()
