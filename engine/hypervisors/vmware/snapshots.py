"""Disk snapshots as whole-disk copies made by the VirtualDiskManager.

vSphere's own snapshots belong to a VM and go with it; the engine's outlive their
disk, so a snapshot here is a full copy of the disk file in ``specs.SNAPSHOT_DIR`` on
the disk's datastore (see ``specs``), and a copy of a snapshot is one more such file.
A running VM's disk is copied under a temporary VM snapshot (no memory, no quiescing:
crash-consistent), which freezes the file being copied; the VM snapshot is removed
(consolidated) afterwards. Copies are written under a ``.partial`` name and then
renamed (MoveVirtualDisk_Task), so a file with its final name is always complete and
"the snapshot exists" is a plain file-exists test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from pyVmomi import vim

from engine.errors import DriverError, EngineError, IncorrectState, NotFound, ResourceKind
from engine.hypervisors.base import DomainRef, PowerState
from engine.hypervisors.vmware import specs, vms
from engine.hypervisors.vmware.inventory import Placement, pick_datastore
from engine.hypervisors.vmware.session import DRIVER, VsphereSession


def _datastores(place: Placement, pool_url: str | None) -> list[Any]:
    """The datastores to search, the pool's own first."""
    first = pick_datastore(place, pool_url) if pool_url else None
    rest = [d for d in place.datastores if first is None or d._moId != first._moId]
    return ([first] if first is not None else []) + rest


def _find(session: VsphereSession, place: Placement, name_of: Callable[[str], str],
          pool_url: str | None) -> tuple[Any, str] | None:
    """``(datastore, file name)`` of the first datastore holding ``name_of(ds name)``."""
    for ds in _datastores(place, pool_url):
        path = name_of(ds.name)
        if vms.file_exists(session, place, ds, path):
            return ds, path
    return None


def _datastore(place: Placement, file_name: str) -> Any:
    name = specs.split_path(file_name)[0]
    found = next((d for d in place.datastores if d.name == name), None)
    if found is None:
        raise DriverError(DRIVER, "snapshot a disk", f"datastore {name!r} is not on the host")
    return found


def disk_file(session: VsphereSession, place: Placement, ref: DomainRef | None, disk_sid: str,
              pool_url: str | None) -> tuple[str, dict[str, Any] | None]:
    """``(file name, VM properties or None)`` of a disk of ``ref``, or of the free data
    volume ``disk_sid`` when ``ref`` is None. ``NotFound`` without the VM or the disk."""
    if ref is not None:
        props = vms.read(session, place, ref)
        if props is None:
            raise NotFound(ResourceKind.INSTANCE, ref.ref)
        for sid, device in vms.disk_sids(props):
            if sid == disk_sid:
                return str(device.backing.fileName), props
        raise NotFound(ResourceKind.VOLUME, disk_sid)
    found = _find(session, place, lambda ds: specs.volume_path(ds, disk_sid), pool_url)
    if found is None:
        raise NotFound(ResourceKind.VOLUME, disk_sid)
    return found[1], None


def copy_file(session: VsphereSession, place: Placement, source: str, dest: str, op: str,
              ident: str, *, overwrite: bool = False, dest_ident: str | None = None) -> None:
    """Copy the disk ``source`` to ``dest`` through a partial file moved into
    place at the end, so ``dest`` is complete or untouched afterwards (a new
    file, or with ``overwrite`` one replaced whole). Errors of the copy name
    ``ident``, those of the move ``dest_ident`` (default ``ident``)."""
    dc, manager = place.datacenter, session.content.virtualDiskManager
    partial = specs.partial_path(dest)
    moved = dest_ident or ident
    session.run(op, ident, manager.CopyVirtualDisk_Task, sourceName=source,
                sourceDatacenter=dc, destName=partial, destDatacenter=dc, force=True)
    try:
        session.run(op, moved, manager.MoveVirtualDisk_Task, sourceName=partial,
                    sourceDatacenter=dc, destName=dest, destDatacenter=dc, force=overwrite)
    except BaseException:
        with contextlib.suppress(EngineError):
            delete_file(session, place, partial, op, moved)
        raise


def delete_file(session: VsphereSession, place: Placement, file_name: str, op: str,
                ident: str) -> None:
    """Delete a disk file; a missing one is fine."""
    manager = session.content.virtualDiskManager
    try:
        session.run(op, ident, manager.DeleteVirtualDisk_Task, name=file_name,
                    datacenter=place.datacenter)
    except NotFound:
        pass


def snapshot(session: VsphereSession, place: Placement, ref: DomainRef | None, disk_sid: str,
             snapshot_sid: str, pool_url: str | None) -> None:
    """Copy the disk into the snapshot ``snapshot_sid`` (no-op if it exists)."""
    op = "snapshot a disk"
    source, props = disk_file(session, place, ref, disk_sid, pool_url)
    ds = _datastore(place, source)
    dest = specs.snapshot_path(ds.name, snapshot_sid)
    if vms.file_exists(session, place, ds, dest):
        return
    vms.ensure_directory(session, place, ds, specs.SNAPSHOT_DIR)
    if ref is None or props is None or props.get("runtime.powerState") == "poweredOff":
        copy_file(session, place, source, dest, op, snapshot_sid)
        return
    vm = vms.vm_object(session, ref)
    frozen = session.run(op, ref.ref, vm.CreateSnapshot_Task, name=f"nimbostack {snapshot_sid}",
                         description="temporary: the disk is being copied",
                         memory=False, quiesce=False)
    try:
        copy_file(session, place, source, dest, op, snapshot_sid)
    finally:
        session.run(op, ref.ref, frozen.RemoveSnapshot_Task, removeChildren=False,
                    consolidate=True)


def copy(session: VsphereSession, place: Placement, snapshot_sid: str, new_snapshot_sid: str,
         pool_url: str | None) -> None:
    """Copy the snapshot file next to itself; ``NotFound(SNAPSHOT)`` without it."""
    op = "copy a disk snapshot"
    found = _find(session, place, lambda ds: specs.snapshot_path(ds, snapshot_sid), pool_url)
    if found is None:
        raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
    ds, source = found
    dest = specs.snapshot_path(ds.name, new_snapshot_sid)
    if not vms.file_exists(session, place, ds, dest):
        copy_file(session, place, source, dest, op, new_snapshot_sid)


def delete(session: VsphereSession, place: Placement, snapshot_sid: str,
           pool_url: str | None) -> None:
    """Delete the snapshot file (and a leftover partial copy) wherever it is."""
    op = "delete a disk snapshot"
    for ds in _datastores(place, pool_url):
        path = specs.snapshot_path(ds.name, snapshot_sid)
        for name in (path, specs.partial_path(path)):
            if vms.file_exists(session, place, ds, name):
                delete_file(session, place, name, op, snapshot_sid)


def clone_into(session: VsphereSession, place: Placement, snapshot_sid: str, dest: str,
               pool_url: str | None) -> None:
    """Copy the snapshot into the new disk file ``dest``; ``NotFound(SNAPSHOT)`` without it."""
    found = _find(session, place, lambda ds: specs.snapshot_path(ds, snapshot_sid), pool_url)
    if found is None:
        raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
    copy_file(session, place, found[1], dest, "create a disk from a snapshot", snapshot_sid)


def find(session: VsphereSession, place: Placement, snapshot_sid: str,
         pool_url: str | None) -> str:
    """The file name of snapshot ``snapshot_sid``; ``NotFound(SNAPSHOT)`` without it."""
    found = _find(session, place, lambda ds: specs.snapshot_path(ds, snapshot_sid), pool_url)
    if found is None:
        raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
    return found[1]


def revert(session: VsphereSession, place: Placement, ref: DomainRef | None, disk_sid: str,
           snapshot_sid: str, pool_url: str | None) -> None:
    """Put the snapshot's content back into the disk file (see the module docstring).

    A free volume that a VM holds after all is reverted as that VM's disk. The VM must
    be powered off (``IncorrectState``). Repeating a revert redoes the same copy."""
    op = "revert a disk"
    target, props = disk_file(session, place, ref, disk_sid, pool_url)
    if ref is None:
        holder = vms.holder_of(session, place, target)
        if holder is not None:
            ref = DomainRef(holder[0]._moId)
            target, props = disk_file(session, place, ref, disk_sid, pool_url)
    if ref is not None and props is not None and \
            props.get("runtime.powerState") != "poweredOff":
        raise IncorrectState(ResourceKind.INSTANCE, ref.ref, vms.power_of(props),
                             [PowerState.STOPPED])
    source = find(session, place, snapshot_sid, pool_url)
    copy_file(session, place, source, target, op, snapshot_sid, overwrite=True,
              dest_ident=disk_sid)
    if ref is not None and props is not None:
        _reload_capacity(session, place, ref, props, disk_sid, target)


def _reload_capacity(session: VsphereSession, place: Placement, ref: DomainRef,
                     props: dict[str, Any], disk_sid: str, file_name: str) -> None:
    """Re-add the VM's device of ``file_name`` when the file's capacity is known and
    differs from the device's (a device edit cannot shrink a disk)."""
    device = next((d for sid, d in vms.disk_sids(props) if sid == disk_sid), None)
    capacity = vms.disk_capacity_kib(session, place, _datastore(place, file_name), file_name)
    if device is None or capacity is None or capacity == (device.capacityInKB or 0):
        return
    again = specs.add_disk(key=-1, controller_key=device.controllerKey,
                           unit=device.unitNumber, file_name=file_name, size_bytes=None)
    vm = vms.vm_object(session, ref)
    session.run("revert a disk", disk_sid, vm.ReconfigVM_Task, spec=vim.vm.ConfigSpec(
        deviceChange=[specs.remove_device(device), again]))
