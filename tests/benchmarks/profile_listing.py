"""Where a DescribeInstances page spends its CPU: SQL + loading, view, XML.

Not a pytest module (run it by hand)::

    python tests/benchmarks/profile_listing.py --instances 2000
    python tests/benchmarks/profile_listing.py --home /tmp/fleet --instances 10000 --cprofile

It builds (or, with an existing ``--home``, reuses) a SQLite fleet of
``--instances`` t2.nano instances launched through the RunInstances handler in
batches of 500 (tags ``fleet``/``batch``, as ``ec2_bench.py`` does) with the
spawn jobs run to completion, then pages through every instance with
``MaxResults=--page`` in-process, ``--rounds`` times, and prints CPU
milliseconds (``time.process_time``) per 1,000 instances, split into

- ``sql``: ``services.instances.list`` (queries and loading the details),
- ``view``: the rest of the DescribeInstances handler (result dicts,
  metadata options read included),
- ``xml``: ``serializer.success``,

plus the SQL statements per page, one tag-filtered describe (one instance
among all) and the process's VmRSS after the listing. ``--cprofile`` prints
the top functions of one full listing.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select

from awsapi import actions
from awsapi.actions import RequestContext
from awsapi.model import operation
from awsapi.protocol import parser, serializer
from engine.bootstrap import BootstrapOptions
from engine.config import Config
from engine.models import Instance, User
from engine.runtime import Runtime
from engine.services.sessions import principal_of
from engine.states import VmState
from nimbostack.server import tune_collector

NANOS_PER_HOST = 384


def runtime_for(home: Path, instances: int) -> Runtime:
    cfg = Config(db_url=f"sqlite:///{home / 'fleet.sqlite'}")
    cfg.simulator_dir = home / "simulator"
    cfg.job_poll_seconds = 0.02
    cfg.reconcile = False
    runtime = Runtime(cfg)
    hosts = max(4, -(-instances // NANOS_PER_HOST) + 1)
    runtime.prepare(init=True, options=BootstrapOptions(hosts=hosts,
                                                        simulator_dir=str(cfg.simulator_dir)))
    return runtime


def admin(runtime: Runtime) -> Any:
    with runtime.unit(readonly=True) as s:
        user = s.session.scalar(select(User).where(User.username == "admin"))
        return principal_of(s.session, user)


def call(runtime: Runtime, principal: Any, name: str, form: dict[str, str],
         readonly: bool = False) -> dict[str, Any]:
    op = operation(name)
    spec = actions.lookup(name)
    assert op is not None and spec is not None
    params = parser.parse(op, {"Action": name, **form})

    def run(services: Any) -> dict[str, Any]:
        return spec.handler(RequestContext(principal, services, "us-east-1", "r"), params)

    return runtime.call(run, readonly=readonly)


def count(runtime: Runtime, *states: VmState) -> int:
    from sqlalchemy import func

    with runtime.unit(readonly=True) as s:
        stmt = select(func.count()).select_from(Instance)
        if states:
            stmt = stmt.where(Instance.state.in_(states))
        return int(s.session.scalar(stmt) or 0)


def build(runtime: Runtime, principal: Any, target: int) -> None:
    have = count(runtime)
    if have >= target:
        return
    images = call(runtime, principal, "DescribeImages", {}, readonly=True)["Images"]
    image = next(i["ImageId"] for i in images if i["State"] == "available")
    runtime.start_jobs()
    batch = 0
    while have < target:
        n = min(500, target - have)
        call(runtime, principal, "RunInstances", {
            "ImageId": image, "InstanceType": "t2.nano", "MinCount": str(n),
            "MaxCount": str(n), "TagSpecification.1.ResourceType": "instance",
            "TagSpecification.1.Tag.1.Key": "fleet", "TagSpecification.1.Tag.1.Value": "bench",
            "TagSpecification.1.Tag.2.Key": "batch",
            "TagSpecification.1.Tag.2.Value": f"b{batch:04d}"})
        have += n
        batch += 1
        print(f"launched {have}", file=sys.stderr)
    call(runtime, principal, "RunInstances", {
        "ImageId": image, "InstanceType": "t2.nano", "MinCount": "1", "MaxCount": "1",
        "TagSpecification.1.ResourceType": "instance",
        "TagSpecification.1.Tag.1.Key": "probe", "TagSpecification.1.Tag.1.Value": "p1"})
    while count(runtime, VmState.STARTING):
        time.sleep(0.2)


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[int]]:
    box = [0]

    def bump(*_: Any) -> None:
        box[0] += 1

    event.listen(runtime.db.engine, "before_cursor_execute", bump)
    try:
        yield box
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", bump)


def listing(runtime: Runtime, principal: Any, page: int, form: dict[str, str] | None = None
            ) -> tuple[dict[str, float], int, int]:
    """One pass over every page: CPU seconds per part, instances, statements."""
    op = operation("DescribeInstances")
    spec = actions.lookup("DescribeInstances")
    assert op is not None and spec is not None
    parts = {"sql": 0.0, "view": 0.0, "xml": 0.0}
    token: str | None = None
    seen = 0
    with statements(runtime) as stmts:
        while True:
            extra = {"MaxResults": str(page)} if form is None else dict(form)
            if token:
                extra["NextToken"] = token
            params = parser.parse(op, {"Action": "DescribeInstances", **extra})
            with runtime.unit(readonly=True) as services:
                inner = services.instances.list

                def timed_list(*a: Any, inner: Any = inner, **kw: Any) -> Any:
                    t = time.process_time()
                    try:
                        return inner(*a, **kw)
                    finally:
                        parts["sql"] += time.process_time() - t

                services.instances.list = timed_list  # type: ignore[method-assign]
                t0 = time.process_time()
                before = parts["sql"]
                result = spec.handler(RequestContext(principal, services, "us-east-1", "r"),
                                      params)
                t1 = time.process_time()
                parts["view"] += (t1 - t0) - (parts["sql"] - before)
                serializer.success(op, result, "r")
                parts["xml"] += time.process_time() - t1
            seen += sum(len(r["Instances"]) for r in result["Reservations"])
            token = result.get("NextToken")
            if not token or form is not None:
                break
    return parts, seen, stmts[0]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--home", type=Path, default=Path("/tmp/ns-profile-listing"))
    p.add_argument("--instances", type=int, default=2000)
    p.add_argument("--page", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cprofile", action="store_true")
    args = p.parse_args(argv)
    args.home.mkdir(parents=True, exist_ok=True)
    runtime = runtime_for(args.home, args.instances)
    try:
        principal = admin(runtime)
        build(runtime, principal, args.instances)
        if runtime.runner is not None:
            runtime.shutdown()
            runtime = runtime_for(args.home, args.instances)
        listing(runtime, principal, args.page)  # warm plans, caches, statements
        gc.collect()
        gc.freeze()  # as `nimbostack serve` does once its app is loaded,
        tune_collector()  # and as its workers collect
        best: dict[str, float] | None = None
        for _ in range(args.rounds):
            parts, seen, stmts = listing(runtime, principal, args.page)
            if best is None or sum(parts.values()) < sum(best.values()):
                best = parts
        assert best is not None
        per = 1000 / seen
        pages = -(-seen // args.page)
        print(f"{seen} instances, {pages} pages of {args.page}, {stmts / pages:.0f} statements/page")
        print(f"CPU ms per 1,000 instances (best of {args.rounds}): " + ", ".join(
            f"{k} {v * 1000 * per:.0f}" for k, v in best.items())
            + f", total {sum(best.values()) * 1000 * per:.0f}")
        tag = {"Filter.1.Name": "tag:batch", "Filter.1.Value.1": "b0001"}
        probe = {"Filter.1.Name": "tag:probe", "Filter.1.Value.1": "p1"}
        for label, form in (("tag-filtered (one instance)", probe),
                            ("tag-filtered (one batch of 500)", tag)):
            parts, seen, stmts = listing(runtime, principal, args.page, form)
            print(f"{label}: {seen} instances, {sum(parts.values()) * 1000:.1f} ms CPU, "
                  f"{stmts} statements")
        print(f"VmRSS after listing: {rss_mib():.0f} MiB")
        if args.cprofile:
            prof = cProfile.Profile()
            prof.enable()
            listing(runtime, principal, args.page)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    finally:
        runtime.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
