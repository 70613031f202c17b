"""The reconciler against the simulator: out-of-band stops, host heartbeat,
stray domains, and host ownership shared by several management servers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engine.allocators.hosts import MIB
from engine.db import utcnow
from engine.hypervisors.base import DomainSpec, PowerState
from engine.hypervisors.simulator import SimulatorDriver
from engine.models import Event, Host, Instance, Nic, PublicIp, Volume
from engine.reconciler import Reconciler
from engine.reconciler.compare import StopOutOfBand
from engine.services.instances import LaunchRequest
from engine.settings import Settings
from engine.states import HostState, VmState
from tests.integration.engine.worlds import Cloud

HOLDS_CAPACITY = (VmState.STARTING, VmState.RUNNING, VmState.STOPPING)


@pytest.fixture
def rec(cloud: Cloud) -> Iterator[Reconciler]:
    r = Reconciler(cloud.runtime.db, cloud.runtime.drivers, str(uuid.uuid4()), interval=0.2)
    yield r
    r.stop()


def configure(cloud: Cloud, **values: str) -> None:
    with cloud.runtime.unit() as sv:
        settings = Settings(sv.session)
        for name, value in values.items():
            settings.update(name.replace("_", "."), value)


def hosts(cloud: Cloud) -> list[Host]:
    with cloud.runtime.unit(readonly=True) as sv:
        return list(sv.session.scalars(select(Host).order_by(Host.created_at)))


def driver_of(cloud: Cloud, host_uuid: str) -> SimulatorDriver:
    return cloud.drivers()[[h.uuid for h in hosts(cloud)].index(host_uuid)]


def events(cloud: Cloud, event_type: str, resource_uuid: str | None = None) -> list[Event]:
    with cloud.runtime.unit(readonly=True) as sv:
        stmt = select(Event).where(Event.event_type == event_type).order_by(Event.created_at)
        if resource_uuid is not None:
            stmt = stmt.where(Event.resource_uuid == resource_uuid)
        return list(sv.session.scalars(stmt))


def assert_accounting(cloud: Cloud) -> None:
    """Every host's reservation is the sum of the VMs holding capacity on it;
    the pool's is the sum of its volumes (checked by ``Cloud.allocated``)."""
    with cloud.runtime.unit(readonly=True) as sv:
        s = sv.session
        for h in s.scalars(select(Host)):
            cpu, mem = s.execute(select(
                func.coalesce(func.sum(Instance.cpus * Instance.cpu_mhz), 0),
                func.coalesce(func.sum(Instance.memory_mib), 0)).where(
                Instance.host_uuid == h.uuid, Instance.state.in_(HOLDS_CAPACITY))).one()
            assert (h.cpu_allocated_mhz, h.memory_allocated_bytes) == (cpu, mem * MIB), h.name
            stray = s.scalar(select(func.count()).select_from(Instance).where(
                Instance.host_uuid == h.uuid, Instance.state.not_in(HOLDS_CAPACITY)))
            assert stray == 0
    cloud.allocated()


def holdings(cloud: Cloud, inst_uuid: str) -> tuple[int, int, int]:
    """NICs, public IPs and live volumes of an instance."""
    with cloud.runtime.unit(readonly=True) as sv:
        s = sv.session
        return (s.scalar(select(func.count()).select_from(Nic).where(
                    Nic.instance_uuid == inst_uuid)) or 0,
                s.scalar(select(func.count()).select_from(PublicIp).where(
                    PublicIp.instance_uuid == inst_uuid)) or 0,
                s.scalar(select(func.count()).select_from(Volume).where(
                    Volume.instance_uuid == inst_uuid, Volume.removed_at.is_(None))) or 0)


def wait_for(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# ----------------------------------------------------------- out-of-band stops
@pytest.mark.parametrize("how", [PowerState.STOPPED, PowerState.MISSING])
def test_killed_guest_is_stopped_and_releases_what_a_stop_releases(
        cloud: Cloud, rec: Reconciler, how: PowerState) -> None:
    killed, alive = cloud.launch(name="killed"), cloud.launch(name="alive")
    inst = cloud.instance(killed)
    before = holdings(cloud, killed)
    assert driver_of(cloud, inst.host_uuid or "").inject_power_state(inst.instance_name, how)

    report = rec.run_once()
    assert report.stopped == [killed]
    after = cloud.instance(killed)
    assert (after.state, after.power_state, after.host_uuid) == (VmState.STOPPED, "PowerOff", None)
    assert after.last_host_uuid == inst.host_uuid and after.power_state_at is not None
    assert "out of band" in after.state_reason
    assert [e.level for e in events(cloud, "VM.STOP", killed)] == ["WARN"]
    assert holdings(cloud, killed) == before  # NICs, addresses and volumes stay, as on stop
    assert cloud.instance(alive).state == VmState.RUNNING
    assert_accounting(cloud)

    # Nothing is done twice: the next pass changes nothing and records no event.
    assert rec.run_once().stopped == []
    assert len(events(cloud, "VM.STOP", killed)) == 1
    assert_accounting(cloud)

    # It starts again normally (capacity reserved once more).
    with cloud.runtime.unit() as sv:
        sv.instances.start(cloud.admin, killed)
    cloud.drain()
    assert cloud.instance(killed).state == VmState.RUNNING
    assert rec.run_once().stopped == []
    assert_accounting(cloud)


def test_the_thread_notices_a_kill_within_an_interval(cloud: Cloud, rec: Reconciler) -> None:
    vm = cloud.launch(name="bg")
    inst = cloud.instance(vm)
    rec.start()
    time.sleep(0.3)
    driver_of(cloud, inst.host_uuid or "").inject_power_off(inst.instance_name)
    wait_for(lambda: cloud.instance(vm).state == VmState.STOPPED, timeout=2.0)
    assert_accounting(cloud)


def test_power_state_changes_are_recorded_and_unchanged_ones_not_rewritten(
        cloud: Cloud, rec: Reconciler) -> None:
    vm = cloud.launch(name="pw")
    with cloud.runtime.unit() as sv:
        sv.session.execute(update(Instance).where(Instance.uuid == vm)
                           .values(power_state="PowerUnknown", power_state_at=None))
    rec.run_once()
    first = cloud.instance(vm)
    assert first.power_state == "PowerOn" and first.power_state_at is not None
    assert events(cloud, "VM.POWERSTATE", vm) == []  # agrees with Running: no event
    time.sleep(0.01)
    rec.run_once()  # the same report again: nothing to write
    assert cloud.instance(vm).power_state_at == first.power_state_at
    with cloud.runtime.unit() as sv:  # the heartbeat is the host's
        seen = sv.session.get(Host, first.host_uuid).last_seen_at
    assert seen is not None and seen > first.power_state_at


def test_stopped_vm_found_running_is_reported_not_killed(cloud: Cloud, rec: Reconciler) -> None:
    vm = cloud.launch(name="zombie")
    inst = cloud.instance(vm)
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.admin, vm)
    cloud.drain()
    driver = driver_of(cloud, inst.host_uuid or "")
    driver.inject_power_state(inst.instance_name, PowerState.RUNNING)

    rec.run_once()
    rec.run_once()
    after = cloud.instance(vm)
    assert (after.state, after.power_state) == (VmState.STOPPED, "PowerOn")
    assert [e.level for e in events(cloud, "VM.POWERSTATE", vm)] == ["WARN"]  # once
    assert driver.list_domains()[inst.instance_name] == PowerState.RUNNING
    assert_accounting(cloud)


def test_a_vm_with_an_active_job_is_left_to_the_job(cloud: Cloud, rec: Reconciler) -> None:
    vm = cloud.launch(name="busy")
    inst = cloud.instance(vm)
    with cloud.runtime.unit() as sv:
        sv.instances.reboot(cloud.admin, vm)  # queued, not run
    driver_of(cloud, inst.host_uuid or "").inject_power_off(inst.instance_name)
    assert rec.run_once().stopped == []
    assert cloud.instance(vm).state == VmState.RUNNING
    with cloud.runtime.unit() as sv:  # a stop queued behind it, then both run
        sv.instances.stop(cloud.admin, vm)
    assert rec.run_once().stopped == []
    assert cloud.instance(vm).state == VmState.STOPPING
    cloud.drain()
    assert cloud.instance(vm).state == VmState.STOPPED
    assert rec.run_once().stopped == []
    assert_accounting(cloud)


def test_a_report_older_than_the_state_is_not_acted_on(cloud: Cloud, rec: Reconciler) -> None:
    vm = cloud.launch(name="fresh")
    inst = cloud.instance(vm)
    rec.leases.claim(30)
    stale = (inst.state_changed_at or utcnow()) - timedelta(seconds=1)
    stop = StopOutOfBand(vm, PowerState.STOPPED)
    corrections = rec._corrections
    assert not corrections.stop_out_of_band(inst.host_uuid or "", "h", stop, stale)
    assert corrections.stop_out_of_band(inst.host_uuid or "", "h", stop, utcnow())
    assert cloud.instance(vm).state == VmState.STOPPED
    assert_accounting(cloud)


# ------------------------------------------------------------------ heartbeat
def test_unreachable_host_goes_disconnected_then_down_then_back_up(
        cloud: Cloud, rec: Reconciler) -> None:
    configure(cloud, vm_allocation_algorithm="firstfit", host_down_after="0.3")
    first = hosts(cloud)[0]
    vm = cloud.launch(name="on-first")
    assert cloud.instance(vm).host_uuid == first.uuid
    sim = driver_of(cloud, first.uuid)
    sim.configure(**{"fail.list_domains": 1, "fail.list_domains.error": "unavailable"})

    rec.run_once()
    assert hosts(cloud)[0].state == HostState.DISCONNECTED
    assert [e.level for e in events(cloud, "HOST.DISCONNECTED", first.uuid)] == ["WARN"]
    assert cloud.instance(vm).power_state == "PowerOn"  # not yet unknown
    # The planner skips a Disconnected host already.
    assert cloud.instance(cloud.launch(name="while-disconnected")).host_uuid != first.uuid

    time.sleep(0.35)
    rec.run_once()
    rec.run_once()
    assert hosts(cloud)[0].state == HostState.DOWN
    assert len(events(cloud, "HOST.DOWN", first.uuid)) == 1
    inst = cloud.instance(vm)
    assert (inst.state, inst.power_state, inst.host_uuid) == (
        VmState.RUNNING, "PowerUnknown", first.uuid)  # kept (no HA)
    assert len(events(cloud, "VM.POWERSTATE", vm)) == 1
    placed = cloud.instance(cloud.launch(name="while-down"))
    assert placed.state == VmState.RUNNING and placed.host_uuid != first.uuid
    assert_accounting(cloud)  # host states change no reservation

    sim.configure(**{"fail.list_domains": None})
    rec.run_once()
    back = hosts(cloud)[0]
    assert back.state == HostState.UP and back.last_seen_at and back.last_seen_at > first.last_seen_at  # type: ignore[operator]
    assert len(events(cloud, "HOST.UP", first.uuid)) == 1
    assert cloud.instance(vm).power_state == "PowerOn"
    assert cloud.instance(cloud.launch(name="after-up")).host_uuid == first.uuid
    assert_accounting(cloud)


def test_a_hung_hypervisor_does_not_stall_the_pass(cloud: Cloud, rec: Reconciler) -> None:
    configure(cloud, reconcile_host_timeout="0.3")
    first, second = hosts(cloud)[0], hosts(cloud)[1]
    driver_of(cloud, first.uuid).configure(**{"delay.list_domains": 3})
    try:
        started = time.monotonic()
        report = rec.run_once()
        assert time.monotonic() - started < 2.5  # the other hosts were not held up
        assert {first.uuid, second.uuid} <= set(report.hosts)
        assert hosts(cloud)[0].state == HostState.DISCONNECTED
        assert report.host_states[second.uuid] == HostState.UP
    finally:
        driver_of(cloud, first.uuid).configure(**{"delay.list_domains": None})
    rec.run_once()
    assert hosts(cloud)[0].state == HostState.UP


# --------------------------------------------------------------------- strays
def _define(sim: SimulatorDriver, name: str, dom_uuid: str) -> None:
    from engine.hypervisors.base import DomainRef

    ref = sim.define(DomainSpec(name=name, uuid=dom_uuid, cpus=1, cpu_mhz=500, memory_mib=64))
    sim.start(DomainRef(ref.ref))


def test_stray_domains_are_reported_once_and_kept_by_default(
        cloud: Cloud, rec: Reconciler) -> None:
    host = hosts(cloud)[1]
    sim = driver_of(cloud, host.uuid)
    _define(sim, "i-99-999-VM", str(uuid.uuid4()))
    report = rec.run_once()
    assert report.strays == [f"{host.uuid}/i-99-999-VM"] and report.destroyed == []
    rec.run_once()
    found = events(cloud, "HOST.DOMAIN.STRAY", host.uuid)
    assert len(found) == 1 and "i-99-999-VM" in found[0].description
    assert "i-99-999-VM" in sim.list_domains()


def test_leftover_domain_of_an_expunged_vm_is_destroyed_when_enabled(
        cloud: Cloud, rec: Reconciler) -> None:
    vm = cloud.launch(name="leftover")
    live = cloud.launch(name="live")
    inst, other = cloud.instance(vm), cloud.instance(live)
    with cloud.runtime.unit() as sv:
        sv.instances.destroy(cloud.admin, vm, expunge=True)
    cloud.drain()
    sim = driver_of(cloud, inst.host_uuid or "")
    _define(sim, inst.instance_name, inst.uuid)  # as if the destroy had been missed
    # A domain named after a live VM but on another host: never destroyed.
    elsewhere = next(h for h in hosts(cloud) if h.uuid != other.host_uuid)
    _define(driver_of(cloud, elsewhere.uuid), other.instance_name, str(uuid.uuid4()))

    assert rec.run_once().destroyed == []
    assert inst.instance_name in sim.list_domains()
    configure(cloud, reconcile_destroy_strays="true")
    report = rec.run_once()
    assert report.destroyed == [f"{inst.host_uuid}/{inst.instance_name}"]
    assert inst.instance_name not in sim.list_domains()
    assert other.instance_name in driver_of(cloud, elsewhere.uuid).list_domains()
    assert cloud.instance(live).state == VmState.RUNNING
    assert any("Destroyed stray" in e.description
               for e in events(cloud, "HOST.DOMAIN.STRAY", inst.host_uuid))
    assert_accounting(cloud)


def test_a_vm_being_launched_is_not_a_stray(cloud: Cloud, rec: Reconciler) -> None:
    configure(cloud, reconcile_destroy_strays="true")
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.admin, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid, name="new"))
        vm = launch.instances[0].instance.uuid
    assert rec.run_once().strays == []
    cloud.drain()
    assert cloud.instance(vm).state == VmState.RUNNING
    assert rec.run_once().strays == [] and rec.run_once().stopped == []


# ------------------------------------------------------------------ ownership
def owners(cloud: Cloud) -> dict[str, str | None]:
    return {h.uuid: h.owner_server_uuid for h in hosts(cloud)}


def test_two_servers_never_both_own_a_host(cloud: Cloud) -> None:
    db, drivers = cloud.runtime.db, cloud.runtime.drivers
    a = Reconciler(db, drivers, str(uuid.uuid4()), interval=0.2)
    b = Reconciler(db, drivers, str(uuid.uuid4()), interval=0.2)
    all_hosts = {h.uuid for h in hosts(cloud)}
    for _ in range(5):
        with cloud.runtime.unit() as sv:  # every lease lapsed: both race for them
            sv.session.execute(update(Host).values(owner_lease_until=utcnow()
                                                   - timedelta(seconds=1)))
        got: dict[str, list[str]] = {}
        barrier = threading.Barrier(2)

        def claim(r: Reconciler, barrier: threading.Barrier,
                  got: dict[str, list[str]]) -> None:
            barrier.wait()
            got[r.owner] = r.leases.claim(30)

        threads = [threading.Thread(target=claim, args=(r, barrier, got)) for r in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not set(got[a.owner]) & set(got[b.owner])
        assert set(got[a.owner]) | set(got[b.owner]) == all_hosts
        assert set(owners(cloud).values()) <= {a.owner, b.owner}
    # A held lease is not taken: the other server checks nothing.
    holder, other = (a, b) if got[a.owner] else (b, a)
    assert other.run_once().hosts == []
    assert sorted(holder.run_once().hosts) == sorted(got[holder.owner])


def test_a_dead_owners_hosts_are_taken_over_after_the_lease(cloud: Cloud) -> None:
    db, drivers = cloud.runtime.db, cloud.runtime.drivers
    lease = 2.0  # long enough for the next claim to run within it on a loaded machine
    dead = Reconciler(db, drivers, str(uuid.uuid4()), interval=0.1, lease_seconds=lease)
    heir = Reconciler(db, drivers, str(uuid.uuid4()), interval=0.1, lease_seconds=30)
    assert len(dead.run_once().hosts) == 4
    claimed = time.monotonic()  # the lease was written before this
    assert heir.run_once().hosts == []  # still leased
    time.sleep(max(0.0, claimed + lease + 0.1 - time.monotonic()))  # the dead owner never renews
    assert len(heir.run_once().hosts) == 4
    assert set(owners(cloud).values()) == {heir.owner}
    assert dead.run_once().hosts == []  # back from the dead: it holds nothing
    heir.stop()  # a clean stop hands the hosts back at once
    assert set(owners(cloud).values()) == {None}
    assert len(dead.run_once().hosts) == 4
    dead.stop()


def test_starting_a_vm_whose_last_host_is_down_places_it_elsewhere(
        cloud: Cloud, rec: Reconciler) -> None:
    vm = cloud.launch(name="last-host-down")
    first = cloud.instance(vm).host_uuid or ""
    with cloud.runtime.unit() as sv:
        sv.instances.stop(cloud.admin, vm)
    cloud.drain()
    with cloud.runtime.unit() as sv:
        sv.session.execute(update(Host).where(Host.uuid == first).values(state=HostState.DOWN))
    with cloud.runtime.unit() as sv:
        sv.instances.start(cloud.admin, vm)
    assert cloud.instance(vm).host_uuid != first


def test_a_spread_pass_paces_its_host_checks_over_the_interval(cloud: Cloud) -> None:
    # The window (interval x spread, 1 s) is wide against a host check (a few
    # ms, ~60 ms under heavy load), so the two passes cannot be confused.
    r = Reconciler(cloud.runtime.db, cloud.runtime.drivers, str(uuid.uuid4()), interval=2.0)
    try:
        n = len(hosts(cloud))
        assert n >= 2
        window = 2.0 * 0.5
        began = time.monotonic()
        report = r.run_once(spread=0.5)  # checks window / n apart
        elapsed = time.monotonic() - began
        assert len(report.hosts) == n
        assert elapsed >= window * (n - 1) / n - 0.02
        began = time.monotonic()
        assert len(r.run_once().hosts) == n  # no spread: back to back
        assert time.monotonic() - began < window * (n - 1) / n
    finally:
        r.stop()


def test_stopping_ends_a_spread_pass_between_hosts(cloud: Cloud) -> None:
    r = Reconciler(cloud.runtime.db, cloud.runtime.drivers, str(uuid.uuid4()), interval=30.0)
    reports = []
    worker = threading.Thread(target=lambda: reports.append(r.run_once(spread=0.5)))
    worker.start()
    time.sleep(0.3)
    began = time.monotonic()
    r.stop()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - began < 5
    assert len(reports[0].hosts) < len(hosts(cloud))  # it stopped before the last host
