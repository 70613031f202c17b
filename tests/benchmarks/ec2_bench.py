"""EC2 benchmark: nimbostack against moto's server, same calls, same client, one run.

Run from the repository root::

    python tests/benchmarks/ec2_bench.py --instances 10000

See tests/benchmarks/README.md for what is measured and how. The script is not
collected by pytest (its name does not start with ``test_``);
tests/unit/benchmarks/test_bench_smoke.py runs it at toy size.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import (
    Ec2Connection,
    describe_all,
    filter_params,
    instance_ids,
    throughput,
)
from bench_servers import REPO_ROOT, Server, start_moto, start_nimbostack

# Capacity of one simulator host of the embedded default (128 cores x 3000 MHz,
# 1 TiB) in t2.nano instances (1 vCPU x 1000 MHz, 512 MiB): CPU binds first.
NANOS_PER_HOST = 128 * 3000 // 1000
_IMAGE_ID = re.compile(rb"<imageId>(ami-[0-9a-f]+)</imageId>")
TARGETS = {
    "describe_tag_filtered_ms": 50.0,
    "list_all_s": 1.5,
    "run_instances_ms": 10.0,
    "run_instances_growth": 1.5,
    "describe_regions_per_s": 1000.0,
    "startup_s": 1.0,
    "worker_rss_mib": 150.0,
}


@dataclass
class Stats:
    """Latency summary of one operation in milliseconds (nearest-rank percentiles)."""

    n: int
    median: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        ms = sorted(s * 1000 for s in seconds)
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)

        def rank(p: float) -> float:
            return ms[min(len(ms) - 1, max(0, math.ceil(p / 100 * len(ms)) - 1))]

        mid = len(ms) // 2
        median = ms[mid] if len(ms) % 2 else (ms[mid - 1] + ms[mid]) / 2
        return cls(len(ms), median, rank(95), rank(99), ms[-1])


@dataclass
class Result:
    """Everything measured on one system."""

    system: str
    startup_s: float = math.nan
    cold_startup_s: float = math.nan
    instances: int = 0
    ops: dict[str, Stats] = field(default_factory=dict)
    run_by_fleet: dict[int, Stats] = field(default_factory=dict)
    batch_ms_per_instance: float = math.nan
    regions_per_s: float = math.nan
    regions_errors: int = 0
    worker_rss_mib: list[float] = field(default_factory=list)
    listed: int = 0
    notes: list[str] = field(default_factory=list)


def sample(fn: Callable[[], float], samples: int, budget_s: float) -> list[float]:
    """Call ``fn`` (returning seconds) up to ``samples`` times or until ``budget_s``
    has passed, at least once."""
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < samples:
        out.append(fn())
        if time.perf_counter() - start > budget_s:
            break
    return out


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    """Drives one running server through the whole scenario."""

    def __init__(self, server: Server, args: argparse.Namespace, result: Result) -> None:
        self.server = server
        self.args = args
        self.result = result
        self.conn = Ec2Connection(server.endpoint)
        self.image_id = self._image_id()
        self.launched = 0
        self.probes: list[str] = []
        self.run_id = f"{time.time_ns():x}"  # probe tag values stay unique per run

    def _image_id(self) -> str:
        body = self.conn.call("DescribeImages", filter_params(
            {"name": ["amzn2-ami-hvm-2.0-x86_64-gp2"]}))
        ids = _IMAGE_ID.findall(body) or _IMAGE_ID.findall(self.conn.call("DescribeImages"))
        if not ids:
            raise RuntimeError(f"{self.server.name}: no image to launch")
        return ids[0].decode()

    def _run_params(self, count: int, tags: dict[str, str]) -> dict[str, str]:
        params = {"ImageId": self.image_id, "InstanceType": "t2.nano",
                  "MinCount": str(count), "MaxCount": str(count),
                  "TagSpecification.1.ResourceType": "instance"}
        for n, (key, value) in enumerate(tags.items(), start=1):
            params[f"TagSpecification.1.Tag.{n}.Key"] = key
            params[f"TagSpecification.1.Tag.{n}.Value"] = value
        return params

    def drain(self) -> None:
        """Wait until the server's background spawn jobs are done (nimbostack only:
        moto has none, and a filtered describe there costs as much as a listing)."""
        if self.server.name != "nimbostack":
            return
        deadline = time.perf_counter() + 900
        params = {"MaxResults": "5", **filter_params({"instance-state-name": ["pending"]})}
        while instance_ids(self.conn.call("DescribeInstances", params)):
            if time.perf_counter() > deadline:
                raise RuntimeError("spawn jobs did not drain in 15 minutes")
            time.sleep(0.1)

    def regions(self) -> None:
        a = self.args
        lat = sample(lambda: self.conn.timed("DescribeRegions")[0], a.samples * 3, a.budget)
        self.result.ops["DescribeRegions"] = Stats.of(lat)
        tp = throughput(self.server.endpoint, "DescribeRegions",
                        connections=a.connections, seconds=a.seconds)
        self.result.regions_per_s = tp.per_second
        self.result.regions_errors = tp.errors
        log(f"{self.server.name}: DescribeRegions {tp.per_second:.0f}/s "
            f"({a.connections} connections, {tp.errors} errors, client CPU "
            f"{tp.client_cpu_s * 1000 / max(tp.ok, 1):.2f} ms a call)")

    def probe_run(self, fleet: int) -> None:
        """``--probes`` single-instance RunInstances at the current fleet size."""
        lat = []
        for _ in range(self.args.probes):
            tag = f"{self.run_id}-p{len(self.probes):05d}"
            elapsed, body = self.conn.timed("RunInstances", self._run_params(1, {"probe": tag}))
            lat.append(elapsed)
            self.probes.append(tag)
            self.launched += len(instance_ids(body))
        self.result.run_by_fleet[fleet] = Stats.of(lat)
        log(f"{self.server.name}: RunInstances at {fleet}: "
            f"median {self.result.run_by_fleet[fleet].median:.1f} ms")

    def fill(self, target: int, batch_times: list[float], batch_counts: list[int]) -> None:
        """Batch-launch until ``target`` instances (probes not counted) exist."""
        while sum(batch_counts) < target:
            count = min(self.args.batch, target - sum(batch_counts))
            elapsed, body = self.conn.timed("RunInstances", self._run_params(
                count, {"fleet": "bench", "batch": f"b{len(batch_times):04d}"}))
            got = len(instance_ids(body))
            if got != count:
                raise RuntimeError(f"{self.server.name}: asked {count}, launched {got}")
            self.launched += got
            batch_times.append(elapsed)
            batch_counts.append(got)

    def fleet(self) -> None:
        """Grow the fleet to ``--instances`` batch-launched instances, probing
        RunInstances at 0, 1/4, 1/2, 3/4 and all of it (the probes stay, so the
        final fleet is ``--instances`` + 5 x ``--probes``)."""
        n = self.args.instances
        checkpoints = sorted({0, n // 4, n // 2, 3 * n // 4, n})
        times: list[float] = []
        counts: list[int] = []
        for point in checkpoints:
            self.fill(point, times, counts)
            self.drain()
            self.probe_run(self.launched)  # keyed by the fleet size before the probes
            log(f"{self.server.name}: fleet {self.launched}")
        if counts:
            self.result.batch_ms_per_instance = sum(times) * 1000 / sum(counts)
        self.drain()
        self.result.instances = self.launched

    def describes(self) -> None:
        a = self.args
        needle = self.probes[len(self.probes) // 2]
        params = filter_params({"tag:probe": [needle]})

        def tag_filtered() -> float:
            elapsed, body = self.conn.timed("DescribeInstances", params)
            if len(instance_ids(body)) != 1:
                raise RuntimeError(f"{self.server.name}: tag filter found "
                                   f"{len(instance_ids(body))} instances, not 1")
            return elapsed

        self.result.ops["DescribeInstances tag:probe (1 of N)"] = Stats.of(
            sample(tag_filtered, a.samples, a.budget))
        log(f"{self.server.name}: tag-filtered DescribeInstances median "
            f"{self.result.ops['DescribeInstances tag:probe (1 of N)'].median:.1f} ms")

        def listing() -> float:
            elapsed, seen, _pages = describe_all(self.conn, 1000)
            self.result.listed = seen
            return elapsed

        self.result.ops["DescribeInstances all (MaxResults=1000 pages)"] = Stats.of(
            sample(listing, a.list_samples, a.budget))
        if self.result.listed != self.launched:
            self.result.notes.append(f"listing returned {self.result.listed} of "
                                     f"{self.launched} instances")
        log(f"{self.server.name}: listing {self.result.listed} instances, median "
            f"{self.result.ops['DescribeInstances all (MaxResults=1000 pages)'].median:.0f} ms")


def run_system(name: str, args: argparse.Namespace) -> Result:
    result = Result(name)
    total = args.instances + 5 * args.probes
    if name == "nimbostack":
        hosts = args.hosts or max(4, math.ceil(total / NANOS_PER_HOST) + 1)
        result.notes.append(f"nimbostack init --hosts {hosts} (t2.nano; {NANOS_PER_HOST}/host)")
        if args.cold_start:
            cold = start_nimbostack(hosts=hosts, fresh_db=True, source=args.source)
            result.cold_startup_s = cold.startup_s
            cold.stop()
            _cleanup(cold, args)
        server = start_nimbostack(hosts=hosts, db_url=args.db_url, source=args.source)
    else:
        server = start_moto()
    result.startup_s = server.startup_s
    log(f"{name}: up in {server.startup_s:.2f} s")
    try:
        bench = Bench(server, args, result)
        bench.regions()
        bench.fleet()
        bench.describes()
        result.worker_rss_mib = server.worker_rss_mib()
    finally:
        server.stop()
        _cleanup(server, args)
    return result


def _cleanup(server: Server, args: argparse.Namespace) -> None:
    if server.workdir is not None and not args.keep:
        shutil.rmtree(server.workdir, ignore_errors=True)


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _ratio(moto: float, nimbo: float) -> str:
    if math.isnan(nimbo) or math.isnan(moto) or nimbo == 0:
        return "-"
    return f"{moto / nimbo:.1f}x"


def _stats_ratio(stats: list[Stats | None]) -> str:
    first, last = stats[0], stats[-1]
    if len(stats) != 2 or first is None or last is None:
        return ""
    return _ratio(last.median, first.median)


def report(results: list[Result]) -> str:
    """A markdown table: per operation median/p95/p99 for each system, and the ratio."""
    by = {r.system: r for r in results}
    systems = [s for s in ("nimbostack", "moto") if s in by]
    head = "| operation | " + " | ".join(f"{s} median / p95 / p99 (ms)" for s in systems)
    head += " | moto/nimbostack |" if len(systems) == 2 else " |"
    lines = [head, "|" + "---|" * (len(systems) + 1 + (len(systems) == 2))]

    def row(label: str, cells: list[str], ratio: str = "") -> None:
        tail = f" {ratio} |" if len(systems) == 2 else ""
        lines.append(f"| {label} | " + " | ".join(cells) + " |" + tail)

    op_names = list(dict.fromkeys(k for r in results for k in r.ops))
    for op in op_names:
        stats = [by[s].ops.get(op) for s in systems]
        cells = [f"{_fmt(st.median)} / {_fmt(st.p95)} / {_fmt(st.p99)} (n={st.n})" if st
                 else "-" for st in stats]
        row(op, cells, _stats_ratio(stats))
    fleets = [sorted(by[s].run_by_fleet) for s in systems]
    for idx, _ in enumerate(fleets[0]):
        stats = [by[s].run_by_fleet[f[idx]] if idx < len(f) else None
                 for s, f in zip(systems, fleets)]
        label = f"RunInstances x1 at fleet {fleets[0][idx]}"
        cells = [f"{_fmt(st.median)} / {_fmt(st.p95)} / {_fmt(st.p99)} (n={st.n})" if st
                 else "-" for st in stats]
        row(label, cells, _stats_ratio(stats))
    row("RunInstances batch, ms per instance", [_fmt(by[s].batch_ms_per_instance, 2)
                                                for s in systems],
        _ratio(by[systems[-1]].batch_ms_per_instance, by[systems[0]].batch_ms_per_instance))
    row("DescribeRegions/s, signed, 8 connections",
        [f"{by[s].regions_per_s:.0f} ({by[s].regions_errors} errors)" for s in systems],
        _ratio(by[systems[0]].regions_per_s, by[systems[-1]].regions_per_s))
    row("start-up to first DescribeRegions (s)", [_fmt(by[s].startup_s, 2) for s in systems],
        _ratio(by[systems[-1]].startup_s, by[systems[0]].startup_s))
    if "nimbostack" in by:
        row("cold start-up, fresh database (s)",
            [_fmt(by[s].cold_startup_s, 2) for s in systems])
    row("RSS per worker at the full fleet (MiB)",
        [", ".join(f"{v:.0f}" for v in by[s].worker_rss_mib) for s in systems])
    lines.append("")
    lines.append("(ratio column: how many times nimbostack is better; throughput ratio is "
                 "nimbostack/moto)")
    return "\n".join(lines)


def verdicts(r: Result) -> list[tuple[str, bool, str]]:
    """The issue's targets checked against one system's figures."""
    tag = r.ops.get("DescribeInstances tag:probe (1 of N)")
    listing = r.ops.get("DescribeInstances all (MaxResults=1000 pages)")
    runs = [r.run_by_fleet[k] for k in sorted(r.run_by_fleet)]
    worst_run = max((s.median for s in runs), default=math.nan)
    growth = runs[-1].median / runs[0].median if runs else math.nan
    t = TARGETS
    out = [
        (f"tag-filtered DescribeInstances at {r.instances} < {t['describe_tag_filtered_ms']:.0f} ms",
         bool(tag and tag.median < t["describe_tag_filtered_ms"]),
         f"median {_fmt(tag.median) if tag else '-'} ms"),
        (f"list all {r.instances} in 1000-pages < {t['list_all_s']} s",
         bool(listing and listing.median / 1000 < t["list_all_s"]),
         f"median {_fmt(listing.median / 1000, 2) if listing else '-'} s"),
        (f"RunInstances < {t['run_instances_ms']:.0f} ms at every fleet size",
         worst_run < t["run_instances_ms"], f"worst median {_fmt(worst_run)} ms"),
        (f"RunInstances flat (full/empty median < {t['run_instances_growth']})",
         growth < t["run_instances_growth"], f"{_fmt(growth, 2)}x"),
        (f">= {t['describe_regions_per_s']:.0f} DescribeRegions/s, 8 connections",
         r.regions_per_s >= t["describe_regions_per_s"], f"{r.regions_per_s:.0f}/s"),
        (f"start-up < {t['startup_s']} s", r.startup_s < t["startup_s"],
         f"{_fmt(r.startup_s, 2)} s"),
        (f"< {t['worker_rss_mib']:.0f} MiB per worker",
         bool(r.worker_rss_mib) and max(r.worker_rss_mib) < t["worker_rss_mib"],
         f"max {max(r.worker_rss_mib, default=math.nan):.0f} MiB"),
    ]
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", type=int, default=10000, help="fleet size (default 10000)")
    p.add_argument("--batch", type=int, default=500, help="MinCount=MaxCount per fill call")
    p.add_argument("--probes", type=int, default=20,
                   help="single RunInstances timed at each of 5 fleet sizes")
    p.add_argument("--samples", type=int, default=30, help="max samples per describe")
    p.add_argument("--list-samples", type=int, default=5, help="max full listings")
    p.add_argument("--budget", type=float, default=30.0,
                   help="seconds per operation before sampling stops (>= 1 sample)")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10.0, help="throughput run length")
    p.add_argument("--systems", default="nimbostack,moto",
                   help="comma-separated: nimbostack, moto")
    p.add_argument("--hosts", type=int, default=0,
                   help="simulator hosts for nimbostack init (default: enough for the fleet)")
    p.add_argument("--db-url", default=None,
                   help="nimbostack database (default: a fresh SQLite file)")
    p.add_argument("--source", type=Path, default=REPO_ROOT,
                   help="nimbostack tree to serve (default: this checkout), e.g. an "
                        "export of a commit: git archive HEAD | tar -x -C DIR")
    p.add_argument("--no-cold-start", dest="cold_start", action="store_false",
                   help="skip the fresh-database start-up measurement")
    p.add_argument("--json", default=None, help="also write the raw figures here")
    p.add_argument("--keep", action="store_true", help="keep the servers' temp directories")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Result]:
    args = parse_args(argv)
    results = []
    for name in [s.strip() for s in args.systems.split(",") if s.strip()]:
        if name not in ("nimbostack", "moto"):
            raise SystemExit(f"unknown system {name!r}")
        results.append(run_system(name, args))
    print(report(results))
    for r in results:
        if r.system == "nimbostack":
            print("\nTargets (issue 3), nimbostack:")
            for label, ok, detail in verdicts(r):
                print(f"  [{'met' if ok else 'MISSED'}] {label}: {detail}")
        for note in r.notes:
            print(f"note ({r.system}): {note}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return results


if __name__ == "__main__":
    main()
