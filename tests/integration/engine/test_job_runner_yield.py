"""The job runner's cheaper spawn and its manners: a claim hands the job over
as claimed (no second read), a job committed by this process is claimed
without the preliminary check, a process serving calls leaves jobs to idle
runners for a bounded time, and a spawn whose start fails still gives
everything back, its domain included."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import event, select

from engine.jobs.runner import JobRunner
from engine.models import Host, Job
from engine.services.instances import LaunchRequest
from engine.states import JobStatus, VmState
from tests.integration.engine.worlds import Cloud
from tests.support import BACKEND


def _queue_spawn(cloud: Cloud) -> str:
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.admin, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid))
        return launch.instances[0].instance.uuid


def _statements(cloud: Cloud, action: Any) -> list[str]:
    seen: list[str] = []

    def on_execute(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    event.listen(cloud.runtime.db.engine, "before_cursor_execute", on_execute)
    try:
        action()
    finally:
        event.remove(cloud.runtime.db.engine, "before_cursor_execute", on_execute)
    return seen


def test_a_claimed_job_comes_back_as_claimed(cloud: Cloud) -> None:
    cloud.launch(start=False)
    uuid = _queue_spawn(cloud)
    runner = cloud.runtime.runner
    assert runner is not None
    job = runner.claim_job()
    assert job is not None
    stored = cloud.job(job.uuid)
    assert stored.resource_uuid == uuid and job.resource_uuid == uuid
    for key in ("status", "owner", "attempts", "started_at", "lease_expires_at", "kind"):
        assert getattr(job, key) == getattr(stored, key), key
    assert job.status == JobStatus.RUNNING and job.owner == "test-runner" and job.attempts == 1
    runner.run(job.uuid, claimed=job)
    assert cloud.instance(uuid).state == VmState.RUNNING
    assert cloud.job(job.uuid).status == JobStatus.SUCCEEDED


@pytest.mark.skipif(BACKEND == "mysql", reason="SQLite's BEGIN IMMEDIATE marks write transactions")
def test_a_job_known_to_be_queued_is_claimed_without_the_check(cloud: Cloud) -> None:
    cloud.launch(start=False)
    _queue_spawn(cloud)
    runner = cloud.runtime.runner
    assert runner is not None
    claimed: list[Job | None] = []
    statements = _statements(cloud, lambda: claimed.append(runner.claim_job(check=False)))
    assert claimed[0] is not None
    assert [s for s in statements if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]
    runner.run(claimed[0].uuid, claimed=claimed[0])


def test_a_spawn_costs_few_statements(cloud: Cloud) -> None:
    cloud.launch(start=False)
    uuid = _queue_spawn(cloud)
    statements = _statements(cloud, cloud.drain)
    assert cloud.instance(uuid).state == VmState.RUNNING
    # check + claim (3) + the instance's reads + the domain reference (its own
    # transaction, before the start) + Running with the job's end; then the
    # drain's last, empty check. It was 30 before the job was handed over by
    # its claim.
    assert len(statements) <= 28, statements


def _runner(cloud: Cloud, busy: Any, yield_seconds: float) -> JobRunner:
    rt = cloud.runtime
    return JobRunner(rt.db, rt.drivers, "yielding-runner", busy=busy,
                     yield_seconds=yield_seconds, poll_seconds=0.02)


def _wait_state(cloud: Cloud, uuid: str, state: VmState, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if cloud.instance(uuid).state == state:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{uuid} not {state} within {timeout} s")


def test_a_busy_process_leaves_jobs_to_others_for_a_bounded_time(cloud: Cloud) -> None:
    cloud.launch(start=False)
    runner = _runner(cloud, busy=lambda: True, yield_seconds=0.6)
    runner.start()
    try:
        time.sleep(0.05)
        uuid = _queue_spawn(cloud)
        runner.wake(queued=True)
        time.sleep(0.3)
        assert cloud.instance(uuid).state == VmState.STARTING  # left for an idle runner
        _wait_state(cloud, uuid, VmState.RUNNING, timeout=20)  # then run here: no starvation
        # Once it yielded its time, it drains the queue without yielding again.
        more = [_queue_spawn(cloud) for _ in range(2)]
        runner.wake(queued=True)
        for other in more:
            _wait_state(cloud, other, VmState.RUNNING, timeout=20)
    finally:
        runner.stop(timeout=10)


def test_an_idle_process_runs_jobs_at_once(cloud: Cloud) -> None:
    cloud.launch(start=False)
    runner = _runner(cloud, busy=lambda: False, yield_seconds=30)
    runner.start()
    try:
        uuid = _queue_spawn(cloud)
        runner.wake(queued=True)
        assert _wait_state(cloud, uuid, VmState.RUNNING, timeout=20) < 10
    finally:
        runner.stop(timeout=10)


def test_the_runtime_is_busy_while_and_just_after_a_unit_runs(cloud: Cloud) -> None:
    rt = cloud.runtime
    time.sleep(0.05)
    assert not rt.busy()
    with rt.unit(readonly=True):
        assert rt.busy()
    assert rt.busy(quiet=5.0)
    time.sleep(0.05)
    assert not rt.busy(quiet=0.01)


def test_a_spawn_whose_start_fails_destroys_its_domain_and_gives_all_back(cloud: Cloud) -> None:
    cloud.launch(start=False)
    with cloud.runtime.unit(readonly=True) as sv:
        before = {h.uuid: h.cpu_allocated_mhz for h in sv.session.scalars(select(Host))}
    pool_before = cloud.allocated()
    cloud.fault("start")
    try:
        uuid = _queue_spawn(cloud)
        cloud.drain()
    finally:
        cloud.fault("start", on=False)
    inst = cloud.instance(uuid)
    assert inst.state == VmState.ERROR and inst.domain_ref is None and inst.host_uuid is None
    assert all(inst.instance_name not in d.list_domains() for d in cloud.drivers())
    with cloud.runtime.unit(readonly=True) as sv:
        after = {h.uuid: h.cpu_allocated_mhz for h in sv.session.scalars(select(Host))}
    assert after == before
    assert cloud.allocated() == pool_before
