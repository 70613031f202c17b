"""World builders for the engine service tests: a bootstrapped Runtime, on SQLite
or MariaDB (see tests/support.py), and the principals that act in it.

The ``world`` fixture (conftest.py) is for services whose tests run no job: admin, alice and bob, and the
first zone, template and service offering. ``cloud`` runs the jobs against the
simulator when the test asks (:meth:`Cloud.drain`). Test modules import the
types and helpers from here (``from tests.integration.engine.worlds import
...``); pytest finds the fixtures by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from engine.hypervisors.simulator import SimulatorDriver
from engine.jobs.drivers import HostAccess
from engine.models import (
    Event,
    Host,
    Instance,
    Job,
    StoragePool,
    Volume,
)
from engine.principal import Principal
from engine.runtime import Runtime
from engine.services import Services
from engine.services.accounts import principal_of
from engine.services.instances import LaunchRequest
from engine.services.volumes import VolumeRequest
from engine.states import Role
from tests.support import make_config

GIB = 1024**3


def prepared_runtime(db_url: str, home: Path) -> Runtime:
    runtime = Runtime(make_config(db_url, home))
    runtime.prepare()
    return runtime


def principals(sv: Services, *users: str) -> tuple[Principal, ...]:
    """The admin, then a new account with one user (role USER) per name."""
    admin = principal_of(sv.session, sv.accounts.user_by_name("admin"))
    return (admin, *(principal_of(sv.session, sv.accounts.create_account(name, Role.USER)[1])
                     for name in users))


# ------------------------------------------------------------------ world
@dataclass
class World:
    """A bootstrapped cloud with three principals; no job runner."""

    runtime: Runtime
    admin: Principal
    alice: Principal
    bob: Principal
    zone_uuid: str
    template_uuid: str
    offering_uuid: str

    def launch_stopped(self, count: int, tags: tuple[tuple[str, str], ...] = ()) -> list[str]:
        """Alice launches ``count`` instances with ``tags``, not started; their uuids."""
        with self.runtime.unit() as sv:
            launch = sv.instances.launch(self.alice, LaunchRequest(
                template_uuid=self.template_uuid, offering_uuid=self.offering_uuid,
                zone_uuid=self.zone_uuid,
                min_count=count, max_count=count, tags=tags, start=False))
            return [d.instance.uuid for d in launch.instances]


@dataclass
class Cloud:
    """A bootstrapped cloud whose jobs run when the test calls :meth:`drain`."""

    runtime: Runtime
    admin: Principal
    alice: Principal
    zone_uuid: str
    template_uuid: str
    offering_uuid: str
    pool_uuid: str

    def drain(self) -> None:
        assert self.runtime.runner is not None
        assert self.runtime.runner.drain(timeout=60)

    def launch(self, who: Principal | None = None, *, start: bool = True,
               name: str = "vm") -> str:
        with self.runtime.unit() as sv:
            launch = sv.instances.launch(who or self.admin, LaunchRequest(
                template_uuid=self.template_uuid, offering_uuid=self.offering_uuid,
                name=name, start=start))
            uuid = launch.instances[0].instance.uuid
        self.drain()
        return uuid

    def volume(self, uuid: str) -> Volume:
        with self.runtime.unit(readonly=True) as sv:
            v = sv.session.get(Volume, uuid)
            assert v is not None
            return v

    def instance(self, uuid: str) -> Instance:
        with self.runtime.unit(readonly=True) as sv:
            inst = sv.session.get(Instance, uuid)
            assert inst is not None
            return inst

    def job(self, uuid: str) -> Job:
        with self.runtime.unit(readonly=True) as sv:
            job = sv.session.get(Job, uuid)
            assert job is not None
            return job

    def allocated(self) -> int:
        """The pool's allocated bytes, checked against the volumes holding it."""
        with self.runtime.unit(readonly=True) as sv:
            s = sv.session
            pool = s.get(StoragePool, self.pool_uuid)
            held = s.scalar(select(func.coalesce(func.sum(Volume.size_bytes), 0)).where(
                Volume.pool_uuid == self.pool_uuid, Volume.removed_at.is_(None)))
            assert pool is not None and pool.allocated_bytes == held
            return pool.allocated_bytes

    def drivers(self) -> list[SimulatorDriver]:
        """The simulator driver of every host (for faults and assertions)."""
        with self.runtime.unit(readonly=True) as sv:
            hosts = list(sv.session.scalars(select(Host).order_by(Host.created_at)))
        out = []
        for h in hosts:
            d = self.runtime.drivers.get(HostAccess(h.uuid, h.hypervisor, h.url, None, None))
            assert isinstance(d, SimulatorDriver)
            out.append(d)
        return out

    def fault(self, op: str, on: bool = True) -> None:
        for d in self.drivers():
            d.configure(**{f"fail.{op}": 1 if on else None})

    def events(self, event_type: str, resource_uuid: str) -> list[str]:
        with self.runtime.unit(readonly=True) as sv:
            return list(sv.session.scalars(select(Event.level).where(
                Event.event_type == event_type, Event.resource_uuid == resource_uuid)))

    def create(self, size_gib: int | None = 10, who: Principal | None = None,
               **kw: object) -> Volume:
        with self.runtime.unit() as sv:
            v, job = sv.volumes.create(who or self.admin, VolumeRequest(
                zone_uuid=kw.pop("zone_uuid", self.zone_uuid), size_gib=size_gib,  # type: ignore[arg-type]
                **kw))  # type: ignore[arg-type]
        if job is not None:
            self.drain()
        return v

    def attach(self, volume_uuid: str, instance_uuid: str, device_id: int | None = None) -> Job:
        with self.runtime.unit() as sv:
            job = sv.volumes.attach(self.admin, volume_uuid, instance_uuid, device_id)
        self.drain()
        return self.job(job.uuid)


def disk_of(cloud: Cloud, volume: Volume):  # type: ignore[no-untyped-def]
    """What the first host's simulator holds for ``volume``."""
    return cloud.drivers()[0].disk_info(volume.sid)
