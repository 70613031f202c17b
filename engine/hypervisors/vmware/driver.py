"""``VmwareDriver``: one ESXi host through the vSphere API (vCenter or the host itself).

The host URL form is documented in ``urls.py``. Domain refs are VM managed-object
ids (``vm-42``); they stay valid while the VM moves between hosts of one vCenter,
and a VM that runs on another host is MISSING for this driver. Define clones the
template VM named by the root disk's ``source_image`` when it exists and creates a
VM from a ConfigSpec otherwise; disk ownership follows the naming rules in
``specs.py``. Direct kernel boot (``DomainSpec.boot``) does not exist on vSphere
and is ignored. Serial console output is not available (no CONSOLE_OUTPUT). Disk
snapshots are full copies of the disk file (``snapshots.py``); a disk made from one
(``DiskSpec.source_snapshot``, in ``define`` or ``attach_disk``) is a copy of that
file, and reverting copies it back over the disk. NICs are added and removed by MAC,
running or not (``nics.py``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from pyVmomi import vim, vmodl

from engine.errors import (
    DriverError,
    IncorrectState,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unavailable,
)
from engine.hypervisors.base import (
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
from engine.hypervisors.vmware import disks, domains, nics, snapshots, vms
from engine.hypervisors.vmware.inventory import Placement, locate
from engine.hypervisors.vmware.session import DRIVER, VsphereSession, faults
from engine.hypervisors.vmware.urls import VsphereTarget, parse_host_url

MIB = 1024 * 1024
POLL = 0.2
F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """Drop the session after a transport failure so the next call logs in again."""

    @functools.wraps(method)
    def wrapper(self: VmwareDriver, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Unavailable:
            self.close()
            raise

    return cast(F, wrapper)


class VmwareDriver(HypervisorDriver):
    """See the module docstring. Not thread-safe (one instance per thread)."""

    name: ClassVar[str] = "vmware"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.ATTACH_DISK, Capability.LIVE_ATTACH_DISK, Capability.RESIZE_DISK,
        Capability.MIGRATE, Capability.DISK_SNAPSHOT, Capability.COPY_DISK_SNAPSHOT,
        Capability.REVERT_SNAPSHOT, Capability.HOT_PLUG_NIC,
    })

    def __init__(self, conn: HostConnection) -> None:
        super().__init__(conn)
        self.target: VsphereTarget = parse_host_url(conn.url)
        self._session: VsphereSession | None = None
        self._place: Placement | None = None

    # -- plumbing ------------------------------------------------------------------------

    @property
    def session(self) -> VsphereSession:
        if self._session is None:
            user = self.conn.username or self.target.username
            password = self.conn.password if self.conn.password is not None \
                else self.target.password
            if not user:
                raise DriverError(DRIVER, "log in", "no user name for the vSphere endpoint")
            self._session = VsphereSession(self.target, user, password or "")
        return self._session

    @property
    def place(self) -> Placement:
        if self._place is None:
            self._place = locate(self.session, self.target)
        return self._place

    @property
    def _pools(self) -> dict[str, str]:
        return dict(self.conn.extra.get("storage_pools") or {})

    def close(self) -> None:
        session, self._session, self._place = self._session, None, None
        if session is not None:
            session.close()

    def _require(self, ref: DomainRef, paths: tuple[str, ...] = vms.STATE_PATHS) -> dict[str, Any]:
        props = vms.read(self.session, self.place, ref, paths)
        if props is None:
            raise NotFound(ResourceKind.INSTANCE, ref.ref)
        return props

    def _run(self, op: str, ref: DomainRef, start: Callable[..., Any], **kwargs: Any) -> Any:
        return self.session.run(op, ref.ref, start, **kwargs)

    # -- host ---------------------------------------------------------------------------

    @_guarded
    def connect(self) -> HostInfo:
        place = self.place
        with faults("describe the host"):
            props = self.session.props(place.host, ["name", "summary.hardware",
                                                    "config.product"]) or {}
            about = self.session.content.about
        hw = props.get("summary.hardware")
        if hw is None:
            raise DriverError(DRIVER, "describe the host", "no hardware summary")
        product = props.get("config.product")
        version = f"VMware ESXi {getattr(product, 'version', '?')}"
        if about.apiType == "VirtualCenter":
            version += f" / vCenter {about.version}"
        return HostInfo(
            hypervisor="vmware", version=version, cpu_cores=int(hw.numCpuCores),
            cpu_mhz=int(hw.cpuMhz), memory_bytes=int(hw.memorySize),
            local_storage_bytes=sum(int(d.summary.capacity) for d in place.datastores),
            arch="x86_64", name=str(props.get("name", place.host.name)))

    @_guarded
    def host_stats(self) -> HostStats:
        place = self.place
        with faults("read host statistics"):
            quick = (self.session.props(place.host, ["summary.quickStats"]) or {}).get(
                "summary.quickStats")
            domains_here = vms.on_host(self.session, place)
            used = sum(int(d.summary.capacity) - int(d.summary.freeSpace)
                       for d in place.datastores)
        running = sum(1 for _, p in domains_here if p.get("runtime.powerState") == "poweredOn")
        return HostStats(
            cpu_used_mhz=int(getattr(quick, "overallCpuUsage", 0) or 0),
            memory_used_bytes=int(getattr(quick, "overallMemoryUsage", 0) or 0) * MIB,
            running_domains=running, defined_domains=len(domains_here),
            local_storage_used_bytes=used)

    # -- domains ------------------------------------------------------------------------

    @_guarded
    def define(self, spec: DomainSpec) -> DomainRef:
        return domains.define(self.session, self.place, spec, self._pools)

    @_guarded
    def start(self, ref: DomainRef) -> None:
        props = self._require(ref, ("runtime.powerState",))
        if props.get("runtime.powerState") == "poweredOn":
            return
        self._run("start", ref, vms.vm_object(self.session, ref).PowerOnVM_Task)

    @_guarded
    def stop(self, ref: DomainRef, *, timeout: float, force: bool = False) -> None:
        props = self._require(ref, ("runtime.powerState",))
        if props.get("runtime.powerState") == "poweredOff":
            return
        vm = vms.vm_object(self.session, ref)
        if not force and props.get("runtime.powerState") == "poweredOn":
            try:
                vm.ShutdownGuest()
            except vim.fault.ToolsUnavailable:
                pass  # no VMware Tools in the guest: only a hard power-off can stop it
            except Exception as exc:
                if isinstance(exc, vmodl.fault.ManagedObjectNotFound):
                    raise NotFound(ResourceKind.INSTANCE, ref.ref) from exc
            else:
                deadline = time.monotonic() + max(timeout, 0)
                while self._power(ref) is not PowerState.STOPPED:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(POLL)
        if self._power(ref) is PowerState.STOPPED:
            return
        try:
            self._run("stop", ref, vm.PowerOffVM_Task)
        except IncorrectState:
            if self._power(ref) is not PowerState.STOPPED:
                raise

    def _power(self, ref: DomainRef) -> PowerState:
        return vms.power_of(self._require(ref, ("runtime.powerState",)))

    @_guarded
    def reboot(self, ref: DomainRef) -> None:
        state = self._power(ref)
        if state is not PowerState.RUNNING:
            raise IncorrectState(ResourceKind.INSTANCE, ref.ref, state, [PowerState.RUNNING])
        vm = vms.vm_object(self.session, ref)
        try:
            vm.RebootGuest()
        except Exception:  # noqa: BLE001 - no tools (or vcsim): reset the VM instead
            self._run("reboot", ref, vm.ResetVM_Task)

    @_guarded
    def destroy(self, ref: DomainRef) -> None:
        domains.destroy(self.session, self.place, ref)

    @_guarded
    def info(self, ref: DomainRef) -> DomainInfo:
        with faults("read a domain", ref.ref):
            props = vms.read(self.session, self.place, ref)
        if props is None:
            return DomainInfo(ref=ref, power_state=PowerState.MISSING, cpus=0, memory_mib=0)
        return DomainInfo(
            ref=ref, power_state=vms.power_of(props),
            cpus=int(props.get("config.hardware.numCPU") or 0),
            memory_mib=int(props.get("config.hardware.memoryMB") or 0),
            name=str(props.get("name", "")),
            disk_sids=tuple(sid for sid, _ in vms.disk_sids(props)),
            nic_macs=nics.macs(props))

    @_guarded
    def list_domains(self) -> dict[str, PowerState]:
        with faults("list domains"):
            found = vms.on_host(self.session, self.place)
        return {str(p["name"]): vms.power_of(p) for _, p in found}

    # -- optional -------------------------------------------------------------------------

    @_guarded
    def attach_disk(self, ref: DomainRef, disk: DiskSpec) -> None:
        with faults("attach a disk", disk.disk_sid):
            disks.attach(self.session, self.place, ref, disk, self._pools)

    @_guarded
    def detach_disk(self, ref: DomainRef, disk_sid: str) -> None:
        with faults("detach a disk", disk_sid):
            disks.detach(self.session, self.place, ref, disk_sid)

    @_guarded
    def resize_disk(self, ref: DomainRef | None, disk_sid: str, size_bytes: int) -> None:
        with faults("resize a disk", disk_sid):
            disks.resize(self.session, self.place, ref, disk_sid, size_bytes)

    @_guarded
    def snapshot_disk(self, ref: DomainRef | None, disk_sid: str, snapshot_sid: str, *,
                      pool_ref: str | None = None) -> None:
        with faults("snapshot a disk", disk_sid):
            snapshots.snapshot(self.session, self.place, ref, disk_sid, snapshot_sid,
                               self._pools.get(pool_ref or ""))

    @_guarded
    def delete_disk_snapshot(self, disk_sid: str, snapshot_sid: str, *,
                             pool_ref: str | None = None) -> None:
        with faults("delete a disk snapshot", snapshot_sid):
            snapshots.delete(self.session, self.place, snapshot_sid,
                             self._pools.get(pool_ref or ""))

    @_guarded
    def revert_disk_snapshot(self, ref: DomainRef | None, disk_sid: str, snapshot_sid: str, *,
                             pool_ref: str | None = None) -> None:
        with faults("revert a disk", disk_sid):
            snapshots.revert(self.session, self.place, ref, disk_sid, snapshot_sid,
                             self._pools.get(pool_ref or ""))

    @_guarded
    def attach_nic(self, ref: DomainRef, nic: NicSpec) -> None:
        with faults("attach a NIC", ref.ref):
            nics.attach(self.session, self.place, ref, nic)

    @_guarded
    def detach_nic(self, ref: DomainRef, mac: str) -> None:
        with faults("detach a NIC", ref.ref):
            nics.detach(self.session, self.place, ref, mac)

    @_guarded
    def copy_disk_snapshot(self, disk_sid: str, snapshot_sid: str, new_snapshot_sid: str, *,
                           pool_ref: str | None = None) -> None:
        with faults("copy a disk snapshot", snapshot_sid):
            snapshots.copy(self.session, self.place, snapshot_sid, new_snapshot_sid,
                           self._pools.get(pool_ref or ""))

    @_guarded
    def migrate(self, ref: DomainRef, dest: HostConnection) -> DomainRef:
        """RelocateVM_Task to another host of the SAME vCenter (``InvalidParameter``
        otherwise); the datastore moves too when the destination cannot see it."""
        there = parse_host_url(dest.url)
        here = self.target
        if (there.endpoint.lower(), there.port) != (here.endpoint.lower(), here.port):
            raise InvalidParameter("host", dest.url, "migration needs a host of the same vCenter")
        props = self._require(ref, ("runtime.powerState", "datastore"))
        target = locate(self.session, there)
        if target.host_id == self.place.host_id:
            return ref
        spec = vim.vm.RelocateSpec(host=target.host, pool=target.pool)
        visible = {d._moId for d in target.datastores}
        if not all(d._moId in visible for d in props.get("datastore") or ()):
            spec.datastore = target.datastores[0]
        self._run("migrate", ref, vms.vm_object(self.session, ref).RelocateVM_Task, spec=spec)
        return ref
