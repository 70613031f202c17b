"""Pure builders and disk naming of the vSphere driver (pyVmomi data objects, no network)."""

from __future__ import annotations

import base64
import json

import pytest

pytest.importorskip("pyVmomi")

from pyVmomi import vim

from engine.hypervisors.base import MIB, DiskSpec, DomainSpec
from engine.hypervisors.vmware import specs


def _spec(**changes: object) -> DomainSpec:
    fields: dict[str, object] = {
        "name": "i-2-5-VM", "uuid": "0d9c6b6e-5f55-4a43-9a43-58a8a3b3c0de", "cpus": 2,
        "cpu_mhz": 1000, "memory_mib": 256,
        "disks": (DiskSpec(disk_sid="vol-1", device_id=0, size_bytes=64 * MIB),),
        "user_data": b"#cloud-config\n", "metadata": {"instance-sid": "abc"},
    }
    return DomainSpec(**{**fields, **changes})  # type: ignore[arg-type]


def test_disk_paths_and_ownership() -> None:
    assert specs.volume_path("ds1", "vol-9") == "[ds1] nimbostack-volumes/vol-9.vmdk"
    assert specs.own_disk_path("ds1", "i-2-5-VM", "vol-1") == "[ds1] i-2-5-VM/vol-1.vmdk"
    assert specs.is_data_volume("[ds1] nimbostack-volumes/vol-9.vmdk")
    assert not specs.is_data_volume("[ds1] i-2-5-VM/vol-1.vmdk")
    assert specs.split_path("[my ds] a/b.vmdk") == ("my ds", "a/b.vmdk")


def test_disk_sid_comes_from_the_map_else_the_file_name() -> None:
    names = {"[ds] vm/vm.vmdk": "vol-root"}
    assert specs.disk_sid_of("[ds] vm/vm.vmdk", names) == "vol-root"
    assert specs.disk_sid_of("[ds] vm/vol-7.vmdk", names) == "vol-7"


def test_extra_config_reads_the_last_value_and_the_disk_map() -> None:
    opts = [vim.option.OptionValue(key=specs.DISKS_KEY, value="{}"),
            vim.option.OptionValue(key=specs.DISKS_KEY, value=json.dumps({"f": "s"}))]
    assert specs.disk_names(opts) == {"f": "s"}
    assert specs.disk_names([vim.option.OptionValue(key=specs.DISKS_KEY, value="[")]) == {}
    assert specs.extra_value(None, "x") is None


def test_guest_options_carry_uuid_user_data_and_metadata() -> None:
    spec = _spec()
    opts = {o.key: o.value for o in specs.guest_options(spec)}
    assert opts[specs.UUID_KEY] == spec.uuid
    assert base64.b64decode(opts["guestinfo.userdata"]) == b"#cloud-config\n"
    meta = json.loads(base64.b64decode(opts["guestinfo.metadata"]))
    assert meta == {"instance-id": spec.uuid, "local-hostname": "i-2-5-VM",
                    "instance-sid": "abc"}
    assert "guestinfo.userdata" not in {o.key for o in specs.guest_options(_spec(user_data=None))}


def test_config_spec() -> None:
    cfg = specs.config_spec(_spec(extra={"vmware": {"guest_id": "ubuntu64Guest"},
                                         "libvirt": {"x": 1}}), datastore="ds1")
    assert (cfg.name, cfg.numCPUs, cfg.memoryMB, cfg.guestId) == (
        "i-2-5-VM", 2, 256, "ubuntu64Guest")
    assert cfg.instanceUuid == "0d9c6b6e-5f55-4a43-9a43-58a8a3b3c0de"
    assert cfg.files.vmPathName == "[ds1]"
    assert specs.config_spec(_spec()).guestId == specs.DEFAULT_GUEST_ID


def test_add_disk_creates_thin_or_attaches_existing() -> None:
    new = specs.add_disk(key=-1, controller_key=1000, unit=2, file_name="[ds] a/b.vmdk",
                         size_bytes=64 * MIB + 1)
    assert (new.operation, new.fileOperation) == ("add", "create")
    assert new.device.capacityInKB == 64 * 1024 + 1  # rounded up to whole KiB
    assert new.device.backing.thinProvisioned is True
    existing = specs.add_disk(key=-1, controller_key=1000, unit=2, file_name="[ds] a/b.vmdk",
                              size_bytes=None)
    assert (existing.fileOperation, existing.device.capacityInKB) == (None, 0)


def test_remove_and_grow() -> None:
    disk = vim.vm.device.VirtualDisk(key=5, capacityInKB=1024)
    assert specs.remove_device(disk).fileOperation is None
    assert specs.remove_device(disk, destroy_file=True).fileOperation == "destroy"
    edit = specs.grow_disk(disk, 2 * MIB)
    assert (edit.operation, edit.device.capacityInKB) == ("edit", 2048)


def test_nic_on_a_standard_network_has_a_manual_mac() -> None:
    nic = specs.add_nic(key=-3, network=vim.Network("network-7"), mac="02:AB:00:00:00:01",
                        name="VM Network")
    assert isinstance(nic.device, vim.vm.device.VirtualVmxnet3)
    assert (nic.device.addressType, nic.device.macAddress) == ("manual", "02:ab:00:00:00:01")
    assert nic.device.backing.deviceName == "VM Network"
    assert nic.device.backing.network._moId == "network-7"


def test_free_unit_skips_the_controller_slot_and_taken_units() -> None:
    devices = [vim.vm.device.VirtualDisk(controllerKey=1000, unitNumber=u) for u in range(7)]
    assert specs.free_unit(devices, 1000) == 8
    assert specs.free_unit(devices, 1000, taken=[8, 9]) == 10
    assert specs.free_unit(devices, 2000) == 0
    full = [vim.vm.device.VirtualDisk(controllerKey=1, unitNumber=u) for u in range(16)]
    assert specs.free_unit(full, 1) is None
