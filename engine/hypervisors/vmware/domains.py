"""Defining and removing domains (VMs) on the managed host."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from engine.errors import DriverError, EngineError, InUse, NotFound, ResourceKind
from engine.hypervisors.base import DiskSpec, DomainRef, DomainSpec
from engine.hypervisors.vmware import snapshots, specs, vms
from engine.hypervisors.vmware.inventory import (
    Placement,
    find_template,
    find_vm,
    pick_datastore,
    pick_network,
)
from engine.hypervisors.vmware.session import DRIVER, VsphereSession, faults

CONTROLLER_KEY = -100


@dataclass(frozen=True)
class DiskPlan:
    """How ``define`` provides a disk it does not clone from a template: attach a data
    volume, create a blank one, or (``snapshot``: that snapshot's file) copy a snapshot
    into the VM's directory once the VM exists."""

    disk: DiskSpec
    file_name: str
    create: bool
    snapshot: str | None = None


def _existing(session: VsphereSession, place: Placement, spec: DomainSpec) -> DomainRef | None:
    """The domain ``spec`` already defined (same uuid); DriverError if only its name is taken."""
    vm = find_vm(session, place, instance_uuid=spec.uuid)
    if vm is not None:
        return DomainRef(vm._moId)
    vm = find_vm(session, place, name=spec.name)
    if vm is None:
        return None
    props = session.props(vm, ["config.extraConfig"]) or {}
    if specs.extra_value(props.get("config.extraConfig"), specs.UUID_KEY) == spec.uuid:
        return DomainRef(vm._moId)
    raise DriverError(DRIVER, "define", f"another VM is already named {spec.name!r}")


def plan_disk(session: VsphereSession, place: Placement, disk: DiskSpec, vm_name: str,
              pools: dict[str, str]) -> DiskPlan:
    """Attach the data volume ``disk.disk_sid`` if it exists and is free (``InUse`` if
    another VM has it), else create a disk that belongs to the domain: a copy of
    ``disk.source_snapshot`` (``NotFound(SNAPSHOT)`` without it) or a blank one."""
    pool_url = pools.get(disk.pool_ref or "")
    ds = pick_datastore(place, pool_url)
    volume = specs.volume_path(ds.name, disk.disk_sid)
    if vms.file_exists(session, place, ds, volume):
        holder = vms.holder_of(session, place, volume)
        if holder is not None:
            raise InUse(ResourceKind.VOLUME, disk.disk_sid, holder[1])
        return DiskPlan(disk, volume, create=False)
    own = specs.own_disk_path(ds.name, vm_name, disk.disk_sid)
    if disk.source_snapshot:
        return DiskPlan(disk, own, create=True,
                        snapshot=snapshots.find(session, place, disk.source_snapshot, pool_url))
    return DiskPlan(disk, own, create=True)


def _disk_devices(plans: list[DiskPlan], controller_key: int, devices: list[Any],
                  first_key: int) -> tuple[list[Any], list[tuple[DiskPlan, int]]]:
    """Device specs of the plans that need no copy, and ``(plan, unit)`` of those that
    do: every plan gets its unit now, in order, so the root disk keeps the first one."""
    out: list[Any] = []
    later: list[tuple[DiskPlan, int]] = []
    taken: list[int] = []
    for i, plan in enumerate(plans):
        unit = specs.free_unit(devices, controller_key, taken)
        if unit is None:
            raise DriverError(DRIVER, "define", "too many disks for one SCSI controller")
        taken.append(unit)
        if plan.snapshot is not None:
            later.append((plan, unit))
            continue
        out.append(specs.add_disk(key=first_key - i, controller_key=controller_key, unit=unit,
                                  file_name=plan.file_name,
                                  size_bytes=plan.disk.size_bytes if plan.create else None))
    return out, later


def _add_copies(session: VsphereSession, place: Placement, ref: DomainRef, controller_key: int,
                later: list[tuple[DiskPlan, int]]) -> None:
    """Copy each snapshot into its disk file, attach the files, grow them to size."""
    made: list[str] = []
    try:
        changes = []
        for i, (plan, unit) in enumerate(later):
            ds = _datastore_of(place, plan.file_name)
            folder = specs.split_path(plan.file_name)[1].rpartition("/")[0]
            vms.ensure_directory(session, place, ds, folder)
            snapshots.copy_file(session, place, str(plan.snapshot), plan.file_name,
                                "create a disk from a snapshot", plan.disk.disk_sid)
            made.append(plan.file_name)
            changes.append(specs.add_disk(key=-400 - i, controller_key=controller_key,
                                          unit=unit, file_name=plan.file_name, size_bytes=None))
        session.run("define", ref.ref, vms.vm_object(session, ref).ReconfigVM_Task,
                    spec=vim.vm.ConfigSpec(deviceChange=changes))
    except BaseException:
        for name in made:  # not attached yet, so destroying the VM would not remove them
            with contextlib.suppress(EngineError):
                snapshots.delete_file(session, place, name, "define", ref.ref)
        raise
    _grow(session, ref, {plan.file_name: plan.disk.size_bytes for plan, _ in later})


def _grow(session: VsphereSession, ref: DomainRef, sizes: dict[str, int]) -> None:
    """Grow the VM's disks named in ``sizes`` (file name -> bytes) that are smaller."""
    vm = vms.vm_object(session, ref)
    props = session.props(vm, ["config.hardware.device"]) or {}
    changes = [specs.grow_disk(d, sizes[d.backing.fileName]) for d in vms.disks(props)
               if d.backing.fileName in sizes
               and sizes[d.backing.fileName] > (d.capacityInKB or 0) * 1024]
    if changes:
        session.run("define", ref.ref, vm.ReconfigVM_Task,
                    spec=vim.vm.ConfigSpec(deviceChange=changes))


def _datastore_of(place: Placement, file_name: str) -> Any:
    name = specs.split_path(file_name)[0]
    return next((d for d in place.datastores if d.name == name), place.datastores[0])


def _nic_devices(place: Placement, spec: DomainSpec, first_key: int) -> list[Any]:
    return [specs.add_nic(key=first_key - i, network=pick_network(place, nic.network_ref),
                          mac=nic.mac)
            for i, nic in enumerate(sorted(spec.nics, key=lambda n: n.device_id))]


def define(session: VsphereSession, place: Placement, spec: DomainSpec,
           pools: dict[str, str]) -> DomainRef:
    """Create the domain (powered off); see ``HypervisorDriver.define``."""
    found = _existing(session, place, spec)
    if found is not None:
        return found
    disks = sorted(spec.disks, key=lambda d: d.device_id)
    root = disks[0] if disks and disks[0].device_id == 0 else None
    template = find_template(session, place, root.source_image) \
        if root and not root.source_snapshot else None
    others = disks[1:] if template is not None else disks
    plans = [plan_disk(session, place, d, spec.name, pools) for d in others]
    root_ds = pick_datastore(place, pools.get((root.pool_ref if root else None) or ""))
    ref: DomainRef | None = None
    try:
        if template is None:
            ref = _create(session, place, spec, plans, root_ds)
        else:
            ref = _clone(session, place, spec, template, root_ds)
            _finish_clone(session, place, ref, spec, plans)
        _ensure_on_host(session, place, ref)
    except BaseException:
        if ref is not None:
            with contextlib.suppress(EngineError):
                destroy(session, place, ref)
        raise
    return ref


def _create(session: VsphereSession, place: Placement, spec: DomainSpec,
            plans: list[DiskPlan], ds: Any) -> DomainRef:
    disk_devices, later = _disk_devices(plans, CONTROLLER_KEY, [], -200)
    devices = [specs.scsi_controller(CONTROLLER_KEY), *disk_devices]
    devices += _nic_devices(place, spec, -300)
    cfg = specs.config_spec(spec, datastore=ds.name, devices=devices)
    vm = session.run("define", spec.name, place.folder.CreateVM_Task, config=cfg,
                     pool=place.pool, host=place.host)
    ref = DomainRef(vm._moId)
    if later:
        try:
            props = session.props(vm, ["config.hardware.device"]) or {}
            ctl = next(d for d in props.get("config.hardware.device") or ()
                       if isinstance(d, vim.vm.device.VirtualSCSIController))
            _add_copies(session, place, ref, ctl.key, later)
        except BaseException:
            with contextlib.suppress(EngineError):
                destroy(session, place, ref)
            raise
    return ref


def _clone(session: VsphereSession, place: Placement, spec: DomainSpec, template: Any,
           ds: Any) -> DomainRef:
    with faults("define", spec.name):
        old = template.config.hardware.device
    nics = [specs.remove_device(d) for d in old
            if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    cfg = specs.config_spec(spec, devices=nics + _nic_devices(place, spec, -300))
    clone = vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=place.pool, host=place.host, datastore=ds),
        powerOn=False, template=False, config=cfg)
    vm = session.run("define", spec.name, template.CloneVM_Task, folder=place.folder,
                     name=spec.name, spec=clone)
    return DomainRef(vm._moId)


def _finish_clone(session: VsphereSession, place: Placement, ref: DomainRef,
                  spec: DomainSpec, plans: list[DiskPlan]) -> None:
    """Name the copied root disk, grow it to the root size, add the other disks; set
    CPU and memory again (some vSphere versions, and vcsim, ignore them in a CloneSpec)."""
    root = min(spec.disks, key=lambda d: d.device_id)
    props = session.props(vms.vm_object(session, ref), ["config.hardware.device"]) or {}
    devices = list(props.get("config.hardware.device") or ())
    copied = vms.disks(props)
    changes: list[Any] = []
    names: dict[str, str] = {}
    if copied:
        first = copied[0]
        names[first.backing.fileName] = root.disk_sid
        if root.size_bytes > (first.capacityInKB or 0) * 1024:
            changes.append(specs.grow_disk(first, root.size_bytes))
    controllers = [d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)]
    if controllers:
        ctl_key = controllers[0].key
    else:
        ctl_key = CONTROLLER_KEY
        changes.append(specs.scsi_controller(CONTROLLER_KEY))
    disk_devices, later = _disk_devices(plans, ctl_key, devices, -200)
    changes += disk_devices
    cfg = vim.vm.ConfigSpec(numCPUs=spec.cpus, memoryMB=spec.memory_mib, deviceChange=changes,
                            extraConfig=[
        vim.option.OptionValue(key=specs.DISKS_KEY, value=json.dumps(names, sort_keys=True))])
    session.run("define", ref.ref, vms.vm_object(session, ref).ReconfigVM_Task, spec=cfg)
    if later:
        if ctl_key == CONTROLLER_KEY:  # the controller just added has its real key now
            props = session.props(vms.vm_object(session, ref), ["config.hardware.device"]) or {}
            ctl_key = next(d.key for d in props.get("config.hardware.device") or ()
                           if isinstance(d, vim.vm.device.VirtualSCSIController))
        _add_copies(session, place, ref, ctl_key, later)


def _ensure_on_host(session: VsphereSession, place: Placement, ref: DomainRef) -> None:
    """Move a VM that vSphere placed elsewhere in the cluster onto the managed host."""
    vm = vms.vm_object(session, ref)
    props = session.props(vm, ["runtime.host"]) or {}
    host = props.get("runtime.host")
    if host is None or host._moId != place.host_id:
        session.run("define", ref.ref, vm.RelocateVM_Task,
                    spec=vim.vm.RelocateSpec(host=place.host, pool=place.pool))


def destroy(session: VsphereSession, place: Placement, ref: DomainRef) -> None:
    """Power off, detach data volumes, delete the VM with its own disks. Idempotent."""
    props = vms.read(session, place, ref)
    if props is None:
        return
    vm = vms.vm_object(session, ref)
    try:
        if props.get("runtime.powerState") != "poweredOff":
            session.run("destroy", ref.ref, vm.PowerOffVM_Task)
        keep = [specs.remove_device(d) for d in vms.disks(props)
                if specs.is_data_volume(d.backing.fileName)]
        if keep:
            session.run("destroy", ref.ref, vm.ReconfigVM_Task,
                        spec=vim.vm.ConfigSpec(deviceChange=keep))
        session.run("destroy", ref.ref, vm.Destroy_Task)
    except NotFound:
        return
