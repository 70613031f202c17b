"""Attaching, detaching and growing disks of a domain (ReconfigVM_Task)."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from engine.errors import DriverError, InUse, InvalidParameter, NotFound, ResourceKind
from engine.hypervisors.base import DiskSpec, DomainRef
from engine.hypervisors.vmware import snapshots, specs, vms
from engine.hypervisors.vmware.domains import CONTROLLER_KEY
from engine.hypervisors.vmware.inventory import Placement, pick_datastore
from engine.hypervisors.vmware.session import DRIVER, VsphereSession

MAX_SCSI_BUSES = 4


def _require(session: VsphereSession, place: Placement, ref: DomainRef) -> dict[str, Any]:
    props = vms.read(session, place, ref)
    if props is None:
        raise NotFound(ResourceKind.INSTANCE, ref.ref)
    return props


def _slot(devices: list[Any]) -> tuple[int, int, list[Any]]:
    """``(controller key, unit, extra device specs)`` for one more disk."""
    controllers = sorted((d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)),
                         key=lambda c: c.busNumber)
    for ctl in controllers:
        unit = specs.free_unit(devices, ctl.key)
        if unit is not None:
            return ctl.key, unit, []
    bus = len(controllers)
    if bus >= MAX_SCSI_BUSES:
        raise DriverError(DRIVER, "attach a disk", "no free SCSI slot")
    return CONTROLLER_KEY, 0, [specs.scsi_controller(CONTROLLER_KEY, bus)]


def attach(session: VsphereSession, place: Placement, ref: DomainRef, disk: DiskSpec,
           pools: dict[str, str]) -> None:
    """Attach the data volume ``disk.disk_sid``; if new, it is created in the volume
    directory, blank or as a copy of ``disk.source_snapshot`` grown to ``disk.size_bytes``."""
    props = _require(session, place, ref)
    if any(sid == disk.disk_sid for sid, _ in vms.disk_sids(props)):
        return
    ds = pick_datastore(place, pools.get(disk.pool_ref or ""))
    path = specs.volume_path(ds.name, disk.disk_sid)
    exists = vms.file_exists(session, place, ds, path)
    if exists:
        holder = vms.holder_of(session, place, path)
        if holder is not None:
            raise InUse(ResourceKind.VOLUME, disk.disk_sid, holder[1])
    else:
        vms.ensure_directory(session, place, ds, specs.VOLUME_DIR)
        if disk.source_snapshot:
            snapshots.clone_into(session, place, disk.source_snapshot, path,
                                 pools.get(disk.pool_ref or ""))
            exists = True
    devices = list(props.get("config.hardware.device") or ())
    ctl_key, unit, extra = _slot(devices)
    add = specs.add_disk(key=-1, controller_key=ctl_key, unit=unit, file_name=path,
                         size_bytes=None if exists else disk.size_bytes)
    vm = vms.vm_object(session, ref)
    session.run("attach a disk", disk.disk_sid, vm.ReconfigVM_Task,
                spec=vim.vm.ConfigSpec(deviceChange=[*extra, add]))
    if disk.source_snapshot:
        resize(session, place, ref, disk.disk_sid, disk.size_bytes, grow_only=True)


def detach(session: VsphereSession, place: Placement, ref: DomainRef, disk_sid: str) -> None:
    """Detach a disk, keeping its file. ``NotFound(VOLUME)`` if the VM has no such disk."""
    props = _require(session, place, ref)
    device = next((d for sid, d in vms.disk_sids(props) if sid == disk_sid), None)
    if device is None:
        raise NotFound(ResourceKind.VOLUME, disk_sid)
    vm = vms.vm_object(session, ref)
    session.run("detach a disk", disk_sid, vm.ReconfigVM_Task,
                spec=vim.vm.ConfigSpec(deviceChange=[specs.remove_device(device)]))


def resize(session: VsphereSession, place: Placement, ref: DomainRef | None, disk_sid: str,
           size_bytes: int, *, grow_only: bool = False) -> None:
    """Grow an attached disk (edit), or a free data volume (ExtendVirtualDisk_Task).

    ``InvalidParameter`` for a smaller size, unless ``grow_only`` (then a no-op)."""
    if ref is None:
        path = next((specs.volume_path(ds.name, disk_sid) for ds in place.datastores
                     if vms.file_exists(session, place, ds,
                                        specs.volume_path(ds.name, disk_sid))), None)
        if path is None:
            raise NotFound(ResourceKind.VOLUME, disk_sid)
        manager = session.content.virtualDiskManager
        session.run("resize a disk", disk_sid, manager.ExtendVirtualDisk_Task, name=path,
                    datacenter=place.datacenter, newCapacityKb=specs.kib(size_bytes),
                    eagerZero=False)
        return
    props = _require(session, place, ref)
    device = next((d for sid, d in vms.disk_sids(props) if sid == disk_sid), None)
    if device is None:
        raise NotFound(ResourceKind.VOLUME, disk_sid)
    current = (device.capacityInKB or 0) * 1024
    if size_bytes == current or (grow_only and size_bytes < current):
        return
    if size_bytes < current:
        raise InvalidParameter("size", size_bytes, f"disks only grow (now {current} bytes)")
    vm = vms.vm_object(session, ref)
    session.run("resize a disk", disk_sid, vm.ReconfigVM_Task,
                spec=vim.vm.ConfigSpec(deviceChange=[specs.grow_disk(device, size_bytes)]))
