"""Fixtures for engine service tests; the world builders live in worlds.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.jobs.runner import JobRunner
from engine.models import ServiceOffering, StoragePool, Template, Zone
from tests.integration.engine.worlds import Cloud, World, prepared_runtime, principals


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    runtime = prepared_runtime(db_url, tmp_path)
    with runtime.unit() as sv:
        s = sv.session
        admin, alice, bob = principals(sv, "alice", "bob")
        zone = s.scalar(select(Zone.uuid))
        template = s.scalar(select(Template.uuid).order_by(Template.created_at))
        offering = s.scalar(select(ServiceOffering.uuid).order_by(ServiceOffering.created_at))
    assert zone and template and offering
    yield World(runtime, admin, alice, bob, zone, template, offering)
    runtime.shutdown()


@pytest.fixture
def cloud(db_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """Admin and alice; the Amazon Linux 2 template, t2.micro and the pool; a
    JobRunner that only runs when the test calls :meth:`Cloud.drain`."""
    runtime = prepared_runtime(db_url, tmp_path)
    runtime.runner = JobRunner(runtime.db, runtime.drivers, "test-runner")
    with runtime.unit() as sv:
        s = sv.session
        admin, alice = principals(sv, "alice")
        zone = s.scalar(select(Zone.uuid))
        template = s.scalar(select(Template.uuid).where(
            Template.name == "amzn2-ami-hvm-2.0-x86_64-gp2"))
        offering = s.scalar(select(ServiceOffering.uuid).where(ServiceOffering.name == "t2.micro"))
        pool = s.scalar(select(StoragePool.uuid))
    assert zone and template and offering and pool
    yield Cloud(runtime, admin, alice, zone, template, offering, pool)
    runtime.shutdown()
