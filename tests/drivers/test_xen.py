"""The XenServer driver: the driver contract, then Xen specifics, all through the real
PyPI ``XenAPI`` client over HTTP against the wire-level XAPI double (``tests/xapi``)."""

from __future__ import annotations

import base64
import time
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import XenAPI

from engine.errors import DriverError, InsufficientCapacity, InvalidParameter, Unavailable
from engine.hypervisors import registry
from engine.hypervisors.base import (
    GIB,
    MIB,
    Capability,
    DiskSpec,
    DomainSpec,
    HostConnection,
    HypervisorDriver,
    NicSpec,
    PowerState,
)
from engine.hypervisors.xen import XenDriver
from engine.hypervisors.xen import records as rec
from tests.drivers.contract import DriverContract
from tests.xapi import LOCAL_SR, STOCK_TEMPLATE, TEMPLATE, XapiDouble

USER, PASSWORD = "root", "xen-secret"


@pytest.fixture
def double() -> Iterator[XapiDouble]:
    with XapiDouble(user=USER, password=PASSWORD) as running:
        yield running


def xen(double: XapiDouble, **extra: Any) -> XenDriver:
    return XenDriver(HostConnection(double.url, USER, PASSWORD, extra=extra))


@pytest.fixture
def drv(double: XapiDouble) -> Iterator[XenDriver]:
    with xen(double) as driver:
        yield driver


@pytest.fixture
def api(double: XapiDouble) -> Iterator[Any]:
    """A separate XenAPI session to look at the double as an admin would."""
    session = XenAPI.Session(double.url)
    session.xenapi.login_with_password(USER, PASSWORD, "2.21", "test")
    yield session.xenapi
    session.xenapi.session.logout()


class TestXenContract(DriverContract):
    image_ref = TEMPLATE
    stop_timeout = 5.0

    @pytest.fixture
    def driver(self, double: XapiDouble) -> Iterator[HypervisorDriver]:
        with xen(double) as driver:
            yield driver

    def make_define_fail(self, driver: HypervisorDriver, spec: DomainSpec) -> DomainSpec:
        assert isinstance(driver, XenDriver)
        double_of(driver).fail("VIF.create", "INTERNAL_ERROR", "injected after the disks")
        return spec


class TestXenContractBlankDisks(TestXenContract):
    """The same contract when root disks are blank VDIs in a VM.create'd VM."""

    image_ref = None


_DOUBLES: dict[str, XapiDouble] = {}


def double_of(driver: XenDriver) -> Any:
    return _DOUBLES[driver.xapi.url].xapi


@pytest.fixture(autouse=True)
def _remember(request: pytest.FixtureRequest) -> Iterator[None]:
    if "double" in request.fixturenames:
        d = request.getfixturevalue("double")
        _DOUBLES[d.url] = d
        yield
        _DOUBLES.pop(d.url, None)
    else:
        yield


def spec(name: str = "i-2-5-VM", **changes: Any) -> DomainSpec:
    fields: dict[str, Any] = {
        "name": name, "uuid": f"uuid-{name}", "cpus": 2, "cpu_mhz": 1000, "memory_mib": 512,
        "disks": (DiskSpec(disk_sid=f"root-{name}", device_id=0, size_bytes=2 * GIB,
                           source_image=TEMPLATE, serial="ROOT-5"),),
        "nics": (NicSpec(mac="02:00:0a:01:01:0a", device_id=0, ip="10.1.1.10"),),
        "user_data": b"#!/bin/sh\necho hi\n", "metadata": {"instance-sid": "i-5"},
    }
    return DomainSpec(**{**fields, **changes})


# -- host ---------------------------------------------------------------------------------


def test_connect_reads_host_cpu_metrics_and_local_sr(drv: XenDriver) -> None:
    host = drv.connect()
    assert (host.hypervisor, host.version, host.name) == ("XenServer", "8.2.1", "xen-host-1")
    assert (host.cpu_cores, host.cpu_mhz, host.arch) == (8, 2600, "x86_64")
    assert (host.memory_bytes, host.local_storage_bytes) == (64 * GIB, 500 * GIB)


def test_wrong_password_and_unreachable_host(double: XapiDouble) -> None:
    bad = XenDriver(HostConnection(double.url, USER, "wrong"))
    with pytest.raises(DriverError, match="authentication failed"):
        bad.connect()
    with pytest.raises(Unavailable):
        XenDriver(HostConnection("http://127.0.0.1:9", USER, PASSWORD)).connect()
    with pytest.raises(InvalidParameter):
        XenDriver(HostConnection("xen://host", USER, PASSWORD))


def test_host_stats_and_list_domains_skip_templates_and_dom0(drv: XenDriver, api: Any) -> None:
    assert drv.list_domains() == {}
    ref = drv.define(spec())
    drv.start(ref)
    stats = drv.host_stats()
    assert (stats.running_domains, stats.defined_domains) == (1, 1)
    assert (stats.cpu_used_mhz, stats.memory_used_bytes) == (2000, 512 * MIB)
    assert stats.local_storage_used_bytes == 2 * GIB + 64 * MIB  # the root + the template's
    assert drv.list_domains() == {"i-2-5-VM": PowerState.RUNNING}
    assert len(api.VM.get_all()) == 4  # dom0, two templates, the guest


def test_registry_and_url_guess() -> None:
    assert registry.driver_class("XenServer") is XenDriver
    assert XenDriver.capabilities == {Capability.ATTACH_DISK, Capability.LIVE_ATTACH_DISK,
                                      Capability.RESIZE_DISK, Capability.DATA_DISKS,
                                      Capability.DISK_SNAPSHOT, Capability.COPY_DISK_SNAPSHOT,
                                      Capability.REVERT_SNAPSHOT, Capability.HOT_PLUG_NIC}


# -- what define leaves in XAPI ------------------------------------------------------------


def test_define_clones_the_template_and_records_ownership(drv: XenDriver, api: Any) -> None:
    ref = drv.define(spec())
    vm = api.VM.get_record(ref.ref)
    assert vm["name_label"] == "i-2-5-VM" and vm["is_a_template"] is False
    assert (vm["VCPUs_max"], vm["VCPUs_at_startup"]) == ("2", "2")
    assert vm["memory_static_max"] == vm["memory_dynamic_min"] == str(512 * MIB)
    assert vm["other_config"][rec.VM_UUID] == "uuid-i-2-5-VM"
    assert vm["other_config"]["nimbostack-meta-instance-sid"] == "i-5"
    data = vm["xenstore_data"][rec.USER_DATA]
    assert base64.b64decode(data) == b"#!/bin/sh\necho hi\n"
    [vif] = [api.VIF.get_record(v) for v in vm["VIFs"]]
    network = api.network.get_record(vif["network"])
    assert (vif["MAC"], vif["device"], network["bridge"]) == ("02:00:0a:01:01:0a", "0", "xenbr0")
    disks = [api.VBD.get_record(v) for v in vm["VBDs"]]
    [root] = [d for d in disks if d["type"] == "Disk"]
    vdi = api.VDI.get_record(root["VDI"])
    assert (vdi["name_label"], vdi["virtual_size"]) == ("root-i-2-5-VM", str(2 * GIB))
    assert vdi["other_config"][rec.DISK_OWNER] == "uuid-i-2-5-VM"
    assert vdi["sm_config"]["vhd-parent"]  # a copy-on-write clone of the template's disk
    assert drv.define(spec()) == ref


def test_define_from_a_stock_template_provisions_its_disk(drv: XenDriver, api: Any) -> None:
    disk = DiskSpec(disk_sid="root-s", device_id=0, size_bytes=4 * GIB,
                    source_image=STOCK_TEMPLATE)
    ref = drv.define(spec(disks=(disk,)))
    info = drv.info(ref)
    assert info.disk_sids == ("root-s",)
    assert drv.disk_info("root-s").size_bytes == 8 * GIB  # never shrunk below the template


def test_define_copies_into_a_presetup_pool_sr(double: XapiDouble, api: Any) -> None:
    x = double.xapi
    with x.store.lock:
        sr = x.store.create("SR", {"name_label": "fast-ssd", "physical_size": str(100 * GIB)})
        x.store.create("PBD", {"host": x.host, "SR": sr})
    driver = xen(double, storage_pools={"pool-1": "presetup://127.0.0.1/fast-ssd"})
    disk = DiskSpec(disk_sid="root-p", device_id=0, size_bytes=GIB, source_image=TEMPLATE,
                    pool_ref="pool-1")
    driver.define(spec(disks=(disk,)))
    [vdi] = api.VDI.get_by_name_label("root-p")
    assert api.VDI.get_SR(vdi) == sr and "vhd-parent" not in api.VDI.get_sm_config(vdi)
    data = DiskSpec(disk_sid="data-p", device_id=1, size_bytes=GIB, pool_ref="unknown")
    driver.create_disk(data)
    [vdi] = api.VDI.get_by_name_label("data-p")
    assert api.SR.get_name_label(api.VDI.get_SR(vdi)) == LOCAL_SR
    driver.close()


def test_unknown_template_and_vlan_network(drv: XenDriver, api: Any) -> None:
    with pytest.raises(InvalidParameter):
        drv.define(spec(disks=(DiskSpec(disk_sid="r", device_id=0, size_bytes=GIB,
                                        source_image="no-such-template"),)))
    assert drv.list_domains() == {}
    nic = NicSpec(mac="02:00:00:00:00:01", device_id=0, network_ref="Pool-wide network "
                  "associated with eth0")
    ref = drv.define(spec(nics=(nic,)))
    assert len(api.VM.get_VIFs(ref.ref)) == 1


def test_destroy_deletes_owned_disks_and_keeps_data_volumes(drv: XenDriver, api: Any) -> None:
    drv.create_disk(DiskSpec(disk_sid="data-1", device_id=1, size_bytes=GIB))
    s = spec(disks=spec().disks + (DiskSpec(disk_sid="data-1", device_id=1, size_bytes=GIB),
                                   DiskSpec(disk_sid="scratch", device_id=2, size_bytes=GIB)))
    ref = drv.define(s)
    assert drv.info(ref).disk_sids == ("root-i-2-5-VM", "data-1", "scratch")
    drv.start(ref)
    drv.destroy(ref)
    assert api.VDI.get_by_name_label("root-i-2-5-VM") == []
    assert api.VDI.get_by_name_label("scratch") == []
    assert drv.disk_info("data-1").attached_to is None


# -- power, tasks, events, sessions ----------------------------------------------------------


def test_power_goes_through_async_tasks_waited_with_event_from(
        drv: XenDriver, double: XapiDouble, api: Any) -> None:
    double.xapi.settings["task_delay"] = 0.2
    ref = drv.define(spec())
    double.xapi.calls.clear()
    began = time.monotonic()
    drv.start(ref)
    assert time.monotonic() - began >= 0.2
    assert api.VM.get_power_state(ref.ref) == "Running"
    calls = double.xapi.calls
    assert calls["Async.VM.start"] == 1 and calls["event.from"] >= 2
    assert calls["task.get_status"] <= 3  # woken by events, not by polling
    assert api.task.get_all() == []  # tasks are destroyed after use


def test_stop_forces_a_guest_that_ignores_acpi(drv: XenDriver, double: XapiDouble,
                                               api: Any) -> None:
    double.xapi.settings["guests_ignoring_acpi"] = ["stubborn"]
    ref = drv.define(spec("stubborn-VM"))
    drv.start(ref)
    began = time.monotonic()
    drv.stop(ref, timeout=0.5)
    assert 0.5 <= time.monotonic() - began < 5
    assert api.VM.get_power_state(ref.ref) == "Halted"
    assert double.xapi.calls["task.cancel"] == 1
    assert double.xapi.calls["Async.VM.hard_shutdown"] == 1
    drv.start(ref)
    drv.stop(ref, timeout=30, force=True)
    assert double.xapi.calls["Async.VM.clean_shutdown"] == 1


def test_graceful_stop_does_not_power_off(drv: XenDriver, double: XapiDouble) -> None:
    ref = drv.define(spec())
    drv.start(ref)
    drv.stop(ref, timeout=5)
    assert double.xapi.calls["Async.VM.hard_shutdown"] == 0
    assert drv.info(ref).power_state is PowerState.STOPPED


def test_expired_session_logs_in_again(drv: XenDriver, double: XapiDouble) -> None:
    drv.connect()
    logins = double.xapi.logins
    assert double.xapi.expire_sessions() >= 1
    assert drv.list_domains() == {}
    assert double.xapi.logins == logins + 1
    double.xapi.expire_sessions()
    double.xapi.users[USER] = "rotated"
    with pytest.raises(DriverError, match="authentication failed"):
        drv.list_domains()


def test_not_enough_memory_is_insufficient_capacity(drv: XenDriver) -> None:
    ref = drv.define(spec(memory_mib=100 * 1024))
    with pytest.raises(InsufficientCapacity):
        drv.start(ref)
    assert drv.info(ref).power_state is PowerState.STOPPED


def test_paused_domain_is_reported_and_resumed(drv: XenDriver, api: Any) -> None:
    ref = drv.define(spec())
    drv.start(ref)
    api.VM.pause(ref.ref)
    assert drv.info(ref).power_state is PowerState.PAUSED
    drv.start(ref)
    assert drv.info(ref).power_state is PowerState.RUNNING


def test_live_resize_and_snapshot_clone(drv: XenDriver, api: Any) -> None:
    data = DiskSpec(disk_sid="data-2", device_id=1, size_bytes=GIB)
    ref = drv.define(spec())
    drv.start(ref)
    drv.attach_disk(ref, data)
    [vbd] = [v for v in api.VM.get_VBDs(ref.ref) if api.VBD.get_userdevice(v) == "1"]
    assert api.VBD.get_currently_attached(vbd) is True
    drv.resize_disk(ref, "data-2", 2 * GIB)
    drv.snapshot_disk(ref, "data-2", "snap-1")
    with pytest.raises(InvalidParameter):
        drv.snapshot_disk(ref, "root-i-2-5-VM", "snap-1")
    drv.detach_disk(ref, "data-2")
    drv.delete_disk("data-2")
    copy = DiskSpec(disk_sid="data-3", device_id=1, size_bytes=GIB, source_snapshot="snap-1")
    drv.create_disk(copy)
    assert drv.disk_info("data-3").size_bytes == 2 * GIB


def test_snapshot_copy_is_a_full_vdi_copy_on_the_snapshot_sr(
        drv: XenDriver, double: XapiDouble, api: Any) -> None:
    drv.create_disk(DiskSpec(disk_sid="data-4", device_id=1, size_bytes=GIB))
    drv.snapshot_disk(None, "data-4", "snap-4")
    drv.resize_disk(None, "data-4", 2 * GIB)
    calls = double.xapi.calls["Async.VDI.copy"]
    drv.copy_disk_snapshot("data-4", "snap-4", "snap-5")
    drv.copy_disk_snapshot("data-4", "snap-4", "snap-5")  # already there: no second copy
    assert double.xapi.calls["Async.VDI.copy"] == calls + 1
    [source] = api.VDI.get_by_name_label("snap-4")
    [copy] = api.VDI.get_by_name_label("snap-5")
    record = api.VDI.get_record(copy)
    assert record["SR"] == api.VDI.get_SR(source)
    assert record["virtual_size"] == str(GIB)  # the snapshot's size, not the disk's now
    assert "vhd-parent" not in record["sm_config"] and record["is_a_snapshot"] is False
    assert record["other_config"][rec.SNAPSHOT_SID] == "snap-5"
    assert record["other_config"][rec.COPY_OF] == "snap-4"
    with pytest.raises(InvalidParameter):
        drv.copy_disk_snapshot("data-4", "snap-other", "snap-5")
    drv.delete_disk_snapshot("data-4", "snap-4")
    drv.delete_disk("data-4")
    drv.create_disk(DiskSpec(disk_sid="data-6", device_id=1, size_bytes=GIB,
                             source_snapshot="snap-5"))
    assert drv.disk_info("data-6").size_bytes == GIB
    assert rec.COPY_OF not in api.VDI.get_other_config(api.VDI.get_by_name_label("data-6")[0])


def test_failed_snapshot_copy_leaves_no_vdi(drv: XenDriver, double: XapiDouble,
                                            api: Any) -> None:
    drv.create_disk(DiskSpec(disk_sid="data-7", device_id=1, size_bytes=GIB))
    drv.snapshot_disk(None, "data-7", "snap-7")
    before = len(api.VDI.get_all())
    double.xapi.fail("VDI.set_other_config", "INTERNAL_ERROR", "injected")
    with pytest.raises(DriverError):
        drv.copy_disk_snapshot("data-7", "snap-7", "snap-8")
    assert len(api.VDI.get_all()) == before
    drv.copy_disk_snapshot("data-7", "snap-7", "snap-8")  # a retry works
    assert len(api.VDI.get_all()) == before + 1


# -- the double speaks XAPI's wire protocol -------------------------------------------------


def test_double_wire_format(double: XapiDouble) -> None:
    proxy = xmlrpc.client.ServerProxy(double.url, allow_none=True)
    assert proxy.session.login_with_password(USER, "bad", "2.21", "t") == {
        "Status": "Failure",
        "ErrorDescription": ["SESSION_AUTHENTICATION_FAILED", USER, "Authentication failure"]}
    session = proxy.session.login_with_password(USER, PASSWORD, "2.21", "t")["Value"]
    assert session.startswith("OpaqueRef:")
    [host] = proxy.host.get_all(session)["Value"]
    metrics = proxy.host.get_metrics(session, host)["Value"]
    total = proxy.host_metrics.get_memory_total(session, metrics)
    assert total == {"Status": "Success", "Value": str(64 * GIB)}  # int64 as a string
    assert proxy.VM.no_such_call(session)["ErrorDescription"] == [
        "MESSAGE_METHOD_UNKNOWN", "VM.no_such_call"]
    assert proxy.VM.get_record(session)["ErrorDescription"][0] == (
        "MESSAGE_PARAMETER_COUNT_MISMATCH")
    assert proxy.VM.get_all("OpaqueRef:stale")["ErrorDescription"] == [
        "SESSION_INVALID", "OpaqueRef:stale"]
    [vm] = proxy.VM.get_by_name_label(session, TEMPLATE)["Value"]
    assert proxy.VM.set_VCPUs_max(session, vm, 2)["ErrorDescription"] == [
        "FIELD_TYPE_ERROR", "VCPUs_max"]
    assert proxy.VM.start(session, vm, False, False)["ErrorDescription"] == [
        "VM_IS_TEMPLATE", vm]
    assert proxy.session.logout(session)["Status"] == "Success"


def test_double_tasks_events_and_devices(double: XapiDouble, api: Any) -> None:
    [template] = api.VM.get_by_name_label(TEMPLATE)
    start = getattr(api.event, "from")(["vm"], "", 0.0)
    assert {e["operation"] for e in start["events"]} == {"add"}  # the current VMs
    task = api.Async.VM.clone(template, "c1")
    token = getattr(api.event, "from")([f"task/{task}"], "", 0.0)["token"]
    while api.task.get_status(task) == "pending":
        getattr(api.event, "from")([f"task/{task}"], token, 5.0)
    assert api.task.get_status(task) == "success"
    vm = api.task.get_result(task).removeprefix("<value>").removesuffix("</value>")
    api.VM.set_is_a_template(vm, False)
    with pytest.raises(XenAPI.Failure) as err:
        api.VM.hard_shutdown(vm)
    assert err.value.details == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    api.VM.start(vm, False, False)
    [vbd] = [v for v in api.VM.get_VBDs(vm) if api.VBD.get_type(v) == "Disk"]
    with pytest.raises(XenAPI.Failure) as err:
        api.VBD.plug(vbd)
    assert err.value.details == ["DEVICE_ALREADY_ATTACHED", vbd]
    with pytest.raises(XenAPI.Failure) as err:
        api.VDI.destroy(api.VBD.get_VDI(vbd))
    assert err.value.details[0] == "VDI_IN_USE"
    events = getattr(api.event, "from")(["vm"], start["token"], 0.1)["events"]
    assert {e["operation"] for e in events} >= {"add", "mod"}
    api.VM.hard_shutdown(vm)
    api.VM.destroy(vm)
    with pytest.raises(XenAPI.Failure) as err:
        api.VM.get_record(vm)
    assert err.value.details == ["HANDLE_INVALID", "VM", vm]


# -- reverts and NICs --------------------------------------------------------------------------


def test_revert_swaps_in_a_clone_of_the_snapshot(drv: XenDriver, api: Any) -> None:
    ref = drv.define(spec())
    root = "root-i-2-5-VM"
    [old] = api.VDI.get_by_name_label(root)
    drv.snapshot_disk(ref, root, "snap-r1")
    drv.resize_disk(ref, root, 3 * GIB)
    drv.revert_disk_snapshot(ref, root, "snap-r1")
    [new] = api.VDI.get_by_name_label(root)
    assert new != old and api.VDI.get_virtual_size(new) == str(2 * GIB)
    with pytest.raises(XenAPI.Failure):
        api.VDI.get_record(old)  # the replaced VDI is gone
    other = api.VDI.get_other_config(new)
    assert (other[rec.DISK_SID], other[rec.DISK_OWNER]) == (root, "uuid-i-2-5-VM")
    [vbd] = [v for v in api.VM.get_VBDs(ref.ref) if api.VBD.get_VDI(v) == new]
    assert (api.VBD.get_userdevice(vbd), api.VBD.get_bootable(vbd)) == ("0", True)
    drv.revert_disk_snapshot(ref, root, "snap-r1")  # the snapshot still belongs to the disk
    drv.snapshot_disk(ref, root, "snap-r1")  # ... and is still "that snapshot" of it
    drv.start(ref)
    assert drv.info(ref).disk_sids == (root,)


def test_nics_are_vifs_plugged_into_a_running_vm(drv: XenDriver, api: Any) -> None:
    ref = drv.define(spec())
    drv.start(ref)
    drv.attach_nic(ref, NicSpec(mac="02:00:0A:01:02:0B", device_id=0, ip="10.1.2.11"))
    vifs = {api.VIF.get_MAC(v): v for v in api.VM.get_VIFs(ref.ref)}
    added = vifs["02:00:0a:01:02:0b"]
    assert api.VIF.get_device(added) == "1"  # device 0 is taken: the next free one
    assert api.VIF.get_currently_attached(added) is True
    assert drv.info(ref).nic_macs == ("02:00:0a:01:01:0a", "02:00:0a:01:02:0b")
    drv.detach_nic(ref, "02:00:0a:01:02:0b")
    assert added not in api.VM.get_VIFs(ref.ref)


def test_apply_nics_makes_a_stopped_domains_vifs_the_specs(drv: XenDriver, api: Any) -> None:
    """What the engine's start job does for a domain whose NICs changed while stopped."""
    from engine.jobs.nic_handlers import apply_nics

    first = spec()
    ref = drv.define(first)
    changed = replace(first, nics=(NicSpec(mac="02:00:0a:01:01:0b", device_id=1),))
    apply_nics(drv, ref, changed)
    drv.start(ref)
    [vif] = api.VM.get_VIFs(ref.ref)
    assert (api.VIF.get_MAC(vif), api.VIF.get_currently_attached(vif)) == (
        "02:00:0a:01:01:0b", True)
    apply_nics(drv, ref, first)  # a running domain is left alone
    assert drv.info(ref).nic_macs == ("02:00:0a:01:01:0b",)
