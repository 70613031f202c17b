"""domain_xml: the XML built from a DomainSpec, and reading it back (no libvirt needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from engine.hypervisors.base import BootSpec, DomainSpec
from engine.hypervisors.libvirt import domain_xml as dx


def _layout(**changes: object) -> dx.DomainLayout:
    fields: dict[str, object] = {
        "domain_type": "qemu",
        "disks": [
            dx.DiskDevice(path="/p/vol-1.qcow2", target="vda", serial="ROOT-1",
                          alias="ua-vol-1"),
            dx.DiskDevice(path="/p/u.cidata.iso", target=dx.SEED_TARGET, serial="cidata",
                          fmt="raw", readonly=True),
        ],
        "nics": [dx.NicDevice("02:00:00:00:00:01", "network", "guestnet"),
                 dx.NicDevice("02:00:00:00:00:02", "bridge", "br0"),
                 dx.NicDevice("02:00:00:00:00:03")],
        "console_log": "/var/log/libvirt/qemu/i-1.console.log",
        "ownership": dx.Ownership(owned_paths=("/p/vol-1.qcow2",), seed_path="/p/u.cidata.iso",
                                  cpu_mhz=1500, metadata={"instance-sid": "i-abc"}),
    }
    fields.update(changes)
    return dx.DomainLayout(**fields)  # type: ignore[arg-type]


def _spec(**changes: object) -> DomainSpec:
    fields: dict[str, object] = {"name": "i-2-5-VM", "uuid": "0b6a1d2e-1111-4222-8333-444455556666",
                                 "cpus": 2, "cpu_mhz": 1500, "memory_mib": 256}
    fields.update(changes)
    return DomainSpec(**fields)  # type: ignore[arg-type]


def test_domain_basics() -> None:
    root = ET.fromstring(dx.build_domain_xml(_spec(), _layout()))
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "i-2-5-VM"
    assert root.findtext("uuid") == "0b6a1d2e-1111-4222-8333-444455556666"
    assert root.findtext("vcpu") == "2"
    memory = root.find("memory")
    assert memory is not None and (memory.text, memory.get("unit")) == ("256", "MiB")
    assert root.find("features/acpi") is not None
    assert root.findtext("os/type") == "hvm"
    assert root.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]
    assert root.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]


def test_direct_kernel_boot() -> None:
    spec = _spec(boot=BootSpec("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0"))
    root = ET.fromstring(dx.build_domain_xml(spec, _layout()))
    assert root.findtext("os/kernel") == "/boot/vmlinuz"
    assert root.findtext("os/initrd") == "/boot/initrd.img"
    assert root.findtext("os/cmdline") == "console=ttyS0"
    assert root.find("os/boot") is None


def test_disks_nics_and_console() -> None:
    xml = dx.build_domain_xml(_spec(), _layout())
    disks = dx.domain_disks(xml)
    assert [(d.sid, d.target, d.serial, d.fmt, d.readonly) for d in disks] == [
        ("vol-1", "vda", "ROOT-1", "qcow2", False), ("", dx.SEED_TARGET, "cidata", "raw", True)]
    assert disks[0].alias == "ua-vol-1"
    root = ET.fromstring(xml)
    nics = root.findall("devices/interface")
    assert [n.get("type") for n in nics] == ["network", "bridge", "user"]
    assert nics[0].find("source").get("network") == "guestnet"  # type: ignore[union-attr]
    assert nics[1].find("source").get("bridge") == "br0"  # type: ignore[union-attr]
    assert nics[2].find("mac").get("address") == "02:00:00:00:00:03"  # type: ignore[union-attr]
    assert all(n.find("model").get("type") == "virtio" for n in nics)  # type: ignore[union-attr]
    log = root.find("devices/serial/log")
    assert log is not None and log.get("append") == "off"
    assert dx.console_log_path(xml) == "/var/log/libvirt/qemu/i-1.console.log"
    assert root.find("devices/console") is not None


def test_ownership_round_trip() -> None:
    own = dx.ownership(dx.build_domain_xml(_spec(), _layout()))
    assert own == _layout().ownership
    assert dx.ownership("<domain type='qemu'><name>x</name></domain>") == dx.Ownership()


def test_ownership_survives_libvirts_reformatting() -> None:
    """libvirt re-emits the namespace on <metadata>; reading must not care."""
    xml = (f"<domain><metadata xmlns:nimbostack='{dx.NS}'><nimbostack:domain>"
           "<nimbostack:owned-disk path='/a/v.qcow2'/></nimbostack:domain></metadata></domain>")
    assert dx.ownership(xml).owned_paths == ("/a/v.qcow2",)


@pytest.mark.parametrize(("slot", "target"),
                         [(0, "vda"), (1, "vdb"), (25, "vdz"), (26, "vdaa"), (27, "vdab")])
def test_targets(slot: int, target: str) -> None:
    assert dx.target_for(slot) == target


def test_free_target_and_disk_edits() -> None:
    xml = dx.build_domain_xml(_spec(), _layout())
    assert dx.free_target(xml, 0) == "vdb"
    assert dx.free_target(xml, 3) == "vdd"
    added = dx.with_disk(xml, dx.DiskDevice(path="/p/vol-2.qcow2", target="vdb", serial="D"))
    assert [d.sid for d in dx.domain_disks(added)] == ["vol-1", "", "vol-2"]
    assert ET.fromstring(added).find("devices")[2].tag == "disk"  # type: ignore[index]
    assert [d.sid for d in dx.domain_disks(dx.without_disk(added, "/p/vol-1.qcow2"))] == [
        "", "vol-2"]


def test_names() -> None:
    assert dx.volume_name("vol-1") == "vol-1.qcow2"
    assert dx.disk_sid_of("/x/y/vol-1.qcow2") == "vol-1"
    assert dx.disk_sid_of("/x/y/t.base") == ""
    assert dx.alias_for("vol-1") == "ua-vol-1"
    assert dx.alias_for("weird sid/") == ""
    assert "serial" not in dx.disk_xml(dx.DiskDevice(path="/a.qcow2", target="vdc"))
