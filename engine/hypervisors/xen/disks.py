"""``XenBase``: the session, lookups and the optional disk operations of ``XenDriver``.

A disk is a VDI whose ``other_config`` carries its ``disk_sid`` (see ``records``);
attaching is a VBD (plugged at once when the VM runs); snapshots are ``VDI.snapshot``
children that outlive their parent VDI, as on XenServer. A snapshot copy is a full
``VDI.copy`` of the snapshot VDI on the snapshot's SR: an independent VDI (no VHD
parent) that plays the snapshot role for the new sid. Reverting clones the snapshot
into a new VDI that takes the disk's place (its VBDs, sid and owner; VDIs do not
shrink, so the old VDI cannot be overwritten in place) and then destroys the old one.
"""

from __future__ import annotations

from typing import Any

import XenAPI  # type: ignore[import-untyped]

from engine.errors import (
    DriverError,
    IncorrectState,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
)
from engine.hypervisors.base import (
    Capability,
    DiskInfo,
    DiskSpec,
    DomainRef,
    HostConnection,
    HypervisorDriver,
    PowerState,
)
from engine.hypervisors.xen import records as rec
from engine.hypervisors.xen.errors import DRIVER, code, guarded
from engine.hypervisors.xen.session import XapiSession

_VOL, _VM = ResourceKind.VOLUME, ResourceKind.INSTANCE


class XenBase(HypervisorDriver):
    """Session handling and disk operations shared by the driver's operations."""

    name = DRIVER
    capabilities = frozenset({Capability.ATTACH_DISK, Capability.LIVE_ATTACH_DISK,
                              Capability.RESIZE_DISK, Capability.DATA_DISKS,
                              Capability.DISK_SNAPSHOT, Capability.COPY_DISK_SNAPSHOT,
                              Capability.REVERT_SNAPSHOT})

    def __init__(self, conn: HostConnection) -> None:
        super().__init__(conn)
        self.xapi = XapiSession(conn)
        self.where = self.xapi.url
        options = conn.extra.get("xenserver", {}) if conn.extra else {}
        self.task_timeout = float(options.get("task_timeout", 600.0))

    def close(self) -> None:
        self.xapi.logout()

    def call(self, method: str, *args: Any) -> Any:
        return self.xapi.call(method, *args)

    def record(self, cls: str, ref: str) -> dict[str, Any] | None:
        """The record, or None if the ref is gone (HANDLE_INVALID)."""
        if rec.is_null(ref):
            return None
        try:
            return self.call(f"{cls}.get_record", ref)  # type: ignore[no-any-return]
        except XenAPI.Failure as exc:
            if code(exc) == "HANDLE_INVALID":
                return None
            raise

    def vm_record(self, ref: DomainRef) -> dict[str, Any]:
        vm = self.record("VM", ref.ref)
        if vm is None or not rec.is_guest(vm):
            raise NotFound(_VM, ref.ref)
        return vm

    # -- lookups ---------------------------------------------------------------------

    def find_vdi(self, sid: str, key: str = rec.DISK_SID) -> tuple[str, dict[str, Any]] | None:
        """The VDI tagged ``key = sid`` (disks are also named by their sid)."""
        for ref in self.call("VDI.get_by_name_label", sid):
            vdi = self.record("VDI", ref)
            if vdi is not None and vdi.get("other_config", {}).get(key) == sid:
                return ref, vdi
        return None

    def vdi_holders(self, vdi: dict[str, Any]) -> list[tuple[str, str]]:
        """(vbd ref, vm ref) of every VBD using the VDI."""
        found = []
        for vbd_ref in vdi.get("VBDs", []):
            vbd = self.record("VBD", vbd_ref)
            if vbd is not None:
                found.append((vbd_ref, str(vbd["VM"])))
        return found

    def vm_name(self, vm_ref: str) -> str:
        vm = self.record("VM", vm_ref)
        return str(vm.get("name_label", vm_ref)) if vm else vm_ref

    def sr_for(self, pool_ref: str | None) -> str:
        """The SR for a storage pool uuid (through extra["storage_pools"]) or the default:
        the pool's default SR, else the host's largest local SR."""
        pools = self.conn.extra.get("storage_pools", {}) if self.conn.extra else {}
        srs: dict[str, Any] | None = None
        if pool_ref and pools.get(pool_ref):
            srs = self.call("SR.get_all_records")
            found = rec.sr_for_pool(pools[pool_ref], srs or {})
            if found:
                return found
        pool = self.call("pool.get_all")[0]
        default = self.call("pool.get_default_SR", pool)
        if not rec.is_null(default) and self.record("SR", default) is not None:
            return str(default)
        srs = srs or self.call("SR.get_all_records")
        local = rec.local_srs(self.call("pool.get_master", pool), srs or {},
                              self.call("PBD.get_all_records"))
        if not local:
            raise DriverError(DRIVER, "find storage", "the host has no SR for VM disks")
        return local[0]

    # -- creating disks ------------------------------------------------------------------

    def tag_vdi(self, vdi: str, disk: DiskSpec, owner: str | None) -> None:
        current = dict(self.call("VDI.get_other_config", vdi))
        for key in (rec.DISK_SID, rec.DISK_OWNER, rec.SNAPSHOT_SID, rec.COPY_OF, rec.SNAPSHOT_OF):
            current.pop(key, None)
        current[rec.DISK_SID] = disk.disk_sid
        if owner:
            current[rec.DISK_OWNER] = owner
        self.call("VDI.set_other_config", vdi, current)
        self.call("VDI.set_name_label", vdi, disk.disk_sid)
        self.call("VDI.set_name_description", vdi, disk.guest_serial)

    def grow(self, vdi: str, size_bytes: int) -> None:
        if size_bytes > int(self.call("VDI.get_virtual_size", vdi)):
            self.call("VDI.resize", vdi, str(size_bytes))

    def new_vdi(self, disk: DiskSpec, owner: str | None) -> str:
        """A VDI for ``disk``: a clone of its source snapshot, or blank."""
        if disk.source_snapshot:
            found = self.find_vdi(disk.source_snapshot, rec.SNAPSHOT_SID)
            if found is None:
                raise NotFound(ResourceKind.SNAPSHOT, disk.source_snapshot)
            vdi = str(self.xapi.run("VDI.clone", found[0], {}, timeout=self.task_timeout))
        else:
            vdi = str(self.call("VDI.create", {
                "name_label": disk.disk_sid, "name_description": disk.guest_serial,
                "SR": self.sr_for(disk.pool_ref), "virtual_size": str(disk.size_bytes),
                "type": "system" if disk.device_id == 0 else "user", "sharable": False,
                "read_only": False, "other_config": {}, "xenstore_data": {}, "sm_config": {},
                "tags": []}))
        try:
            self.tag_vdi(vdi, disk, owner)
            self.grow(vdi, disk.size_bytes)
        except BaseException:
            self.call("VDI.destroy", vdi)
            raise
        return vdi

    def plug_new_vbd(self, vm_ref: str, vdi: str, device_id: int, running: bool) -> str:
        vbd = str(self.call("VBD.create", {
            "VM": vm_ref, "VDI": vdi, "userdevice": str(device_id), "bootable": device_id == 0,
            "mode": "RW", "type": "Disk", "empty": False, "unpluggable": device_id != 0,
            "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}}))
        if running:
            self.call("VBD.plug", vbd)
        return vbd

    # -- optional operations -----------------------------------------------------------------

    @guarded("attach a disk")
    def attach_disk(self, ref: DomainRef, disk: DiskSpec) -> None:
        vm = self.vm_record(ref)
        found = self.find_vdi(disk.disk_sid)
        if found is None:
            vdi = self.new_vdi(disk, None)
        else:
            vdi, record = found
            holders = {vm_ref for _, vm_ref in self.vdi_holders(record)}
            if ref.ref in holders:
                return
            if holders:
                raise InUse(_VOL, disk.disk_sid, by=self.vm_name(holders.pop()))
        self.plug_new_vbd(ref.ref, vdi, disk.device_id, vm["power_state"] == "Running")

    @guarded("detach a disk")
    def detach_disk(self, ref: DomainRef, disk_sid: str) -> None:
        vm = self.vm_record(ref)
        found = self.find_vdi(disk_sid)
        vbds = [v for v, owner in self.vdi_holders(found[1]) if owner == ref.ref] if found else []
        if not found or not vbds:
            raise NotFound(_VOL, disk_sid)
        for vbd in vbds:
            record = self.call("VBD.get_record", vbd)
            if vm["power_state"] == "Running" and record["currently_attached"]:
                if record["userdevice"] == "0" or record["bootable"]:
                    raise InvalidParameter("disk_sid", disk_sid,
                                           "is the root disk of a running domain")
                self.call("VBD.unplug", vbd)
            self.call("VBD.destroy", vbd)
        self.call("VDI.remove_from_other_config", found[0], rec.DISK_OWNER)

    @guarded("resize a disk")
    def resize_disk(self, ref: DomainRef | None, disk_sid: str, size_bytes: int) -> None:
        found = self.find_vdi(disk_sid)
        if found is None:
            raise NotFound(_VOL, disk_sid)
        vdi, record = found
        current = int(record["virtual_size"])
        if size_bytes < current:
            raise InvalidParameter("size", size_bytes, f"smaller than the current {current}")
        if size_bytes == current:
            return
        live = any(self.call("VBD.get_currently_attached", v) for v, _ in self.vdi_holders(record))
        self.call("VDI.resize_online" if live else "VDI.resize", vdi, str(size_bytes))

    @guarded("create a disk")
    def create_disk(self, disk: DiskSpec) -> None:
        if self.find_vdi(disk.disk_sid) is None:
            self.new_vdi(disk, None)

    @guarded("delete a disk")
    def delete_disk(self, disk_sid: str, *, pool_ref: str | None = None) -> None:
        found = self.find_vdi(disk_sid)
        if found is None:
            return
        holders = self.vdi_holders(found[1])
        if holders:
            raise InUse(_VOL, disk_sid, by=self.vm_name(holders[0][1]))
        self.call("VDI.destroy", found[0])

    @guarded("describe a disk")
    def disk_info(self, disk_sid: str, *, pool_ref: str | None = None) -> DiskInfo:
        found = self.find_vdi(disk_sid)
        if found is None:
            raise NotFound(_VOL, disk_sid)
        holders = self.vdi_holders(found[1])
        fmt = found[1].get("sm_config", {}).get("image-format", "vhd")
        return DiskInfo(disk_sid, int(found[1]["virtual_size"]), fmt,
                        DomainRef(holders[0][1]) if holders else None)

    @guarded("snapshot a disk")
    def snapshot_disk(self, ref: DomainRef | None, disk_sid: str, snapshot_sid: str, *,
                      pool_ref: str | None = None) -> None:
        found = self.find_vdi(disk_sid)
        if found is None:
            raise NotFound(_VOL, disk_sid)
        existing = self.find_vdi(snapshot_sid, rec.SNAPSHOT_SID)
        if existing is not None:
            if not _snapshot_of(existing[1], found[0], disk_sid):
                raise InvalidParameter("snapshot_sid", snapshot_sid, "used by another disk")
            return
        snap = str(self.xapi.run("VDI.snapshot", found[0], {}, timeout=self.task_timeout))
        other = {k: v for k, v in self.call("VDI.get_other_config", snap).items()
                 if k not in (rec.DISK_SID, rec.DISK_OWNER)}
        other.update({rec.SNAPSHOT_SID: snapshot_sid, rec.SNAPSHOT_OF: disk_sid})
        self.call("VDI.set_other_config", snap, other)
        self.call("VDI.set_name_label", snap, snapshot_sid)

    @guarded("delete a disk snapshot")
    def delete_disk_snapshot(self, disk_sid: str, snapshot_sid: str, *,
                             pool_ref: str | None = None) -> None:
        found = self.find_vdi(snapshot_sid, rec.SNAPSHOT_SID)
        if found is not None:
            self.call("VDI.destroy", found[0])

    @guarded("revert a disk")
    def revert_disk_snapshot(self, ref: DomainRef | None, disk_sid: str, snapshot_sid: str, *,
                             pool_ref: str | None = None) -> None:
        if ref is not None:
            self.vm_record(ref)
        found = self.find_vdi(disk_sid)
        if found is None:
            raise NotFound(_VOL, disk_sid)
        old, record = found
        snap = self.find_vdi(snapshot_sid, rec.SNAPSHOT_SID)
        if snap is None or not _snapshot_of(snap[1], old, disk_sid):
            raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
        holders = self.vdi_holders(record)
        for _, vm_ref in holders:
            state = self.call("VM.get_power_state", vm_ref)
            if state != "Halted":
                raise IncorrectState(_VM, vm_ref, rec.power_state({"power_state": state}),
                                     [PowerState.STOPPED])
        new = str(self.xapi.run("VDI.clone", snap[0], {}, timeout=self.task_timeout))
        try:
            self.call("VDI.set_other_config", new, {
                k: v for k, v in record.get("other_config", {}).items() if k != rec.DISK_SID})
            for vbd, _ in holders:
                self._swap_vbd(vbd, new)
        except BaseException:
            self.call("VDI.destroy", new)
            raise
        # The old VDI gives up its sid before the new one takes it: a crash in
        # between leaves an untagged VDI, never two disks with one sid.
        self.call("VDI.remove_from_other_config", old, rec.DISK_SID)
        owner = record.get("other_config", {}).get(rec.DISK_OWNER)
        self.tag_vdi(new, DiskSpec(disk_sid=disk_sid, device_id=0, size_bytes=0,
                                   serial=str(record.get("name_description") or "")), owner)
        self.call("VDI.destroy", old)

    def _swap_vbd(self, vbd: str, vdi: str) -> None:
        """Replace the (unplugged) VBD by one with the same slot on ``vdi``."""
        old = self.call("VBD.get_record", vbd)
        self.call("VBD.destroy", vbd)
        self.call("VBD.create", {
            "VM": old["VM"], "VDI": vdi, "userdevice": old["userdevice"],
            "bootable": old["bootable"], "mode": old["mode"], "type": old["type"],
            "empty": False, "unpluggable": old["unpluggable"],
            "other_config": old.get("other_config", {}), "qos_algorithm_type": "",
            "qos_algorithm_params": {}})

    @guarded("copy a disk snapshot")
    def copy_disk_snapshot(self, disk_sid: str, snapshot_sid: str, new_snapshot_sid: str, *,
                           pool_ref: str | None = None) -> None:
        """``VDI.copy`` of the snapshot VDI into its own SR, tagged as ``new_snapshot_sid``.

        The copy is retagged at once (``VDI.copy`` keeps the source's other_config and
        name) and destroyed again if that fails, so no VDI claims the source's sid twice.
        """
        existing = self.find_vdi(new_snapshot_sid, rec.SNAPSHOT_SID)
        if existing is not None:
            if existing[1].get("other_config", {}).get(rec.COPY_OF) != snapshot_sid:
                raise InvalidParameter("new_snapshot_sid", new_snapshot_sid,
                                       "names another snapshot")
            return
        found = self.find_vdi(snapshot_sid, rec.SNAPSHOT_SID)
        if found is None:
            raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
        source, record = found
        copy = str(self.xapi.run("VDI.copy", source, record["SR"], timeout=self.task_timeout))
        try:
            other = {k: v for k, v in dict(self.call("VDI.get_other_config", copy)).items()
                     if k not in (rec.DISK_SID, rec.DISK_OWNER, rec.SNAPSHOT_SID, rec.COPY_OF)}
            other.update({rec.SNAPSHOT_SID: new_snapshot_sid, rec.COPY_OF: snapshot_sid})
            self.call("VDI.set_other_config", copy, other)
            self.call("VDI.set_name_label", copy, new_snapshot_sid)
        except BaseException:
            self.call("VDI.destroy", copy)
            raise


def _snapshot_of(snapshot: dict[str, Any], vdi: str, disk_sid: str) -> bool:
    """Whether the snapshot VDI record belongs to the disk (by tag, else by XAPI's link)."""
    tagged = snapshot.get("other_config", {}).get(rec.SNAPSHOT_OF)
    return tagged == disk_sid if tagged else snapshot.get("snapshot_of") == vdi
