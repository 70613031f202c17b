"""``XenNics``: a VM's network interfaces as VIFs, made at define and changed later.

A VIF is known by its MAC (the engine's MAC, set at ``VIF.create``). Adding one to a
running VM is ``VIF.create`` + ``VIF.plug``; removing one unplugs it first. A halted
VM's VIFs are its definition: ``VM.start`` plugs exactly the VIFs it has then.
"""

from __future__ import annotations

from typing import Any

from engine.errors import DriverError
from engine.hypervisors.base import Capability, DomainRef, NicSpec
from engine.hypervisors.xen import records as rec
from engine.hypervisors.xen.disks import XenBase
from engine.hypervisors.xen.errors import DRIVER, guarded

MAX_VIFS = 7  # device numbers 0..6: what XenServer offers an HVM guest


class XenNics(XenBase):
    """VIF creation shared by ``define`` and the NIC operations."""

    capabilities = XenBase.capabilities | {Capability.HOT_PLUG_NIC}

    def vifs(self, vm: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """``(ref, record)`` of the VM's VIFs, ordered by device number."""
        found = [(ref, self.record("VIF", ref)) for ref in vm.get("VIFs", [])]
        kept = [(ref, r) for ref, r in found if r is not None]
        return sorted(kept, key=lambda item: int(item[1].get("device") or 0))

    def macs(self, vm: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(r.get("MAC", "")).lower() for _, r in self.vifs(vm))

    def new_vif(self, vm: str, nic: NicSpec, taken: set[str], op: str = "define") -> str:
        """``VIF.create`` on the network ``nic.network_ref`` names, at device
        ``nic.device_id`` or (when that is taken) the lowest free one; adds the device
        number used to ``taken``."""
        networks = self.call("network.get_all_records")
        network = rec.network_for(nic.network_ref, networks, self.call("PIF.get_all_records"))
        if network is None:
            raise DriverError(DRIVER, op, "the host has no network for guests")
        device = str(nic.device_id)
        if device in taken:
            free = [str(n) for n in range(MAX_VIFS) if str(n) not in taken]
            if not free:
                raise DriverError(DRIVER, op, f"the VM has {MAX_VIFS} interfaces already")
            device = free[0]
        taken.add(device)
        return str(self.call("VIF.create", {
            "device": device, "network": network, "VM": vm, "MAC": nic.mac.lower(),
            "MTU": "1500", "other_config": {"nimbostack-ip": nic.ip or ""},
            "qos_algorithm_type": "", "qos_algorithm_params": {},
            "locking_mode": "network_default", "ipv4_allowed": [], "ipv6_allowed": []}))

    @guarded("attach a NIC")
    def attach_nic(self, ref: DomainRef, nic: NicSpec) -> None:
        vm = self.vm_record(ref)
        existing = self.vifs(vm)
        if any(str(r.get("MAC", "")).lower() == nic.mac.lower() for _, r in existing):
            return
        vif = self.new_vif(ref.ref, nic, {str(r.get("device")) for _, r in existing},
                           "attach a NIC")
        if vm["power_state"] == "Running":
            try:
                self.call("VIF.plug", vif)
            except BaseException:
                self.call("VIF.destroy", vif)
                raise

    @guarded("detach a NIC")
    def detach_nic(self, ref: DomainRef, mac: str) -> None:
        vm = self.vm_record(ref)
        for vif, record in self.vifs(vm):
            if str(record.get("MAC", "")).lower() != mac.lower():
                continue
            if record.get("currently_attached"):
                self.call("VIF.unplug", vif)
            self.call("VIF.destroy", vif)
