"""``XenDriver``: a XenServer / XCP-ng host through XAPI (the PyPI ``XenAPI`` client).

``HostConnection.url`` is ``http(s)://host[:port]`` with the pool master's
``username``/``password``; ``extra["xenserver"]`` may set ``verify_tls`` (https),
``timeout`` (seconds per call) and ``task_timeout``. A ``DomainRef`` is the VM's
OpaqueRef. The driver treats the pool as the host: ``list_domains`` lists every guest.

``define`` clones the template named by the root disk's ``source_image`` (name-label or
uuid; ``VM.copy`` instead when the disk's pool is another SR), then ``VM.provision``,
or creates a blank HVM VM; ``records`` describes what is stored where in XAPI. NICs
are VIFs known by MAC (``nics``); disk operations and snapshot reverts are in ``disks``.
Long operations go through ``Async.*`` tasks waited for with ``event.from``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import XenAPI  # type: ignore[import-untyped]

from engine.errors import (
    DriverError,
    EngineError,
    IncorrectState,
    InUse,
    InvalidParameter,
    ResourceKind,
)
from engine.hypervisors.base import (
    DiskSpec,
    DomainInfo,
    DomainRef,
    DomainSpec,
    HostInfo,
    HostStats,
    PowerState,
)
from engine.hypervisors.xen import records as rec
from engine.hypervisors.xen.errors import DRIVER, code, guarded
from engine.hypervisors.xen.nics import XenNics
from engine.hypervisors.xen.session import TaskTimeout

_VM, _VOL = ResourceKind.INSTANCE, ResourceKind.VOLUME
REBOOT_TIMEOUT = 120.0


class XenDriver(XenNics):
    """One XenServer host (pool master) over XAPI."""

    # -- host -----------------------------------------------------------------------

    def _host(self) -> str:
        pool = self.call("pool.get_all")[0]
        return str(self.call("pool.get_master", pool))

    @guarded("connect")
    def connect(self) -> HostInfo:
        self.xapi.login()
        host = self._host()
        host_rec = self.call("host.get_record", host)
        metrics = self.call("host_metrics.get_record", host_rec["metrics"])
        cpus = [self.call("host_cpu.get_record", c) for c in host_rec.get("host_CPUs", [])]
        srs = self.call("SR.get_all_records")
        local = rec.local_srs(host, srs, self.call("PBD.get_all_records"))
        size = sum(int(srs[r]["physical_size"]) for r in local)
        return rec.host_info(host_rec, metrics, cpus, size)

    @guarded("read host statistics")
    def host_stats(self) -> HostStats:
        host = self._host()
        speed = int(float(self.call("host.get_cpu_info", host).get("speed", "0")))
        cpu = memory = running = defined = 0
        for vm in self.call("VM.get_all_records").values():
            if not rec.is_guest(vm):
                continue
            defined += 1
            if vm["power_state"] == "Running":
                running += 1
                mhz = int(vm.get("other_config", {}).get(rec.VM_CPU_MHZ, speed) or speed)
                cpu += int(vm["VCPUs_at_startup"]) * mhz
                memory += int(vm["memory_static_max"])
        srs = self.call("SR.get_all_records")
        local = rec.local_srs(host, srs, self.call("PBD.get_all_records"))
        used = sum(int(srs[r]["physical_utilisation"]) for r in local)
        return HostStats(cpu_used_mhz=cpu, memory_used_bytes=memory, running_domains=running,
                         defined_domains=defined, local_storage_used_bytes=used)

    # -- define -------------------------------------------------------------------------

    @guarded("define")
    def define(self, spec: DomainSpec) -> DomainRef:
        vms = self.call("VM.get_all_records")
        found = rec.find_guest(vms, **{rec.VM_UUID: spec.uuid})
        if found:
            return DomainRef(found)
        if rec.guests_named(vms, spec.name):
            raise DriverError(DRIVER, "define", f"a VM named {spec.name} already exists")
        existing = self._claim_existing(spec)
        root = next((d for d in spec.disks if d.device_id == 0), None)
        template = None
        if root is not None and root.disk_sid not in existing and root.source_image:
            template = rec.template_for(vms, root.source_image)
            if template is None:
                raise InvalidParameter("source_image", root.source_image,
                                       "no such template on the XenServer host")
        vm = ""
        created: list[str] = []
        try:
            if template is not None and root is not None:
                vm = self._from_template(template, spec, root)
            else:
                vm = str(self.call("VM.create", _blank_vm(spec)))
            for disk in spec.disks:
                if template is not None and disk is root:
                    continue
                vdi = existing.get(disk.disk_sid)
                if vdi is None:
                    vdi = self.new_vdi(disk, spec.uuid)
                    created.append(vdi)
                self.plug_new_vbd(vm, vdi, disk.device_id, running=False)
            self._configure(vm, spec)
            return DomainRef(vm)
        except BaseException:
            self._roll_back(vm, created, keep=set(existing.values()))
            raise

    def _claim_existing(self, spec: DomainSpec) -> dict[str, str]:
        """sid -> VDI of the spec's disks that already exist (free data volumes)."""
        existing = {}
        for disk in spec.disks:
            found = self.find_vdi(disk.disk_sid)
            if found is None:
                continue
            holders = self.vdi_holders(found[1])
            if holders:
                raise InUse(_VOL, disk.disk_sid, by=self.vm_name(holders[0][1]))
            existing[disk.disk_sid] = found[0]
        return existing

    def _from_template(self, template: str, spec: DomainSpec, root: DiskSpec) -> str:
        """Clone (or copy into the root disk's SR) and provision; tag the new disks."""
        target = self.sr_for(root.pool_ref) if root.pool_ref else None
        source_srs = set()
        for vbd in self.call("VM.get_VBDs", template):
            vdi = self.call("VBD.get_VDI", vbd)
            if not rec.is_null(vdi):
                source_srs.add(self.call("VDI.get_SR", vdi))
        if target and source_srs and source_srs != {target}:
            vm = str(self.xapi.run("VM.copy", template, spec.name, target,
                                   timeout=self.task_timeout))
        else:
            vm = str(self.xapi.run("VM.clone", template, spec.name, timeout=self.task_timeout))
        try:
            self.xapi.run("VM.provision", vm, timeout=self.task_timeout)
            self.call("VM.set_is_a_template", vm, False)
            for vbd in self.call("VM.get_VBDs", vm):
                vbd_rec = self.call("VBD.get_record", vbd)
                if vbd_rec["type"] != "Disk" or rec.is_null(vbd_rec["VDI"]):
                    continue
                device = vbd_rec["userdevice"]
                disk = root if device == "0" else DiskSpec(
                    disk_sid=f"{root.disk_sid}-{device}", device_id=int(device), size_bytes=0)
                self.tag_vdi(vbd_rec["VDI"], disk, spec.uuid)
                self.grow(vbd_rec["VDI"], disk.size_bytes)
        except BaseException:
            self._roll_back(vm, [], keep=set())
            raise
        return vm

    def _configure(self, vm: str, spec: DomainSpec) -> None:
        self.call("VM.set_name_label", vm, spec.name)
        self.call("VM.set_name_description", vm, f"nimbostack instance {spec.uuid}")
        self.call("VM.set_memory_limits", vm, *rec.memory_limits(spec))
        vcpus = str(spec.cpus)
        if spec.cpus > int(self.call("VM.get_VCPUs_max", vm)):
            self.call("VM.set_VCPUs_max", vm, vcpus)
            self.call("VM.set_VCPUs_at_startup", vm, vcpus)
        else:
            self.call("VM.set_VCPUs_at_startup", vm, vcpus)
            self.call("VM.set_VCPUs_max", vm, vcpus)
        other = dict(self.call("VM.get_other_config", vm))
        other.update(rec.vm_other_config(spec))
        self.call("VM.set_other_config", vm, other)
        xenstore = dict(self.call("VM.get_xenstore_data", vm))
        xenstore.pop(rec.USER_DATA, None)
        xenstore.update(rec.user_data_entry(spec.user_data))
        self.call("VM.set_xenstore_data", vm, xenstore)
        if spec.boot is not None:
            self.call("VM.set_HVM_boot_policy", vm, "")
            self.call("VM.set_PV_kernel", vm, spec.boot.kernel)
            self.call("VM.set_PV_ramdisk", vm, spec.boot.initrd or "")
            self.call("VM.set_PV_args", vm, spec.boot.cmdline)
        for vif in self.call("VM.get_VIFs", vm):
            self.call("VIF.destroy", vif)
        taken: set[str] = set()
        for nic in sorted(spec.nics, key=lambda n: n.device_id):
            self.new_vif(vm, nic, taken)

    def _roll_back(self, vm: str, created: list[str], keep: set[str]) -> None:
        """Remove a half-defined VM and every disk made for it (never those in ``keep``)."""
        doomed = list(created)
        with contextlib.suppress(XenAPI.Failure, OSError, EngineError):
            if vm:
                for vbd in self.call("VM.get_VBDs", vm):
                    vdi = self.call("VBD.get_VDI", vbd)
                    if not rec.is_null(vdi) and vdi not in keep and vdi not in doomed:
                        doomed.append(vdi)
                self.call("VM.destroy", vm)
        for vdi in doomed:
            with contextlib.suppress(XenAPI.Failure, OSError):
                self.call("VDI.destroy", vdi)

    # -- power ----------------------------------------------------------------------------

    @guarded("start")
    def start(self, ref: DomainRef) -> None:
        state = self.vm_record(ref)["power_state"]
        if state == "Running":
            return
        if state == "Paused":
            self.call("VM.unpause", ref.ref)
        elif state == "Suspended":
            self.xapi.run("VM.resume", ref.ref, False, False, timeout=self.task_timeout)
        else:
            self.xapi.run("VM.start", ref.ref, False, False, timeout=self.task_timeout)

    @guarded("stop")
    def stop(self, ref: DomainRef, *, timeout: float, force: bool = False) -> None:
        if self.vm_record(ref)["power_state"] == "Halted":
            return
        if not force and timeout > 0 and self.vm_record(ref)["power_state"] == "Running":
            try:
                self.xapi.run("VM.clean_shutdown", ref.ref, timeout=timeout)
            except TaskTimeout:
                pass  # cancelled; the guest ignored the request: power off below
            except XenAPI.Failure as exc:
                if code(exc) == "HANDLE_INVALID":
                    raise
        self._hard_shutdown(ref)

    def _hard_shutdown(self, ref: DomainRef) -> None:
        if self.vm_record(ref)["power_state"] == "Halted":
            return
        try:
            self.xapi.run("VM.hard_shutdown", ref.ref, timeout=self.task_timeout)
        except XenAPI.Failure as exc:
            if code(exc) != "VM_BAD_POWER_STATE" or self.vm_record(ref)["power_state"] != "Halted":
                raise

    @guarded("reboot")
    def reboot(self, ref: DomainRef) -> None:
        state = self.vm_record(ref)["power_state"]
        if state != "Running":
            raise IncorrectState(_VM, ref.ref, rec.power_state({"power_state": state}),
                                 [PowerState.RUNNING])
        try:
            self.xapi.run("VM.clean_reboot", ref.ref, timeout=REBOOT_TIMEOUT)
        except TaskTimeout:
            self.xapi.run("VM.hard_reboot", ref.ref, timeout=self.task_timeout)

    @guarded("destroy")
    def destroy(self, ref: DomainRef) -> None:
        vm = self.record("VM", ref.ref)
        if vm is None or not rec.is_guest(vm):
            return
        if vm["power_state"] != "Halted":
            self._hard_shutdown(ref)
        owner = vm.get("other_config", {}).get(rec.VM_UUID)
        owned = []
        for vbd in vm["VBDs"]:
            vbd_rec = self.record("VBD", vbd)
            vdi = self.record("VDI", vbd_rec["VDI"]) if vbd_rec else None
            if vdi and owner and vdi.get("other_config", {}).get(rec.DISK_OWNER) == owner:
                owned.append(str(vbd_rec["VDI"]))  # type: ignore[index]
        self.call("VM.destroy", ref.ref)
        for vdi_ref in owned:
            with contextlib.suppress(XenAPI.Failure):
                self.call("VDI.destroy", vdi_ref)

    # -- observation -------------------------------------------------------------------------

    @guarded("describe a domain")
    def info(self, ref: DomainRef) -> DomainInfo:
        vm = self.record("VM", ref.ref)
        if vm is None or not rec.is_guest(vm):
            return DomainInfo(ref, PowerState.MISSING, 0, 0)
        disks: list[tuple[int, str]] = []
        for vbd in vm["VBDs"]:
            vbd_rec = self.record("VBD", vbd)
            vdi = self.record("VDI", vbd_rec["VDI"]) if vbd_rec else None
            sid = rec.disk_sid(vdi) if vdi else None
            if sid and vbd_rec:
                disks.append((int(vbd_rec["userdevice"] or 0), sid))
        return DomainInfo(ref, rec.power_state(vm), int(vm["VCPUs_at_startup"]),
                          int(vm["memory_static_max"]) // (1024 * 1024), str(vm["name_label"]),
                          tuple(sid for _, sid in sorted(disks)), self.macs(vm))

    @guarded("list domains")
    def list_domains(self) -> dict[str, PowerState]:
        return {str(vm["name_label"]): rec.power_state(vm)
                for vm in self.call("VM.get_all_records").values() if rec.is_guest(vm)}


def _blank_vm(spec: DomainSpec) -> dict[str, Any]:
    """A complete VM.create record for an HVM guest booting from disk, then network."""
    smin, smax, dmin, dmax = rec.memory_limits(spec)
    return {
        "name_label": spec.name, "name_description": "", "user_version": "1",
        "is_a_template": False, "affinity": rec.NULL, "memory_static_max": smax,
        "memory_dynamic_max": dmax, "memory_dynamic_min": dmin, "memory_static_min": smin,
        "VCPUs_params": {}, "VCPUs_max": str(spec.cpus), "VCPUs_at_startup": str(spec.cpus),
        "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
        "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "",
        "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "",
        "HVM_boot_policy": "BIOS order", "HVM_boot_params": {"order": "cdn"},
        "HVM_shadow_multiplier": 1.0, "platform": {"acpi": "1", "apic": "true", "pae": "true",
                                                   "nx": "true", "viridian": "false"},
        "PCI_bus": "", "other_config": {}, "recommendations": "", "xenstore_data": {},
        "ha_always_run": False, "ha_restart_priority": "", "tags": [],
        "blocked_operations": {}, "protection_policy": rec.NULL, "is_snapshot_from_vmpp": False,
        "appliance": rec.NULL, "start_delay": "0", "shutdown_delay": "0", "order": "0",
        "suspend_SR": rec.NULL, "version": "0", "generation_id": "",
        "hardware_platform_version": "0", "has_vendor_device": False, "domain_type": "hvm",
    }
