"""Reading VMs: power states, devices, disk sids, who holds a disk file."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from engine.errors import DriverError, NotFound
from engine.hypervisors.base import DomainRef, PowerState
from engine.hypervisors.vmware import specs
from engine.hypervisors.vmware.inventory import Placement
from engine.hypervisors.vmware.session import VsphereSession

POWER = {"poweredOn": PowerState.RUNNING, "poweredOff": PowerState.STOPPED,
         "suspended": PowerState.PAUSED}
STATE_PATHS = ("name", "runtime.powerState", "runtime.host", "config.hardware.numCPU",
               "config.hardware.memoryMB", "config.hardware.device", "config.extraConfig")


def power_of(props: dict[str, Any]) -> PowerState:
    return POWER.get(str(props.get("runtime.powerState")), PowerState.UNKNOWN)


def vm_object(session: VsphereSession, ref: DomainRef) -> Any:
    """The VirtualMachine managed object a ref names (no round trip)."""
    return vim.VirtualMachine(ref.ref, session.si._stub)


def read(session: VsphereSession, place: Placement, ref: DomainRef,
         paths: tuple[str, ...] = STATE_PATHS) -> dict[str, Any] | None:
    """Properties of the domain, or None when it is gone or runs on another host."""
    props = session.props(vm_object(session, ref), list(paths) + ["runtime.host"])
    if props is None:
        return None
    host = props.get("runtime.host")
    if host is None or host._moId != place.host_id:
        return None
    return props


def disks(props: dict[str, Any]) -> list[Any]:
    """The VM's virtual disks, ordered by controller and unit."""
    found = [d for d in props.get("config.hardware.device") or ()
             if isinstance(d, vim.vm.device.VirtualDisk)]
    return sorted(found, key=lambda d: (d.controllerKey, d.unitNumber or 0))


def disk_sids(props: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(disk_sid, device)`` of every disk of the VM."""
    names = specs.disk_names(props.get("config.extraConfig"))
    return [(specs.disk_sid_of(d.backing.fileName, names), d) for d in disks(props)]


def on_host(session: VsphereSession, place: Placement) -> list[tuple[Any, dict[str, Any]]]:
    """``(vm, props)`` of the VMs (not templates) that run on the managed host."""
    found = session.collect(place.folder, vim.VirtualMachine,
                            ["name", "runtime.powerState", "runtime.host", "config.template",
                             "config.hardware.memoryMB"])
    return [(vm, p) for vm, p in found
            if p.get("runtime.host") is not None and p["runtime.host"]._moId == place.host_id
            and not p.get("config.template")]


def holder_of(session: VsphereSession, place: Placement, file_name: str) -> tuple[Any, str] | None:
    """``(vm, name)`` of the VM that has ``file_name`` attached, if any."""
    for vm, props in session.collect(place.folder, vim.VirtualMachine,
                                     ["name", "config.hardware.device"]):
        for device in props.get("config.hardware.device") or ():
            backing = getattr(device, "backing", None)
            if isinstance(device, vim.vm.device.VirtualDisk) and \
                    getattr(backing, "fileName", None) == file_name:
                return vm, str(props.get("name", ""))
    return None


def file_exists(session: VsphereSession, place: Placement, datastore: Any,
                file_name: str) -> bool:
    """True if ``[ds] dir/name`` exists (datastore browser search of its directory)."""
    ds_name, path = specs.split_path(file_name)
    folder, _, base = path.rpartition("/")
    spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=[base])
    try:
        result = session.wait(datastore.browser.SearchDatastore_Task(f"[{ds_name}] {folder}",
                                                                      spec), "find a disk")
    except (NotFound, DriverError):  # a missing directory means a missing file
        return False
    return any(f.path == base for f in getattr(result, "file", None) or ())


def ensure_directory(session: VsphereSession, place: Placement, datastore: Any,
                     folder: str) -> None:
    """Create ``[ds] folder`` if it does not exist."""
    try:
        session.content.fileManager.MakeDirectory(
            name=f"[{datastore.name}] {folder}", datacenter=place.datacenter,
            createParentDirectories=True)
    except vim.fault.FileAlreadyExists:
        pass


def disk_capacity_kib(session: VsphereSession, place: Placement, datastore: Any,
                      file_name: str) -> int | None:
    """The capacity (KiB) of the virtual disk file ``[ds] dir/name.vmdk`` as the datastore
    browser reports it (VmDiskFileQuery), or None when it does not (vcsim)."""
    ds_name, path = specs.split_path(file_name)
    folder, _, base = path.rpartition("/")
    query = vim.host.DatastoreBrowser.VmDiskQuery(
        details=vim.host.DatastoreBrowser.VmDiskQuery.Details(capacityKb=True))
    spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=[base], query=[query])
    try:
        result = session.wait(datastore.browser.SearchDatastore_Task(f"[{ds_name}] {folder}",
                                                                      spec), "size a disk")
    except (NotFound, DriverError):
        return None
    for found in getattr(result, "file", None) or ():
        capacity = getattr(found, "capacityKb", None)
        if found.path == base and capacity:
            return int(capacity)
    return None
