"""The optional disk operations of ``LibvirtDriver`` (a mixin; see ``driver``).

Attaching to a stopped domain redefines it; a running one gets the device hot-plugged
(LIVE) and its definition updated (CONFIG). Detaching from a running domain asks the
guest to release the disk (asynchronous, by user alias) and removes it from the
definition at once; ``DomainInfo.disk_sids`` follows the definition, while ``InUse``
and ``DiskInfo.attached_to`` also count a disk the running QEMU still holds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import libvirt

from engine.errors import InUse, InvalidParameter, NotFound, ResourceKind
from engine.hypervisors.base import Capability, DiskInfo, DiskSpec, DomainRef
from engine.hypervisors.libvirt import domain_xml as dx
from engine.hypervisors.libvirt import inspect
from engine.hypervisors.libvirt.storage import snapshot_volume_name, volume_format, volume_xml

if TYPE_CHECKING:
    from engine.hypervisors.libvirt.storage import Storage

_VOL = ResourceKind.VOLUME


class DiskOperations:
    """Disk operations; the host class provides the connection plumbing below."""

    lv: libvirt.virConnect
    storage: Storage
    options: dict[str, Any]
    is_test: bool
    capabilities: frozenset[Capability]
    _errors: Callable[[str], contextlib.AbstractContextManager[None]]
    _dom: Callable[[DomainRef], libvirt.virDomain]
    _vol: Callable[..., libvirt.virStorageVol]
    _new_volume: Callable[[DiskSpec], libvirt.virStorageVol]
    _unsupported: Callable[[str], Exception]

    def attach_disk(self, ref: DomainRef, disk: DiskSpec) -> None:
        with self._errors("attach the disk"):
            dom = self._dom(ref)
            vol = self.storage.find(dx.volume_name(disk.disk_sid), disk.pool_ref)
            if vol is not None:
                busy = inspect.holders(self.lv, vol.path())
                if any(h.dom.UUIDString() == dom.UUIDString() and h.in_config for h in busy):
                    return
                if busy:
                    raise InUse(_VOL, disk.disk_sid, busy[0].dom.name())
            active = bool(dom.isActive())
            if active and Capability.LIVE_ATTACH_DISK not in self.capabilities:
                raise self._unsupported("attach_disk to a running domain")
            created = vol is None
            vol = vol or self._new_volume(disk)
            try:
                xml = inspect.config_xml(dom)
                used = {d.target for d in dx.domain_disks(xml) + inspect.live_disks(dom)}
                slot = disk.device_id
                while dx.target_for(slot) in used:
                    slot += 1
                device = dx.DiskDevice(path=vol.path(), target=dx.target_for(slot),
                                       serial=disk.guest_serial, alias=dx.alias_for(disk.disk_sid))
                if active:
                    flags = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
                    dom.attachDeviceFlags(dx.disk_xml(device), flags)
                else:
                    self.lv.defineXML(dx.with_disk(xml, device))
            except BaseException:
                if created:
                    self.storage.delete(vol)
                raise

    def detach_disk(self, ref: DomainRef, disk_sid: str) -> None:
        with self._errors("detach the disk"):
            dom = self._dom(ref)
            xml = inspect.config_xml(dom)
            device = next((d for d in dx.domain_disks(xml) if d.sid == disk_sid), None)
            if device is None:
                raise NotFound(_VOL, disk_sid)
            live = next((d for d in inspect.live_disks(dom) if d.path == device.path), None)
            if live is not None and device.target == dx.target_for(0):
                raise InvalidParameter("disk_sid", disk_sid, "is the root disk of a running domain")
            if live is not None and Capability.LIVE_ATTACH_DISK not in self.capabilities:
                raise self._unsupported("detach_disk from a running domain")
            if dom.isPersistent():
                self.lv.defineXML(dx.without_disk(xml, device.path))
            if live is not None:
                self._unplug(dom, live)

    def _unplug(self, dom: libvirt.virDomain, live: dx.DiskDevice) -> None:
        """Ask the guest to release a disk; wait up to ``detach_wait`` seconds for it."""
        if live.alias:
            dom.detachDeviceAlias(live.alias, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        else:
            dom.detachDeviceFlags(dx.disk_xml(live), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        deadline = time.monotonic() + float(self.options.get("detach_wait", 5))
        while time.monotonic() < deadline:
            if all(d.path != live.path for d in inspect.live_disks(dom)):
                return
            time.sleep(0.1)

    def resize_disk(self, ref: DomainRef | None, disk_sid: str, size_bytes: int) -> None:
        if Capability.RESIZE_DISK not in self.capabilities:
            raise self._unsupported("resize_disk")
        with self._errors("resize the disk"):
            vol = self._vol(disk_sid)
            busy = inspect.holders(self.lv, vol.path())
            if ref is not None and not any(h.dom.UUIDString() == ref.ref for h in busy):
                raise NotFound(_VOL, disk_sid)
            current = int(vol.info()[1])
            if size_bytes < current:
                raise InvalidParameter("size", size_bytes, f"smaller than the current {current}")
            if size_bytes == current:
                return
            running = next((h for h in busy if h.live is not None), None)
            if running is not None and running.live is not None:
                running.dom.blockResize(running.live.target, size_bytes,
                                        libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            else:
                vol.resize(size_bytes, 0)

    def create_disk(self, disk: DiskSpec) -> None:
        with self._errors("create the disk"):
            if self.storage.find(dx.volume_name(disk.disk_sid), disk.pool_ref) is None:
                self._new_volume(disk)

    def delete_disk(self, disk_sid: str, *, pool_ref: str | None = None) -> None:
        with self._errors("delete the disk"):
            vol = self.storage.find(dx.volume_name(disk_sid), pool_ref)
            if vol is None:
                return
            busy = inspect.holders(self.lv, vol.path())
            if busy:
                raise InUse(_VOL, disk_sid, busy[0].dom.name())
            self.storage.delete(vol)

    def disk_info(self, disk_sid: str, *, pool_ref: str | None = None) -> DiskInfo:
        with self._errors("read the disk"):
            vol = self._vol(disk_sid, pool_ref)
            busy = inspect.holders(self.lv, vol.path())
            fmt = volume_format(vol.XMLDesc(0))
            return DiskInfo(disk_sid, int(vol.info()[1]), fmt,
                            DomainRef(busy[0].dom.UUIDString()) if busy else None)

    def snapshot_disk(self, ref: DomainRef | None, disk_sid: str, snapshot_sid: str, *,
                      pool_ref: str | None = None) -> None:
        name = snapshot_volume_name(snapshot_sid)
        with self._errors("snapshot the disk"):
            if self.storage.find(name, pool_ref) is not None:
                return
            vol = self._vol(disk_sid, pool_ref)
            pool = vol.storagePoolLookupByVolume()
            running = next((h for h in inspect.holders(self.lv, vol.path())
                            if h.live is not None), None)
            if running is None or running.live is None or self.is_test:
                pool.createXMLFrom(volume_xml(name, int(vol.info()[1])), vol, 0)
                return
            dest = self.storage.path_in(pool, name)
            try:
                inspect.backup_disk(running.dom, running.live.target, dest)
            finally:
                pool.refresh(0)
            if self.storage.find(name, pool_ref) is None:
                raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)

    def delete_disk_snapshot(self, disk_sid: str, snapshot_sid: str, *,
                             pool_ref: str | None = None) -> None:
        with self._errors("delete the disk snapshot"):
            self.storage.delete(self.storage.find(snapshot_volume_name(snapshot_sid), pool_ref))

    def copy_disk_snapshot(self, disk_sid: str, snapshot_sid: str, new_snapshot_sid: str, *,
                           pool_ref: str | None = None) -> None:
        """A full qcow2 copy of the snapshot's volume, beside it in the same pool."""
        name = snapshot_volume_name(new_snapshot_sid)
        with self._errors("copy the disk snapshot"):
            if self.storage.find(name, pool_ref) is not None:
                return
            src = self.storage.find(snapshot_volume_name(snapshot_sid), pool_ref)
            if src is None:
                raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
            pool = src.storagePoolLookupByVolume()
            pool.createXMLFrom(volume_xml(name, int(src.info()[1])), src, 0)

