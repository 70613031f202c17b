"""Profile single-instance RunInstances in-process: SQL statements and CPU per call.

Wall-clock benchmarks are noisy on a shared machine; this script measures what
the server itself spends. It builds a runtime on a fresh SQLite (or ``--db``)
database, the real WSGI app, and sends signed ``RunInstances`` (one ``t2.nano``
with one instance tag, as ``ec2_bench.py`` does) through Flask's test client.
It reports per call: SQL statements (``before_cursor_execute``), CPU
milliseconds (``time.process_time``) of the request, and the same for the
spawn job that follows it (run in this thread by ``JobRunner.drain`` after each
call, outside the timed span, unless ``--no-jobs``). ``--fleet N`` first
launches N instances in batches of 500 so the cost can be compared at size
(and prints the batches' request CPU per instance).
``--profile FILE`` writes a cProfile of the timed requests (of the spawn jobs
with ``--profile-jobs``; ``--top`` prints the heaviest functions); ``--sql`` prints the statements of the last call and
of its spawn job.

``--wall`` measures instead what the benchmark sees: WALL time of back-to-back
calls while the previous calls' spawn jobs run in this process's job runner
threads (as in a server worker), and how often and how long a call's
``BEGIN IMMEDIATE`` waited for SQLite's one writer (a job's transaction).

    python tests/benchmarks/profile_launch.py --calls 200 --wall

    python tests/benchmarks/profile_launch.py --calls 200
    python tests/benchmarks/profile_launch.py --calls 200 --fleet 2000 --top 30
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_http import Ec2Connection, Endpoint

_IMAGE_ID = re.compile(rb"<imageId>(ami-[0-9a-f]+)</imageId>")


class StatementLog:
    """Counts (and keeps) the SQL statements an engine sends while enabled."""

    def __init__(self, engine: Any) -> None:
        self.enabled = False
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.enabled:
            self.statements.append(statement)

    def take(self) -> list[str]:
        out, self.statements = self.statements, []
        return out


def _run_params(image_id: str, count: int, tags: dict[str, str]) -> dict[str, str]:
    params = {"ImageId": image_id, "InstanceType": "t2.nano",
              "MinCount": str(count), "MaxCount": str(count),
              "TagSpecification.1.ResourceType": "instance"}
    for n, (key, value) in enumerate(tags.items(), start=1):
        params[f"TagSpecification.1.Tag.{n}.Key"] = key
        params[f"TagSpecification.1.Tag.{n}.Value"] = value
    return params


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200, help="timed single-instance launches")
    ap.add_argument("--fleet", type=int, default=0, help="instances launched before timing")
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--no-jobs", action="store_true", help="do not run the spawn jobs")
    ap.add_argument("--profile", help="write a cProfile of the timed requests here")
    ap.add_argument("--top", type=int, default=0, help="print the N heaviest functions")
    ap.add_argument("--profile-jobs", action="store_true",
                    help="profile the spawn jobs instead of the requests")
    ap.add_argument("--sql", action="store_true", help="print the last call's statements")
    ap.add_argument("--wall", action="store_true",
                    help="wall time with the spawn jobs running in background threads")
    args = ap.parse_args(argv)

    from engine.bootstrap import BootstrapOptions
    from engine.jobs.runner import JobRunner
    from engine.runtime import Runtime
    from nimbostack.wsgi import create_app
    from tests.support import make_config

    home = Path(tempfile.mkdtemp(prefix="profile-launch-"))
    runtime = Runtime(make_config(args.db or f"sqlite:///{home / 'db.sqlite'}", home))
    hosts = (args.fleet + args.calls) // 384 + 2
    runtime.prepare(options=BootstrapOptions(simulator_dir=str(runtime.config.simulator_dir),
                                             hosts=hosts))
    runner = JobRunner(runtime.db, runtime.drivers, runtime.owner)
    client = create_app(runtime).test_client()
    with runtime.unit(readonly=True) as services:
        admin = services.accounts.user_by_name("admin")
        conn = Ec2Connection(Endpoint("http://localhost", admin.api_key, admin.secret_key))

    def call(action: str, params: dict[str, str]) -> bytes:
        body, headers = conn.signed(action, params)
        resp = client.post("/", data=body, headers=headers)
        if resp.status_code != 200:
            raise RuntimeError(f"{action}: {resp.status_code} {resp.data[:300]!r}")
        return resp.data

    image_id = _IMAGE_ID.findall(call("DescribeImages", {}))[0].decode()
    launched = 0
    batch_cpu: list[float] = []  # per instance, of each fleet batch's request
    while launched < args.fleet:
        count = min(500, args.fleet - launched)
        start = time.process_time()
        call("RunInstances", _run_params(image_id, count, {"fleet": "f"}))
        batch_cpu.append((time.process_time() - start) / count)
        launched += count
        if not args.no_jobs:
            runner.drain(timeout=3600)
    # Warm up caches and imports before the timed calls.
    for n in range(3):
        call("RunInstances", _run_params(image_id, 1, {"probe": f"warm{n}"}))
        if not args.no_jobs:
            runner.drain()

    if args.wall:
        return _wall(args, runtime, conn, client, image_id)
    sql = StatementLog(runtime.db.engine)
    profiler = cProfile.Profile() if args.profile or args.top else None
    cpu: list[float] = []
    counts: list[int] = []
    job_cpu: list[float] = []
    job_counts: list[int] = []
    last: list[str] = []
    last_job: list[str] = []
    for n in range(args.calls):
        params = _run_params(image_id, 1, {"probe": f"p{n:05d}"})
        body, headers = conn.signed("RunInstances", params)
        sql.enabled = True
        if profiler and not args.profile_jobs:
            profiler.enable()
        start = time.process_time()
        resp = client.post("/", data=body, headers=headers)
        cpu.append(time.process_time() - start)
        if profiler:
            profiler.disable()
        sql.enabled = False
        if resp.status_code != 200:
            raise RuntimeError(f"RunInstances: {resp.status_code} {resp.data[:300]!r}")
        last = sql.take()
        counts.append(len(last))
        if not args.no_jobs:
            sql.enabled = True
            if profiler and args.profile_jobs:
                profiler.enable()
            start = time.process_time()
            runner.drain()
            job_cpu.append(time.process_time() - start)
            if profiler:
                profiler.disable()
            sql.enabled = False
            last_job = sql.take()
            job_counts.append(len(last_job))

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.2f} ms, mean {statistics.mean(values) * 1000:.2f} ms"

    print(f"fleet {args.fleet + 3}, {args.calls} calls, {hosts} hosts")
    if batch_cpu:
        print(f"fleet batches of up to 500: CPU per instance {ms(batch_cpu)}")
    print(f"RunInstances: {statistics.median(counts):.0f} statements, CPU {ms(cpu)}")
    if job_cpu:
        print(f"spawn job (claim+run+finish): {statistics.median(job_counts):.0f} statements, "
              f"CPU {ms(job_cpu)}")
    if args.sql:
        print("statements of the last RunInstances:")
        for stmt in last:
            print("  " + " ".join(stmt.split())[:200])
        print("statements of its spawn job:")
        for stmt in last_job:
            print("  " + " ".join(stmt.split())[:200])
    if profiler:
        if args.profile:
            profiler.dump_stats(args.profile)
        if args.top:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    runtime.shutdown()
    return 0


class BeginWaits:
    """Wall time each write transaction's start of thread ``thread`` took,
    recorded while that is set: the wait in the SQLite writer queue
    (engine.sqlite_writers, where the tree has it) plus ``BEGIN IMMEDIATE``
    (waiting for SQLite's write lock)."""

    def __init__(self, engine: Any) -> None:
        self.thread: int | None = None
        self.waits: list[float] = []
        self._queued = 0.0
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        try:
            from engine.sqlite_writers import WriterQueue
        except ImportError:
            return
        acquire = WriterQueue.acquire

        def timed_acquire(queue: Any, conn: Any) -> bool:
            start = time.perf_counter()
            try:
                return acquire(queue, conn)
            finally:
                if threading.get_ident() == self.thread:
                    self._queued = time.perf_counter() - start

        WriterQueue.acquire = timed_acquire  # type: ignore[method-assign]

    def _before(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        if statement.startswith("BEGIN IMMEDIATE"):
            self._started[id(cursor)] = time.perf_counter() - self._queued
        self._queued = 0.0

    def _after(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        start = self._started.pop(id(cursor), None)
        if start is not None:
            self.waits.append(time.perf_counter() - start)


def _wall(args: Any, runtime: Any, conn: Any, client: Any, image_id: str) -> int:
    """Back-to-back calls, wall-timed, with the jobs running in the background."""
    from engine.states import VmState

    runtime.start_jobs()
    waits = BeginWaits(runtime.db.engine)
    wall: list[float] = []
    cpu: list[float] = []
    for n in range(args.calls):
        params = _run_params(image_id, 1, {"probe": f"w{n:05d}"})
        body, headers = conn.signed("RunInstances", params)
        waits.thread = threading.get_ident()
        start, start_cpu = time.perf_counter(), time.thread_time()
        resp = client.post("/", data=body, headers=headers)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        waits.thread = None
        if resp.status_code != 200:
            raise RuntimeError(f"RunInstances: {resp.status_code} {resp.data[:300]!r}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with runtime.unit(readonly=True) as services:
            from sqlalchemy import func, select

            from engine.models import Instance
            pending = services.session.scalar(select(func.count()).select_from(Instance).where(
                Instance.state == VmState.STARTING))
        if not pending:
            break
        time.sleep(0.1)

    def q(values: list[float], p: float) -> float:
        return sorted(values)[min(len(values) - 1, int(p * len(values)))] * 1000

    slow = [w for w in waits.waits if w > 0.0005]
    print(f"{args.calls} calls with the spawn jobs in background threads")
    print(f"RunInstances wall: median {q(wall, 0.5):.2f} ms, p90 {q(wall, 0.9):.2f} ms, "
          f"p99 {q(wall, 0.99):.2f} ms, mean {statistics.mean(wall) * 1000:.2f} ms; "
          f"thread CPU median {q(cpu, 0.5):.2f} ms")
    print(f"write transactions (queue + BEGIN IMMEDIATE) of the calls: {len(waits.waits)}, waited > 0.5 ms: {len(slow)} "
          f"({len(slow) / max(1, args.calls):.0%} of calls), total {sum(slow) * 1000:.0f} ms, "
          f"median wait {q(slow, 0.5) if slow else 0:.2f} ms, max {q(slow, 1.0) if slow else 0:.2f} ms")
    runtime.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
