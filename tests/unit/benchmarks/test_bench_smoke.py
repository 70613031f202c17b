"""The EC2 benchmark (tests/benchmarks/ec2_bench.py) at toy size, so it does not rot.

It drives the session's live server (not a separate process and not moto), so it
takes a few seconds; the full comparison is run by hand, see tests/benchmarks/README.md.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

import ec2_bench
from bench_http import Ec2CallError, Ec2Connection, Endpoint, filter_params
from bench_servers import Server


def test_stats_use_nearest_rank_percentiles() -> None:
    stats = ec2_bench.Stats.of([n / 1000 for n in range(1, 101)])  # 1..100 ms
    assert (stats.n, stats.median, stats.p95, stats.p99, stats.max) == (100, 50.5, 95, 99, 100)
    assert math.isnan(ec2_bench.Stats.of([]).median)


def test_filters_flatten_like_the_ec2_query_protocol() -> None:
    assert filter_params({"tag:a": ["x", "y"], "instance-state-name": ["running"]}) == {
        "Filter.1.Name": "tag:a", "Filter.1.Value.1": "x", "Filter.1.Value.2": "y",
        "Filter.2.Name": "instance-state-name", "Filter.2.Value.1": "running",
    }


def test_a_call_is_signed_again_only_when_its_second_changes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import bench_http

    now = [1_700_000_000.2]
    monkeypatch.setattr(bench_http.time, "time", lambda: now[0])
    conn = Ec2Connection(Endpoint("http://127.0.0.1:1", "AKIAEXAMPLE", "secret"))
    first = conn.signed("DescribeRegions")
    assert conn.signed("DescribeRegions") is first  # same second: the same bytes
    assert conn.signed("DescribeRegions", {"RegionName.1": "x"}) != first
    now[0] += 1.0
    assert conn.signed("DescribeRegions") is not first  # a new second: signed again


def test_a_bad_signature_is_reported_with_its_code(server: Any) -> None:
    conn = Ec2Connection(Endpoint(server.url, server.access_key, "not-the-secret"))
    with pytest.raises(Ec2CallError) as err:
        conn.call("DescribeRegions")
    assert err.value.status in (401, 403) and err.value.code in ("AuthFailure",
                                                                  "SignatureDoesNotMatch")


def test_the_whole_scenario_runs_at_toy_size(server: Any) -> None:
    args = ec2_bench.parse_args(["--instances", "8", "--batch", "4", "--probes", "1",
                                 "--samples", "2", "--list-samples", "1", "--budget", "1",
                                 "--seconds", "0.3", "--connections", "2"])
    endpoint = Endpoint(server.url, server.access_key, server.secret_key)
    result = ec2_bench.Result("nimbostack")
    bench = ec2_bench.Bench(Server("nimbostack", endpoint, proc=None), args,  # type: ignore[arg-type]
                            result)
    bench.regions()
    bench.fleet()
    bench.describes()

    assert result.instances == 8 + 5  # the fleet plus one probe at each of 5 sizes
    assert sorted(result.run_by_fleet) == [0, 3, 6, 9, 12]  # batch-launched + earlier probes
    assert result.regions_per_s > 0 and result.regions_errors == 0
    assert result.listed >= result.instances  # the session server is shared
    assert result.ops["DescribeInstances tag:probe (1 of N)"].n >= 1
    table = ec2_bench.report([result])
    assert "DescribeInstances all (MaxResults=1000 pages)" in table
    assert len(ec2_bench.verdicts(result)) == 7
