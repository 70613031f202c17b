"""Adding and removing a VM's network cards (ReconfigVM_Task), running or not.

A card is known by its MAC: ``define`` gives every card the engine's MAC as a manual
address (``specs.add_nic``), so the MAC is the card's identity across the engine and
vSphere. vSphere hot-adds and hot-removes vmxnet3 cards of a powered-on VM; a change
to a powered-off VM is part of its configuration for the next power-on either way.
"""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from engine.errors import NotFound, ResourceKind
from engine.hypervisors.base import DomainRef, NicSpec
from engine.hypervisors.vmware import specs, vms
from engine.hypervisors.vmware.inventory import Placement, pick_network
from engine.hypervisors.vmware.session import VsphereSession

NIC_PATHS = ("runtime.powerState", "config.hardware.device")


def cards(props: dict[str, Any]) -> list[Any]:
    """The VM's network cards in definition order (device key)."""
    found = [d for d in props.get("config.hardware.device") or ()
             if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    return sorted(found, key=lambda d: d.key)


def macs(props: dict[str, Any]) -> tuple[str, ...]:
    """The MACs of the VM's cards (lower case), in definition order."""
    return tuple(str(d.macAddress or "").lower() for d in cards(props))


def _require(session: VsphereSession, place: Placement, ref: DomainRef) -> dict[str, Any]:
    props = vms.read(session, place, ref, NIC_PATHS)
    if props is None:
        raise NotFound(ResourceKind.INSTANCE, ref.ref)
    return props


def attach(session: VsphereSession, place: Placement, ref: DomainRef, nic: NicSpec) -> None:
    """Add a card with ``nic.mac`` on ``nic.network_ref``; no-op if the VM has that MAC."""
    props = _require(session, place, ref)
    if nic.mac.lower() in macs(props):
        return
    add = specs.add_nic(key=-1, network=pick_network(place, nic.network_ref), mac=nic.mac)
    session.run("attach a NIC", nic.mac, vms.vm_object(session, ref).ReconfigVM_Task,
                spec=vim.vm.ConfigSpec(deviceChange=[add]))


def detach(session: VsphereSession, place: Placement, ref: DomainRef, mac: str) -> None:
    """Remove the card with MAC ``mac``; no-op if the VM has none."""
    props = _require(session, place, ref)
    doomed = [specs.remove_device(d) for d in cards(props)
              if str(d.macAddress or "").lower() == mac.lower()]
    if doomed:
        session.run("detach a NIC", mac, vms.vm_object(session, ref).ReconfigVM_Task,
                    spec=vim.vm.ConfigSpec(deviceChange=doomed))
