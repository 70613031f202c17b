"""What must hold in the shared database once the load is over and every
server is idle: each accepted request's resource exactly once, in a final and
consistent state, with capacity and addresses adding up."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from engine.models import Host, Instance, Job, Nic, PublicIp, StoragePool, Volume
from engine.runtime import Runtime
from engine.states import IpState, JobStatus, VmState
from tests.integration.multiserver.workload import Ledger

MIB = 1024 * 1024
MOVING = (VmState.STARTING, VmState.STOPPING, VmState.EXPUNGING, VmState.MIGRATING)
GONE = (VmState.EXPUNGED, VmState.ERROR)


def wait_quiet(runtime: Runtime, timeout: float = 60) -> float:
    """Wait until no job is queued or running and no VM is between states;
    return the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        with runtime.unit(readonly=True) as services:
            s = services.session
            busy = s.scalar(select(func.count()).select_from(Job).where(
                Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))))
            moving = s.scalar(select(func.count()).select_from(Instance).where(
                Instance.state.in_(MOVING)))
        if busy == 0 and moving == 0:
            return time.monotonic() - started
        assert time.monotonic() < deadline, f"{busy} jobs and {moving} VMs still busy"
        time.sleep(0.25)


def simulator_domains(home: Path) -> dict[str, str]:
    conn = sqlite3.connect(home / "simulator" / "simulator.sqlite3")
    try:
        return dict(conn.execute("SELECT uuid, power FROM domains").fetchall())
    finally:
        conn.close()


def audit(runtime: Runtime, home: Path, ledger: Ledger) -> Counter[VmState]:
    """Assert the invariants; return the VM states found."""
    with runtime.unit(readonly=True) as services:
        s = services.session
        instances = list(s.scalars(select(Instance)))
        states = Counter(i.state for i in instances)
        assert set(states) <= {VmState.RUNNING, *GONE}, states

        # Every accepted EC2 launch exactly once (per token), in its final state.
        by_token: dict[str, list[Instance]] = {}
        by_name: dict[str, list[Instance]] = {}
        for i in instances:
            if i.client_token:
                by_token.setdefault(i.client_token, []).append(i)
            else:
                by_name.setdefault(i.name, []).append(i)
        for token, instance_id in ledger.ec2_launched.items():
            [inst] = by_token[token]
            assert instance_id == f"i-{inst.sid}"
            wanted = VmState.EXPUNGED if instance_id in ledger.ec2_terminated else VmState.RUNNING
            assert inst.state == wanted, (instance_id, inst.state, inst.state_reason)
        # Every accepted CloudStack deploy exactly once; unanswered ones at most once.
        for name, vm_uuid in ledger.cs_deployed.items():
            [inst] = by_name[name]
            assert inst.uuid == vm_uuid
            wanted = VmState.EXPUNGED if vm_uuid in ledger.cs_destroyed else VmState.RUNNING
            assert inst.state == wanted, (name, inst.state, inst.state_reason)
        for name in ledger.cs_uncertain:
            assert len(by_name.get(name, [])) <= 1, name
        # Nothing nobody asked for.
        extra = set(by_token) - set(ledger.ec2_launched)
        extra |= set(by_name) - set(ledger.cs_deployed) - ledger.cs_uncertain
        assert not extra, extra

        # Every VM whole (NIC + root volume + host) or gone holding nothing.
        nics = Counter(n.instance_uuid for n in s.scalars(select(Nic)))
        vols = Counter(v.instance_uuid for v in s.scalars(
            select(Volume).where(Volume.removed_at.is_(None))))
        for i in instances:
            if i.state == VmState.RUNNING:
                assert (nics[i.uuid], vols[i.uuid], bool(i.host_uuid)) == (1, 1, True), i.uuid
            else:
                assert (nics[i.uuid], vols[i.uuid], i.host_uuid) == (0, 0, None), i.uuid

        # Host and pool reservations equal what the live VMs and volumes hold.
        for host in s.scalars(select(Host)):
            mine = [i for i in instances if i.host_uuid == host.uuid]
            assert host.cpu_allocated_mhz == sum(i.cpus * i.cpu_mhz for i in mine), host.name
            assert host.memory_allocated_bytes == sum(i.memory_mib * MIB for i in mine)
        for pool in s.scalars(select(StoragePool)):
            held = s.scalar(select(func.coalesce(func.sum(Volume.size_bytes), 0)).where(
                Volume.pool_uuid == pool.uuid, Volume.removed_at.is_(None)))
            assert pool.allocated_bytes == held, pool.name

        # No address given twice.
        ips = list(s.scalars(select(Nic.ip_address)))
        assert len(ips) == len(set(ips)) == states[VmState.RUNNING]
        # Public addresses: only those mapped at launch (default subnets map one,
        # as on AWS), one per Running VM at most, none on a failed or removed one.
        running = {i.uuid for i in instances if i.state == VmState.RUNNING}
        holders = list(s.scalars(select(PublicIp.instance_uuid).where(
            PublicIp.state != IpState.FREE)))
        assert len(holders) == len(set(holders)) and set(holders) <= running, holders

        # No job stuck; every one finished.
        jobs = Counter(s.scalars(select(Job.status)))
        assert set(jobs) <= {JobStatus.SUCCEEDED, JobStatus.FAILED}, jobs
        running = {i.uuid for i in instances if i.state == VmState.RUNNING}
    # The hypervisors agree: one running domain per Running VM, nothing else.
    domains = simulator_domains(home)
    assert domains == dict.fromkeys(running, "running"), (
        {k: v for k, v in domains.items() if k not in running or v != "running"},
        sorted(running - set(domains)))
    return states
