"""The contract every ``HypervisorDriver`` must pass.

Use it by subclassing ``DriverContract`` in a ``Test*`` class and supplying a
``driver`` fixture that returns a fresh driver for one test host::

    from tests.drivers.contract import DriverContract

    class TestLibvirtTestDriver(DriverContract):
        image_ref = None                       # blank root disks
        @pytest.fixture
        def driver(self) -> Iterator[HypervisorDriver]:
            with LibvirtDriver(HostConnection("test:///default")) as drv:
                yield drv

Optional hooks (class attributes or method overrides):

* ``image_ref`` / ``pool_ref`` / ``network_ref``: what the generated specs use;
* ``stop_timeout``: seconds ``stop`` may wait for a graceful shutdown;
* ``make_define_fail(driver, spec)``: arrange for ``driver.define(spec)`` to fail
  part-way (after it would have created disks); the default skips that test;
* ``disk_exists(driver, disk_sid)``: True/False, or None if the driver cannot tell
  (the default uses ``disk_info`` when the driver has DATA_DISKS);
* ``migration_target(driver)``: a ``HostConnection`` of a second host of the same
  driver, or None (the default) to skip the migration test.

Domains defined through the ``lab`` fixture are destroyed after each test.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from engine.errors import (
    DriverError,
    EngineError,
    IncorrectState,
    InUse,
    InvalidParameter,
    NotFound,
    Unsupported,
)
from engine.hypervisors.base import (
    MIB,
    Capability,
    DiskSpec,
    DomainRef,
    DomainSpec,
    HostConnection,
    HypervisorDriver,
    NicSpec,
    PowerState,
)

DISK_SIZE = 64 * MIB


class Lab:
    """Builds unique specs and remembers what to clean up after the test."""

    def __init__(self, contract: DriverContract, driver: HypervisorDriver) -> None:
        self.contract, self.driver = contract, driver
        self.refs: list[DomainRef] = []
        self.disks: list[str] = []

    def sid(self, prefix: str = "vol") -> str:
        sid = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.disks.append(sid)
        return sid

    def disk(self, device_id: int = 1, size_bytes: int = DISK_SIZE, **changes: Any) -> DiskSpec:
        fields: dict[str, Any] = {
            "disk_sid": self.sid(),
            "device_id": device_id,
            "size_bytes": size_bytes,
            "pool_ref": self.contract.pool_ref,
        }
        return DiskSpec(**{**fields, **changes})

    def spec(self, **changes: Any) -> DomainSpec:
        n = uuid.uuid4()
        fields: dict[str, Any] = {
            "name": f"ct-{n.hex[:10]}-VM",
            "uuid": str(n),
            "cpus": 1,
            "cpu_mhz": 500,
            "memory_mib": 128,
            "disks": (self.disk(0, source_image=self.contract.image_ref),),
            "nics": (
                NicSpec(
                    mac="02:00:00:" + ":".join(f"{b:02x}" for b in n.bytes[:3]),
                    device_id=0,
                    ip="10.1.1.10",
                    network_ref=self.contract.network_ref,
                ),
            ),
            "user_data": b"#cloud-config\nhostname: contract\n",
            "metadata": {"owner": "contract"},
        }
        return DomainSpec(**{**fields, **changes})

    def define(self, spec: DomainSpec | None = None) -> DomainRef:
        ref = self.driver.define(spec or self.spec())
        self.refs.append(ref)
        return ref

    def running(self, spec: DomainSpec | None = None) -> DomainRef:
        ref = self.define(spec)
        self.driver.start(ref)
        return ref

    def cleanup(self) -> None:
        for ref in reversed(self.refs):
            with contextlib.suppress(EngineError):
                self.driver.destroy(ref)
        if self.driver.supports(Capability.DATA_DISKS):
            for sid in self.disks:
                with contextlib.suppress(EngineError):
                    self.driver.delete_disk(sid, pool_ref=self.contract.pool_ref)


def _power(driver: HypervisorDriver, ref: DomainRef) -> PowerState:
    return driver.info(ref).power_state


def _needs(driver: HypervisorDriver, *caps: Capability) -> None:
    missing = [c.value for c in caps if not driver.supports(c)]
    if missing:
        pytest.skip(f"{driver.name} lacks {', '.join(missing)}")


# Each optional operation, called with plausible arguments (for the Unsupported checks).
_OPTIONAL_CALLS: dict[Capability, Callable[[HypervisorDriver, DomainRef, DiskSpec], object]] = {
    Capability.ATTACH_DISK: lambda d, ref, disk: d.attach_disk(ref, disk),
    Capability.RESIZE_DISK: lambda d, ref, disk: d.resize_disk(ref, disk.disk_sid, 2 * DISK_SIZE),
    Capability.CONSOLE_OUTPUT: lambda d, ref, disk: d.console_output(ref),
    Capability.DISK_SNAPSHOT: lambda d, ref, disk: d.snapshot_disk(ref, disk.disk_sid, "snap-x"),
    Capability.DATA_DISKS: lambda d, ref, disk: d.create_disk(disk),
    Capability.MIGRATE: lambda d, ref, disk: d.migrate(ref, d.conn),
    Capability.REVERT_SNAPSHOT: lambda d, ref, disk: d.revert_disk_snapshot(
        ref, disk.disk_sid, "snap-x"),
    Capability.COPY_DISK_SNAPSHOT: lambda d, ref, disk: d.copy_disk_snapshot(
        disk.disk_sid, "snap-x", "snap-y"),
    Capability.HOT_PLUG_NIC: lambda d, ref, disk: d.attach_nic(
        ref, NicSpec(mac="02:00:00:00:ee:01", device_id=1)),
}


class DriverContract:
    """Mixin of contract tests; subclasses provide the ``driver`` fixture."""

    image_ref: ClassVar[str | None] = None
    pool_ref: ClassVar[str | None] = None
    network_ref: ClassVar[str | None] = None
    stop_timeout: ClassVar[float] = 10.0

    @pytest.fixture
    def driver(self) -> HypervisorDriver:
        raise NotImplementedError("a DriverContract subclass must provide a driver fixture")

    @pytest.fixture
    def lab(self, driver: HypervisorDriver) -> Iterator[Lab]:
        lab = Lab(self, driver)
        yield lab
        lab.cleanup()

    # -- hooks ----------------------------------------------------------------------

    def make_define_fail(self, driver: HypervisorDriver, spec: DomainSpec) -> DomainSpec:
        pytest.skip("no way to make define fail part-way on this driver")

    def disk_exists(self, driver: HypervisorDriver, disk_sid: str) -> bool | None:
        if not driver.supports(Capability.DATA_DISKS):
            return None
        try:
            driver.disk_info(disk_sid, pool_ref=self.pool_ref)
        except NotFound:
            return False
        return True

    def migration_target(self, driver: HypervisorDriver) -> HostConnection | None:
        return None

    # -- shape and host -------------------------------------------------------------

    def test_driver_declares_name_and_capabilities(self, driver: HypervisorDriver) -> None:
        assert isinstance(driver, HypervisorDriver)
        assert driver.name not in ("", "abstract")
        assert isinstance(driver.capabilities, frozenset)
        assert all(isinstance(c, Capability) for c in driver.capabilities)
        if Capability.LIVE_ATTACH_DISK in driver.capabilities:
            assert Capability.ATTACH_DISK in driver.capabilities

    def test_connect_reports_sane_host_info(self, driver: HypervisorDriver) -> None:
        host = driver.connect()
        assert host.hypervisor
        assert host.version
        assert host.arch
        assert host.name
        assert host.cpu_cores >= 1
        assert host.cpu_mhz >= 1
        assert host.memory_bytes >= 64 * MIB
        assert host.local_storage_bytes >= 0

    def test_host_stats_count_running_domains(self, driver: HypervisorDriver, lab: Lab) -> None:
        before = driver.host_stats()
        lab.running()
        after = driver.host_stats()
        assert after.running_domains == before.running_domains + 1
        assert after.memory_used_bytes >= before.memory_used_bytes
        assert after.cpu_used_mhz >= before.cpu_used_mhz

    # -- define -----------------------------------------------------------------------

    def test_define_creates_a_stopped_domain(self, driver: HypervisorDriver, lab: Lab) -> None:
        spec = lab.spec(cpus=2, memory_mib=192)
        ref = lab.define(spec)
        info = driver.info(ref)
        assert (info.power_state, info.cpus, info.memory_mib) == (PowerState.STOPPED, 2, 192)
        assert info.ref == ref
        assert spec.disks[0].disk_sid in info.disk_sids
        assert driver.list_domains()[spec.name] is PowerState.STOPPED

    def test_define_is_idempotent_for_the_same_uuid(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        spec = lab.spec()
        first = lab.define(spec)
        assert lab.define(spec) == first
        assert list(driver.list_domains()).count(spec.name) == 1
        assert _power(driver, first) is PowerState.STOPPED

    def test_define_refuses_a_second_domain_with_the_same_name(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        spec = lab.spec()
        lab.define(spec)
        clash = lab.spec(name=spec.name)
        with pytest.raises(DriverError):
            lab.define(clash)

    def test_define_ignores_other_drivers_extra_options(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        ref = lab.define(lab.spec(extra={"no-such-driver": {"x": 1}}))
        assert _power(driver, ref) is PowerState.STOPPED

    def test_define_failure_leaves_nothing_behind(self, driver: HypervisorDriver, lab: Lab) -> None:
        spec = lab.spec(disks=(lab.disk(0, source_image=self.image_ref), lab.disk(1)))
        failing = self.make_define_fail(driver, spec)
        with pytest.raises(EngineError):
            lab.define(failing)
        assert failing.name not in driver.list_domains()
        for disk in failing.disks:
            assert self.disk_exists(driver, disk.disk_sid) in (False, None)

    # -- power ------------------------------------------------------------------------

    def test_start_runs_and_is_idempotent(self, driver: HypervisorDriver, lab: Lab) -> None:
        spec = lab.spec()
        ref = lab.running(spec)
        assert _power(driver, ref) is PowerState.RUNNING
        driver.start(ref)
        assert driver.list_domains()[spec.name] is PowerState.RUNNING

    def test_stop_graceful(self, driver: HypervisorDriver, lab: Lab) -> None:
        ref = lab.running()
        driver.stop(ref, timeout=self.stop_timeout)
        assert _power(driver, ref) is PowerState.STOPPED
        driver.stop(ref, timeout=self.stop_timeout)
        assert _power(driver, ref) is PowerState.STOPPED

    def test_stop_forced(self, driver: HypervisorDriver, lab: Lab) -> None:
        ref = lab.running()
        driver.stop(ref, timeout=0, force=True)
        assert _power(driver, ref) is PowerState.STOPPED

    def test_restart_after_stop(self, driver: HypervisorDriver, lab: Lab) -> None:
        ref = lab.running()
        driver.stop(ref, timeout=self.stop_timeout, force=True)
        driver.start(ref)
        assert _power(driver, ref) is PowerState.RUNNING

    def test_reboot_keeps_it_running(self, driver: HypervisorDriver, lab: Lab) -> None:
        ref = lab.running()
        driver.reboot(ref)
        assert _power(driver, ref) is PowerState.RUNNING

    def test_reboot_of_a_stopped_domain_is_incorrect_state(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        ref = lab.define()
        with pytest.raises(IncorrectState):
            driver.reboot(ref)

    # -- destroy and missing domains ----------------------------------------------------

    def test_destroy_then_info_is_missing(self, driver: HypervisorDriver, lab: Lab) -> None:
        spec = lab.spec()
        ref = lab.running(spec)
        driver.destroy(ref)
        assert _power(driver, ref) is PowerState.MISSING
        assert spec.name not in driver.list_domains()

    def test_destroy_twice_is_fine(self, driver: HypervisorDriver, lab: Lab) -> None:
        ref = lab.define()
        driver.destroy(ref)
        driver.destroy(ref)
        assert _power(driver, ref) is PowerState.MISSING

    def test_destroy_removes_the_domains_own_disks(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        spec = lab.spec()
        ref = lab.define(spec)
        driver.destroy(ref)
        assert self.disk_exists(driver, spec.disks[0].disk_sid) in (False, None)

    def test_operations_on_a_missing_domain_raise_not_found(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        ref = lab.define()
        driver.destroy(ref)
        with pytest.raises(NotFound):
            driver.start(ref)
        with pytest.raises(NotFound):
            driver.stop(ref, timeout=0, force=True)
        with pytest.raises(NotFound):
            driver.reboot(ref)

    def test_list_domains_shows_each_domain_with_its_state(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        stopped, running = lab.spec(), lab.spec()
        lab.define(stopped)
        lab.running(running)
        domains = driver.list_domains()
        assert domains[stopped.name] is PowerState.STOPPED
        assert domains[running.name] is PowerState.RUNNING

    # -- optional operations --------------------------------------------------------------

    @pytest.mark.parametrize("cap", list(_OPTIONAL_CALLS), ids=lambda c: c.value)
    def test_missing_capability_raises_unsupported(
        self, driver: HypervisorDriver, lab: Lab, cap: Capability
    ) -> None:
        if driver.supports(cap):
            pytest.skip(f"{driver.name} supports {cap.value}")
        ref = lab.define()
        with pytest.raises(Unsupported):
            _OPTIONAL_CALLS[cap](driver, ref, lab.disk(1))

    def test_attach_and_detach_disk_when_stopped(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.ATTACH_DISK)
        ref, disk = lab.define(), lab.disk(1)
        driver.attach_disk(ref, disk)
        driver.attach_disk(ref, disk)
        assert driver.info(ref).disk_sids.count(disk.disk_sid) == 1
        driver.detach_disk(ref, disk.disk_sid)
        assert disk.disk_sid not in driver.info(ref).disk_sids
        with pytest.raises(NotFound):
            driver.detach_disk(ref, disk.disk_sid)

    def test_live_attach_and_detach_disk(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.ATTACH_DISK)
        ref, disk = lab.running(), lab.disk(1)
        if not driver.supports(Capability.LIVE_ATTACH_DISK):
            with pytest.raises(Unsupported):
                driver.attach_disk(ref, disk)
            return
        driver.attach_disk(ref, disk)
        assert disk.disk_sid in driver.info(ref).disk_sids
        driver.detach_disk(ref, disk.disk_sid)
        assert disk.disk_sid not in driver.info(ref).disk_sids
        assert _power(driver, ref) is PowerState.RUNNING

    def test_disk_attached_to_one_domain_is_in_use_for_another(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        _needs(driver, Capability.ATTACH_DISK)
        first, second, disk = lab.define(), lab.define(), lab.disk(1)
        driver.attach_disk(first, disk)
        with pytest.raises(InUse):
            driver.attach_disk(second, disk)

    def test_resize_disk_grows_only(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.RESIZE_DISK)
        spec = lab.spec()
        ref, root = lab.define(spec), spec.disks[0].disk_sid
        driver.resize_disk(ref, root, 2 * DISK_SIZE)
        if driver.supports(Capability.DATA_DISKS):
            assert driver.disk_info(root, pool_ref=self.pool_ref).size_bytes == 2 * DISK_SIZE
        with pytest.raises(InvalidParameter):
            driver.resize_disk(ref, root, DISK_SIZE)

    def test_console_output_after_boot(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.CONSOLE_OUTPUT)
        ref = lab.running()
        assert isinstance(driver.console_output(ref), bytes)

    def test_disk_snapshots(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.DISK_SNAPSHOT)
        spec = lab.spec()
        ref, root = lab.define(spec), spec.disks[0].disk_sid
        snap = f"snap-{uuid.uuid4().hex[:12]}"
        driver.snapshot_disk(ref, root, snap, pool_ref=self.pool_ref)
        driver.snapshot_disk(ref, root, snap, pool_ref=self.pool_ref)
        if driver.supports(Capability.DATA_DISKS):
            copy = lab.disk(1, size_bytes=DISK_SIZE, source_snapshot=snap)
            driver.create_disk(copy)
            assert driver.disk_info(copy.disk_sid, pool_ref=self.pool_ref).size_bytes >= DISK_SIZE
        driver.delete_disk_snapshot(root, snap, pool_ref=self.pool_ref)
        driver.delete_disk_snapshot(root, snap, pool_ref=self.pool_ref)

    def test_revert_disk_snapshot(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.DISK_SNAPSHOT, Capability.REVERT_SNAPSHOT)
        spec = lab.spec()
        ref, root = lab.define(spec), spec.disks[0].disk_sid
        snap = f"snap-{uuid.uuid4().hex[:12]}"
        driver.snapshot_disk(ref, root, snap, pool_ref=self.pool_ref)
        if driver.supports(Capability.RESIZE_DISK):
            driver.resize_disk(ref, root, 2 * DISK_SIZE)
        driver.revert_disk_snapshot(ref, root, snap, pool_ref=self.pool_ref)
        driver.revert_disk_snapshot(ref, root, snap, pool_ref=self.pool_ref)
        if driver.supports(Capability.DATA_DISKS):
            assert driver.disk_info(root, pool_ref=self.pool_ref).size_bytes == DISK_SIZE
        with pytest.raises(NotFound):
            driver.revert_disk_snapshot(ref, root, f"snap-{uuid.uuid4().hex[:12]}",
                                        pool_ref=self.pool_ref)
        driver.delete_disk_snapshot(root, snap, pool_ref=self.pool_ref)

    def test_copy_disk_snapshot(self, driver: HypervisorDriver, lab: Lab) -> None:
        """A copy holds the snapshot's data, not the disk's, and outlives both."""
        _needs(driver, Capability.DISK_SNAPSHOT, Capability.COPY_DISK_SNAPSHOT,
               Capability.DATA_DISKS)
        disk = lab.disk(1)
        driver.create_disk(disk)
        snap, copy = (f"snap-{uuid.uuid4().hex[:12]}" for _ in range(2))
        driver.snapshot_disk(None, disk.disk_sid, snap, pool_ref=self.pool_ref)
        try:
            if driver.supports(Capability.RESIZE_DISK):
                driver.resize_disk(None, disk.disk_sid, 2 * DISK_SIZE)
            driver.copy_disk_snapshot(disk.disk_sid, snap, copy, pool_ref=self.pool_ref)
            driver.copy_disk_snapshot(disk.disk_sid, snap, copy, pool_ref=self.pool_ref)
            with pytest.raises(NotFound):
                driver.copy_disk_snapshot(disk.disk_sid, f"snap-{uuid.uuid4().hex[:12]}",
                                          f"snap-{uuid.uuid4().hex[:12]}", pool_ref=self.pool_ref)
            driver.delete_disk_snapshot(disk.disk_sid, snap, pool_ref=self.pool_ref)
            driver.delete_disk(disk.disk_sid, pool_ref=self.pool_ref)
            clone = lab.disk(2, size_bytes=DISK_SIZE, source_snapshot=copy)
            driver.create_disk(clone)
            assert driver.disk_info(clone.disk_sid, pool_ref=self.pool_ref).size_bytes == DISK_SIZE
        finally:
            driver.delete_disk_snapshot(disk.disk_sid, snap, pool_ref=self.pool_ref)
            driver.delete_disk_snapshot(disk.disk_sid, copy, pool_ref=self.pool_ref)

    def test_data_disk_lifecycle(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.DATA_DISKS)
        disk = lab.disk(1)
        driver.create_disk(disk)
        driver.create_disk(disk)
        info = driver.disk_info(disk.disk_sid, pool_ref=self.pool_ref)
        assert (info.size_bytes, info.attached_to) == (DISK_SIZE, None)
        driver.delete_disk(disk.disk_sid, pool_ref=self.pool_ref)
        driver.delete_disk(disk.disk_sid, pool_ref=self.pool_ref)
        with pytest.raises(NotFound):
            driver.disk_info(disk.disk_sid, pool_ref=self.pool_ref)

    def test_data_disk_survives_its_domain(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.DATA_DISKS, Capability.ATTACH_DISK)
        disk = lab.disk(1)
        driver.create_disk(disk)
        ref = lab.define()
        driver.attach_disk(ref, disk)
        assert driver.disk_info(disk.disk_sid, pool_ref=self.pool_ref).attached_to == ref
        with pytest.raises(InUse):
            driver.delete_disk(disk.disk_sid, pool_ref=self.pool_ref)
        driver.destroy(ref)
        assert driver.disk_info(disk.disk_sid, pool_ref=self.pool_ref).attached_to is None

    def test_define_attaches_an_existing_data_disk(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        _needs(driver, Capability.DATA_DISKS)
        disk = lab.disk(1)
        driver.create_disk(disk)
        spec = lab.spec(disks=(lab.disk(0, source_image=self.image_ref), disk))
        ref = lab.define(spec)
        assert disk.disk_sid in driver.info(ref).disk_sids
        driver.destroy(ref)
        assert self.disk_exists(driver, disk.disk_sid) is True

    def test_migrate(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.MIGRATE)
        target = self.migration_target(driver)
        if target is None:
            pytest.skip("no second host to migrate to")
        spec = lab.spec()
        ref = lab.running(spec)
        new_ref = driver.migrate(ref, target)
        assert _power(driver, ref) is PowerState.MISSING
        assert spec.name not in driver.list_domains()
        with type(driver)(target) as there:
            assert there.info(new_ref).power_state is PowerState.RUNNING
            there.destroy(new_ref)

    # -- NIC hot-plug ------------------------------------------------------------------

    def test_attach_and_detach_nic_when_stopped(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.HOT_PLUG_NIC)
        ref = lab.define()
        nic = NicSpec(mac="02:00:00:00:ee:02", device_id=1, ip="10.1.2.10",
                      network_ref=self.network_ref)
        driver.attach_nic(ref, nic)
        driver.attach_nic(ref, nic)  # idempotent
        assert driver.info(ref).nic_macs.count(nic.mac) == 1
        assert len(driver.info(ref).nic_macs) == 2
        driver.detach_nic(ref, nic.mac)
        assert nic.mac not in driver.info(ref).nic_macs
        driver.detach_nic(ref, nic.mac)  # already gone: fine
        driver.start(ref)  # the changed definition still boots
        assert _power(driver, ref) is PowerState.RUNNING

    def test_hot_plug_and_unplug_nic_on_a_running_domain(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        _needs(driver, Capability.HOT_PLUG_NIC)
        ref = lab.running()
        nic = NicSpec(mac="02:00:00:00:ee:03", device_id=1, network_ref=self.network_ref)
        driver.attach_nic(ref, nic)
        assert nic.mac in driver.info(ref).nic_macs
        assert _power(driver, ref) is PowerState.RUNNING
        driver.stop(ref, timeout=0, force=True)
        assert nic.mac in driver.info(ref).nic_macs  # kept in the definition
        driver.start(ref)
        driver.detach_nic(ref, nic.mac)
        assert nic.mac not in driver.info(ref).nic_macs
        assert _power(driver, ref) is PowerState.RUNNING

    def test_nic_operations_on_a_missing_domain_raise_not_found(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        _needs(driver, Capability.HOT_PLUG_NIC)
        missing = DomainRef(str(uuid.uuid4()))
        with pytest.raises(NotFound):
            driver.attach_nic(missing, NicSpec(mac="02:00:00:00:ee:04", device_id=1))
        with pytest.raises(NotFound):
            driver.detach_nic(missing, "02:00:00:00:ee:04")

    def test_nics_changed_while_stopped_are_the_nics_after_start(
        self, driver: HypervisorDriver, lab: Lab
    ) -> None:
        """A NIC added and one removed while the domain is stopped: the next start
        runs with exactly the changed set (by MAC), and it stays after a stop."""
        _needs(driver, Capability.HOT_PLUG_NIC)
        spec = lab.spec()
        ref = lab.running(spec)
        driver.stop(ref, timeout=0, force=True)
        added = NicSpec(mac="02:00:00:00:ee:05", device_id=1, ip="10.1.3.10",
                        network_ref=self.network_ref)
        driver.attach_nic(ref, added)
        driver.detach_nic(ref, spec.nics[0].mac)
        driver.start(ref)
        info = driver.info(ref)
        assert info.power_state is PowerState.RUNNING
        assert info.nic_macs == (added.mac,)
        driver.stop(ref, timeout=0, force=True)
        assert driver.info(ref).nic_macs == (added.mac,)

    # -- disks from snapshots ---------------------------------------------------------

    def test_define_makes_disks_from_a_snapshot(self, driver: HypervisorDriver, lab: Lab) -> None:
        """``source_snapshot`` in ``define``: a root disk (an image made from a snapshot)
        and a data disk (a volume made from one); a missing snapshot leaves nothing."""
        _needs(driver, Capability.DISK_SNAPSHOT)
        spec = lab.spec()
        ref, root = lab.define(spec), spec.disks[0].disk_sid
        snap = f"snap-{uuid.uuid4().hex[:12]}"
        driver.snapshot_disk(ref, root, snap, pool_ref=self.pool_ref)
        try:
            new_root = lab.disk(0, source_snapshot=snap)
            data = lab.disk(1, size_bytes=2 * DISK_SIZE, source_snapshot=snap)
            clone = lab.spec(disks=(new_root, data))
            new = lab.define(clone)
            info = driver.info(new)
            assert info.power_state is PowerState.STOPPED
            assert {new_root.disk_sid, data.disk_sid} <= set(info.disk_sids)
            if driver.supports(Capability.DATA_DISKS):  # grown where the storage can grow
                assert driver.disk_info(data.disk_sid, pool_ref=self.pool_ref).size_bytes \
                    >= DISK_SIZE
            driver.start(new)
            assert _power(driver, new) is PowerState.RUNNING
            driver.destroy(new)
            assert self.disk_exists(driver, data.disk_sid) in (False, None)
            gone = f"snap-{uuid.uuid4().hex[:12]}"
            missing = lab.spec(disks=(lab.disk(0, source_snapshot=gone),))
            with pytest.raises(NotFound):
                lab.define(missing)
            assert missing.name not in driver.list_domains()
        finally:
            driver.delete_disk_snapshot(root, snap, pool_ref=self.pool_ref)

    def test_revert_needs_a_stopped_domain(self, driver: HypervisorDriver, lab: Lab) -> None:
        _needs(driver, Capability.DISK_SNAPSHOT, Capability.REVERT_SNAPSHOT)
        spec = lab.spec()
        ref, root = lab.define(spec), spec.disks[0].disk_sid
        snap = f"snap-{uuid.uuid4().hex[:12]}"
        driver.snapshot_disk(ref, root, snap, pool_ref=self.pool_ref)
        try:
            driver.start(ref)
            with pytest.raises(IncorrectState):
                driver.revert_disk_snapshot(ref, root, snap, pool_ref=self.pool_ref)
            assert _power(driver, ref) is PowerState.RUNNING
            driver.stop(ref, timeout=0, force=True)
            driver.revert_disk_snapshot(ref, root, snap, pool_ref=self.pool_ref)
            assert root in driver.info(ref).disk_sids
            driver.start(ref)  # the reverted disk still boots
            assert _power(driver, ref) is PowerState.RUNNING
        finally:
            driver.delete_disk_snapshot(root, snap, pool_ref=self.pool_ref)
