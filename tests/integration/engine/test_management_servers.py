"""The management-server registry and heartbeat monitor, on a real (SQLite) schema."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from engine.db import utcnow
from engine.errors import ResourceKind
from engine.jobs.queue import JobKind, enqueue
from engine.models import Job, ManagementServer
from engine.principal import SYSTEM
from engine.runtime import Runtime, ServerMonitor
from engine.services.management_servers import ManagementServerService, owner_server
from engine.states import JobStatus
from tests.support import make_config


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(make_config(db_url, tmp_path))
    rt.prepare(init=False)
    yield rt
    rt.shutdown()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(rt: Runtime, uuid: str, seconds: float) -> None:
    with rt.unit() as services:
        services.session.execute(update(ManagementServer).where(ManagementServer.uuid == uuid)
                                 .values(heartbeat_at=utcnow() - timedelta(seconds=seconds)))


def _row(rt: Runtime, uuid: str) -> ManagementServer:
    with rt.unit(readonly=True) as services:
        row = services.session.get(ManagementServer, uuid)
        assert row is not None
        return row


def test_owner_server_is_the_part_before_the_slash() -> None:
    assert owner_server("abc/123") == "abc"
    assert owner_server(None) == ""


def test_a_restart_at_the_same_address_takes_the_dead_servers_row_back(runtime: Runtime) -> None:
    with runtime.unit() as services:
        registry = ManagementServerService(services.session)
        first = registry.register(address="10.0.0.1:8080", pid=_dead_pid()).uuid
        again = registry.register(address="10.0.0.1:8080", version="2").uuid
        # The row now belongs to a live process (this one): a third server is new.
        third = registry.register(address="10.0.0.1:8080").uuid
        elsewhere = registry.register(address="10.0.0.2:8080").uuid
    assert again == first and third != first and elsewhere not in (first, third)
    row = _row(runtime, first)
    assert (row.state, row.pid, row.version, row.stopped_at) == ("Up", os.getpid(), "2", None)


def test_silent_peers_go_down_and_lose_their_job_leases(runtime: Runtime) -> None:
    with runtime.unit() as services:
        registry = ManagementServerService(services.session)
        me = registry.register(address="a:1").uuid
        peer = registry.register(address="b:1").uuid
        job = enqueue(services.session, JobKind.SPAWN, SYSTEM, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid="vm-1")
        job.status, job.owner = JobStatus.RUNNING, f"{peer}/4242"
        job.lease_expires_at = utcnow() + timedelta(seconds=300)
        services.session.flush()
        job_uuid = job.uuid
    _age(runtime, peer, 10)
    with runtime.unit() as services:
        registry = ManagementServerService(services.session)
        assert registry.mark_stale_down(interval=1, threshold=3, exclude=me) == [peer]
        assert registry.expire_leases_of_down() == 1
    assert _row(runtime, peer).state == "Down" and _row(runtime, me).state == "Up"
    with runtime.unit(readonly=True) as services:
        lease = services.session.get(Job, job_uuid).lease_expires_at  # type: ignore[union-attr]
    assert lease is not None and lease <= utcnow()
    # A heartbeat brings a merely slow server back Up; a stopped one stays Down.
    with runtime.unit() as services:
        registry = ManagementServerService(services.session)
        assert registry.heartbeat(peer)
        registry.mark_stopped(me)
        assert not registry.heartbeat(me)
    assert _row(runtime, peer).state == "Up"
    stopped = _row(runtime, me)
    assert stopped.state == "Down" and stopped.stopped_at is not None


def test_the_monitor_judges_peers_only_after_beating_for_a_whole_threshold(
        runtime: Runtime) -> None:
    runtime.register_server(address="me:1")
    with runtime.unit() as services:
        services.settings.update("management.server.heartbeat.interval", "1")
        services.settings.update("management.server.heartbeat.threshold", "3")
        peer = ManagementServerService(services.session).register(address="peer:1").uuid
    _age(runtime, peer, 10)
    monitor = ServerMonitor(runtime)
    assert monitor.beat() == []  # just (re)connected: the peer may have been cut off too
    assert _row(runtime, peer).state == "Up"
    monitor._healthy_since = -1e9  # noqa: SLF001 - as if beating for long
    assert monitor.beat() == [peer]
    assert monitor.interval == 1.0


def test_shutdown_of_the_registering_runtime_marks_its_row_down(db_url: str,
                                                                tmp_path: Path) -> None:
    rt = Runtime(make_config(db_url, tmp_path))
    rt.prepare(init=False)
    uuid = rt.register_server(address="x:1")
    rt.shutdown()
    observer = Runtime(make_config(db_url, tmp_path))
    try:
        row = _row(observer, uuid)
        assert row.state == "Down" and row.stopped_at is not None
    finally:
        observer.shutdown()
