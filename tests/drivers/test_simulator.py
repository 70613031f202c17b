"""The simulator: the driver contract, plus what only the simulator does."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.errors import (
    DriverError,
    InsufficientCapacity,
    InvalidParameter,
    NotFound,
    Unavailable,
    Unsupported,
)
from engine.hypervisors import registry
from engine.hypervisors.base import (
    GIB,
    MIB,
    Capability,
    DiskSpec,
    DomainRef,
    DomainSpec,
    HostConnection,
    HypervisorDriver,
    PowerState,
)
from engine.hypervisors.simulator import (
    SimHost,
    SimulatorDriver,
    inject_power_state,
    state_dir_for,
)
from tests.drivers.contract import DriverContract

ROOT = Path(__file__).resolve().parents[2]
FORK = multiprocessing.get_context("fork")


def sim(state_dir: Path, url: str = "sim://h1", **extra: object) -> SimulatorDriver:
    return SimulatorDriver(HostConnection(url, extra={"state_dir": str(state_dir), **extra}))


def spec(name: str = "i-2-5-VM", uuid: str | None = None, **changes: object) -> DomainSpec:
    fields: dict[str, object] = {
        "name": name,
        "uuid": uuid or f"uuid-{name}",
        "cpus": 2,
        "cpu_mhz": 1000,
        "memory_mib": 512,
        "disks": (
            DiskSpec(disk_sid=f"root-{name}", device_id=0, size_bytes=GIB, source_image="tmpl-1"),
        ),
        "user_data": b"#!/bin/sh\necho hello-from-user-data\n",
    }
    return DomainSpec(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "sim"


@pytest.fixture
def drv(state: Path) -> Iterator[SimulatorDriver]:
    with sim(state) as driver:
        yield driver


# -- the contract ---------------------------------------------------------------------


class TestSimulatorContract(DriverContract):
    stop_timeout = 1.0

    @pytest.fixture
    def driver(self, tmp_path: Path) -> Iterator[HypervisorDriver]:
        with sim(tmp_path / "contract", "http://sim/c1/contract-host") as driver:
            yield driver

    def make_define_fail(self, driver: HypervisorDriver, spec: DomainSpec) -> DomainSpec:
        assert isinstance(driver, SimulatorDriver)
        driver.configure(**{"fail.define": 1, "fail.define.match": spec.name})
        return spec

    def migration_target(self, driver: HypervisorDriver) -> HostConnection:
        assert isinstance(driver, SimulatorDriver)
        return HostConnection("sim://other-host", extra={"state_dir": str(driver.state_dir)})


class MinimalSimulator(SimulatorDriver):
    """Only the mandatory operations, as the base class provides the optional ones."""

    name = "minimal-simulator"
    capabilities = frozenset()
    attach_disk = HypervisorDriver.attach_disk
    detach_disk = HypervisorDriver.detach_disk
    resize_disk = HypervisorDriver.resize_disk
    create_disk = HypervisorDriver.create_disk
    delete_disk = HypervisorDriver.delete_disk
    disk_info = HypervisorDriver.disk_info
    snapshot_disk = HypervisorDriver.snapshot_disk
    delete_disk_snapshot = HypervisorDriver.delete_disk_snapshot
    console_output = HypervisorDriver.console_output
    migrate = HypervisorDriver.migrate
    revert_disk_snapshot = HypervisorDriver.revert_disk_snapshot
    copy_disk_snapshot = HypervisorDriver.copy_disk_snapshot
    attach_nic = HypervisorDriver.attach_nic
    detach_nic = HypervisorDriver.detach_nic


class TestMinimalDriverContract(DriverContract):
    """The contract also holds for a driver without optional operations."""

    @pytest.fixture
    def driver(self, tmp_path: Path) -> Iterator[HypervisorDriver]:
        conn = HostConnection("sim://minimal", extra={"state_dir": str(tmp_path)})
        with MinimalSimulator(conn) as driver:
            yield driver

    make_define_fail = TestSimulatorContract.make_define_fail


def test_an_incomplete_driver_cannot_be_built() -> None:
    class Incomplete(HypervisorDriver):
        name = "incomplete"

    with pytest.raises(TypeError):
        Incomplete(HostConnection("x://"))  # type: ignore[abstract]


# -- host URLs and settings -------------------------------------------------------------


def test_sim_url_defaults(drv: SimulatorDriver) -> None:
    host = drv.connect()
    assert (host.hypervisor, host.name, host.arch) == ("Simulator", "h1", "x86_64")
    assert (host.cpu_cores, host.cpu_mhz) == (4, 8000)
    assert (host.memory_bytes, host.local_storage_bytes) == (8 * GIB, 1024 * GIB)


def test_cloudstack_style_url(state: Path) -> None:
    url = "http://sim/c1/h7/cpucore=8&cpuspeed=2000&memory=4294967296&localstorage=1000"
    host = sim(state, url).connect()
    assert (host.name, host.cpu_cores, host.cpu_mhz) == ("h7", 8, 2000)
    assert (host.memory_bytes, host.local_storage_bytes) == (4 * GIB, 1000)
    parsed = SimHost.from_url(url)
    assert (parsed.key, parsed.cluster) == ("c1/h7", "c1")


def test_query_string_settings_and_precedence(state: Path) -> None:
    driver = sim(state, "sim://h2?cpucore=6&memory=1024", memory=2048)
    assert driver.connect().cpu_cores == 6
    assert driver.connect().memory_bytes == 2048  # extra beats the URL
    driver.configure(memory=4096)
    assert driver.connect().memory_bytes == 4096  # runtime settings beat extra
    driver.configure(memory=None)
    assert driver.connect().memory_bytes == 2048


def test_extra_may_namespace_settings(state: Path) -> None:
    assert sim(state, simulator={"cpucore": 12}).connect().cpu_cores == 12


@pytest.mark.parametrize(
    "url", ["http://example.com/h1", "http://sim/", "sim://", "qemu:///system"]
)
def test_bad_simulator_urls(state: Path, url: str) -> None:
    with pytest.raises(InvalidParameter):
        sim(state, url)


def test_both_url_styles_name_the_same_host(state: Path) -> None:
    sim(state, "sim://h1").define(spec())
    assert "i-2-5-VM" in sim(state, "http://sim/h1").list_domains()
    assert sim(state, "http://sim/c1/h1").list_domains() == {}


def test_state_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NIMBOSTACK_SIM_DIR", raising=False)
    monkeypatch.delenv("NIMBOSTACK_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir_for() == tmp_path / "home/.local/share/nimbostack/simulator"
    monkeypatch.setenv("NIMBOSTACK_HOME", str(tmp_path / "nh"))
    assert state_dir_for() == tmp_path / "nh/simulator"
    monkeypatch.setenv("NIMBOSTACK_SIM_DIR", str(tmp_path / "sd"))
    assert state_dir_for() == tmp_path / "sd"
    conn = HostConnection("sim://h", extra={"state_dir": str(tmp_path / "x")})
    assert state_dir_for(conn) == tmp_path / "x"
    assert SimulatorDriver(HostConnection("sim://h")).state_dir == tmp_path / "sd"


# -- shared, persistent state ---------------------------------------------------------------


def test_state_is_shared_between_driver_instances(state: Path) -> None:
    ref = sim(state).define(spec())
    sim(state).start(ref)
    assert sim(state).info(ref).power_state is PowerState.RUNNING
    assert sim(state, "sim://h2").info(ref).power_state is PowerState.MISSING


def _child_define_and_start(state: str, name: str) -> None:
    driver = sim(Path(state))
    driver.start(driver.define(spec(name)))


def _child_stop(state: str, ref: str) -> None:
    sim(Path(state)).stop(DomainRef(ref), timeout=1)


def _run(target: Callable[..., object], *args: object) -> None:
    proc = FORK.Process(target=target, args=args)
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0


def test_state_is_shared_between_processes(drv: SimulatorDriver, state: Path) -> None:
    drv.list_domains()  # the parent's connection exists before the fork
    _run(_child_define_and_start, str(state), "i-2-7-VM")
    ref = DomainRef("uuid-i-2-7-VM")
    assert drv.info(ref).power_state is PowerState.RUNNING
    _run(_child_stop, str(state), ref.ref)
    assert drv.info(ref).power_state is PowerState.STOPPED
    drv.start(ref)
    assert drv.info(ref).power_state is PowerState.RUNNING


def _child_spawn_many(state: str, worker: int, count: int) -> None:
    driver = sim(Path(state))
    for i in range(count):
        name = f"i-{worker}-{i}-VM"
        driver.start(driver.define(spec(name)))
        if i % 3 == 0:
            driver.stop(DomainRef(f"uuid-{name}"), timeout=1)


def test_concurrent_processes_do_not_lose_updates(drv: SimulatorDriver, state: Path) -> None:
    drv.list_domains()
    procs = [FORK.Process(target=_child_spawn_many, args=(str(state), w, 15)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    domains = drv.list_domains()
    assert len(domains) == 60
    assert sum(s is PowerState.RUNNING for s in domains.values()) == 4 * 10
    assert drv.host_stats().running_domains == 40


def test_state_survives_a_new_interpreter(drv: SimulatorDriver, state: Path) -> None:
    ref = drv.define(spec())
    drv.start(ref)
    code = textwrap.dedent(f"""
        from engine.hypervisors.base import DomainRef, HostConnection
        from engine.hypervisors.simulator import SimulatorDriver
        d = SimulatorDriver(HostConnection("sim://h1", extra={{"state_dir": {str(state)!r}}}))
        print(d.info(DomainRef({ref.ref!r})).power_state.value)
        d.stop(DomainRef({ref.ref!r}), timeout=1)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "running"
    assert drv.info(ref).power_state is PowerState.STOPPED


# -- failure injection and delays -------------------------------------------------------------


def test_define_failure_rolls_back_disks(drv: SimulatorDriver) -> None:
    drv.configure(**{"fail.define": 1})
    with pytest.raises(DriverError):
        drv.define(spec())
    assert drv.list_domains() == {}
    with pytest.raises(NotFound):
        drv.disk_info("root-i-2-5-VM")
    drv.configure(**{"fail.define": None})
    drv.define(spec())
    assert drv.disk_info("root-i-2-5-VM").size_bytes == GIB


def test_failure_matching_a_domain_name(drv: SimulatorDriver) -> None:
    drv.configure(**{"fail.start": 1, "fail.start.match": "i-9-"})
    good, bad = drv.define(spec("i-2-1-VM")), drv.define(spec("i-9-1-VM"))
    drv.start(good)
    with pytest.raises(DriverError):
        drv.start(bad)
    assert drv.info(bad).power_state is PowerState.STOPPED


def test_failure_count_is_shared_across_processes(drv: SimulatorDriver, state: Path) -> None:
    drv.configure(**{"fail.define": 1, "fail.define.count": 2})
    with pytest.raises(DriverError):
        drv.define(spec("i-2-1-VM"))
    proc = FORK.Process(target=_child_define_and_start, args=(str(state), "i-2-2-VM"))
    proc.start()
    proc.join(30)
    assert proc.exitcode != 0  # second failure happened in the other process
    drv.define(spec("i-2-3-VM"))
    assert list(drv.list_domains()) == ["i-2-3-VM"]
    drv.configure(**{"fail.define": 1})  # re-arming resets the count
    with pytest.raises(DriverError):
        drv.define(spec("i-2-4-VM"))


def test_failure_kinds_and_probability(state: Path) -> None:
    driver = sim(state, "sim://h1?fail.start=1&fail.start.error=capacity")
    ref = driver.define(spec())
    with pytest.raises(InsufficientCapacity):
        driver.start(ref)
    driver.configure(**{"fail.start.error": "unavailable"})
    with pytest.raises(Unavailable):
        driver.start(ref)
    driver.configure(**{"fail.start": "0"})
    driver.start(ref)
    driver.configure(**{"fail.info": 0.5})
    outcomes = set()
    for _ in range(200):
        try:
            driver.info(ref)
            outcomes.add("ok")
        except DriverError:
            outcomes.add("failed")
    assert outcomes == {"ok", "failed"}


def test_delays(state: Path) -> None:
    driver = sim(state, "sim://h1?delay.start=0.2")
    ref = driver.define(spec())
    began = time.monotonic()
    driver.start(ref)
    assert time.monotonic() - began >= 0.2
    began = time.monotonic()
    driver.stop(ref, timeout=5)
    assert time.monotonic() - began < 0.2


def test_stop_waits_for_a_guest_that_ignores_acpi_then_forces(drv: SimulatorDriver) -> None:
    ref = drv.define(spec())
    drv.start(ref)
    drv.stop(ref, timeout=5)
    assert drv.domain_record("i-2-5-VM")["last_stop"] == "graceful"  # type: ignore[index]
    assert b"Power down" in drv.console_output(ref)
    drv.configure(**{"guest.acpi": 0})
    drv.start(ref)
    began = time.monotonic()
    drv.stop(ref, timeout=0.1)
    assert time.monotonic() - began >= 0.1
    assert drv.domain_record("i-2-5-VM")["last_stop"] == "forced"  # type: ignore[index]
    drv.start(ref)
    began = time.monotonic()
    drv.stop(ref, timeout=30, force=True)
    assert time.monotonic() - began < 1


# -- guests, hosts and hooks -----------------------------------------------------------------


def test_console_output_echoes_user_data(drv: SimulatorDriver) -> None:
    ref = drv.define(spec())
    drv.start(ref)
    first = drv.console_output(ref)
    assert b"echo hello-from-user-data" in first
    assert b"root-i-2-5-VM" in first
    assert b"i-2-5-VM login:" in first
    drv.reboot(ref)
    assert drv.console_output(ref).count(b"hello-from-user-data") == 2
    assert drv.domain_record("i-2-5-VM")["boots"] == 2  # type: ignore[index]


def test_host_stats_sum_running_domains(drv: SimulatorDriver) -> None:
    a, b = drv.define(spec("i-2-1-VM")), drv.define(spec("i-2-2-VM", cpus=1, memory_mib=256))
    drv.start(a)
    drv.start(b)
    drv.define(spec("i-2-3-VM"))
    stats = drv.host_stats()
    assert (stats.cpu_used_mhz, stats.memory_used_bytes) == (3000, 768 * MIB)
    assert (stats.running_domains, stats.defined_domains) == (2, 3)
    assert stats.local_storage_used_bytes == 3 * GIB


def test_capacity_enforcement(state: Path) -> None:
    driver = sim(state, "sim://tiny/cpucore=2&memory=1073741824", **{"capacity.enforce": 1})
    driver.start(driver.define(spec("i-2-1-VM")))
    with pytest.raises(InsufficientCapacity):
        driver.start(driver.define(spec("i-2-2-VM")))


def test_inject_power_off_behind_the_engines_back(drv: SimulatorDriver, state: Path) -> None:
    ref = drv.define(spec())
    drv.start(ref)
    assert drv.inject_power_off("i-2-5-VM")
    assert drv.list_domains() == {"i-2-5-VM": PowerState.STOPPED}
    assert inject_power_state("sim://h1", "i-2-5-VM", PowerState.PAUSED, state_dir=state)
    assert drv.info(ref).power_state is PowerState.PAUSED
    assert not drv.inject_power_off("no-such-VM")


def test_injected_disappearance_keeps_disks(drv: SimulatorDriver) -> None:
    ref = drv.define(spec())
    assert drv.inject_power_state("i-2-5-VM", PowerState.MISSING)
    assert drv.info(ref).power_state is PowerState.MISSING
    assert drv.disk_info("root-i-2-5-VM").attached_to is None


def test_migrate_to_another_state_dir_fails(drv: SimulatorDriver, tmp_path: Path) -> None:
    ref = drv.define(spec())
    with pytest.raises(DriverError):
        drv.migrate(ref, HostConnection("sim://h2", extra={"state_dir": str(tmp_path / "x")}))


def test_wipe_forgets_the_host(drv: SimulatorDriver) -> None:
    drv.define(spec())
    drv.create_disk(DiskSpec(disk_sid="data-1", device_id=1, size_bytes=GIB))
    drv.configure(**{"fail.start": 1})
    drv.wipe()
    assert drv.list_domains() == {}
    assert drv.settings().get("fail.start") is None
    with pytest.raises(NotFound):
        drv.disk_info("data-1")


def test_define_and_start_are_fast(drv: SimulatorDriver) -> None:
    drv.list_domains()
    began = time.process_time()
    for i in range(200):
        drv.start(drv.define(spec(f"i-2-{i}-VM")))
    per_vm = (time.process_time() - began) / 200
    assert per_vm < 0.003, f"{per_vm * 1000:.2f} ms CPU per define+start"


# -- the registry ---------------------------------------------------------------------------


def test_registry_loads_the_simulator(state: Path) -> None:
    conn = HostConnection("sim://h1", extra={"state_dir": str(state)})
    for name in ("simulator", "Simulator", "SIM"):
        driver = registry.load_driver(name, conn)
        assert isinstance(driver, SimulatorDriver)
        assert driver.supports(Capability.CONSOLE_OUTPUT)
    assert "kvm" in registry.hypervisor_names()


def test_registry_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Unsupported):
        registry.load_driver("hyperv", HostConnection("x://"))
    monkeypatch.setitem(registry._DRIVERS, "bogus", "no.such.module:Driver")
    with pytest.raises(DriverError):
        registry.driver_class("bogus")
    monkeypatch.setitem(registry._DRIVERS, "bogus2", "engine.errors:NotFound")
    with pytest.raises(DriverError):
        registry.driver_class("bogus2")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sim://h1", "simulator"),
        ("http://sim/c1/h1/cpucore=8", "simulator"),
        ("qemu:///system", "kvm"),
        ("qemu+ssh://root@10.0.0.2/system", "kvm"),
        ("test:///default", "kvm"),
        ("https://vcenter.example/dc/cluster", None),
    ],
)
def test_url_hypervisor(url: str, expected: str | None) -> None:
    assert registry.url_hypervisor(url) == expected
