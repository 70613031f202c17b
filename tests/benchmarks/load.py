"""Load test: requests/s and latency of 1 vs. 3 management servers on one MariaDB.

Not a pytest module (run it by hand)::

    python tests/benchmarks/load.py --db-url mysql+pymysql://u:p@127.0.0.1:3306/x \\
        --clients 8 --seconds 20

For each fleet size it creates a fresh database next to the one in ``--db-url``
(same server and account), starts that many real ``nimbostack serve``
processes sharing it, drives ``--clients`` threads of the mixed workload of
``tests/integration/multiserver/workload.py`` (EC2 RunInstances/
TerminateInstances and CloudStack deploy/destroy, spread round-robin) for
``--seconds``, and prints answered requests/s and p50/p99 latency per fleet.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from tests.integration.multiserver.fleet import ACCESS_KEY, SECRET_KEY, Fleet  # noqa: E402
from tests.integration.multiserver.workload import Ledger, Target, drive  # noqa: E402


def fresh_database(url: str) -> str:
    import pymysql

    base = make_url(url)
    name = f"nimbostack_bench_{secrets.token_hex(4)}"
    conn = pymysql.connect(host=base.host, port=base.port or 3306, user=base.username,
                           password=base.password or "")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(db_url: str, servers: int, clients: int, seconds: float) -> dict[str, float]:
    os.environ["NIMBOSTACK_ADMIN_ACCESS_KEY"] = ACCESS_KEY
    os.environ["NIMBOSTACK_ADMIN_SECRET_KEY"] = SECRET_KEY
    home = Path(tempfile.mkdtemp(prefix="nsbench"))
    fleet = Fleet(fresh_database(db_url), home, size=servers).start()
    try:
        ledger, stop = Ledger(), threading.Event()
        threads = drive(Target(fleet.urls, ACCESS_KEY, SECRET_KEY), ledger, threads=clients,
                        stop=stop, prefix="bench")
        time.sleep(seconds)
        with ledger.lock:
            lat = [t for _, t in ledger.latencies]
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        fleet.stop_all()
    return {"servers": servers, "requests": len(lat), "rps": len(lat) / seconds,
            "p50_ms": percentile(lat, 50) * 1000, "p99_ms": percentile(lat, 99) * 1000,
            "refused": len(ledger.refused)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db-url", default=os.environ.get("NIMBOSTACK_TEST_MYSQL_URL"),
                        required="NIMBOSTACK_TEST_MYSQL_URL" not in os.environ)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--fleets", default="1,3", help="fleet sizes to compare")
    args = parser.parse_args()
    print(f"{'servers':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for size in (int(n) for n in args.fleets.split(",")):
        r = run(args.db_url, size, args.clients, args.seconds)
        print(f"{r['servers']:>7} {r['requests']:>8} {r['rps']:>7.1f} {r['p50_ms']:>8.0f} "
              f"{r['p99_ms']:>8.0f}" + (f"  ({r['refused']} refused)" if r["refused"] else ""),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
