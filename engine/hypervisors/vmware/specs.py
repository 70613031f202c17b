"""Pure builders of vSphere data objects (ConfigSpecs, device specs) and disk naming.

No network and no policy: callers decide what to build. pyVmomi data objects are
plain values, so everything here is unit-testable offline.

Disk naming (how the driver tells disks apart without a database):

* A disk the driver creates for a domain lives in the VM's directory as
  ``[DS] <vm name>/<disk_sid>.vmdk`` and belongs to the domain (removed with it).
* A data volume lives in ``[DS] nimbostack-volumes/<disk_sid>.vmdk`` and is only
  ever detached, never deleted, by domain operations.
* A disk snapshot is a full copy of the disk file (VirtualDiskManager) in
  ``[DS] nimbostack-snapshots/<snapshot_sid>.vmdk`` on the disk's datastore; it outlives
  the disk, and a copy of a snapshot is one more such file.
* Disks copied from a template keep vSphere's names; the VM's extraConfig key
  ``nimbostack.disks`` (JSON ``{file name: disk_sid}``) records which sid they carry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pyVmomi import vim

from engine.hypervisors.base import DomainSpec

VOLUME_DIR = "nimbostack-volumes"
SNAPSHOT_DIR = "nimbostack-snapshots"
UUID_KEY = "nimbostack.uuid"
DISKS_KEY = "nimbostack.disks"
DEFAULT_GUEST_ID = "otherLinux64Guest"
SCSI_RESERVED_UNIT = 7  # the controller's own unit
SCSI_UNITS = 16

Device = vim.vm.device
DeviceSpec = vim.vm.device.VirtualDeviceSpec


def kib(size_bytes: int) -> int:
    """Bytes to whole KiB, rounded up."""
    return -(-size_bytes // 1024)


def volume_path(datastore: str, disk_sid: str) -> str:
    return f"[{datastore}] {VOLUME_DIR}/{disk_sid}.vmdk"


def snapshot_path(datastore: str, snapshot_sid: str) -> str:
    return f"[{datastore}] {SNAPSHOT_DIR}/{snapshot_sid}.vmdk"


def partial_path(file_name: str) -> str:
    """Where a disk copy is written before it is renamed to ``file_name``."""
    return file_name.removesuffix(".vmdk") + ".partial.vmdk"


def own_disk_path(datastore: str, vm_name: str, disk_sid: str) -> str:
    return f"[{datastore}] {vm_name}/{disk_sid}.vmdk"


def split_path(file_name: str) -> tuple[str, str]:
    """``"[ds] dir/x.vmdk"`` -> ``("ds", "dir/x.vmdk")``."""
    if file_name.startswith("[") and "]" in file_name:
        ds, _, rest = file_name[1:].partition("]")
        return ds, rest.strip()
    return "", file_name


def is_data_volume(file_name: str) -> bool:
    """True for a disk in the data volume directory (kept when its domain goes)."""
    return split_path(file_name)[1].startswith(VOLUME_DIR + "/")


def disk_sid_of(file_name: str, names: Mapping[str, str]) -> str:
    """The engine's sid of the disk stored in ``file_name``."""
    if file_name in names:
        return names[file_name]
    base = split_path(file_name)[1].rsplit("/", 1)[-1]
    return base.removesuffix(".vmdk")


def extra_value(options: Iterable[Any] | None, key: str) -> str | None:
    """The last value of ``key`` in an extraConfig list (vcsim appends, never replaces)."""
    value = None
    for opt in options or ():
        if opt.key == key:
            value = opt.value
    return value


def disk_names(options: Iterable[Any] | None) -> dict[str, str]:
    raw = extra_value(options, DISKS_KEY)
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def guest_options(spec: DomainSpec) -> list[Any]:
    """extraConfig for a new domain: its uuid marker, and user data + metadata as
    ``guestinfo.*`` keys (base64), the convention of cloud-init's VMware datasource."""
    meta = {"instance-id": spec.uuid, "local-hostname": spec.name, **dict(spec.metadata)}
    pairs = [(UUID_KEY, spec.uuid),
             ("guestinfo.metadata", _b64(json.dumps(meta, sort_keys=True).encode())),
             ("guestinfo.metadata.encoding", "base64")]
    if spec.user_data:
        pairs += [("guestinfo.userdata", _b64(spec.user_data)),
                  ("guestinfo.userdata.encoding", "base64")]
    return [vim.option.OptionValue(key=k, value=v) for k, v in pairs]


def scsi_controller(key: int, bus: int = 0) -> Any:
    """Add a paravirtual SCSI controller with the (negative, temporary) ``key``."""
    ctl = Device.ParaVirtualSCSIController(key=key, busNumber=bus, sharedBus="noSharing")
    return DeviceSpec(operation="add", device=ctl)


def add_disk(*, key: int, controller_key: int, unit: int, file_name: str,
             size_bytes: int | None) -> Any:
    """Add a disk: created thin with ``size_bytes``, or the existing file when None."""
    create = size_bytes is not None
    backing = Device.VirtualDisk.FlatVer2BackingInfo(
        fileName=file_name, diskMode="persistent", thinProvisioned=True if create else None)
    size_kib = kib(size_bytes) if size_bytes is not None else 0  # 0: the file's own size
    disk = Device.VirtualDisk(key=key, controllerKey=controller_key, unitNumber=unit,
                              backing=backing, capacityInKB=size_kib,
                              capacityInBytes=size_kib * 1024 if create else None)
    return DeviceSpec(operation="add", device=disk, fileOperation="create" if create else None)


def remove_device(device: Any, *, destroy_file: bool = False) -> Any:
    """Remove a device; with ``destroy_file`` also delete a disk's file."""
    return DeviceSpec(operation="remove", device=device,
                      fileOperation="destroy" if destroy_file else None)


def grow_disk(device: Any, size_bytes: int) -> Any:
    """Edit a disk to ``size_bytes`` (callers check it only grows)."""
    device.capacityInKB = kib(size_bytes)
    device.capacityInBytes = kib(size_bytes) * 1024
    return DeviceSpec(operation="edit", device=device)


def add_nic(*, key: int, network: Any, mac: str, name: str | None = None) -> Any:
    """A vmxnet3 NIC with a fixed (manual) MAC on a standard or distributed port group.

    ``name`` is a standard network's name (read from ``network`` when not given)."""
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        switch: Any = network.config.distributedVirtualSwitch
        port = vim.dvs.PortConnection(switchUuid=switch.uuid, portgroupKey=network.key)
        backing: Any = Device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
    else:
        backing = Device.VirtualEthernetCard.NetworkBackingInfo(
            deviceName=name if name is not None else network.name, network=network)
    nic = Device.VirtualVmxnet3(
        key=key, addressType="manual", macAddress=mac.lower(), backing=backing,
        connectable=Device.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True))
    return DeviceSpec(operation="add", device=nic)


def free_unit(devices: Iterable[Any], controller_key: int, taken: Iterable[int] = ()) -> int | None:
    """The lowest free unit number on a SCSI controller, or None if it is full."""
    used = {d.unitNumber for d in devices if getattr(d, "controllerKey", None) == controller_key}
    used |= set(taken) | {SCSI_RESERVED_UNIT}
    return next((u for u in range(SCSI_UNITS) if u not in used), None)


def config_spec(spec: DomainSpec, *, datastore: str | None = None,
                devices: Iterable[Any] = (), extra: Iterable[Any] = ()) -> Any:
    """The ConfigSpec of a new domain (name, uuid, CPU, memory, guestinfo, devices).

    ``datastore`` is where the VM's files go (CreateVM needs it; clones inherit one).
    """
    options = spec.extra.get("vmware", {})
    cfg = vim.vm.ConfigSpec(
        name=spec.name, instanceUuid=spec.uuid, numCPUs=spec.cpus, memoryMB=spec.memory_mib,
        guestId=str(options.get("guest_id", DEFAULT_GUEST_ID)),
        extraConfig=guest_options(spec) + list(extra), deviceChange=list(devices))
    if datastore is not None:
        cfg.files = vim.vm.FileInfo(vmPathName=f"[{datastore}]")
    return cfg
