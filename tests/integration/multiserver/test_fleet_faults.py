"""Three real servers on one MariaDB under a mixed EC2 + CloudStack load,
proved against the two faults a deployment must survive.

1. One server is SIGKILLed mid-load and restarted later: its peers mark it
   Down within a few heartbeats and take over its jobs, clients fail over to
   the others (EC2 launches are retried with their ClientToken), and the
   restarted server takes its old registry row back.
2. The database itself is stopped for a few seconds under load: requests are
   refused with retryable errors (EC2 ServiceUnavailable, CloudStack 530/534),
   the servers reconnect by themselves, and nothing is corrupted.

Afterwards :func:`audit` checks every accepted request's resource exists once
in a final state, no IP is assigned twice, capacity adds up, no job is stuck.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from cs import CloudStack

from engine.runtime import Runtime
from engine.services.management_servers import ManagementServerService
from tests.integration.multiserver.audit import audit, wait_quiet
from tests.integration.multiserver.conftest import prepare
from tests.integration.multiserver.fleet import ACCESS_KEY, SECRET_KEY, Fleet, PrivateMariaDB
from tests.integration.multiserver.workload import Ledger, Target, drive
from tests.integration.serverproc import observer_runtime

CLIENTS = 6


def _listed(url: str) -> list[dict[str, object]]:
    """listManagementServers as one server answers it."""
    c = CloudStack(endpoint=f"{url}/client/api", key=ACCESS_KEY, secret=SECRET_KEY, timeout=10)
    return list(c.listManagementServers()["managementserver"])


def _registry(rt: Runtime) -> dict[str, tuple[str, str]]:
    """address -> (row id, state), straight from the database."""
    with rt.unit(readonly=True) as services:
        rows = ManagementServerService(services.session).servers()
        return {m.address: (m.uuid, m.state) for m in rows}


def _address(url: str) -> str:
    return url.removeprefix("http://")


def _wait_for(predicate, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"not {what} after {timeout:g} s"
        time.sleep(0.2)
    return time.monotonic() - started


def _run_load(fleet: Fleet, ledger: Ledger) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()
    return stop, drive(Target(fleet.urls, ACCESS_KEY, SECRET_KEY), ledger,
                       threads=CLIENTS, stop=stop)


def _finish(stop: threading.Event, threads: list[threading.Thread]) -> None:
    stop.set()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a client is stuck"


def test_sigkill_one_of_three_servers_under_load(shared_db: Runtime, db_url: str,
                                                 home: Path) -> None:
    fleet = Fleet(db_url, home).start()
    try:
        listed = _listed(fleet.urls[0])
        assert len(listed) == 3 and {m["state"] for m in listed} == {"Up"}
        victim = _address(fleet.urls[1])
        victim_id = _registry(shared_db)[victim][0]
        ledger = Ledger()
        stop, threads = _run_load(fleet, ledger)
        time.sleep(5)
        fleet.kill(1)
        killed_at = time.monotonic()
        down_after = _wait_for(lambda: _registry(shared_db)[victim][1] == "Down", 15,
                               "marked Down")
        time.sleep(max(0.0, 8 - (time.monotonic() - killed_at)))
        fleet.restart(1)
        assert _registry(shared_db)[victim] == (victim_id, "Up")  # its old row, Up again
        time.sleep(4)
        _finish(stop, threads)
        quiet = wait_quiet(shared_db)
        states = audit(shared_db, home, ledger)
        assert ledger.refused == [], ledger.refused[:5]
        assert any(not r.startswith(("ec2 ", "cs ")) for r in ledger.retries), ledger.retries
        listed = _listed(fleet.urls[2])
        assert len(listed) == 3 and {m["state"] for m in listed} == {"Up"}
        print(f"\nload: {len(ledger.latencies)} answered requests, "
              f"{len(ledger.ec2_launched)} EC2 launches, {len(ledger.cs_deployed)} CS deploys "
              f"(+{len(ledger.cs_uncertain)} unanswered), retries {dict(ledger.retries)}, "
              f"Down after {down_after:.1f} s, quiet after {quiet:.1f} s, states {dict(states)}")
    except BaseException:
        print(fleet.logs())
        raise
    finally:
        fleet.stop_all()


def test_database_restart_under_load(private_db: PrivateMariaDB, home: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db_url = private_db.url
    prepare(db_url, home, monkeypatch).shutdown()
    fleet = Fleet(db_url, home).start()
    try:
        ledger = Ledger()
        stop, threads = _run_load(fleet, ledger)
        time.sleep(4)
        private_db.stop()
        time.sleep(3)
        private_db.start()
        time.sleep(5)
        _finish(stop, threads)
        with observer_runtime(db_url, home) as rt:
            quiet = wait_quiet(rt)
            states = audit(rt, home, ledger)
        assert ledger.refused == [], ledger.refused[:5]
        retryable = {k: v for k, v in ledger.retries.items()
                     if k in ("ec2 ServiceUnavailable", "cs 530", "cs 534")}
        assert retryable, ledger.retries
        assert all(s.proc is not None and s.proc.poll() is None for s in fleet.servers)
        listed = _listed(fleet.urls[0])
        assert len(listed) == 3 and {m["state"] for m in listed} == {"Up"}
        print(f"\nload: {len(ledger.latencies)} answered requests, retries "
              f"{dict(ledger.retries)}, quiet after {quiet:.1f} s, states {dict(states)}")
    except BaseException:
        print(fleet.logs())
        raise
    finally:
        fleet.stop_all()
