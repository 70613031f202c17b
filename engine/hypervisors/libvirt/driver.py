"""``LibvirtDriver``: KVM/QEMU hosts (and libvirt's test driver) through libvirt.

Refs are domain uuids (``DomainSpec.uuid``). Options come from
``HostConnection.extra["libvirt"]``: ``domain_type`` (override the detected kvm/qemu),
``bridge`` (NICs without a libvirt network join this bridge), ``default_pool_dir``,
``pool_prefix`` (default "nimbostack-"), ``mount_dir`` (netfs pools), ``console_dir``
(serial logs, default /var/log/libvirt/qemu) and ``detach_wait`` (seconds to wait for
a guest to release a hot-unplugged disk, default 5).

Capabilities depend on the URI: the test driver (``test:///``) cannot hot-plug,
resize volumes or keep a console; a remote daemon's console log is not readable here.
Disk snapshots are full qcow2 copies held as volumes beside the disk (taken by a
QEMU backup job while the domain runs), so they outlive the disk and work everywhere.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import libvirt

from engine.errors import (
    DriverError,
    IncorrectState,
    InUse,
    NotFound,
    ResourceKind,
)
from engine.hypervisors.base import (
    MIB,
    Capability,
    DiskSpec,
    DomainInfo,
    DomainRef,
    DomainSpec,
    HostConnection,
    HostInfo,
    HostStats,
    HypervisorDriver,
    NicSpec,
    PowerState,
)
from engine.hypervisors.libvirt import connection as lvc
from engine.hypervisors.libvirt import domain_xml as dx
from engine.hypervisors.libvirt import inspect
from engine.hypervisors.libvirt.disks import DiskOperations
from engine.hypervisors.libvirt.nics import NicOperations
from engine.hypervisors.libvirt.seed import build_seed_iso
from engine.hypervisors.libvirt.storage import (
    Storage,
    is_image_source,
    snapshot_volume_name,
)

_VM, _VOL = ResourceKind.INSTANCE, ResourceKind.VOLUME
_UNDEFINE_ALL = (libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                 | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
CONSOLE_TAIL = 64 * 1024


class LibvirtDriver(DiskOperations, NicOperations, HypervisorDriver):
    """One libvirt host (see the module docstring); disk operations come from ``disks``."""

    name = "kvm"
    capabilities = frozenset({
        Capability.ATTACH_DISK, Capability.LIVE_ATTACH_DISK, Capability.RESIZE_DISK,
        Capability.CONSOLE_OUTPUT, Capability.DISK_SNAPSHOT, Capability.DATA_DISKS,
        Capability.COPY_DISK_SNAPSHOT, Capability.HOT_PLUG_NIC,
    })  # fmt: skip

    def __init__(self, conn: HostConnection) -> None:
        super().__init__(conn)
        self.options: dict[str, Any] = dict(conn.extra.get("libvirt") or {})
        self.is_test = lvc.is_test_uri(conn.url)
        caps = set(type(self).capabilities)
        if self.is_test:
            caps -= {Capability.LIVE_ATTACH_DISK, Capability.RESIZE_DISK,
                     Capability.CONSOLE_OUTPUT, Capability.HOT_PLUG_NIC}  # no device hot-plug
        elif not lvc.is_local_uri(conn.url):
            caps.discard(Capability.CONSOLE_OUTPUT)
        self.capabilities = frozenset(caps)  # type: ignore[misc]  # per-connection narrowing
        self._lv: libvirt.virConnect | None = None
        self._storage: Storage | None = None
        self._domain_type: str | None = None

    # -- plumbing -------------------------------------------------------------------

    @property
    def lv(self) -> libvirt.virConnect:
        """The open connection (reopened if it died)."""
        if self._lv is not None:
            alive = False
            with contextlib.suppress(libvirt.libvirtError):
                alive = self._lv.isAlive() == 1
            if not alive:
                self.close()
        if self._lv is None:
            self._lv = lvc.open_connection(self.conn)
        return self._lv

    @property
    def storage(self) -> Storage:
        if self._storage is None or self._storage.lv is not self.lv:
            self._storage = Storage(
                self.lv, self.conn.extra.get("storage_pools") or {},
                prefix=self.options.get("pool_prefix", "nimbostack-"),
                default_dir=self.options.get("default_pool_dir",
                                             "/var/lib/libvirt/images/nimbostack"),
                mount_dir=self.options.get("mount_dir", "/var/lib/libvirt/images"),
                uploads=not self.is_test,
            )  # fmt: skip
        return self._storage

    def _errors(self, op: str) -> contextlib.AbstractContextManager[None]:
        return lvc.errors(lambda: self._lv, op)

    def close(self) -> None:
        if self._lv is not None:
            with contextlib.suppress(libvirt.libvirtError):
                self._lv.close()
        self._lv, self._storage = None, None

    def domain_type(self) -> str:
        """The ``<domain type>`` used: override, else kvm only when it really works."""
        if self._domain_type is None:
            override = self.options.get("domain_type")
            self._domain_type = override or lvc.detect_domain_type(self.lv.getCapabilities())
        return self._domain_type

    def _dom(self, ref: DomainRef) -> libvirt.virDomain:
        try:
            return self.lv.lookupByUUIDString(ref.ref)
        except libvirt.libvirtError as exc:
            if lvc.error_code(exc) in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG):
                raise NotFound(_VM, ref.ref) from exc
            raise

    def _find_dom(self, ref: DomainRef) -> libvirt.virDomain | None:
        try:
            return self._dom(ref)
        except NotFound:
            return None

    def _vol(self, disk_sid: str, pool_ref: str | None = None) -> libvirt.virStorageVol:
        vol = self.storage.find(dx.volume_name(disk_sid), pool_ref)
        if vol is None:
            raise NotFound(_VOL, disk_sid)
        return vol

    # -- host -----------------------------------------------------------------------

    def connect(self) -> HostInfo:
        lv = self.lv
        with self._errors("describe the host"):
            arch, memory_mib, cpus, mhz = lv.getInfo()[:4]
            capacity, _ = self.storage.default_pool_info()
            return HostInfo(
                hypervisor="KVM", version=lvc.version_string(lv.getVersion()),
                cpu_cores=int(cpus), cpu_mhz=int(mhz), memory_bytes=int(memory_mib) * MIB,
                local_storage_bytes=int(capacity), arch=str(arch), name=lv.getHostname(),
            )  # fmt: skip

    def host_stats(self) -> HostStats:
        lv = self.lv
        with self._errors("read host statistics"):
            host_mhz = int(lv.getInfo()[3])
            cpu = memory = running = 0
            domains = lv.listAllDomains(0)
            for dom in domains:
                with contextlib.suppress(libvirt.libvirtError):
                    if not dom.isActive():
                        continue
                    _, max_kib, _, vcpus, _ = dom.info()
                    mhz = dx.ownership(dom.XMLDesc(0)).cpu_mhz or host_mhz
                    cpu, memory, running = cpu + vcpus * mhz, memory + max_kib * 1024, running + 1
            _, used = self.storage.default_pool_info()
            return HostStats(cpu_used_mhz=cpu, memory_used_bytes=memory, running_domains=running,
                             defined_domains=len(domains), local_storage_used_bytes=int(used))

    # -- define -----------------------------------------------------------------------

    def define(self, spec: DomainSpec) -> DomainRef:
        ref = DomainRef(spec.uuid)
        with self._errors("define the domain"):
            dom = self._find_dom(ref)
            created = dom is None
            if dom is None:
                dom = self.lv.defineXML(self._layout_xml(spec))
            try:
                self._create_owned(dom, spec)
            except BaseException:
                if created:  # an older definition is left for destroy to clean up
                    self._remove(dom)
                raise
        return ref

    def _layout_xml(self, spec: DomainSpec) -> str:
        """The domain XML of a new domain; checks the name and the disks it reuses."""
        with contextlib.suppress(libvirt.libvirtError):
            other = self.lv.lookupByName(spec.name)
            raise DriverError(self.name, "define", f"{spec.name} exists as {other.UUIDString()}")
        disks, owned = [], []
        for disk in spec.disks:
            vol = self.storage.find(dx.volume_name(disk.disk_sid), disk.pool_ref)
            if vol is not None:
                busy = inspect.holders(self.lv, vol.path())
                if busy:
                    raise InUse(_VOL, disk.disk_sid, busy[0].dom.name())
                path = vol.path()
            else:
                pool = self.storage.pool(disk.pool_ref)
                path = self.storage.path_in(pool, dx.volume_name(disk.disk_sid))
                owned.append(path)
            disks.append(dx.DiskDevice(path=path, target=dx.target_for(disk.device_id),
                                       serial=disk.guest_serial, alias=dx.alias_for(disk.disk_sid)))
        seed = ""
        if spec.user_data is not None:
            seed = self.storage.path_in(self._seed_pool(spec), _seed_name(spec))
            disks.append(dx.DiskDevice(path=seed, target=dx.SEED_TARGET, serial="cidata",
                                       fmt="raw", readonly=True))
        layout = dx.DomainLayout(
            domain_type=self.domain_type(), disks=disks, nics=[self._nic(n) for n in spec.nics],
            console_log=self._console_log(spec.name),
            ownership=dx.Ownership(owned_paths=tuple(owned), seed_path=seed,
                                   cpu_mhz=spec.cpu_mhz, metadata=dict(spec.metadata)),
        )  # fmt: skip
        return dx.build_domain_xml(spec, layout)

    def _seed_pool(self, spec: DomainSpec) -> libvirt.virStoragePool:
        return self.storage.pool(spec.disks[0].pool_ref if spec.disks else None)

    def _nic(self, nic: NicSpec) -> dx.NicDevice:
        if nic.network_ref:
            with contextlib.suppress(libvirt.libvirtError):
                self.lv.networkLookupByName(str(nic.network_ref))
                return dx.NicDevice(nic.mac, "network", str(nic.network_ref))
        bridge = self.options.get("bridge")
        if bridge:
            return dx.NicDevice(nic.mac, "bridge", str(bridge))
        return dx.NicDevice(nic.mac, "user")

    def _console_log(self, name: str) -> str:
        folder = str(self.options.get("console_dir", "/var/log/libvirt/qemu"))
        if lvc.is_local_uri(self.conn.url) and not self.is_test:
            os.makedirs(folder, exist_ok=True)
        return f"{folder.rstrip('/')}/{name}.console.log"

    def _create_owned(self, dom: libvirt.virDomain, spec: DomainSpec) -> None:
        """Create the owned disks (and the seed) the definition names but that are missing."""
        own = dx.ownership(inspect.config_xml(dom))
        by_sid = {d.disk_sid: d for d in spec.disks}
        for path in own.owned_paths:
            disk = by_sid.get(dx.disk_sid_of(path))
            if disk is not None and self.storage.by_path(path) is None:
                self._new_volume(disk)
        if own.seed_path and self.storage.by_path(own.seed_path) is None:
            iso = build_seed_iso(spec.user_data or b"", instance_id=spec.uuid,
                                 hostname=spec.name)
            self.storage.create_with_bytes(self._seed_pool(spec), _seed_name(spec), iso)

    def _new_volume(self, disk: DiskSpec) -> libvirt.virStorageVol:
        pool, name = self.storage.pool(disk.pool_ref), dx.volume_name(disk.disk_sid)
        if disk.source_snapshot:
            src = self.storage.find(snapshot_volume_name(disk.source_snapshot), disk.pool_ref)
            if src is None:
                raise NotFound(ResourceKind.SNAPSHOT, disk.source_snapshot)
            return self.storage.create_from_volume(pool, name, disk.size_bytes, src)
        if is_image_source(disk.source_image):
            return self.storage.create_from_image(pool, name, disk.size_bytes,
                                                  str(disk.source_image))
        return self.storage.create_blank(pool, name, disk.size_bytes)

    # -- power ----------------------------------------------------------------------------

    def start(self, ref: DomainRef) -> None:
        with self._errors("start the domain"):
            dom = self._dom(ref)
            state = inspect.power_state(dom)
            if state is PowerState.PAUSED:
                dom.resume()
            elif not dom.isActive():
                dom.create()

    def stop(self, ref: DomainRef, *, timeout: float, force: bool = False) -> None:
        with self._errors("stop the domain"):
            dom = self._dom(ref)
            if not dom.isActive():
                return
            if not force and inspect.power_state(dom) is PowerState.RUNNING:
                with contextlib.suppress(libvirt.libvirtError):
                    dom.shutdown()
                deadline = time.monotonic() + max(0.0, timeout)
                while dom.isActive() and time.monotonic() < deadline:
                    time.sleep(0.1)
            _power_off(dom)

    def reboot(self, ref: DomainRef) -> None:
        with self._errors("reboot the domain"):
            dom = self._dom(ref)
            state = inspect.power_state(dom)
            if state is not PowerState.RUNNING:
                raise IncorrectState(_VM, ref.ref, state, [PowerState.RUNNING])
            dom.reboot(0)

    def destroy(self, ref: DomainRef) -> None:
        with self._errors("destroy the domain"):
            dom = self._find_dom(ref)
            if dom is not None:
                _power_off(dom)
                self._remove(dom)

    def _remove(self, dom: libvirt.virDomain) -> None:
        """Delete the owned disks still in the definition and the seed, then undefine.

        Disks go first so that a crash half-way leaves a domain a retry can remove.
        """
        xml = inspect.config_xml(dom)
        own, present = dx.ownership(xml), {d.path for d in dx.domain_disks(xml)}
        for path in [p for p in own.owned_paths if p in present] + [own.seed_path]:
            if path:
                self.storage.delete(self.storage.by_path(path))
        log = dx.console_log_path(xml)
        if log and lvc.is_local_uri(self.conn.url) and not self.is_test:
            with contextlib.suppress(OSError):
                os.unlink(log)
        try:
            try:
                dom.undefineFlags(_UNDEFINE_ALL)
            except libvirt.libvirtError as exc:
                if lvc.error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
                    return
                dom.undefine()
        except libvirt.libvirtError as exc:
            if lvc.error_code(exc) not in (libvirt.VIR_ERR_NO_DOMAIN,
                                           libvirt.VIR_ERR_OPERATION_INVALID):
                raise

    # -- observation ------------------------------------------------------------------------

    def info(self, ref: DomainRef) -> DomainInfo:
        with self._errors("read the domain"):
            dom = self._find_dom(ref)
            if dom is None:
                return DomainInfo(ref, PowerState.MISSING, 0, 0)
            _, max_kib, _, vcpus, _ = dom.info()
            config = inspect.config_xml(dom)
            sids = tuple(d.sid for d in dx.domain_disks(config) if d.sid)
            return DomainInfo(ref, inspect.power_state(dom), int(vcpus), int(max_kib) // 1024,
                              dom.name(), sids, tuple(dx.domain_nic_macs(config)))

    def list_domains(self) -> dict[str, PowerState]:
        with self._errors("list domains"):
            return {d.name(): inspect.power_state(d) for d in self.lv.listAllDomains(0)}

    def console_output(self, ref: DomainRef) -> bytes:
        if Capability.CONSOLE_OUTPUT not in self.capabilities:
            raise self._unsupported("console_output")
        with self._errors("read the console"):
            path = dx.console_log_path(self._dom(ref).XMLDesc(0))
        return _tail(path, CONSOLE_TAIL) if path else b""


def _seed_name(spec: DomainSpec) -> str:
    return f"{spec.uuid}.cidata.iso"


def _power_off(dom: libvirt.virDomain) -> None:
    """Hard power-off; fine if it is already off."""
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError as exc:
        if lvc.error_code(exc) not in (libvirt.VIR_ERR_OPERATION_INVALID,
                                       libvirt.VIR_ERR_NO_DOMAIN):
            raise


def _tail(path: str, size: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            return fh.read()
    except FileNotFoundError:
        return b""
