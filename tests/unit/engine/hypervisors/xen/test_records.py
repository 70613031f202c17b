"""Pure functions over XAPI records: power states, lookups, host facts, SR/network choice."""

from __future__ import annotations

import base64

import pytest

from engine.hypervisors.base import GIB, MIB, DomainSpec, PowerState
from engine.hypervisors.xen import records as rec


def vm(**fields: object) -> dict[str, object]:
    base = {"is_a_template": False, "is_control_domain": False, "is_a_snapshot": False,
            "power_state": "Halted", "name_label": "", "other_config": {}, "uuid": "u"}
    return {**base, **fields}


@pytest.mark.parametrize(("xapi", "engine"), [
    ("Running", PowerState.RUNNING), ("Halted", PowerState.STOPPED),
    ("Paused", PowerState.PAUSED), ("Suspended", PowerState.STOPPED),
    ("Weird", PowerState.UNKNOWN)])
def test_power_state(xapi: str, engine: PowerState) -> None:
    assert rec.power_state({"power_state": xapi}) is engine


def test_guests_exclude_templates_snapshots_and_dom0() -> None:
    vms = {"a": vm(name_label="x"), "t": vm(is_a_template=True, name_label="x"),
           "d": vm(is_control_domain=True), "s": vm(is_a_snapshot=True, name_label="x")}
    assert [r for r, v in vms.items() if rec.is_guest(v)] == ["a"]
    assert rec.guests_named(vms, "x") == ["a"]
    vms["b"] = vm(other_config={rec.VM_UUID: "u-1"})
    assert rec.find_guest(vms, **{rec.VM_UUID: "u-1"}) == "b"
    assert rec.find_guest(vms, **{rec.VM_UUID: "u-2"}) is None


def test_template_lookup_by_label_uuid_or_ref_prefers_custom_ones() -> None:
    vms = {"OpaqueRef:1": vm(is_a_template=True, is_default_template=True, name_label="deb",
                             uuid="u1"),
           "OpaqueRef:2": vm(is_a_template=True, name_label="deb", uuid="u2"),
           "OpaqueRef:3": vm(name_label="plain")}
    assert rec.template_for(vms, "deb") == "OpaqueRef:2"
    assert rec.template_for(vms, "u1") == "OpaqueRef:1"
    assert rec.template_for(vms, "OpaqueRef:1") == "OpaqueRef:1"
    assert rec.template_for(vms, "plain") is None


def test_host_info_from_records() -> None:
    host = {"name_label": "h1", "software_version": {"product_version": "8.2.1"},
            "cpu_info": {"cpu_count": "4", "speed": "2100.000"}}
    info = rec.host_info(host, {"memory_total": str(8 * GIB)}, [], 100)
    assert (info.hypervisor, info.version, info.cpu_cores, info.cpu_mhz) == (
        "XenServer", "8.2.1", 4, 2100)
    assert (info.memory_bytes, info.local_storage_bytes, info.name) == (8 * GIB, 100, "h1")
    cpus = [{"speed": "2600"}] * 2
    assert rec.host_info(host, {"memory_total": "1"}, cpus, 0).cpu_cores == 2


def test_local_srs_are_unshared_vm_storage_on_the_host() -> None:
    srs = {"big": {"shared": False, "content_type": "user", "physical_size": "9"},
           "small": {"shared": False, "content_type": "user", "physical_size": "1"},
           "nfs": {"shared": True, "content_type": "user", "physical_size": "99"},
           "iso": {"shared": False, "content_type": "iso", "type": "iso", "physical_size": "5"},
           "other": {"shared": False, "content_type": "user", "physical_size": "50"}}
    pbds = {f"p{n}": {"host": "h", "SR": s} for n, s in enumerate(["small", "big", "nfs", "iso"])}
    pbds["px"] = {"host": "elsewhere", "SR": "other"}
    assert rec.local_srs("h", srs, pbds) == ["big", "small"]


def test_sr_for_pool_url() -> None:
    srs = {"r1": {"name_label": "Local storage", "uuid": "u-1"}}
    assert rec.sr_for_pool("presetup://h/Local%20storage", srs) == "r1"
    assert rec.sr_for_pool("presetup://h/u-1", srs) == "r1"
    assert rec.sr_for_pool("presetup://h/missing", srs) is None
    assert rec.sr_for_pool("nfs://filer/export", srs) is None
    assert rec.sr_for_pool(None, srs) is None


def test_network_choice() -> None:
    nets = {"n1": {"name_label": "Pool-wide network associated with eth0", "bridge": "xenbr0",
                   "uuid": "nu1", "other_config": {}},
            "n2": {"name_label": "guests", "bridge": "xapi1", "uuid": "nu2", "other_config": {}},
            "n3": {"name_label": "internal", "bridge": "xapi0", "uuid": "nu3",
                   "other_config": {"is_host_internal_management_network": "true"}}}
    pifs = {"p1": {"network": "n1", "management": True, "VLAN": "-1"},
            "p2": {"network": "n2", "management": False, "VLAN": "100"}}
    assert rec.network_for("guests", nets, pifs) == "n2"
    assert rec.network_for("xapi1", nets, pifs) == "n2"
    assert rec.network_for("vlan://100", nets, pifs) == "n2"
    assert rec.network_for("vlan://7", nets, pifs) == "n1"
    assert rec.network_for(None, nets, pifs) == "n1"
    assert rec.network_for(None, {"n3": nets["n3"], "n2": nets["n2"]}, {}) == "n2"


def test_what_define_writes() -> None:
    spec = DomainSpec(name="i-1-1-VM", uuid="u-1", cpus=2, cpu_mhz=1500, memory_mib=256,
                      user_data=b"\x00data", metadata={"instance-sid": "i-1"})
    assert rec.memory_limits(spec) == (str(256 * MIB),) * 4
    assert rec.vm_other_config(spec) == {rec.VM_UUID: "u-1", rec.VM_CPU_MHZ: "1500",
                                         "nimbostack-meta-instance-sid": "i-1"}
    [(key, value)] = rec.user_data_entry(spec.user_data).items()
    assert key.startswith("vm-data/") and base64.b64decode(value) == b"\x00data"
    assert rec.user_data_entry(None) == {}
    assert rec.disk_sid({"other_config": {rec.DISK_SID: "vol-1"}}) == "vol-1"
